package pinstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/intercomd/intercomd/reader/wiegand"
)

// EdgeBuffer is how many edges Edges buffers, like the kernel's default of
// 16 events per requested line for the two Wiegand lines.
const EdgeBuffer = 32

// Edges is a fake Wiegand edge source with two lines. Like the kernel, it
// timestamps an edge when it happens, not when it is read, buffers
// EdgeBuffer edges and drops the oldest when full. It satisfies
// wiegand.EdgeSource. Pulses and Inject may be called from any goroutine;
// WaitForEdge from one.
type Edges struct {
	mu  sync.Mutex
	buf []wiegand.Edge
	sig chan struct{} // a token while buf is not empty

	// ReadTime makes the fake behave like the device's periph LineSet,
	// which loses the kernel's timestamps: WaitForEdge stamps each edge
	// with the time it is read and reports no width. Set before use.
	ReadTime bool

	Dropped atomic.Uint64 // edges lost to a full buffer
	// BadWaits counts WaitForEdge calls with a timeout that is not
	// positive, which the device driver mishandles (periph/host#78).
	BadWaits atomic.Uint64
}

// NewEdges returns an empty edge source.
func NewEdges() *Edges {
	return &Edges{sig: make(chan struct{}, 1)}
}

// Inject queues e as if the kernel had latched it.
func (s *Edges) Inject(e wiegand.Edge) {
	s.mu.Lock()
	if len(s.buf) == EdgeBuffer {
		copy(s.buf, s.buf[1:])
		s.buf = s.buf[:EdgeBuffer-1]
		s.Dropped.Add(1)
	}
	s.buf = append(s.buf, e)
	s.mu.Unlock()
	select {
	case s.sig <- struct{}{}:
	default:
	}
}

// Len returns how many edges wait to be read.
func (s *Edges) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buf)
}

// Pulse pulls line low now for width: one bit.
func (s *Edges) Pulse(line int, width time.Duration) time.Time {
	now := time.Now()
	s.Inject(wiegand.Edge{Line: line, At: now, Width: width})
	return now
}

func (s *Edges) pop() (wiegand.Edge, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) == 0 {
		return wiegand.Edge{}, false
	}
	e := s.buf[0]
	s.buf = append(s.buf[:0], s.buf[1:]...)
	if len(s.buf) > 0 {
		select {
		case s.sig <- struct{}{}:
		default:
		}
	}
	return e, true
}

// ReadTimes implements wiegand.ReadTimer.
func (s *Edges) ReadTimes() bool { return s.ReadTime }

// WaitForEdge implements wiegand.EdgeSource. Like periph's gpioioctl, a
// negative timeout returns at once and zero waits forever; both are counted
// in BadWaits.
func (s *Edges) WaitForEdge(timeout time.Duration) (wiegand.Edge, bool, error) {
	e, ok, err := s.wait(timeout)
	if ok && s.ReadTime {
		e.At, e.Width = time.Now(), 0
	}
	return e, ok, err
}

func (s *Edges) wait(timeout time.Duration) (wiegand.Edge, bool, error) {
	if e, ok := s.pop(); ok {
		return e, true, nil
	}
	if timeout <= 0 {
		s.BadWaits.Add(1)
		if timeout < 0 {
			return wiegand.Edge{}, false, nil
		}
	}
	var after <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		after = t.C
	}
	for {
		select {
		case <-s.sig:
			if e, ok := s.pop(); ok {
				return e, true, nil
			}
		case <-after:
			return wiegand.Edge{}, false, nil
		}
	}
}

// Transmitter is a simulated Wiegand reader: it sends frames onto Edges with
// real timing, a pulse of Pulse every Interval, each gap varied by up to
// ±Jitter × Interval.
type Transmitter struct {
	Edges    *Edges
	Pulse    time.Duration // default 50 µs
	Interval time.Duration // default 2 ms
	Jitter   float64       // fraction of Interval, 0 to 0.9
	KeyGap   time.Duration // pause between keys in SendKeys; default 300 ms
	// Ahead queues each frame's edges at once, stamped with their scheduled
	// times, instead of injecting each when its time comes. The reader then
	// sees the same timestamps and still ends the frame on time, but a
	// transmitter goroutine delayed by a loaded machine can no longer split
	// a frame. For real-time end-to-end tests on busy CI machines.
	Ahead bool
	Rand  *rand.Rand // nil: a fixed seed, so runs repeat
}

func (t *Transmitter) defaults() (pulse, iv, keyGap time.Duration, r *rand.Rand) {
	pulse, iv, keyGap = t.Pulse, t.Interval, t.KeyGap
	if pulse <= 0 {
		pulse = 50 * time.Microsecond
	}
	if iv <= 0 {
		iv = 2 * time.Millisecond
	}
	if keyGap <= 0 {
		keyGap = 300 * time.Millisecond
	}
	if t.Rand == nil {
		t.Rand = rand.New(rand.NewPCG(1, 2))
	}
	return pulse, iv, keyGap, t.Rand
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Send transmits bits, first bit first, and returns the time of the last
// edge. Edges are stamped with their scheduled times, as a hardware reader
// with its own clock would produce them and the kernel would timestamp them;
// when this goroutine runs late, the late edges are injected together, as the
// kernel would buffer them. It is not safe for concurrent use.
func (t *Transmitter) Send(ctx context.Context, bits []bool) (last time.Time, err error) {
	pulse, iv, _, r := t.defaults()
	j := min(max(t.Jitter, 0), 0.9)
	at := time.Now()
	for i, b := range bits {
		if i > 0 {
			gap := iv
			if j > 0 {
				gap = time.Duration(float64(iv) * (1 + j*(2*r.Float64()-1)))
			}
			at = at.Add(gap)
			if t.Ahead {
				// Never overrun the buffer: wait for the reader to drain it.
				for t.Edges.Len() >= EdgeBuffer {
					if err := sleep(ctx, 200*time.Microsecond); err != nil {
						return last, fmt.Errorf("pinstest: send: %w", err)
					}
				}
			} else if err := sleep(ctx, time.Until(at)); err != nil {
				return last, fmt.Errorf("pinstest: send: %w", err)
			}
		}
		line := 0
		if b {
			line = 1
		}
		t.Edges.Inject(wiegand.Edge{Line: line, At: at, Width: pulse})
		last = at
	}
	if t.Ahead {
		// Return when the frame has been sent, as without Ahead.
		if err := sleep(ctx, time.Until(last)); err != nil {
			return last, fmt.Errorf("pinstest: send: %w", err)
		}
	}
	return last, nil
}

// SendCard transmits the frame of a card.
func (t *Transmitter) SendCard(ctx context.Context, f wiegand.Format, facility, number uint64) (time.Time, error) {
	bits, err := wiegand.Encode(f, facility, number)
	if err != nil {
		return time.Time{}, err
	}
	return t.Send(ctx, bits)
}

// SendKeys types keys ("0"-"9", "*", "#") as 4- or 8-bit bursts, KeyGap
// apart.
func (t *Transmitter) SendKeys(ctx context.Context, keys string, width int) (time.Time, error) {
	_, _, keyGap, _ := t.defaults()
	var last time.Time
	for i, c := range keys {
		var k uint8
		switch {
		case c >= '0' && c <= '9':
			k = uint8(c - '0')
		case c == '*':
			k = wiegand.KeyStar
		case c == '#':
			k = wiegand.KeyHash
		default:
			return last, fmt.Errorf("pinstest: send keys: %q is not a key", c)
		}
		if i > 0 {
			if err := sleep(ctx, keyGap); err != nil {
				return last, fmt.Errorf("pinstest: send keys: %w", err)
			}
		}
		bits, err := wiegand.EncodeKey(k, width)
		if err != nil {
			return last, err
		}
		if last, err = t.Send(ctx, bits); err != nil {
			return last, err
		}
	}
	return last, nil
}

// Replay plays a recorded transcript onto s with its recorded timing and
// returns the time of its first edge. Under testing/synctest the replay is
// exact.
func Replay(ctx context.Context, s *Edges, tr wiegand.Transcript) (time.Time, error) {
	start := time.Now()
	for _, e := range tr.Edges {
		if err := sleep(ctx, time.Until(start.Add(e.Offset))); err != nil {
			return start, fmt.Errorf("pinstest: replay: %w", err)
		}
		s.Inject(wiegand.Edge{Line: e.Line, At: start.Add(e.Offset), Width: e.Width, BothLow: e.BothLow})
	}
	return start, nil
}
