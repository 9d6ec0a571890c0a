package access_test

import (
	"sync"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
)

const (
	good    = "111111" // multi-use visit, valid all day around now
	wrong   = "000000" // unknown
	invalid = "12"     // not a PIN
	expired = "666666" // known, refused: not a guess
)

// step is one PIN attempt at now+at on a reader.
type step struct {
	at      time.Duration
	reader  string // "" means keypad0
	value   string
	kind    access.Kind // zero means PIN
	reason  access.Reason
	lockout time.Duration // > 0: this attempt must start a block of this length
}

func TestLockout(t *testing.T) {
	s := time.Second
	ws := func(at time.Duration, n int) []step { // n wrong PINs, one second apart
		var out []step
		for i := range n {
			out = append(out, step{at: at + time.Duration(i)*s, value: wrong, reason: access.ReasonUnknownCredential})
		}
		return out
	}
	block := func(last step, d time.Duration) step { last.lockout = d; return last }
	seq := func(parts ...[]step) []step {
		var out []step
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	one := func(st ...step) []step { return st }
	locked := func(st []step) []step {
		for i := range st {
			st[i].reason = access.ReasonKeypadLockedOut
		}
		return st
	}
	five := func(at time.Duration, d time.Duration) []step {
		w := ws(at, 5)
		w[4] = block(w[4], d)
		return w
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"five wrong in a minute block 30s; correct pin refused during block, granted after",
			seq(five(0, 30*s),
				one(step{at: 5 * s, value: good, reason: access.ReasonKeypadLockedOut},
					step{at: 33 * s, value: good, reason: access.ReasonKeypadLockedOut},
					step{at: 34 * s, value: good, reason: access.ReasonGranted}))},
		{"wrong pins older than the window are forgotten",
			seq(ws(0, 4), one(step{at: 61 * s, value: wrong, reason: access.ReasonUnknownCredential}),
				ws(62*s, 2), one(step{at: 64 * s, value: good, reason: access.ReasonGranted}))},
		{"invalid pins count",
			one(step{value: invalid, reason: access.ReasonInvalidCredential},
				step{at: s, value: invalid, reason: access.ReasonInvalidCredential},
				step{at: 2 * s, value: wrong, reason: access.ReasonUnknownCredential},
				step{at: 3 * s, value: invalid, reason: access.ReasonInvalidCredential},
				step{at: 4 * s, value: "abcd", reason: access.ReasonInvalidCredential, lockout: 30 * s},
				step{at: 5 * s, value: invalid, reason: access.ReasonKeypadLockedOut})},
		{"repeats double the block up to the maximum",
			seq(five(0, 30*s), five(40*s, 60*s), five(110*s, 120*s), five(240*s, 240*s), five(490*s, 480*s),
				five(980*s, 900*s), five(1890*s, 900*s))},
		{"attempts during a block neither count nor extend it",
			seq(five(0, 30*s), locked(ws(10*s, 10)),
				one(step{at: 29 * s, value: wrong, reason: access.ReasonKeypadLockedOut},
					step{at: 34 * s, value: good, reason: access.ReasonGranted}))},
		{"a granted pin clears the wrong-pin list",
			seq(ws(0, 4), one(step{at: 4 * s, value: good, reason: access.ReasonGranted}), ws(5*s, 4),
				one(step{at: 9 * s, value: good, reason: access.ReasonGranted}), five(10*s, 30*s))},
		{"a granted pin does not clear strikes",
			seq(five(0, 30*s), one(step{at: 40 * s, value: good, reason: access.ReasonGranted}), five(41*s, 60*s))},
		{"strikes decay after the maximum block of quiet",
			// Block ends at 34 s; quiet until 34 s + 15 min.
			seq(five(0, 30*s), five(34*s+15*time.Minute-6*s, 60*s), five(120*s+15*time.Minute+15*time.Minute+2*s, 30*s))},
		{"keypads are independent",
			seq(five(0, 30*s), one(step{at: 5 * s, reader: "wiegand0", value: good, reason: access.ReasonGranted},
				step{at: 6 * s, reader: "wiegand0", value: wrong, reason: access.ReasonUnknownCredential},
				step{at: 7 * s, value: good, reason: access.ReasonKeypadLockedOut}))},
		{"other kinds are not blocked",
			seq(five(0, 30*s), one(step{at: 5 * s, kind: access.KindQR, value: "00112233445566778899aabbccddeeff", reason: access.ReasonGranted}))},
		{"known but refused pins are not guesses",
			one(step{value: expired, reason: access.ReasonExpired}, step{at: s, value: expired, reason: access.ReasonExpired},
				step{at: 2 * s, value: expired, reason: access.ReasonExpired}, step{at: 3 * s, value: expired, reason: access.ReasonExpired},
				step{at: 4 * s, value: expired, reason: access.ReasonExpired}, step{at: 5 * s, value: expired, reason: access.ReasonExpired},
				step{at: 6 * s, value: good, reason: access.ReasonGranted})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			// A window long enough for the whole sequence.
			v := f.m.Visits["multi"]
			v.Start, v.End = now.Add(-time.Hour), now.Add(2*time.Hour)
			f.m.Visits["multi"] = v
			e := access.New(baseConfig(), f.m, f.h)
			runSteps(t, e, f, c.steps)
		})
	}
}

func runSteps(t *testing.T, e *access.Engine, f fixture, steps []step) {
	t.Helper()
	for i, st := range steps {
		reader := st.reader
		if reader == "" {
			reader = "keypad0"
		}
		kind := st.kind
		if kind == 0 {
			kind = access.KindPIN
		}
		calls := f.m.Calls
		at := now.Add(st.at)
		d := e.Decide(access.Credential{Kind: kind, Value: st.value, Reader: reader}, trusted(at))
		if d.Reason != st.reason {
			t.Fatalf("step %d at +%v (%s on %s): got %s, want %s", i, st.at, st.value, reader, d.Reason, st.reason)
		}
		if st.reason == access.ReasonKeypadLockedOut && f.m.Calls != calls {
			t.Errorf("step %d: a blocked keypad looked the PIN up", i)
		}
		var lockEv *access.Event
		for _, ev := range d.Events {
			if ev.Type == access.EventKeypadLockout {
				lockEv = &ev
			}
		}
		switch {
		case st.lockout > 0 && lockEv == nil:
			t.Errorf("step %d at +%v: no keypad.lockout event", i, st.at)
		case st.lockout == 0 && lockEv != nil:
			t.Errorf("step %d at +%v: unexpected keypad.lockout %+v", i, st.at, lockEv)
		case st.lockout > 0:
			if d.Lockout == nil || !d.Lockout.Until.Equal(at.Add(st.lockout)) {
				t.Errorf("step %d at +%v: got lockout %+v, want until +%v", i, st.at, d.Lockout, st.st(at))
			}
			if lockEv.Reader != reader || lockEv.Reason != access.ReasonKeypadLockedOut {
				t.Errorf("step %d: lockout event %+v", i, lockEv)
			}
		}
	}
}

func (st step) st(at time.Time) time.Time { return at.Add(st.lockout) }

func TestLockoutStateReported(t *testing.T) {
	f := newFixture(t)
	e := access.New(baseConfig(), f.m, f.h)
	p := func(v string, at time.Duration) access.Decision {
		return e.Decide(access.Credential{Kind: access.KindPIN, Value: v, Reader: "keypad0"}, trusted(now.Add(at)))
	}
	if d := p(good, 0); d.Lockout != nil {
		t.Errorf("good pin on a clean keypad: got lockout %+v, want nil (no change)", d.Lockout)
	}
	d := p(wrong, 0)
	if d.Lockout == nil || len(d.Lockout.Failures) != 1 || d.Lockout.Reader != "keypad0" {
		t.Fatalf("wrong pin: got lockout %+v, want one failure on keypad0", d.Lockout)
	}
	d = p(good, time.Second)
	if d.Lockout == nil || len(d.Lockout.Failures) != 0 {
		t.Errorf("good pin after a wrong one: got %+v, want a cleared state", d.Lockout)
	}
	if got := e.Lockouts(); len(got) != 0 {
		t.Errorf("idle keypads kept: %+v", got)
	}
	if d := e.Decide(access.Credential{Kind: access.KindQR, Value: "00112233445566778899aabbccddeeff", Reader: "camera0"}, trusted(now)); d.Lockout != nil {
		t.Errorf("qr decision reported lockout %+v", d.Lockout)
	}
}

// TestLockoutSurvivesRestart persists each decision's Lockout as the daemon
// does and restores it into a fresh engine.
func TestLockoutSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	e := access.New(baseConfig(), f.m, f.h)
	persisted := map[string]access.LockoutState{}
	for i := range 10 { // two blocks: strike 2 until +9s+60s
		at := now.Add(time.Duration(i) * time.Second)
		if i >= 5 {
			at = at.Add(30 * time.Second)
		}
		d := e.Decide(access.Credential{Kind: access.KindPIN, Value: wrong, Reader: "keypad0"}, trusted(at))
		if d.Lockout != nil {
			persisted[d.Lockout.Reader] = *d.Lockout
		}
	}
	// Plus three wrong PINs on another keypad.
	for i := range 3 {
		d := e.Decide(access.Credential{Kind: access.KindPIN, Value: wrong, Reader: "keypad1"}, trusted(now.Add(time.Duration(i)*time.Second)))
		persisted[d.Lockout.Reader] = *d.Lockout
	}
	var states []access.LockoutState
	for _, s := range persisted {
		states = append(states, s)
	}
	if got, want := len(e.Lockouts()), 2; got != want {
		t.Fatalf("lockouts: got %d, want %d", got, want)
	}

	r := access.New(baseConfig(), f.m, f.h)
	r.RestoreLockout(states)
	end := now.Add(39*time.Second + 60*time.Second)
	if d := r.Decide(access.Credential{Kind: access.KindPIN, Value: good, Reader: "keypad0"}, trusted(end.Add(-time.Second))); d.Reason != access.ReasonKeypadLockedOut {
		t.Errorf("after restart during block: got %s, want keypad_locked_out", d.Reason)
	}
	// Two more wrong PINs on keypad1 complete its five.
	r.Decide(access.Credential{Kind: access.KindPIN, Value: wrong, Reader: "keypad1"}, trusted(now.Add(3*time.Second)))
	if d := r.Decide(access.Credential{Kind: access.KindPIN, Value: wrong, Reader: "keypad1"}, trusted(now.Add(4*time.Second))); d.Lockout == nil || d.Lockout.Strikes != 1 {
		t.Errorf("keypad1 after restart: got %+v, want its first block", d.Lockout)
	}
	// keypad0's third block is 120 s: strikes survived.
	var d access.Decision
	for i := range 5 {
		d = r.Decide(access.Credential{Kind: access.KindPIN, Value: wrong, Reader: "keypad0"}, trusted(end.Add(time.Duration(i)*time.Second)))
	}
	if want := end.Add(4*time.Second + 120*time.Second); d.Lockout == nil || !d.Lockout.Until.Equal(want) || d.Lockout.Strikes != 3 {
		t.Errorf("third block after restart: got %+v, want strike 3 until %v", d.Lockout, want)
	}
	// Restoring an idle state forgets the keypad.
	r.RestoreLockout([]access.LockoutState{{Reader: "keypad1"}, {Reader: "keypad0"}})
	if got := r.Lockouts(); len(got) != 0 {
		t.Errorf("after restoring idle states: got %+v, want none", got)
	}
}

func TestLockoutLookupFailureNotCounted(t *testing.T) {
	f := newFixture(t)
	e := access.New(baseConfig(), f.m, f.h)
	f.m.Err = errTest
	for i := range 10 {
		d := e.Decide(access.Credential{Kind: access.KindPIN, Value: wrong, Reader: "keypad0"}, trusted(now.Add(time.Duration(i)*time.Second)))
		if d.Reason != access.ReasonLookupFailed || d.Lockout != nil {
			t.Fatalf("attempt %d: got %s lockout %+v, want lookup_failed without counting", i, d.Reason, d.Lockout)
		}
	}
}

// TestLockoutConcurrent hammers one keypad from many goroutines while the
// configuration changes: exactly one block begins (8 good PINs split 56 wrong
// ones into at most 9 runs, so some run reaches 5) and it is not extended.
func TestLockoutConcurrent(t *testing.T) {
	f := newFixture(t)
	e := access.New(baseConfig(), f.m, f.h)
	const n = 64
	results := make([]access.Decision, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v := wrong
			if i%8 == 7 {
				v = good
			}
			results[i] = e.Decide(access.Credential{Kind: access.KindPIN, Value: v, Reader: "keypad0"}, trusted(now))
		})
		if i%16 == 0 {
			wg.Go(func() { cfg := e.Config(); cfg.SingleUseWindow = time.Minute; e.SetConfig(cfg) })
		}
	}
	wg.Wait()
	blocks, counted := 0, 0
	for _, d := range results {
		for _, ev := range d.Events {
			if ev.Type == access.EventKeypadLockout {
				blocks++
			}
		}
		if d.Reason == access.ReasonUnknownCredential {
			counted++
		}
	}
	if blocks != 1 {
		t.Errorf("lockouts: got %d, want 1", blocks)
	}
	if counted < 5 {
		t.Errorf("wrong PINs looked up: got %d, want at least 5", counted)
	}
	if got := e.Lockouts(); len(got) != 1 || got[0].Strikes != 1 || !got[0].Until.Equal(now.Add(30*time.Second)) {
		t.Errorf("state: got %+v, want one block of 30 s", got)
	}
}
