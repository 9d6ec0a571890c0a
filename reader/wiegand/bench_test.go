package wiegand_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
	"github.com/intercomd/intercomd/device/pins/pinstest"
	"github.com/intercomd/intercomd/reader/wiegand"
)

// BenchmarkEOFToDecision measures, in real time, from the last bit of a
// 26-bit frame sent with 2 ms bit spacing through the fake pins to the
// engine's decision on the delivered credential. It runs a fixed number of
// frames whatever b.N and prints percentiles as BENCH lines.
func BenchmarkEOFToDecision(b *testing.B) {
	const frames = 200
	h := accesstest.Hasher()
	lookup := accesstest.NewMapLookup()
	now := time.Now()
	visit := access.Visit{ID: "v1", Start: now.Add(-time.Hour), End: now.Add(time.Hour), Intercoms: []string{"door-1"}}
	if err := lookup.Put(h, visit, accesstest.Cred{Kind: access.KindCard, Value: "18:32770"}); err != nil {
		b.Fatal(err)
	}
	eng := access.New(access.Config{Intercom: "door-1", VisitKeysEnabled: true}, lookup, h)
	bits, err := wiegand.Encode(wiegand.H10301, 18, 32770)
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		edges := pinstest.NewEdges()
		out := make(chan access.Credential, 1)
		r := wiegand.New(wiegand.Config{}, edges, out, nil, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		tx := &pinstest.Transmitter{Edges: edges, Interval: 2 * time.Millisecond}
		lat := make([]time.Duration, 0, frames)
		lost := 0
		for range frames {
			last, err := tx.Send(ctx, bits)
			if err != nil {
				b.Fatal(err)
			}
			var c access.Credential
			select {
			case c = <-out:
			case <-time.After(time.Second):
				// The simulated reader (this process) ran so late on a
				// loaded machine that its frame split: count it.
				lost++
				for len(out) > 0 {
					<-out
				}
				continue
			}
			d := eng.Decide(c, access.Clock{Now: time.Now(), Trusted: true})
			took := time.Since(last)
			if !d.Grant {
				// A split frame's tail that passed a raw parity check.
				lost++
				continue
			}
			lat = append(lat, took)
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if len(lat) < frames/2 {
			b.Fatalf("%d of %d frames lost", lost, frames)
		}
		slices.Sort(lat)
		ms := func(q float64) float64 {
			return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Millisecond)
		}
		fmt.Printf("BENCH wiegand_eof_to_decision_p50 %.2f ms\n", ms(0.50))
		fmt.Printf("BENCH wiegand_eof_to_decision_p99 %.2f ms\n", ms(0.99))
		fmt.Printf("BENCH wiegand_frames_lost %d frames\n", lost)
	}
}
