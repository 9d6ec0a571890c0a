package mqttsync

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/intercomd/intercomd/internal/mqtttest"
	"github.com/intercomd/intercomd/store"
)

func TestBackoff(t *testing.T) {
	min, max := time.Second, 30*time.Second
	for _, c := range []struct {
		n        int
		r        float64
		want     time.Duration
		wantFull time.Duration
	}{
		{0, 0, 500 * time.Millisecond, time.Second},
		{1, 0, time.Second, 2 * time.Second},
		{4, 0.5, 12 * time.Second, 16 * time.Second},
		{5, 0, 15 * time.Second, 30 * time.Second},
		{60, 0.999, 15 * time.Second, 30 * time.Second},
	} {
		got := Backoff(c.n, min, max, c.r)
		if got < c.want || got > c.wantFull {
			t.Errorf("Backoff(%d, r=%v) = %v, want within [%v, %v]", c.n, c.r, got, c.want, c.wantFull)
		}
	}
	if Backoff(3, min, max, 0) == Backoff(3, min, max, 0.9) {
		t.Error("no jitter")
	}
}

// TestReconnectBackoffTiming runs a client against a port where no broker
// listens, in a synctest bubble: the attempts follow the jittered
// exponential backoff up to MaxBackoff, with no real waiting.
func TestReconnectBackoffTiming(t *testing.T) {
	port, err := mqtttest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	synctest.Test(t, func(t *testing.T) {
		o := testOptions("tcp://127.0.0.1:" + strconv.Itoa(port))
		o.Store = db
		o.MinBackoff, o.MaxBackoff = time.Second, 8*time.Second
		cl, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		start := time.Now()
		go func() { done <- cl.Run(ctx) }()
		// Waits: [0.5,1], [1,2], [2,4], [4,8], then [4,8] each. After 60
		// fake seconds: at least 1+ (0.5+1+2+4) then 4 s each → at most ~15
		// attempts; at least 60/8 ≈ 7.
		time.Sleep(60 * time.Second)
		synctest.Wait()
		n := cl.Stats().ConnectFailures
		if n < 7 || n > 16 {
			t.Errorf("%d connect attempts in %v of backoff, want 7-16", n, time.Since(start))
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}
