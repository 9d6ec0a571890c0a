package access_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
)

var normalizeCases = []struct {
	kind access.Kind
	in   string
	want string // "" means invalid
}{
	{access.KindPIN, "1234", "1234"},
	{access.KindPIN, "123456789012", "123456789012"},
	{access.KindPIN, "123", ""},
	{access.KindPIN, "1234567890123", ""},
	{access.KindPIN, "12a4", ""},
	{access.KindPIN, "١٢٣٤", ""}, // Arabic-Indic digits are not ASCII digits
	{access.KindQR, "00112233445566778899AABBCCDDEEFF", "00112233445566778899aabbccddeeff"},
	{access.KindQR, "0011223344556677", "0011223344556677"},
	{access.KindQR, "001122334455667", ""},
	{access.KindQR, "00112233445566zz", ""},
	{access.KindCard, "012:0345", "12:345"},
	{access.KindCard, "0:0", "0:0"},
	{access.KindCard, "raw:0ABC", "raw:0abc"},
	{access.KindCard, "raw:", ""},
	{access.KindCard, "12345", ""},
	{access.KindCard, "12:", ""},
	{access.KindCard, "1:2:3", ""},
	{access.KindWeb, "web-token-0123456789", "web-token-0123456789"},
	{access.KindWeb, "short", ""},
	{access.KindWeb, "web token 0123456789", ""},
	{access.KindPlate, "ab-123 c", "AB123C"},
	{access.KindPlate, "b.mw 1", "BMW1"},
	{access.KindPlate, " - ", ""},
	{access.KindPlate, "ÄB123", ""},
	{access.KindFace, "subject-7", "subject-7"},
	{access.KindFace, "", ""},
	{access.KindUnknown, "1234", ""},
	{access.Kind(200), "1234", ""},
}

func TestNormalize(t *testing.T) {
	for _, c := range normalizeCases {
		t.Run(c.kind.String()+"/"+c.in, func(t *testing.T) {
			got, err := access.Normalize(c.kind, c.in)
			if c.want == "" {
				if err == nil || !errors.Is(err, access.ErrInvalid) {
					t.Errorf("got %q, %v; want an ErrInvalid error", got, err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// FuzzNormalize checks that normalisation never panics, is idempotent, and
// that invalid values fail with ErrInvalid and hash to nothing.
func FuzzNormalize(f *testing.F) {
	for _, c := range normalizeCases {
		f.Add(uint8(c.kind), c.in)
	}
	h := accesstest.Hasher()
	f.Fuzz(func(t *testing.T, k uint8, v string) {
		kind := access.Kind(k % 8)
		n, err := access.Normalize(kind, v)
		_, herr := h.Hash(kind, v)
		if err != nil {
			if !errors.Is(err, access.ErrInvalid) || herr == nil {
				t.Fatalf("invalid %v value: err %v, hash err %v", kind, err, herr)
			}
			if leaks(err.Error(), access.Credential{Kind: kind, Value: v}) {
				t.Fatalf("error quotes the value: %v", err)
			}
			return
		}
		if n == "" || herr != nil {
			t.Fatalf("valid %v value normalised to %q, hash err %v", kind, n, herr)
		}
		again, err := access.Normalize(kind, n)
		if err != nil || again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", v, n, again, err)
		}
		h1, _ := h.Hash(kind, v)
		h2, _ := h.Hash(kind, n)
		if h1 != h2 {
			t.Fatalf("value and its normal form hash differently")
		}
	})
}

// FuzzDecide decides random credentials against a random visit holding them
// and checks the invariants that must hold whatever the input: never grant a
// deleted, out-of-window, wrong-intercom, out-of-restriction or spent visit,
// nor under lockdown or an untrusted clock; exactly one access event; never
// the value in an event.
func FuzzDecide(f *testing.F) {
	f.Add(uint8(access.KindPIN), "111111", "keypad0", "", int64(-3600), int64(7200), int64(0), uint8(0), 0, 0, uint8(0), int64(0))
	f.Add(uint8(access.KindQR), "00112233445566778899aabbccddeeff", "camera0", "", int64(-86400*3), int64(86400*6), int64(0), uint8(1<<1), 9*60, 17*60, uint8(0b0101), int64(-100))
	f.Add(uint8(access.KindWeb), "web-token-0123456789", "mqtt", "v", int64(10), int64(7200), int64(0), uint8(0), 0, 0, uint8(0b1000), int64(0))
	f.Add(uint8(access.KindPIN), "1234", "keypad0", "", int64(-3600), int64(7200), int64(0), uint8(0), 22*60, 2*60, uint8(0b10010), int64(-400))
	f.Add(uint8(access.KindPlate), "ab-12", "lpr", "", int64(-86400), int64(86400*2), int64(1), uint8(0x7f), 1439, 1440, uint8(0b100000), int64(1))
	ny := mustLoad(f, "America/New_York")
	base := time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC) // near New York's fall back
	f.Fuzz(func(t *testing.T, k uint8, value, reader, claim string, startOff, dur, nowOff int64, days uint8, from, to int, flags uint8, firstOff int64) {
		kind := access.Kind(k % 8)
		at := base.Add(time.Duration(nowOff%(7*86400)) * time.Second)
		v := access.Visit{ID: "v", Start: base.Add(time.Duration(startOff%(30*86400)) * time.Second),
			Days: access.Weekdays(days), DailyFrom: from, DailyTo: to,
			Deleted: flags&1 != 0, SingleUse: flags&2 != 0}
		v.End = v.Start.Add(time.Duration(dur%(30*86400)) * time.Second)
		if flags&4 == 0 {
			v.Intercoms = []string{"ic1"}
		} else {
			v.Intercoms = []string{"ic2"}
		}
		cfg := baseConfig()
		cfg.Location = ny
		cfg.Lockdown = flags&8 != 0
		cfg.VisitKeysEnabled = flags&16 == 0
		if flags&32 != 0 {
			cfg.DoorMode = access.DoorModeThirdParty
		}
		m := accesstest.NewMapLookup()
		h := accesstest.Hasher()
		_ = m.Put(h, v, accesstest.Cred{Kind: kind, Value: value}) // invalid values simply are not stored
		var firstUse time.Time
		if flags&64 != 0 {
			firstUse = at.Add(time.Duration(firstOff%3600) * time.Second)
			m.FirstUse["v"] = firstUse
		}
		clk := access.Clock{Now: at, Trusted: flags&128 == 0}
		e := access.New(cfg, m, h)
		c := access.Credential{Kind: kind, Value: value, Reader: reader, VisitID: claim}
		d := e.Decide(c, clk)
		x := e.Explain(c, clk)
		if x.Grant != d.Grant || x.Reason != d.Reason || !x.DryRun || x.Events != nil {
			t.Fatalf("explain %v/%s differs from decide %v/%s or is not a dry run", x.Grant, x.Reason, d.Grant, d.Reason)
		}
		if d.Reason == "" || d.DryRun {
			t.Fatalf("no reason or dry run: %+v", d)
		}
		if d.Grant {
			var why string
			switch {
			case v.Deleted:
				why = "deleted"
			case at.Before(v.Start) || !at.Before(v.End):
				why = "outside window"
			case flags&4 != 0:
				why = "wrong intercom"
			case cfg.Lockdown:
				why = "lockdown"
			case !clk.Trusted:
				why = "untrusted clock"
			case !cfg.VisitKeysEnabled:
				why = "visit keys disabled"
			case cfg.DoorMode == access.DoorModeThirdParty:
				why = "third-party door mode"
			case v.SingleUse && !firstUse.IsZero() && !at.Before(firstUse.Add(e.Config().SingleUseWindow)):
				why = "single use spent"
			case (kind == access.KindWeb || claim != "") && claim != "v":
				why = "visit mismatch"
			case spans(v, ny) && (from < 0 || from > 1439 || to < 0 || to > 1440 || !reference(ny, v.Days, from, to, at)):
				why = "restrictions"
			}
			if why != "" {
				t.Fatalf("granted a visit that must be refused (%s): %+v at %v", why, v, at)
			}
		}
		checkEvents(t, d, c)
		for _, v := range x.Trace {
			// Random short values turn up in times and windows by chance.
			if len(value) >= 8 && leaks(v.Detail, c) && !strings.Contains(v.Rule+" "+reader+" "+claim, value) {
				t.Fatalf("explain %s shows the value: %q", v.Rule, v.Detail)
			}
		}
	})
}

func spans(v access.Visit, loc *time.Location) bool {
	if !v.End.After(v.Start) {
		return false
	}
	y1, m1, d1 := v.Start.In(loc).Date()
	y2, m2, d2 := v.End.Add(-1).In(loc).Date()
	return y1 != y2 || m1 != m2 || d1 != d2
}
