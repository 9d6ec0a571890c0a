package pinstest_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/intercomd/intercomd/device/pins/pinstest"
	"github.com/intercomd/intercomd/reader/wiegand"
)

func TestEdgesKernelLikeBuffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := pinstest.NewEdges()
		start := time.Now()
		for i := range pinstest.EdgeBuffer + 3 {
			s.Inject(wiegand.Edge{Line: i % 2, At: start.Add(time.Duration(i) * time.Millisecond)})
		}
		if got := s.Dropped.Load(); got != 3 {
			t.Errorf("dropped %d, want 3", got)
		}
		time.Sleep(time.Second) // read late: timestamps are those of the edges
		e, ok, err := s.WaitForEdge(time.Millisecond)
		if !ok || err != nil || !e.At.Equal(start.Add(3*time.Millisecond)) || e.Line != 1 {
			t.Errorf("first edge %+v %v %v, want the 4th injected (oldest dropped)", e, ok, err)
		}
		for range pinstest.EdgeBuffer - 1 {
			if _, ok, _ := s.WaitForEdge(time.Millisecond); !ok {
				t.Fatal("buffered edge missing")
			}
		}
		before := time.Now()
		if _, ok, _ := s.WaitForEdge(5 * time.Millisecond); ok || time.Since(before) != 5*time.Millisecond {
			t.Error("empty source did not time out after 5 ms")
		}
		if _, ok, _ := s.WaitForEdge(-1); ok || s.BadWaits.Load() != 1 {
			t.Error("negative timeout not returned at once and counted")
		}
	})
}

func TestTransmitterTiming(t *testing.T) {
	for _, ahead := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			s := pinstest.NewEdges()
			tx := &pinstest.Transmitter{Edges: s, Interval: 2 * time.Millisecond, Ahead: ahead}
			bits, _ := wiegand.Encode(wiegand.H10304, 1, 2) // 37 bits: more than the buffer
			got := make(chan []wiegand.Edge)
			go func() {
				var es []wiegand.Edge
				for len(es) < len(bits) {
					if e, ok, _ := s.WaitForEdge(time.Second); ok {
						es = append(es, e)
					}
				}
				got <- es
			}()
			start := time.Now()
			last, err := tx.Send(context.Background(), bits)
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) != 72*time.Millisecond || !last.Equal(start.Add(72*time.Millisecond)) {
				t.Errorf("ahead %v: send took %v, last edge at +%v; want 36 × 2 ms", ahead, time.Since(start), last.Sub(start))
			}
			es := <-got
			for i, e := range es {
				if e.At.Sub(start) != time.Duration(i)*2*time.Millisecond || e.Width != 50*time.Microsecond || (e.Line == 1) != bits[i] {
					t.Fatalf("ahead %v: edge %d = %+v", ahead, i, e)
				}
			}
			if s.Dropped.Load() != 0 {
				t.Errorf("ahead %v: %d edges dropped", ahead, s.Dropped.Load())
			}
		})
	}
}
