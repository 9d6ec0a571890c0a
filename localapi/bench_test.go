package localapi_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/localapi"
)

// pct returns the p-th percentile of ds, in microseconds.
func pct(ds []time.Duration, p float64) int64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))].Microseconds()
}

// BenchmarkSocket measures what a technician waits for: a read call, an
// audited control call, and a live event reaching an events -f stream,
// over a real socket with peer-credential checks. It measures its own
// percentiles over many operations and ignores b.N.
func BenchmarkSocket(b *testing.B) {
	const ops = 2000
	fake := sample()
	fake.Live = make(chan access.Event)
	e := start(b, fake, func(s *localapi.Server) { s.Logger = nil })
	ctx := b.Context()
	measure := func(f func() error) []time.Duration {
		ds := make([]time.Duration, 0, ops)
		for range ops {
			t := time.Now()
			if err := f(); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t))
		}
		return ds
	}
	{
		status := measure(func() error { _, err := e.client.Status(ctx); return err })
		control := measure(func() error { return e.client.Relay(ctx, localapi.RelayPulse, 5*time.Second) })

		got := make(chan time.Time, 1)
		streamErr := make(chan error, 1)
		sctx, cancel := context.WithCancel(ctx)
		go func() {
			streamErr <- e.client.Events(sctx, 0, true, func(access.Event) error { got <- time.Now(); return nil })
		}()
		stream := make([]time.Duration, 0, ops)
		for i := range ops {
			t := time.Now()
			fake.Live <- access.Event{ID: fmt.Sprint(i), Type: access.EventDoorOpened, At: t}
			stream = append(stream, (<-got).Sub(t))
		}
		fmt.Printf("BENCH localapi_status_p50 %d us\n", pct(status, 0.50))
		fmt.Printf("BENCH localapi_status_p99 %d us\n", pct(status, 0.99))
		fmt.Printf("BENCH localapi_control_p99 %d us\n", pct(control, 0.99))
		fmt.Printf("BENCH localapi_event_stream_p99 %d us\n", pct(stream, 0.99))
		cancel()
		if err := <-streamErr; err != nil {
			b.Error(err)
		}
	}
}
