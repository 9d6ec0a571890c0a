package access_test

import (
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
)

func TestClockTrust(t *testing.T) {
	build := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	server := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name          string
		now           time.Time
		build, server time.Time
		tol           time.Duration
		trusted       bool
		why           string
	}{
		{"in sync", server, build, server, 0, true, ""},
		{"ahead of server", server.Add(time.Hour), build, server, 0, true, ""},
		{"boot at 1970", time.Unix(0, 0), build, time.Time{}, 0, false, "before build time"},
		{"before build wins over server", build.Add(-time.Hour), build, server, 0, false, "before build time"},
		{"within default tolerance", server.Add(-5 * time.Minute), build, server, 0, true, ""},
		{"behind beyond default tolerance", server.Add(-5*time.Minute - time.Second), build, server, 0, false, "behind newest server time by 5m1s"},
		{"custom tolerance", server.Add(-90 * time.Second), build, server, time.Minute, false, "behind newest server time by 1m30s"},
		{"no server time yet", build.Add(time.Hour), build, time.Time{}, 0, true, ""},
		{"no build time", server, time.Time{}, server, 0, true, ""},
		{"zero now", time.Time{}, time.Time{}, time.Time{}, 0, false, "clock not set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := access.ClockTrust(c.now, c.build, c.server, c.tol)
			if got.Trusted != c.trusted || got.Why != c.why || !got.Now.Equal(c.now) {
				t.Errorf("got %+v, want trusted=%v why=%q now=%v", got, c.trusted, c.why, c.now)
			}
		})
	}
}

func TestUntrustedClockReasonCarriesWhy(t *testing.T) {
	f := newFixture(t)
	e := access.New(baseConfig(), f.m, f.h)
	clk := access.ClockTrust(now, now.Add(time.Hour), time.Time{}, 0)
	d := e.Decide(access.Credential{Kind: access.KindPIN, Value: "111111", Reader: "k"}, clk)
	if d.Grant || d.Reason != access.ReasonClockUntrusted || d.Trace[len(d.Trace)-1].Detail != "before build time" {
		t.Errorf("got %v %s %+v, want clock_untrusted with why", d.Grant, d.Reason, d.Trace[len(d.Trace)-1])
	}
}
