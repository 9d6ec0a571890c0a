package access_test

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
)

// fataler is what testing.TB and rapid.T share.
type fataler interface {
	Helper()
	Fatal(args ...any)
}

// restricted decides a PIN of a week-long visit around at with the given
// restrictions in zone.
func restricted(t fataler, zone *time.Location, days access.Weekdays, from, to int, at time.Time) access.Decision {
	t.Helper()
	h := accesstest.Hasher()
	m := accesstest.NewMapLookup()
	v := access.Visit{ID: "v", Start: at.Add(-72 * time.Hour), End: at.Add(72 * time.Hour), Days: days,
		DailyFrom: from, DailyTo: to, Intercoms: []string{"ic1"}}
	if err := m.Put(h, v, pin("246810")); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig()
	cfg.Location = zone
	return access.New(cfg, m, h).Decide(access.Credential{Kind: access.KindPIN, Value: "246810", Reader: "k"}, trusted(at))
}

func TestRestrictionsDST(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	be := mustLoad(t, "Europe/Berlin")
	lh := mustLoad(t, "Australia/Lord_Howe")
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse("2006-01-02 15:04:05", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	const all access.Weekdays = 0
	hm := func(h, m int) int { return h*60 + m }
	cases := []struct {
		name     string
		zone     *time.Location
		days     access.Weekdays
		from, to int
		at       string // UTC
		want     access.Reason
	}{
		// New York springs forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC).
		{"ny office hours open at 09:00 EDT", ny, all, hm(9, 0), hm(17, 0), "2026-03-08 13:00:00", access.ReasonGranted},
		{"ny office hours closed at 08:59 EDT", ny, all, hm(9, 0), hm(17, 0), "2026-03-08 12:59:59", access.ReasonDailyWindow},
		{"ny office hours close at 17:00 EDT", ny, all, hm(9, 0), hm(17, 0), "2026-03-08 21:00:00", access.ReasonDailyWindow},
		{"ny opening in the skipped hour opens at the jump", ny, all, hm(2, 30), hm(4, 0), "2026-03-08 07:00:00", access.ReasonGranted},
		{"ny opening in the skipped hour not before", ny, all, hm(2, 30), hm(4, 0), "2026-03-08 06:59:59", access.ReasonDailyWindow},
		{"ny closing in the skipped hour closes at the jump", ny, all, hm(1, 0), hm(2, 30), "2026-03-08 07:00:00", access.ReasonDailyWindow},
		{"ny closing in the skipped hour open before", ny, all, hm(1, 0), hm(2, 30), "2026-03-08 06:59:59", access.ReasonGranted},
		// New York falls back 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC).
		{"ny fall back: first 01:15 inside", ny, all, hm(0, 0), hm(1, 30), "2026-11-01 05:15:00", access.ReasonGranted},
		{"ny fall back: first 01:45 outside", ny, all, hm(0, 0), hm(1, 30), "2026-11-01 05:45:00", access.ReasonDailyWindow},
		{"ny fall back: repeated 01:15 does not reopen", ny, all, hm(0, 0), hm(1, 30), "2026-11-01 06:15:00", access.ReasonDailyWindow},
		{"ny fall back: repeated 01:15 does not close", ny, all, hm(1, 30), hm(9, 0), "2026-11-01 06:15:00", access.ReasonGranted},
		{"ny fall back: office hours are local", ny, all, hm(9, 0), hm(17, 0), "2026-11-01 14:00:00", access.ReasonGranted},
		{"ny fall back: office hours closed at 08:59 EST", ny, all, hm(9, 0), hm(17, 0), "2026-11-01 13:59:00", access.ReasonDailyWindow},
		// Crossing midnight: the window belongs to the day it starts. 2026-06-08 is a Monday.
		{"overnight monday window on tuesday 01:00", ny, 1 << time.Monday, hm(22, 0), hm(2, 0), "2026-06-09 05:00:00", access.ReasonGranted},
		{"overnight monday window on monday 23:00", ny, 1 << time.Monday, hm(22, 0), hm(2, 0), "2026-06-09 03:00:00", access.ReasonGranted},
		{"overnight monday window on tuesday 23:00", ny, 1 << time.Monday, hm(22, 0), hm(2, 0), "2026-06-10 03:00:00", access.ReasonWeekday},
		{"overnight monday window on monday 01:00 belongs to sunday", ny, 1 << time.Monday, hm(22, 0), hm(2, 0), "2026-06-08 05:00:00", access.ReasonWeekday},
		{"overnight monday window monday noon", ny, 1 << time.Monday, hm(22, 0), hm(2, 0), "2026-06-08 16:00:00", access.ReasonDailyWindow},
		{"overnight window ends at 02:00", ny, all, hm(22, 0), hm(2, 0), "2026-06-09 06:00:00", access.ReasonDailyWindow},
		{"window to midnight", ny, all, hm(12, 0), 1440, "2026-06-09 03:59:59", access.ReasonGranted},
		{"weekday only, no daily window", ny, 1 << time.Tuesday, 0, 0, "2026-06-09 03:59:59", access.ReasonWeekday},
		{"weekday only, local date not utc date", ny, 1 << time.Monday, 0, 0, "2026-06-09 03:59:59", access.ReasonGranted},
		// Berlin springs forward 2026-03-29 (a Sunday) 02:00 CET -> 03:00 CEST (01:00 UTC).
		{"berlin saturday overnight window still open sunday 01:30", be, 1 << time.Saturday, hm(22, 0), hm(2, 30), "2026-03-29 00:30:00", access.ReasonGranted},
		{"berlin overnight window closing in the gap closes at the jump", be, all, hm(22, 0), hm(2, 30), "2026-03-29 01:00:00", access.ReasonDailyWindow},
		// Berlin falls back 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC).
		{"berlin fall back repeated 02:30 does not reopen", be, all, hm(1, 0), hm(2, 45), "2026-10-25 01:30:00", access.ReasonDailyWindow},
		{"berlin fall back first 02:30 inside", be, all, hm(1, 0), hm(2, 45), "2026-10-25 00:30:00", access.ReasonGranted},
		// Lord Howe falls back half an hour 2026-04-05 02:00 +11 -> 01:30 +10:30 (15:00 UTC on 04-04).
		{"lord howe first 01:40 inside", lh, all, hm(0, 0), hm(1, 45), "2026-04-04 14:40:00", access.ReasonGranted},
		{"lord howe repeated 01:40 does not reopen", lh, all, hm(0, 0), hm(1, 45), "2026-04-04 15:10:00", access.ReasonDailyWindow},
		{"lord howe after the repeated half hour", lh, all, hm(1, 45), hm(3, 0), "2026-04-04 15:31:00", access.ReasonGranted},
		// Lord Howe springs forward half an hour 2026-10-04 02:00 +10:30 -> 02:30 +11 (15:30 UTC on 10-03).
		{"lord howe opening in the skipped half hour", lh, all, hm(2, 15), hm(3, 0), "2026-10-03 15:30:00", access.ReasonGranted},
		{"lord howe before the skipped half hour", lh, all, hm(2, 15), hm(3, 0), "2026-10-03 15:29:00", access.ReasonDailyWindow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			at := utc(c.at)
			d := restricted(t, c.zone, c.days, c.from, c.to, at)
			if d.Reason != c.want {
				t.Errorf("at %s (%s local): got %s, want %s (trace %+v)", at.Format(time.RFC3339), at.In(c.zone).Format("Mon 15:04 MST"), d.Reason, c.want, d.Trace)
			}
			// The brute-force reference agrees on every table case.
			if ref := reference(c.zone, c.days, c.from, c.to, at); ref != (c.want == access.ReasonGranted) {
				t.Errorf("reference: got %v, want %v", ref, c.want == access.ReasonGranted)
			}
		})
	}
}

func TestRestrictionsOnlyWhenVisitSpansDays(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	h := accesstest.Hasher()
	cases := []struct {
		name       string
		start, end time.Time
		want       access.Reason
	}{
		// Days=Monday only; now is Wednesday 08:00 EDT.
		{"same local day, different utc days", time.Date(2026, 6, 10, 1, 0, 0, 0, ny), time.Date(2026, 6, 10, 23, 0, 0, 0, ny), access.ReasonGranted},
		{"ends at local midnight (exclusive)", time.Date(2026, 6, 10, 1, 0, 0, 0, ny), time.Date(2026, 6, 11, 0, 0, 0, 0, ny), access.ReasonGranted},
		{"ends one second past local midnight", time.Date(2026, 6, 10, 1, 0, 0, 0, ny), time.Date(2026, 6, 11, 0, 0, 1, 0, ny), access.ReasonWeekday},
		{"starts the day before", time.Date(2026, 6, 9, 23, 59, 0, 0, ny), time.Date(2026, 6, 10, 23, 0, 0, 0, ny), access.ReasonWeekday},
	}
	at := time.Date(2026, 6, 10, 8, 0, 0, 0, ny)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := accesstest.NewMapLookup()
			v := access.Visit{ID: "v", Start: c.start, End: c.end, Days: 1 << time.Monday, Intercoms: []string{"ic1"}}
			if err := m.Put(h, v, pin("246810")); err != nil {
				t.Fatal(err)
			}
			cfg := baseConfig()
			cfg.Location = ny
			d := access.New(cfg, m, h).Decide(access.Credential{Kind: access.KindPIN, Value: "246810"}, trusted(at))
			if d.Reason != c.want {
				t.Errorf("got %s, want %s", d.Reason, c.want)
			}
		})
	}
}

// reference decides weekday and daily-window restrictions by brute force at
// minute granularity, straight from the definition: the window of local day
// D opens at the first instant whose local wall clock reads at least
// D+from, and closes at the first instant that reads at least D'+to (D' = D,
// or D+1 for a window crossing midnight).
func reference(loc *time.Location, days access.Weekdays, from, to int, at time.Time) bool {
	lo := at.Truncate(time.Minute).Add(-72 * time.Hour)
	n := 5 * 24 * 60
	walls := make([]int64, n) // local wall clock as minutes since the civil epoch
	for i := range walls {
		l := lo.Add(time.Duration(i) * time.Minute).In(loc)
		walls[i] = civil(l.Date())*1440 + int64(l.Hour()*60+l.Minute())
	}
	first := func(label int64) time.Time {
		for i, w := range walls {
			if w >= label {
				return lo.Add(time.Duration(i) * time.Minute)
			}
		}
		panic("reference range too short")
	}
	today := civil(at.In(loc).Date())
	for d := today - 2; d <= today+1; d++ {
		wd := time.Weekday((d%7 + 4 + 7) % 7) // civil day 0 was a Thursday
		if !days.Has(wd) {
			continue
		}
		open, close := d*1440+int64(from), d*1440+int64(to)
		switch {
		case from == to:
			open, close = d*1440, (d+1)*1440
		case from > to:
			close += 1440
		}
		if !at.Before(first(open)) && at.Before(first(close)) {
			return true
		}
	}
	return false
}

func civil(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// transitions returns a zone's UTC offset changes from 2024 to 2030.
func transitions(loc *time.Location) []time.Time {
	var out []time.Time
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, loc)
	for t.Year() < 2030 {
		_, end := t.ZoneBounds()
		if end.IsZero() {
			break
		}
		out = append(out, end)
		t = end
	}
	return out
}

// TestRestrictionsProperty compares the engine with the brute-force
// reference around every DST transition of three zones, including Lord
// Howe's 30-minute shift.
func TestRestrictionsProperty(t *testing.T) {
	var zones []*time.Location
	var trans [][]time.Time
	for _, name := range []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe"} {
		z := mustLoad(t, name)
		zones = append(zones, z)
		tr := transitions(z)
		if len(tr) < 10 {
			t.Fatalf("%s: only %d transitions found", name, len(tr))
		}
		trans = append(trans, tr)
	}
	rapid.Check(t, func(rt *rapid.T) {
		zi := rapid.IntRange(0, len(zones)-1).Draw(rt, "zone")
		zone := zones[zi]
		tr := rapid.SampledFrom(trans[zi]).Draw(rt, "transition")
		days := access.Weekdays(rapid.IntRange(0, 127).Draw(rt, "days"))
		// Bounds near the transition's local hour are the interesting ones.
		near := rapid.Bool().Draw(rt, "near")
		var from, to int
		if near {
			h := tr.In(zone).Hour()*60 + tr.In(zone).Minute()
			from = min(max(h+rapid.IntRange(-120, 120).Draw(rt, "from-off"), 0), 1439)
			to = min(max(h+rapid.IntRange(-120, 120).Draw(rt, "to-off"), 0), 1440)
		} else {
			from = rapid.IntRange(0, 1439).Draw(rt, "from")
			to = rapid.IntRange(0, 1440).Draw(rt, "to")
		}
		at := tr.Add(time.Duration(rapid.IntRange(-36*60, 36*60).Draw(rt, "minute")) * time.Minute).
			Add(time.Duration(rapid.IntRange(0, 59).Draw(rt, "second")) * time.Second)
		d := restricted(rt, zone, days, from, to, at)
		want := reference(zone, days, from, to, at)
		if d.Grant != want {
			rt.Fatalf("%s days=%07b window %s-%s at %s (%s): engine %s, reference grant=%v",
				zone, days, hm(from), hm(to), at.UTC().Format(time.RFC3339), at.In(zone).Format("Mon 15:04:05 MST"), d.Reason, want)
		}
		if !d.Grant && d.Reason != access.ReasonWeekday && d.Reason != access.ReasonDailyWindow {
			rt.Fatalf("refused for %s, want a restriction reason", d.Reason)
		}
	})
}

func hm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
