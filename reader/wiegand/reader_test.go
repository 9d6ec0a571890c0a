package wiegand_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/device/pins/pinstest"
	"github.com/intercomd/intercomd/reader/wiegand"
)

// rig is a reader on a fake edge source, inside a synctest bubble.
type rig struct {
	t      *testing.T
	edges  *pinstest.Edges
	tx     *pinstest.Transmitter
	out    chan access.Credential
	r      *wiegand.Reader
	mu     sync.Mutex
	events []access.Event
	done   chan error
	cancel context.CancelFunc
}

func newRig(t *testing.T, cfg wiegand.Config) *rig {
	t.Helper()
	g := &rig{t: t, edges: pinstest.NewEdges(), out: make(chan access.Credential, 16), done: make(chan error, 1)}
	g.tx = &pinstest.Transmitter{Edges: g.edges}
	g.r = wiegand.New(cfg, g.edges, g.out, func(e access.Event) {
		g.mu.Lock()
		g.events = append(g.events, e)
		g.mu.Unlock()
	}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	g.cancel = cancel
	go func() { g.done <- g.r.Run(ctx) }()
	t.Cleanup(g.stop)
	return g
}

func (g *rig) stop() {
	g.cancel()
	if err := <-g.done; err != nil {
		g.t.Errorf("Run: %v", err)
	}
	g.done <- nil // stop is idempotent
	if n := g.edges.BadWaits.Load(); n != 0 {
		g.t.Errorf("reader made %d waits with a non-positive timeout", n)
	}
}

// next returns the next credential, failing after a (bubble) second.
func (g *rig) next() access.Credential {
	g.t.Helper()
	select {
	case c := <-g.out:
		return c
	case <-time.After(time.Second):
		g.t.Fatal("no credential delivered")
	}
	return access.Credential{}
}

// none checks that nothing is delivered within a (bubble) second.
func (g *rig) none() {
	g.t.Helper()
	select {
	case c := <-g.out:
		g.t.Fatalf("unexpected credential %v from %s", c.Kind, c.Reader)
	case <-time.After(time.Second):
	}
}

func (g *rig) send(bits []bool) time.Time {
	g.t.Helper()
	last, err := g.tx.Send(g.t.Context(), bits)
	if err != nil {
		g.t.Fatal(err)
	}
	return last
}

func mustEncode(t *testing.T, f wiegand.Format, fc, cn uint64) []bool {
	t.Helper()
	b, err := wiegand.Encode(f, fc, cn)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReaderCardsAcrossTiming(t *testing.T) {
	cards := []struct {
		f      wiegand.Format
		fc, cn uint64
		want   string
	}{
		{wiegand.H10301, 18, 32770, "18:32770"},
		{wiegand.H10306, 1234, 56789, "1234:56789"},
		{wiegand.Corp1000, 1000, 123456, "1000:123456"},
		{wiegand.H10304, 4660, 300000, "4660:300000"},
	}
	for _, iv := range []time.Duration{200 * time.Microsecond, 500 * time.Microsecond, 2 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		for _, jitter := range []float64{0, 0.3} {
			t.Run(fmt.Sprintf("%v jitter %.0f%%", iv, jitter*100), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					g := newRig(t, wiegand.Config{})
					g.tx.Interval, g.tx.Jitter = iv, jitter
					g.tx.Rand = rand.New(rand.NewPCG(uint64(iv), 7))
					for _, c := range cards {
						last := g.send(mustEncode(t, c.f, c.fc, c.cn))
						got := g.next()
						if got.Kind != access.KindCard || got.Value != c.want || got.Reader != "wiegand0" || !got.At.Equal(last) {
							t.Errorf("%v: got %v %q from %s at %v, want card %q at %v", c.f, got.Kind, got.Value, got.Reader, got.At, c.want, last)
						}
						// The frame must end within 3 × the longest gap of
						// the frame (EOF clamp 3-100 ms) after the last bit.
						if lat := time.Since(last); lat > max(3*time.Millisecond, min(100*time.Millisecond, 3*iv*13/10)) {
							t.Errorf("%v: delivered %v after the last bit", c.f, lat)
						}
					}
					if s := g.r.Stats(); s.Cards.Load() != uint64(len(cards)) || s.Parity.Load() != 0 {
						t.Errorf("stats %v", s.Snapshot())
					}
				})
			})
		}
	}
}

func TestReaderEarlyEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newRig(t, wiegand.Config{})
		last := g.send(mustEncode(t, wiegand.H10301, 1, 2))
		g.next()
		if lat := time.Since(last); lat != 4*time.Millisecond {
			t.Errorf("valid 26-bit frame ended %v after its last bit, want 2 × 2 ms", lat)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		g := newRig(t, wiegand.Config{NoEarlyEnd: true})
		last := g.send(mustEncode(t, wiegand.H10301, 1, 2))
		g.next()
		if lat := time.Since(last); lat != 6*time.Millisecond {
			t.Errorf("without early end the frame ended %v after its last bit, want 3 × 2 ms", lat)
		}
	})
}

func TestReaderKeypad(t *testing.T) {
	for _, width := range []int{4, 8} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := newRig(t, wiegand.Config{})
				if _, err := g.tx.SendKeys(t.Context(), "1234#", width); err != nil {
					t.Fatal(err)
				}
				if c := g.next(); c.Kind != access.KindPIN || c.Value != "1234" {
					t.Errorf("got %v %q, want pin 1234", c.Kind, c.Value)
				}
				// A card number typed on the keypad is a PIN, never a card.
				if _, err := g.tx.SendKeys(t.Context(), "1832770#", width); err != nil {
					t.Fatal(err)
				}
				if c := g.next(); c.Kind != access.KindPIN || c.Value != "1832770" {
					t.Errorf("typed card number: got %v %q, want pin", c.Kind, c.Value)
				}
				// '*' clears.
				if _, err := g.tx.SendKeys(t.Context(), "99*5678#", width); err != nil {
					t.Fatal(err)
				}
				if c := g.next(); c.Value != "5678" {
					t.Errorf("after clear: got %q, want 5678", c.Value)
				}
				// A pause longer than 5 s discards the entry.
				if _, err := g.tx.SendKeys(t.Context(), "11", width); err != nil {
					t.Fatal(err)
				}
				time.Sleep(6 * time.Second)
				if _, err := g.tx.SendKeys(t.Context(), "4321#", width); err != nil {
					t.Fatal(err)
				}
				if c := g.next(); c.Value != "4321" {
					t.Errorf("after timeout: got %q, want 4321", c.Value)
				}
				s := g.r.Stats()
				if s.PINs.Load() != 4 || s.PINCleared.Load() != 1 || s.PINExpired.Load() != 1 {
					t.Errorf("stats %v", s.Snapshot())
				}
				for _, f := range g.r.Recent() {
					if f.Raw != "" {
						t.Errorf("key burst kept its bits %q", f.Raw)
					}
				}
			})
		})
	}
}

func TestReaderPINTooLong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newRig(t, wiegand.Config{})
		if _, err := g.tx.SendKeys(t.Context(), "1234567890123#", 4); err != nil {
			t.Fatal(err)
		}
		g.none()
		if n := g.r.Stats().PINOverflow.Load(); n != 1 {
			t.Errorf("pin overflow = %d, want 1", n)
		}
		g.mu.Lock()
		if len(g.events) != 1 || g.events[0].Kind != "pin" || strings.ContainsAny(g.events[0].Detail, "0123456789") {
			t.Errorf("events %+v, want one pin input.rejected without digits", g.events)
		}
		g.mu.Unlock()
	})
}

func TestReaderNoise(t *testing.T) {
	t.Run("short pulse dropped", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := newRig(t, wiegand.Config{})
			bits := mustEncode(t, wiegand.H10301, 7, 777)
			g.send(bits[:10])
			time.Sleep(time.Millisecond)
			g.edges.Pulse(1, 2*time.Microsecond) // a glitch between two bits
			time.Sleep(time.Millisecond)
			g.send(bits[10:])
			if c := g.next(); c.Value != "7:777" {
				t.Errorf("got %q, want 7:777", c.Value)
			}
			if n := g.r.Stats().NoisePulses.Load(); n != 1 {
				t.Errorf("noise pulses = %d, want 1", n)
			}
		})
	})
	t.Run("both lines low", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := newRig(t, wiegand.Config{})
			bits := mustEncode(t, wiegand.H10301, 7, 777)
			g.send(bits[:25])
			time.Sleep(2 * time.Millisecond)
			now := time.Now()
			// D0 falls 20 µs into D1's 50 µs pulse.
			g.edges.Inject(wiegand.Edge{Line: 1, At: now, Width: 50 * time.Microsecond})
			g.edges.Inject(wiegand.Edge{Line: 0, At: now.Add(20 * time.Microsecond), Width: 50 * time.Microsecond})
			g.none()
			if n := g.r.Stats().BothLow.Load(); n != 1 {
				t.Errorf("both low = %d, want 1", n)
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			if len(g.events) != 1 || g.events[0].Type != access.EventBadInput {
				t.Errorf("events %+v, want one input.rejected", g.events)
			}
		})
	})
	t.Run("source saw both low", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := newRig(t, wiegand.Config{})
			bits := mustEncode(t, wiegand.H10301, 7, 777)
			g.send(bits[:25])
			time.Sleep(2 * time.Millisecond)
			g.edges.Inject(wiegand.Edge{Line: 0, At: time.Now(), BothLow: true})
			g.none()
			if n := g.r.Stats().BothLow.Load(); n != 1 {
				t.Errorf("both low = %d, want 1", n)
			}
		})
	})
	cases := []struct {
		name  string
		bits  func(t *testing.T) []bool
		count func(s *wiegand.Stats) uint64
	}{
		{"runt", func(*testing.T) []bool { return []bool{true, false} }, func(s *wiegand.Stats) uint64 { return s.Runts.Load() }},
		{"impossible length", func(*testing.T) []bool { return make([]bool, 13) }, func(s *wiegand.Stats) uint64 { return s.BadLength.Load() }},
		{"parity", func(t *testing.T) []bool {
			b := mustEncode(t, wiegand.H10301, 7, 777)
			b[5] = !b[5]
			return b
		}, func(s *wiegand.Stats) uint64 { return s.Parity.Load() }},
		{"complement", func(*testing.T) []bool { return []bool{true, true, true, true, false, true, false, true} }, func(s *wiegand.Stats) uint64 { return s.Complement.Load() }},
		{"key 13", func(*testing.T) []bool { return []bool{true, true, false, true} }, func(s *wiegand.Stats) uint64 { return s.BadKey.Load() }},
		{"overflow", func(*testing.T) []bool { return make([]bool, 70) }, func(s *wiegand.Stats) uint64 { return s.Overflow.Load() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := newRig(t, wiegand.Config{})
				g.send(tc.bits(t))
				g.none()
				if n := tc.count(g.r.Stats()); n != 1 {
					t.Errorf("counter = %d, want 1 (%v)", n, g.r.Stats().Snapshot())
				}
				// The reader recovers: the next card decodes.
				g.send(mustEncode(t, wiegand.H10301, 1, 1))
				if c := g.next(); c.Value != "1:1" {
					t.Errorf("after %s: got %q", tc.name, c.Value)
				}
			})
		})
	}
}

func TestReaderEventRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newRig(t, wiegand.Config{})
		for range 5 { // a noisy line: five bad frames within a second
			g.send(make([]bool, 13))
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(10 * time.Second)
		g.send(make([]bool, 13))
		time.Sleep(time.Second)
		if n := g.r.Stats().BadLength.Load(); n != 6 {
			t.Errorf("bad length = %d, want 6", n)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if len(g.events) != 2 || !strings.Contains(g.events[1].Detail, "4 more") {
			t.Errorf("events %+v, want 2, the second counting 4 suppressed", g.events)
		}
	})
}

func TestReaderRecent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newRig(t, wiegand.Config{Recent: 2})
		var want []string
		for i := range 3 {
			b := mustEncode(t, wiegand.H10301, 1, uint64(i))
			want = append(want, wiegand.BitString(b))
			g.send(b)
			g.next()
		}
		got := g.r.Recent()
		if len(got) != 2 || got[0].Raw != want[1] || got[1].Raw != want[2] {
			t.Fatalf("Recent = %+v, want the last two frames", got)
		}
		if got[1].Format != "h10301" || got[1].Bits != 26 || got[1].Interval != 2*time.Millisecond {
			t.Errorf("frame record %+v", got[1])
		}
	})
}

// A consumer that stops reading must not wedge Run past cancellation.
func TestReaderCancelWhileDelivering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		edges := pinstest.NewEdges()
		out := make(chan access.Credential) // nobody reads
		r := wiegand.New(wiegand.Config{}, edges, out, nil, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		tx := &pinstest.Transmitter{Edges: edges}
		if _, err := tx.SendCard(ctx, wiegand.H10301, 1, 1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil on cancellation", err)
		}
	})
}

// Frames without early end (raw lengths) end at 3 × the bit interval,
// clamped to 3-100 ms.
func TestReaderAdaptiveEOF(t *testing.T) {
	cases := []struct{ iv, want time.Duration }{
		{200 * time.Microsecond, 3 * time.Millisecond}, // 0.6 ms clamped up
		{2 * time.Millisecond, 6 * time.Millisecond},
		{20 * time.Millisecond, 60 * time.Millisecond},
		{50 * time.Millisecond, 100 * time.Millisecond}, // 150 ms clamped down
	}
	for _, tc := range cases {
		t.Run(tc.iv.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := newRig(t, wiegand.Config{})
				g.tx.Interval = tc.iv
				b, err := wiegand.EncodeRaw(32, 12345, true)
				if err != nil {
					t.Fatal(err)
				}
				last := g.send(b)
				if c := g.next(); c.Kind != access.KindCard || !strings.HasPrefix(c.Value, "raw:") {
					t.Fatalf("got %v %q", c.Kind, c.Value)
				}
				if lat := time.Since(last); lat != tc.want {
					t.Errorf("frame ended %v after its last bit, want %v", lat, tc.want)
				}
			})
		})
	}
	// A configured fixed gap.
	synctest.Test(t, func(t *testing.T) {
		g := newRig(t, wiegand.Config{EOFMin: 25 * time.Millisecond, EOFMax: 25 * time.Millisecond, NoEarlyEnd: true})
		last := g.send(mustEncode(t, wiegand.H10301, 3, 4))
		g.next()
		if lat := time.Since(last); lat != 25*time.Millisecond {
			t.Errorf("fixed gap: frame ended %v after its last bit, want 25ms", lat)
		}
	})
}

// heldUp is the device's edge source when the reader goroutine is held up
// (a busy CPU): the k-th edge is read d late, and, as with periph's LineSet,
// stamped with its read time. With timeout set, the wait before the k-th
// edge is held up instead and wakes past its deadline reporting a timeout,
// though the edge is buffered.
type heldUp struct {
	*pinstest.Edges
	k, n    int
	d       time.Duration
	timeout bool
}

func (h *heldUp) WaitForEdge(timeout time.Duration) (wiegand.Edge, bool, error) {
	if h.timeout && h.n == h.k-1 {
		h.n++
		time.Sleep(h.d)
		return wiegand.Edge{}, false, nil
	}
	e, ok, err := h.Edges.WaitForEdge(timeout)
	if ok {
		if h.n++; h.n == h.k {
			time.Sleep(h.d)
			e.At = time.Now()
		}
	}
	return e, ok, err
}

func TestReaderHeldUpWithReadTimes(t *testing.T) {
	for _, tc := range []struct {
		d       time.Duration
		timeout bool
	}{{5 * time.Millisecond, false}, {30 * time.Millisecond, false}, {7 * time.Millisecond, true}} {
		d := tc.d
		t.Run(fmt.Sprint(d, tc.timeout), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				edges := pinstest.NewEdges()
				edges.ReadTime = true
				src := &heldUp{Edges: edges, k: 13, d: d, timeout: tc.timeout}
				out := make(chan access.Credential, 4)
				r := wiegand.New(wiegand.Config{}, src, out, nil, nil)
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error)
				go func() { done <- r.Run(ctx) }()
				tx := &pinstest.Transmitter{Edges: edges}
				if _, err := tx.SendCard(ctx, wiegand.H10301, 18, 32770); err != nil {
					t.Fatal(err)
				}
				select {
				case c := <-out:
					if c.Value != "18:32770" {
						t.Errorf("got %q, want 18:32770", c.Value)
					}
				case <-time.After(time.Second):
					t.Errorf("frame lost when the reader was held up %v: %v %+v", d, r.Stats().Snapshot(), r.Recent())
				}
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			})
		})
	}
}

// FuzzReaderEdges drives the reader with arbitrary edge streams: 4 bytes per
// edge (line, gap in 50 µs steps, width in µs, flags). Whatever arrives, the
// reader must not panic, every frame must be accounted for, and what it
// delivers must be a card whose value normalises or a PIN of digits. A stream
// is cut at maxFuzzEdges, room for a 37-bit frame and most of another: each
// edge costs a timer in the bubble (about 2 µs), and longer streams only
// repeat what the boundary between two frames already reaches.
func FuzzReaderEdges(f *testing.F) {
	for _, tc := range decodeSeeds() {
		f.Add(tc)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4*maxFuzzEdges {
			data = data[:4*maxFuzzEdges]
		}
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			src := &script{cancel: cancel}
			at := time.Now()
			for i := 0; i+4 <= len(data); i += 4 {
				at = at.Add(time.Duration(data[i+1]) * 50 * time.Microsecond)
				src.edges = append(src.edges, wiegand.Edge{Line: int(data[i] % 3), At: at, Width: time.Duration(data[i+2]) * time.Microsecond, BothLow: data[i+3] == 0xff})
			}
			// Twice the longest end-of-frame gap ends the last frame.
			src.end = at.Add(2 * wiegand.DefaultEOFMax)
			out := make(chan access.Credential, 64)
			r := wiegand.New(wiegand.Config{}, src, out, nil, nil)
			if err := r.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if src.badWaits > 0 {
				t.Fatalf("%d waits with a timeout that is not positive", src.badWaits)
			}
			if len(src.edges) > 0 {
				t.Fatalf("run ended with %d edges unread", len(src.edges))
			}
			close(out)
			for c := range out {
				switch c.Kind {
				case access.KindCard:
					if _, err := access.Normalize(access.KindCard, c.Value); err != nil {
						t.Fatalf("card value %q does not normalise: %v", c.Value, err)
					}
				case access.KindPIN:
					for _, d := range c.Value {
						if d < '0' || d > '9' || len(c.Value) > 12 {
							t.Fatalf("pin %q", c.Value)
						}
					}
				default:
					t.Fatalf("kind %v delivered", c.Kind)
				}
			}
		})
	})
}

const maxFuzzEdges = 64

// script is an edge source that plays a fixed list of edges, each at its
// time, in the reader's own goroutine: WaitForEdge sleeps (in the synctest
// bubble) until the next edge is due or the timeout passes, as the kernel's
// line request would. After the last edge and a tail of silence it cancels
// the run. One goroutine, no channels and a short tail (every wait is a
// timer in the bubble) make it cheap enough to fuzz at over a million
// inputs a minute; the other tests use pinstest.Edges and its injecting
// goroutine.
type script struct {
	edges    []wiegand.Edge
	end      time.Time
	cancel   context.CancelFunc
	badWaits int
}

func (s *script) WaitForEdge(timeout time.Duration) (wiegand.Edge, bool, error) {
	if timeout <= 0 {
		s.badWaits++
		timeout = time.Millisecond
	}
	now := time.Now()
	if len(s.edges) == 0 {
		if !now.Before(s.end) {
			s.cancel()
			return wiegand.Edge{}, false, nil
		}
		time.Sleep(min(timeout, s.end.Sub(now)))
		return wiegand.Edge{}, false, nil
	}
	e := s.edges[0]
	if d := e.At.Sub(now); d > 0 {
		if d > timeout {
			time.Sleep(timeout)
			return wiegand.Edge{}, false, nil
		}
		time.Sleep(d)
	}
	s.edges = s.edges[1:]
	return e, true, nil
}

// decodeSeeds turns the decoder's table into edge streams, 2 ms apart.
func decodeSeeds() [][]byte {
	var seeds [][]byte
	for _, bits := range []string{"10001001010000000000000100", "00001111101000000111100010010000001", "0111", "10100101", "1011"} {
		var b []byte
		for _, c := range bits {
			b = append(b, byte(c-'0'), 40, 50, 0)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// brokenSource fails like a closed line request.
type brokenSource struct{ *pinstest.Edges }

var errUnplugged = errors.New("gpio line request closed")

func (brokenSource) WaitForEdge(time.Duration) (wiegand.Edge, bool, error) {
	return wiegand.Edge{}, false, errUnplugged
}

func TestReaderSourceError(t *testing.T) {
	r := wiegand.New(wiegand.Config{}, brokenSource{pinstest.NewEdges()}, make(chan access.Credential), nil, nil)
	err := r.Run(t.Context())
	if !errors.Is(err, errUnplugged) || !strings.HasPrefix(err.Error(), "wiegand: wiegand0:") {
		t.Errorf("Run = %v, want the wrapped source error", err)
	}
	if n := r.Stats().SourceErrors.Load(); n != 1 {
		t.Errorf("source errors = %d, want 1", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r.Run(ctx); err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
}
