package qr

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestDedupeHoldOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &Dedupe{HoldOff: 3 * time.Second}
		steps := []struct {
			wait  time.Duration
			token string
			want  bool
		}{
			{0, "a", true},
			{100 * time.Millisecond, "a", false}, // next frame
			{0, "b", true},                       // a second code is independent
			{2 * time.Second, "a", false},        // still held: 2.1 s after the last sighting
			{2999 * time.Millisecond, "a", false},
			{3 * time.Second, "a", true}, // taken away for 3 s, then shown again
			{time.Second, "b", true},     // b last seen 9 s ago
		}
		for i, s := range steps {
			time.Sleep(s.wait)
			if got := d.Fresh(s.token, time.Now()); got != s.want {
				t.Fatalf("step %d: Fresh(%q) = %v, want %v", i, s.token, got, s.want)
			}
		}
	})
}

func TestDedupeDefaultAndExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var d Dedupe
		if !d.Fresh("x", time.Now()) || d.Fresh("x", time.Now()) {
			t.Fatal("zero Dedupe does not suppress a repeat")
		}
		time.Sleep(DefaultHoldOff)
		if !d.Fresh("x", time.Now()) {
			t.Fatal("token not fresh after the default hold-off")
		}
		for i := range 200 {
			d.Fresh(string(rune('A'+i%26))+string(rune('a'+i/26)), time.Now())
			time.Sleep(100 * time.Millisecond)
		}
		d.mu.Lock()
		n := len(d.seen)
		d.mu.Unlock()
		if n > 100 {
			t.Fatalf("dedupe keeps %d tokens; expired ones are not dropped", n)
		}
	})
}
