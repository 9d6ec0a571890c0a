package access_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	_ "time/tzdata" // tests pass on machines without a zoneinfo database

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
)

// now is a Wednesday noon.
var now = time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)

func trusted(t time.Time) access.Clock { return access.Clock{Now: t, Trusted: true} }

func baseConfig() access.Config {
	return access.Config{Intercom: "ic1", VisitKeysEnabled: true}
}

type fixture struct {
	h *access.Hasher
	m *accesstest.MapLookup
}

func pin(v string) accesstest.Cred { return accesstest.Cred{Kind: access.KindPIN, Value: v} }

// newFixture holds one visit per rule, each with its own PIN.
func newFixture(t testing.TB) fixture {
	t.Helper()
	f := fixture{h: accesstest.Hasher(), m: accesstest.NewMapLookup()}
	day := 24 * time.Hour
	put := func(v access.Visit, creds ...accesstest.Cred) {
		if v.Intercoms == nil {
			v.Intercoms = []string{"ic0", "ic1"}
		}
		if v.Start.IsZero() {
			v.Start, v.End = now.Add(-time.Hour), now.Add(time.Hour)
		}
		if err := f.m.Put(f.h, v, creds...); err != nil {
			t.Fatal(err)
		}
	}
	put(access.Visit{ID: "multi"}, pin("111111"),
		accesstest.Cred{Kind: access.KindQR, Value: "00112233445566778899AABBCCDDEEFF"},
		accesstest.Cred{Kind: access.KindCard, Value: "012:0345"},
		accesstest.Cred{Kind: access.KindWeb, Value: "web-token-0123456789"},
		accesstest.Cred{Kind: access.KindPlate, Value: "ab-123 c"},
		accesstest.Cred{Kind: access.KindFace, Value: "subject-7"})
	put(access.Visit{ID: "single-spent", SingleUse: true}, pin("222222"))
	f.m.FirstUse["single-spent"] = now.Add(-5 * time.Minute) // exactly the window: spent
	put(access.Visit{ID: "single-open", SingleUse: true}, pin("222223"))
	f.m.FirstUse["single-open"] = now.Add(-4*time.Minute - 59*time.Second)
	put(access.Visit{ID: "single-new", SingleUse: true}, pin("222224"))
	put(access.Visit{ID: "multi-used"}, pin("222225"))
	f.m.FirstUse["multi-used"] = now.Add(-48 * time.Hour)
	put(access.Visit{ID: "deleted", Deleted: true}, pin("333333"))
	put(access.Visit{ID: "other-intercom", Intercoms: []string{"ic2"}}, pin("444444"))
	put(access.Visit{ID: "no-intercom", Intercoms: []string{}}, pin("444445"))
	put(access.Visit{ID: "future", Start: now.Add(time.Second), End: now.Add(time.Hour)}, pin("555555"))
	put(access.Visit{ID: "starts-now", Start: now, End: now.Add(time.Hour)}, pin("555556"))
	put(access.Visit{ID: "ended", Start: now.Add(-time.Hour), End: now}, pin("666666"))
	// Multi-day visits: restrictions apply. now is a Wednesday.
	put(access.Visit{ID: "mondays", Start: now.Add(-3 * day), End: now.Add(3 * day), Days: 1 << time.Monday}, pin("777777"))
	put(access.Visit{ID: "afternoons", Start: now.Add(-3 * day), End: now.Add(3 * day), DailyFrom: 13 * 60, DailyTo: 17 * 60}, pin("888888"))
	put(access.Visit{ID: "wed-office", Start: now.Add(-3 * day), End: now.Add(3 * day), Days: 1 << time.Wednesday, DailyFrom: 9 * 60, DailyTo: 17 * 60}, pin("999999"))
	// One day only: the Monday-only restriction is ignored.
	put(access.Visit{ID: "one-day-mondays", Days: 1 << time.Monday, DailyFrom: 1, DailyTo: 2}, pin("999998"))
	put(access.Visit{ID: "corrupt-window", Start: now.Add(-3 * day), End: now.Add(3 * day), DailyFrom: 2000, DailyTo: 5}, pin("999997"))
	return f
}

func TestDecideRules(t *testing.T) {
	type tc struct {
		name     string
		cred     access.Credential
		cfg      func(*access.Config)
		clock    access.Clock
		lookErr  error
		grant    bool
		reason   access.Reason
		rule     string // last verdict's rule
		visit    string
		firstUse bool
		noLookup bool // the rule must refuse before the store is asked
	}
	p := func(v string) access.Credential {
		return access.Credential{Kind: access.KindPIN, Value: v, Reader: "keypad0"}
	}
	cases := []tc{
		{name: "granted pin multi first use", cred: p("111111"), grant: true, reason: access.ReasonGranted, rule: access.RuleUse, visit: "multi", firstUse: true},
		{name: "granted qr uppercase", cred: access.Credential{Kind: access.KindQR, Value: "00112233445566778899aabbccddeeff", Reader: "camera0"}, grant: true, reason: access.ReasonGranted, rule: access.RuleUse, visit: "multi", firstUse: true},
		{name: "granted card leading zeros", cred: access.Credential{Kind: access.KindCard, Value: "12:345", Reader: "wiegand0"}, grant: true, reason: access.ReasonGranted, rule: access.RuleUse, visit: "multi", firstUse: true},
		{name: "granted plate", cred: access.Credential{Kind: access.KindPlate, Value: "AB123C", Reader: "lpr0"}, grant: true, reason: access.ReasonGranted, rule: access.RuleUse, visit: "multi", firstUse: true},
		{name: "granted face", cred: access.Credential{Kind: access.KindFace, Value: "subject-7", Reader: "face0"}, grant: true, reason: access.ReasonGranted, rule: access.RuleUse, visit: "multi", firstUse: true},
		{name: "granted web with matching visit", cred: access.Credential{Kind: access.KindWeb, Value: "web-token-0123456789", Reader: "mqtt", VisitID: "multi"}, grant: true, reason: access.ReasonGranted, rule: access.RuleUse, visit: "multi", firstUse: true},
		{name: "multi-use used before", cred: p("222225"), grant: true, reason: access.ReasonGranted, rule: access.RuleUse, visit: "multi-used"},
		{name: "single use first use", cred: p("222224"), grant: true, reason: access.ReasonGranted, rule: access.RuleUse, visit: "single-new", firstUse: true},
		{name: "single use inside window", cred: p("222223"), grant: true, reason: access.ReasonGranted, rule: access.RuleUse, visit: "single-open"},
		{name: "single use spent at window end", cred: p("222222"), reason: access.ReasonSingleUseSpent, rule: access.RuleUse, visit: "single-spent"},
		{name: "single use window configurable", cred: p("222223"), cfg: func(c *access.Config) { c.SingleUseWindow = time.Minute }, reason: access.ReasonSingleUseSpent, rule: access.RuleUse, visit: "single-open"},
		{name: "invalid pin", cred: p("12ab"), reason: access.ReasonInvalidCredential, rule: access.RuleNormalise, noLookup: true},
		{name: "invalid kind", cred: access.Credential{Kind: access.KindUnknown, Value: "x"}, reason: access.ReasonInvalidCredential, rule: access.RuleNormalise, noLookup: true},
		{name: "card typed as pin never matches card", cred: p("12345"), reason: access.ReasonUnknownCredential, rule: access.RuleLookup},
		{name: "unknown", cred: p("000000"), reason: access.ReasonUnknownCredential, rule: access.RuleLookup},
		{name: "lookup failed fails secure", cred: p("111111"), lookErr: errors.New("store: disk on fire"), reason: access.ReasonLookupFailed, rule: access.RuleLookup},
		{name: "lockdown", cred: p("111111"), cfg: func(c *access.Config) { c.Lockdown = true }, reason: access.ReasonLockdown, rule: access.RuleLockdown, noLookup: true},
		{name: "clock untrusted", cred: p("111111"), clock: access.Clock{Now: now, Why: "before build time"}, reason: access.ReasonClockUntrusted, rule: access.RuleClock, noLookup: true},
		{name: "zero clock untrusted", cred: p("111111"), clock: access.Clock{}, reason: access.ReasonClockUntrusted, rule: access.RuleClock, noLookup: true},
		{name: "visit keys disabled", cred: p("111111"), cfg: func(c *access.Config) { c.VisitKeysEnabled = false }, reason: access.ReasonVisitKeysDisabled, rule: access.RuleVisitKeysEnabled, noLookup: true},
		{name: "third party door mode", cred: p("111111"), cfg: func(c *access.Config) { c.DoorMode = access.DoorModeThirdParty }, reason: access.ReasonThirdPartyDoorMode, rule: access.RuleDoorMode, noLookup: true},
		{name: "unknown door mode fails secure", cred: p("111111"), cfg: func(c *access.Config) { c.DoorMode = 7 }, reason: access.ReasonThirdPartyDoorMode, rule: access.RuleDoorMode, noLookup: true},
		{name: "deleted", cred: p("333333"), reason: access.ReasonVisitDeleted, rule: access.RuleDeleted, visit: "deleted"},
		{name: "web claims other visit", cred: access.Credential{Kind: access.KindWeb, Value: "web-token-0123456789", Reader: "mqtt", VisitID: "single-new"}, reason: access.ReasonVisitMismatch, rule: access.RuleVisitMatch, visit: "multi"},
		{name: "web claims no visit", cred: access.Credential{Kind: access.KindWeb, Value: "web-token-0123456789", Reader: "mqtt"}, reason: access.ReasonVisitMismatch, rule: access.RuleVisitMatch, visit: "multi"},
		{name: "intercom not on visit", cred: p("444444"), reason: access.ReasonIntercomNotOnVisit, rule: access.RuleIntercom, visit: "other-intercom"},
		{name: "visit with no intercoms", cred: p("444445"), reason: access.ReasonIntercomNotOnVisit, rule: access.RuleIntercom, visit: "no-intercom"},
		{name: "not started", cred: p("555555"), reason: access.ReasonNotYetValid, rule: access.RuleWindow, visit: "future"},
		{name: "starts now", cred: p("555556"), grant: true, reason: access.ReasonGranted, rule: access.RuleUse, visit: "starts-now", firstUse: true},
		{name: "ended at end instant", cred: p("666666"), reason: access.ReasonExpired, rule: access.RuleWindow, visit: "ended"},
		{name: "weekday", cred: p("777777"), reason: access.ReasonWeekday, rule: access.RuleWeekday, visit: "mondays"},
		{name: "daily window", cred: p("888888"), reason: access.ReasonDailyWindow, rule: access.RuleDailyWindow, visit: "afternoons"},
		{name: "daily window in site zone", cred: p("888888"), cfg: func(c *access.Config) { c.Location = mustLoad(t, "Europe/Berlin") }, grant: true, reason: access.ReasonGranted, rule: access.RuleUse, visit: "afternoons", firstUse: true},
		{name: "weekday and daily window pass", cred: p("999999"), grant: true, reason: access.ReasonGranted, rule: access.RuleUse, visit: "wed-office", firstUse: true},
		{name: "one-day visit ignores restrictions", cred: p("999998"), grant: true, reason: access.ReasonGranted, rule: access.RuleUse, visit: "one-day-mondays", firstUse: true},
		{name: "corrupt daily window refused", cred: p("999997"), reason: access.ReasonDailyWindow, rule: access.RuleDailyWindow, visit: "corrupt-window"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.m.Err = c.lookErr
			cfg := baseConfig()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			clk := c.clock
			if clk == (access.Clock{}) && c.name != "zero clock untrusted" {
				clk = trusted(now)
			}
			e := access.New(cfg, f.m, f.h)
			d := e.Decide(c.cred, clk)
			if d.Grant != c.grant || d.Reason != c.reason {
				t.Fatalf("got grant=%v reason=%s, want grant=%v reason=%s (trace %+v)", d.Grant, d.Reason, c.grant, c.reason, d.Trace)
			}
			if d.VisitID != c.visit {
				t.Errorf("visit: got %q, want %q", d.VisitID, c.visit)
			}
			if d.FirstUse != c.firstUse {
				t.Errorf("first use: got %v, want %v", d.FirstUse, c.firstUse)
			}
			if c.firstUse && !d.UseAt.Equal(now) {
				t.Errorf("use at: got %v, want %v", d.UseAt, now)
			}
			if c.noLookup && f.m.Calls != 0 {
				t.Errorf("lookups: got %d, want 0", f.m.Calls)
			}
			last := d.Trace[len(d.Trace)-1]
			if last.Rule != c.rule || last.Pass != c.grant {
				t.Errorf("last verdict: got %+v, want rule %s pass %v", last, c.rule, c.grant)
			}
			for _, v := range d.Trace[:len(d.Trace)-1] {
				if !v.Pass {
					t.Errorf("verdict before the last failed: %+v", v)
				}
			}
			checkEvents(t, d, c.cred)
		})
	}
}

// checkEvents checks the event contract: exactly one access event, first,
// carrying the reason, visit, kind and reader; visit.started exactly on a
// first-use grant; never the credential value.
func checkEvents(t *testing.T, d access.Decision, c access.Credential) {
	t.Helper()
	if len(d.Events) == 0 {
		t.Fatal("no events")
	}
	access0 := 0
	for _, ev := range d.Events {
		if ev.Type == access.EventAccessGranted || ev.Type == access.EventAccessDenied {
			access0++
		}
		if len(ev.ID) != 32 {
			t.Errorf("event id %q", ev.ID)
		}
	}
	if access0 != 1 {
		t.Errorf("access events: got %d, want 1", access0)
	}
	ev := d.Events[0]
	wantType := access.EventAccessDenied
	if d.Grant {
		wantType = access.EventAccessGranted
	}
	if ev.Type != wantType || ev.Reason != d.Reason || ev.VisitID != d.VisitID || ev.Kind != c.Kind.String() || ev.Reader != c.Reader || !ev.At.Equal(d.At) {
		t.Errorf("access event: got %+v, want type %s reason %s visit %q kind %s reader %s", ev, wantType, d.Reason, d.VisitID, c.Kind, c.Reader)
	}
	started := 0
	for _, ev := range d.Events {
		if ev.Type == access.EventVisitStarted {
			started++
			if ev.VisitID != d.VisitID {
				t.Errorf("visit.started for %q, want %q", ev.VisitID, d.VisitID)
			}
		}
	}
	if want := btoi(d.Grant && d.FirstUse); started != want {
		t.Errorf("visit.started events: got %d, want %d", started, want)
	}
	// Only Detail is free text; the other fields are ids, constants and times.
	for _, ev := range d.Events {
		if leaks(ev.Detail, c) {
			t.Errorf("event detail carries the credential value: %q", ev.Detail)
		}
	}
}

// leaks reports whether s contains the credential's value or normal form.
// Values shorter than 6 characters are too short to tell from ordinary text
// (times, counts); every table-test secret is longer.
func leaks(s string, c access.Credential) bool {
	if len(c.Value) < 6 {
		return false
	}
	if strings.Contains(s, c.Value) {
		return true
	}
	n, err := access.Normalize(c.Kind, c.Value)
	return err == nil && len(n) >= 6 && strings.Contains(s, n)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestDecideTookAndAt(t *testing.T) {
	f := newFixture(t)
	e := access.New(baseConfig(), f.m, f.h)
	d := e.Decide(access.Credential{Kind: access.KindPIN, Value: "111111", Reader: "k", At: now.Add(-time.Second)}, trusted(now))
	if !d.At.Equal(now) {
		t.Errorf("at: got %v, want the clock's %v", d.At, now)
	}
	if d.Took <= 0 || d.Events[0].TookUS != d.Took.Microseconds() {
		t.Errorf("took: got %v (event %d us)", d.Took, d.Events[0].TookUS)
	}
	if d.SingleUse || d.UseWindow != access.DefaultSingleUseWindow {
		t.Errorf("use window: got %v, want %v", d.UseWindow, access.DefaultSingleUseWindow)
	}
}

func TestConfigDefaults(t *testing.T) {
	e := access.New(access.Config{}, nil, nil)
	got := e.Config()
	want := access.Config{Location: time.UTC, SingleUseWindow: 5 * time.Minute, LockoutFailures: 5,
		LockoutWindow: time.Minute, LockoutBase: 30 * time.Second, LockoutMax: 15 * time.Minute}
	if got != want {
		t.Errorf("defaults: got %+v, want %+v", got, want)
	}
	e.SetConfig(access.Config{Intercom: "x", SingleUseWindow: time.Minute, LockoutBase: time.Hour})
	got = e.Config()
	if got.Intercom != "x" || got.SingleUseWindow != time.Minute || got.LockoutMax != time.Hour {
		t.Errorf("set: got %+v, want intercom x, window 1m, max raised to base 1h", got)
	}
}

func TestNilLookupFailsSecure(t *testing.T) {
	e := access.New(baseConfig(), nil, nil)
	d := e.Decide(access.Credential{Kind: access.KindPIN, Value: "111111", Reader: "k"}, trusted(now))
	if d.Grant || d.Reason != access.ReasonLookupFailed {
		t.Errorf("got grant=%v reason=%s, want lookup_failed", d.Grant, d.Reason)
	}
}

func TestSetConfigAtRuntime(t *testing.T) {
	f := newFixture(t)
	e := access.New(baseConfig(), f.m, f.h)
	c := access.Credential{Kind: access.KindQR, Value: "00112233445566778899aabbccddeeff", Reader: "camera0"}
	if d := e.Decide(c, trusted(now)); !d.Grant {
		t.Fatalf("before lockdown: got %s, want granted", d.Reason)
	}
	cfg := e.Config()
	cfg.Lockdown = true
	e.SetConfig(cfg)
	if d := e.Decide(c, trusted(now)); d.Grant || d.Reason != access.ReasonLockdown {
		t.Fatalf("after lockdown: got grant=%v %s, want lockdown", d.Grant, d.Reason)
	}
}

func TestExplainIsDryRun(t *testing.T) {
	f := newFixture(t)
	e := access.New(baseConfig(), f.m, f.h)
	c := access.Credential{Kind: access.KindPIN, Value: "111111", Reader: "keypad0"}
	d := e.Explain(c, trusted(now))
	if !d.DryRun || d.Events != nil || d.Lockout != nil || d.FirstUse || !d.UseAt.IsZero() {
		t.Errorf("explain: got dry=%v events=%d lockout=%v firstUse=%v, want a dry run with nothing to act on", d.DryRun, len(d.Events), d.Lockout, d.FirstUse)
	}
	if !d.Grant || d.Reason != access.ReasonGranted {
		t.Errorf("explain shows: got %v %s, want what Decide would do (granted)", d.Grant, d.Reason)
	}
	for _, v := range d.Trace {
		if v.Detail == "" {
			t.Errorf("explain verdict %s has no detail", v.Rule)
		}
		if strings.Contains(v.Detail, "111111") {
			t.Errorf("explain verdict %s shows the PIN", v.Rule)
		}
	}
	// Wrong PINs under explain never lock the keypad.
	for range 10 {
		d = e.Explain(access.Credential{Kind: access.KindPIN, Value: "000000", Reader: "keypad0"}, trusted(now))
		if d.Lockout != nil || d.Events != nil {
			t.Fatalf("explain changed state: %+v", d)
		}
	}
	if !strings.Contains(d.Trace[len(d.Trace)-1].Detail, "wrong PIN 1 of 5") {
		t.Errorf("explain detail: got %q, want the wrong-PIN count", d.Trace[len(d.Trace)-1].Detail)
	}
	if got := e.Lockouts(); len(got) != 0 {
		t.Errorf("lockouts after explain: got %+v, want none", got)
	}
	if d := e.Decide(c, trusted(now)); !d.Grant || !d.FirstUse {
		t.Errorf("decide after explain: got %v %s firstUse=%v, want a first-use grant", d.Grant, d.Reason, d.FirstUse)
	}
}

var errTest = errors.New("store: test failure")
