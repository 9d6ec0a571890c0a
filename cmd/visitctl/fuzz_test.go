package main

import (
	"testing"
	"time"
)

func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"+2h", "-30m", "2026-12-03T10:00:00Z", "2026-12-03T10:00:00+01:00", "yesterday", "+", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseWhen(s, now)
		if err == nil && got.IsZero() {
			t.Fatalf("parseWhen(%q) = zero time without an error", s)
		}
	})
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"+2h", now.Add(2 * time.Hour), true},
		{"-30m", now.Add(-30 * time.Minute), true},
		{"2026-12-04T08:00:00Z", time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC), true},
		{"tomorrow", time.Time{}, false},
		{"+2x", time.Time{}, false},
	} {
		got, err := parseWhen(c.in, now)
		if (err == nil) != c.ok || !got.Equal(c.want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}
