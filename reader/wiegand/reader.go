package wiegand

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/reader/keypad"
)

// Edge is one falling edge on D0 (Line 0) or D1 (Line 1): one bit, 0 or 1.
type Edge struct {
	Line int
	// At is when the line fell: the kernel's timestamp where the source has
	// it, else the time the source read the edge.
	At time.Time
	// Width is how long the line stayed low; zero when the source cannot
	// tell. Only sources with edge-accurate timestamps should set it.
	Width time.Duration
	// BothLow is set when the source saw both lines low at this edge.
	BothLow bool
}

// EdgeSource delivers the falling edges of D0 and D1 in the order they
// happened across both lines. WaitForEdge blocks until an edge or until
// timeout passes (ok false); timeout is always positive, because periph's
// gpioioctl treats a negative timeout as "return at once" (periph/host#78).
// A source is used by one goroutine at a time.
type EdgeSource interface {
	WaitForEdge(timeout time.Duration) (e Edge, ok bool, err error)
}

// ReadTimer is implemented by edge sources whose Edge.At is the time the
// edge was read rather than the time it happened: periph v3.8.5's LineSet
// drops the kernel's timestamp. An edge read late after this goroutine was
// held up then looks like the start of a new frame. For such sources the
// reader never splits a frame on an edge's timestamp; it ends frames only on
// silence it observed, after one more short poll for edges the kernel
// buffered meanwhile. (People cannot present two cards milliseconds apart, so
// joining is the safe side.)
type ReadTimer interface {
	ReadTimes() bool
}

// Reader defaults.
const (
	DefaultName       = "wiegand0"
	DefaultEOFFactor  = 3
	DefaultEOFMin     = 3 * time.Millisecond
	DefaultEOFMax     = 100 * time.Millisecond
	DefaultMinPulse   = 10 * time.Microsecond
	DefaultRecent     = 32
	DefaultEventEvery = 10 * time.Second
	// tick bounds every wait, so that Run notices cancellation and PIN
	// timeouts without an edge.
	tick = 25 * time.Millisecond
	// minWait keeps the last wait of a frame positive and long enough for a
	// buffered edge to be read before the frame is declared over.
	minWait = 50 * time.Microsecond
	// earlyMin is the shortest early end of frame.
	earlyMin = time.Millisecond
)

// Config configures a Reader. Zero values mean the documented defaults.
type Config struct {
	Name string // reader id in credentials and events; default "wiegand0"
	// End of frame: the frame ends after EOFFactor × the measured bit
	// interval of silence, clamped to [EOFMin, EOFMax]. Before two bits
	// have arrived the interval is unknown and EOFMax applies. Set EOFMin
	// equal to EOFMax for a fixed gap.
	EOFFactor float64       // default 3
	EOFMin    time.Duration // default 3 ms
	EOFMax    time.Duration // default 100 ms
	// A frame whose bit count and parity already make a valid frame ends
	// after 2 × the bit interval (at least 1 ms) instead: the next bit of a
	// longer frame would be a whole interval late. NoEarlyEnd turns that off.
	NoEarlyEnd bool
	// MinPulse: a pulse narrower than this is noise and is dropped. It only
	// applies to sources that report pulse widths. Default 10 µs; negative
	// disables it.
	MinPulse   time.Duration
	PINTimeout time.Duration // pause that discards a keypad entry; default 5 s
	PINMax     int           // longest PIN; default 12
	Decode     Options       // frame formats
	Recent     int           // frames kept for Recent(); default 32
	// EventEvery bounds input.rejected events to one per period; the
	// counters still count every rejection. Default 10 s.
	EventEvery time.Duration
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.EOFFactor <= 0 {
		c.EOFFactor = DefaultEOFFactor
	}
	if c.EOFMin <= 0 {
		c.EOFMin = DefaultEOFMin
	}
	if c.EOFMax <= 0 {
		c.EOFMax = DefaultEOFMax
	}
	if c.EOFMax < c.EOFMin {
		c.EOFMax = c.EOFMin
	}
	if c.MinPulse == 0 {
		c.MinPulse = DefaultMinPulse
	}
	if c.Recent <= 0 {
		c.Recent = DefaultRecent
	}
	if c.EventEvery <= 0 {
		c.EventEvery = DefaultEventEvery
	}
	return c
}

// Stats counts what the reader saw. The fields are safe to read while the
// reader runs.
type Stats struct {
	Edges        atomic.Uint64 // falling edges read
	Frames       atomic.Uint64 // frames ended (any outcome, runts excepted)
	Cards        atomic.Uint64 // card credentials delivered
	Keys         atomic.Uint64 // keypad keys decoded
	PINs         atomic.Uint64 // PIN credentials delivered
	NoisePulses  atomic.Uint64 // pulses narrower than MinPulse, dropped
	BothLow      atomic.Uint64 // frames spoilt by both lines low at once
	Runts        atomic.Uint64 // frames of 1-3 bits (line noise), dropped
	BadLength    atomic.Uint64 // frames of a length no format has
	Parity       atomic.Uint64 // frames with a parity error
	Complement   atomic.Uint64 // 8-bit key bursts failing the complement check
	BadKey       atomic.Uint64 // key codes 12-15
	Overflow     atomic.Uint64 // frames longer than MaxBits
	BadLine      atomic.Uint64 // edges on a line other than 0 or 1
	PINExpired   atomic.Uint64 // keypad entries discarded by the timeout
	PINOverflow  atomic.Uint64 // keypad entries discarded for length
	PINCleared   atomic.Uint64 // keypad entries cleared with '*'
	SourceErrors atomic.Uint64 // errors from the edge source
}

// Snapshot returns the counters by name, for status and metrics.
func (s *Stats) Snapshot() map[string]uint64 {
	return map[string]uint64{
		"edges": s.Edges.Load(), "frames": s.Frames.Load(), "cards": s.Cards.Load(),
		"keys": s.Keys.Load(), "pins": s.PINs.Load(), "noise_pulses": s.NoisePulses.Load(),
		"both_low": s.BothLow.Load(), "runts": s.Runts.Load(), "bad_length": s.BadLength.Load(),
		"parity": s.Parity.Load(), "complement": s.Complement.Load(), "bad_key": s.BadKey.Load(),
		"overflow": s.Overflow.Load(), "bad_line": s.BadLine.Load(), "pin_expired": s.PINExpired.Load(),
		"pin_overflow": s.PINOverflow.Load(), "pin_cleared": s.PINCleared.Load(),
		"source_errors": s.SourceErrors.Load(),
	}
}

// Frame is one received frame as kept for `intercomctl wiegand last`. Bits
// of keypad bursts are not kept, because they are PIN digits.
type Frame struct {
	At       time.Time     `json:"at"`              // first edge
	Bits     int           `json:"bits"`            // bit count
	Raw      string        `json:"raw,omitempty"`   // "0101..."; empty for key bursts
	Interval time.Duration `json:"interval"`        // mean bit interval
	MinGap   time.Duration `json:"min_gap"`         // shortest gap between bits
	MaxGap   time.Duration `json:"max_gap"`         // longest gap between bits
	Format   string        `json:"format"`          // decoded format, or "unknown"
	Error    string        `json:"error,omitempty"` // why it was rejected
}

// Reader turns the edges of an EdgeSource into credentials: card frames
// become card credentials, keypad bursts feed a PIN entry whose submission
// becomes a PIN credential. A typed-in card number is a PIN, never a card.
type Reader struct {
	cfg   Config
	src   EdgeSource
	out   chan<- access.Credential
	log   *slog.Logger
	stats Stats
	event func(access.Event)

	// Event rate limit; used by the Run goroutine only.
	lastEvent  time.Time
	suppressed int

	mu     sync.Mutex
	recent []Frame // ring
	next   int
}

// New returns a reader of src that sends credentials on out. events, if not
// nil, receives an input.rejected event for every rejected frame; it must
// not block. New does no I/O.
func New(cfg Config, src EdgeSource, out chan<- access.Credential, events func(access.Event), log *slog.Logger) *Reader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	return &Reader{cfg: cfg, src: src, out: out, log: log, event: events}
}

// Stats returns the reader's live counters.
func (r *Reader) Stats() *Stats { return &r.stats }

// Config returns the configuration in effect, with defaults filled in.
func (r *Reader) Config() Config { return r.cfg }

// Recent returns the last frames received, oldest first.
func (r *Reader) Recent() []Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Frame, 0, len(r.recent))
	if len(r.recent) == r.cfg.Recent {
		out = append(out, r.recent[r.next:]...)
		out = append(out, r.recent[:r.next]...)
		return out
	}
	return append(out, r.recent...)
}

func (r *Reader) remember(f Frame) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recent) < r.cfg.Recent {
		r.recent = append(r.recent, f)
		return
	}
	r.recent[r.next] = f
	r.next = (r.next + 1) % r.cfg.Recent
}

// frame is the frame being assembled.
type frame struct {
	bits    []bool
	n       int // bits received, may exceed MaxBits
	first   time.Time
	last    Edge
	minGap  time.Duration
	maxGap  time.Duration
	spoilt  error // set when the frame cannot be trusted
	decoded bool  // bits already form a valid frame (for early end)
}

func (f *frame) reset() {
	clear(f.bits)
	*f = frame{bits: f.bits[:0]}
}

func (f *frame) interval() time.Duration {
	if f.n < 2 {
		return 0
	}
	return f.last.At.Sub(f.first) / time.Duration(f.n-1)
}

// gap is the silence that ends f.
func (r *Reader) gap(f *frame) time.Duration {
	iv := f.interval()
	if iv <= 0 {
		return r.cfg.EOFMax
	}
	g := time.Duration(float64(iv) * r.cfg.EOFFactor)
	g = max(r.cfg.EOFMin, min(r.cfg.EOFMax, g))
	if f.decoded && !r.cfg.NoEarlyEnd {
		g = min(g, max(earlyMin, 2*iv))
	}
	return g
}

// Run reads edges until ctx is cancelled (it then returns nil) or the source
// fails.
func (r *Reader) Run(ctx context.Context) error {
	var f frame
	// PIN entry is the TD63 keypad's state machine, so both keypads
	// behave alike.
	pin := keypad.Entry{DigitTimeout: r.cfg.PINTimeout, MaxDigits: r.cfg.PINMax}
	defer pin.Key('*', time.Now()) // wipe pending digits
	readTimes := false
	if rt, ok := r.src.(ReadTimer); ok {
		readTimes = rt.ReadTimes()
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		wait := tick
		if f.n > 0 {
			wait = min(wait, max(minWait, time.Until(f.last.At.Add(r.gap(&f)))))
		}
		e, ok, err := r.src.WaitForEdge(wait)
		if err != nil {
			return r.sourceError(ctx, err)
		}
		if !ok && readTimes && f.n > 0 && time.Since(f.last.At) >= r.gap(&f) {
			// Before declaring silence, take what the kernel may have
			// buffered while this goroutine was held up.
			if e, ok, err = r.src.WaitForEdge(minWait); err != nil {
				return r.sourceError(ctx, err)
			}
		}
		if !ok {
			now := time.Now()
			if f.n > 0 && now.Sub(f.last.At) >= r.gap(&f) {
				if !r.finish(ctx, &f, &pin) {
					return nil
				}
			}
			if pin.Expire(now) {
				r.stats.PINExpired.Add(1)
			}
			continue
		}
		r.stats.Edges.Add(1)
		if e.Line != 0 && e.Line != 1 {
			r.stats.BadLine.Add(1)
			continue
		}
		if e.Width > 0 && e.Width < r.cfg.MinPulse {
			r.stats.NoisePulses.Add(1)
			continue
		}
		if f.n > 0 && !readTimes && e.At.Sub(f.last.At) >= r.gap(&f) {
			// The edge starts a new frame: the old one ended in silence
			// that was only read now.
			if !r.finish(ctx, &f, &pin) {
				return nil
			}
		}
		r.add(&f, e)
	}
}

// sourceError is Run's result for a failed wait: nil once ctx is done (a
// source closed to cancel), else the error.
func (r *Reader) sourceError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	r.stats.SourceErrors.Add(1)
	return fmt.Errorf("wiegand: %s: wait for edge: %w", r.cfg.Name, err)
}

func (r *Reader) add(f *frame, e Edge) {
	if f.n == 0 {
		f.first = e.At
	} else {
		g := e.At.Sub(f.last.At)
		if f.n == 1 || g < f.minGap {
			f.minGap = g
		}
		f.maxGap = max(f.maxGap, g)
		overlap := f.last.Line != e.Line && f.last.Width > 0 && e.At.Before(f.last.At.Add(f.last.Width))
		if (overlap || e.BothLow) && f.spoilt == nil {
			r.stats.BothLow.Add(1)
			f.spoilt = fmt.Errorf("%w: both lines low at bit %d", ErrNoise, f.n)
		}
	}
	if f.n == 0 && e.BothLow {
		r.stats.BothLow.Add(1)
		f.spoilt = fmt.Errorf("%w: both lines low at bit 0", ErrNoise)
	}
	f.n++
	f.last = e
	if f.n <= MaxBits {
		f.bits = append(f.bits, e.Line == 1)
	}
	f.decoded = false
	if f.spoilt == nil && f.n <= MaxBits && r.completeLength(f.n) {
		_, err := Decode(f.bits, r.cfg.Decode)
		f.decoded = err == nil
	}
}

// completeLength reports whether n is the length of a format whose frame can
// end early. Raw lengths never end early: their length is not known.
func (r *Reader) completeLength(n int) bool {
	switch n {
	case 4, 8, 26, 34, 35, 37:
		return true
	}
	return false
}

// finish decodes and delivers f, then resets it. It reports false when ctx
// was cancelled during delivery.
func (r *Reader) finish(ctx context.Context, f *frame, pin *keypad.Entry) bool {
	defer f.reset()
	if f.n < 4 && f.spoilt == nil {
		r.stats.Runts.Add(1)
		return true
	}
	r.stats.Frames.Add(1)
	rec := Frame{At: f.first, Bits: f.n, Interval: f.interval(), MinGap: f.minGap, MaxGap: f.maxGap, Format: FormatUnknown.String()}
	var res Result
	err := f.spoilt
	if err == nil {
		if f.n > MaxBits {
			err = fmt.Errorf("%w: %d bits", ErrOverflow, f.n)
		} else {
			res, err = Decode(f.bits, r.cfg.Decode)
		}
	}
	if err == nil && !res.Format.IsKey() {
		rec.Raw = BitString(f.bits)
	}
	if err != nil {
		if f.n != 4 && f.n != 8 {
			rec.Raw = BitString(f.bits)
		}
		rec.Error = err.Error()
		r.remember(rec)
		r.reject(f, err)
		return true
	}
	rec.Format = res.Format.String()
	r.remember(rec)
	if res.Format.IsKey() {
		r.stats.Keys.Add(1)
		k := pin.Key(keyByte(res.Key), f.last.At)
		if k.Expired {
			r.stats.PINExpired.Add(1)
		}
		switch k.Outcome {
		case keypad.OutcomeSubmit:
			r.stats.PINs.Add(1)
			return r.deliver(ctx, access.Credential{Kind: access.KindPIN, Value: k.PIN, Reader: r.cfg.Name, At: f.last.At})
		case keypad.OutcomeTooLong:
			r.stats.PINOverflow.Add(1)
			r.emit(f.last.At, access.KindPIN, "wiegand: pin entry too long, discarded")
		case keypad.OutcomeCleared:
			r.stats.PINCleared.Add(1)
		}
		return true
	}
	r.stats.Cards.Add(1)
	r.log.Debug("wiegand card", "reader", r.cfg.Name, "frame", res.String())
	return r.deliver(ctx, access.Credential{Kind: access.KindCard, Value: res.Value(), Reader: r.cfg.Name, At: f.last.At})
}

// keyByte maps a key code to the keypad's key bytes.
func keyByte(k uint8) byte {
	switch k {
	case KeyStar:
		return '*'
	case KeyHash:
		return '#'
	}
	return '0' + k
}

func (r *Reader) reject(f *frame, err error) {
	switch {
	case errors.Is(err, ErrNoise):
		// counted when seen
	case errors.Is(err, ErrOverflow):
		r.stats.Overflow.Add(1)
	case errors.Is(err, ErrParity):
		r.stats.Parity.Add(1)
	case errors.Is(err, ErrComplement):
		r.stats.Complement.Add(1)
	case errors.Is(err, ErrKey):
		r.stats.BadKey.Add(1)
	default:
		r.stats.BadLength.Add(1)
	}
	kind := access.KindCard
	if f.n == 4 || f.n == 8 {
		kind = access.KindPIN
	}
	// err names the bit count and the failed check, never the bits.
	r.log.Debug("wiegand frame rejected", "reader", r.cfg.Name, "bits", f.n, "err", err)
	r.emit(f.last.At, kind, err.Error())
}

// emit raises an input.rejected event, at most one per EventEvery: a noisy
// line must not flood the durable outbox. Suppressed events are counted in
// the next one's detail (and all of them in Stats).
func (r *Reader) emit(at time.Time, kind access.Kind, detail string) {
	if r.event == nil {
		return
	}
	if !r.lastEvent.IsZero() && at.Sub(r.lastEvent) < r.cfg.EventEvery {
		r.suppressed++
		return
	}
	if r.suppressed > 0 {
		detail = fmt.Sprintf("%s (and %d more rejections since the last event)", detail, r.suppressed)
	}
	r.lastEvent, r.suppressed = at, 0
	r.event(access.Event{ID: access.NewEventID(), Type: access.EventBadInput, At: at, Kind: kind.String(), Reader: r.cfg.Name, Detail: detail})
}

func (r *Reader) deliver(ctx context.Context, c access.Credential) bool {
	select {
	case r.out <- c:
		return true
	case <-ctx.Done():
		return false
	}
}
