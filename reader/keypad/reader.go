package keypad

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/intercomd/intercomd/access"
)

// Reader defaults.
const (
	DefaultID               = "keypad0"
	DefaultHeartbeatTimeout = 3 * time.Second
	DefaultPollEvery        = time.Second
	DefaultBackoffMin       = 100 * time.Millisecond
	DefaultBackoffMax       = 5 * time.Second
)

// Opener opens the keypad's serial line. It is called again, with backoff,
// whenever the line fails. The returned port's Close must unblock a pending
// Read, as go.bug.st/serial's does. serialport.Config.Opener has this shape.
type Opener func(ctx context.Context) (io.ReadWriteCloser, error)

// DecideFunc decides one credential. The reader calls it from one goroutine,
// one PIN at a time, and shows its result on the keypad when it returns, so
// it must commit the decision's events durably (and drive the relay) before
// returning.
type DecideFunc func(ctx context.Context, c access.Credential) access.Decision

// Config configures a Reader. Zero values mean the defaults.
type Config struct {
	ID               string        // reader id in credentials and events; default "keypad0"
	DigitTimeout     time.Duration // gap between keys that discards an entry; default 5 s
	MaxDigits        int           // longest PIN; default 12
	HeartbeatTimeout time.Duration // no heartbeat for this long → offline; default 3 s
	PollEvery        time.Duration // controller heartbeat period; default 1 s
	BackoffMin       time.Duration // first reopen delay; default 100 ms
	BackoffMax       time.Duration // reopen delay cap; default 5 s
}

func (c Config) withDefaults() Config {
	if c.ID == "" {
		c.ID = DefaultID
	}
	if c.DigitTimeout <= 0 {
		c.DigitTimeout = DefaultDigitTimeout
	}
	if c.MaxDigits <= 0 || c.MaxDigits > DefaultMaxDigits {
		c.MaxDigits = DefaultMaxDigits
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if c.PollEvery <= 0 {
		c.PollEvery = DefaultPollEvery
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = max(DefaultBackoffMax, c.BackoffMin)
	}
	return c
}

// Stats are the keypad link and PIN-entry counters, for `intercomctl keypad
// stats`. They never contain a digit.
type Stats struct {
	Reader         string      `json:"reader"`
	Online         bool        `json:"online"`    // heartbeats arriving
	Connected      bool        `json:"connected"` // serial port open
	Firmware       string      `json:"firmware,omitempty"`
	KeypadUptime   int64       `json:"keypad_uptime_s,omitempty"`
	KeypadFlags    uint8       `json:"keypad_flags,omitempty"`
	LastHeartbeat  time.Time   `json:"last_heartbeat,omitzero"`
	LastActivity   time.Time   `json:"last_activity,omitzero"` // last key
	Link           ParserStats `json:"link"`
	Heartbeats     uint64      `json:"heartbeats"`
	Keys           uint64      `json:"keys"`
	SeqGaps        uint64      `json:"seq_gaps"` // keypad frames whose sequence number skipped one: frames lost on the line
	KeypadRestarts uint64      `json:"keypad_restarts"`
	Acks           uint64      `json:"acks"`
	Unexpected     uint64      `json:"unexpected"` // frames of an unknown or controller→keypad type, skipped
	Opens          uint64      `json:"opens"`
	Reconnects     uint64      `json:"reconnects"`
	OpenErrors     uint64      `json:"open_errors"`
	PortErrors     uint64      `json:"port_errors"`
	OfflineEvents  uint64      `json:"offline_events"`
	PINsSubmitted  uint64      `json:"pins_submitted"`
	Grants         uint64      `json:"grants"`
	Denies         uint64      `json:"denies"`
	Lockouts       uint64      `json:"lockouts"`
	Timeouts       uint64      `json:"timeouts"`
	TooLong        uint64      `json:"too_long"`
	Cleared        uint64      `json:"cleared"`
	InvalidKeys    uint64      `json:"invalid_keys"`
	WriteErrors    uint64      `json:"write_errors"`
}

// Reader reads PINs from a TD63 keypad, hands them to the decision callback
// and shows each decision on the keypad. Construct it with New and start it
// with Run; Stats is safe to call at any time.
type Reader struct {
	cfg    Config
	open   Opener
	decide DecideFunc
	emit   func(access.Event)
	log    *slog.Logger

	running atomic.Bool
	hb      chan struct{} // a heartbeat arrived (to the supervisor)
	lost    chan struct{} // the port failed (to the supervisor)

	mu      sync.Mutex
	parser  Parser
	st      Stats
	lastSeq int // keypad frame sequence; -1: none since (re)connect
	txSeq   uint8

	// blockedUntil is the end of the keypad's brute-force block, as last
	// reported by a decision; used by the PIN loop only.
	blockedUntil time.Time

	// Line errors (garbage, bad CRC, bad length, malformed frames) are
	// reported as reader.error events at most once per LineErrorEvery, with
	// the count since the last report: a cut or tapped keypad cable shows
	// in the audit trail without flooding it.
	lineErrs     uint64    // line errors counted so far
	lineReported uint64    // of which already reported
	lineEventAt  time.Time // last report
}

// LineErrorEvery is the least time between two reader.error events for
// errors on the keypad's line.
const LineErrorEvery = 10 * time.Second

// New returns a Reader. emit receives reader.online, reader.offline and
// input.rejected events; it may be called from several goroutines and must
// not block for long. A nil emit drops events; a nil log discards.
func New(cfg Config, open Opener, decide DecideFunc, emit func(access.Event), log *slog.Logger) *Reader {
	cfg = cfg.withDefaults()
	if emit == nil {
		emit = func(access.Event) {}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reader{
		cfg: cfg, open: open, decide: decide, emit: emit,
		log:     log.With("reader", cfg.ID),
		hb:      make(chan struct{}, 1),
		lost:    make(chan struct{}, 1),
		st:      Stats{Reader: cfg.ID},
		lastSeq: -1,
	}
}

// ID returns the reader id.
func (r *Reader) ID() string { return r.cfg.ID }

// Stats returns a snapshot of the counters.
func (r *Reader) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.st
	s.Link = r.parser.Stats()
	return s
}

// Run opens the port, reads keys until ctx is cancelled, and reopens the
// port with backoff whenever it fails. It returns nil on cancellation, and
// an error only when the Reader is misconfigured or already running.
func (r *Reader) Run(ctx context.Context) error {
	if r.open == nil || r.decide == nil {
		return errors.New("keypad: run: nil opener or decide callback")
	}
	if !r.running.CompareAndSwap(false, true) {
		return fmt.Errorf("keypad: run %s: already running", r.cfg.ID)
	}
	defer r.running.Store(false)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { r.supervise(ctx) })

	backoff := r.cfg.BackoffMin
	failing := false
	for {
		port, err := r.open(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.mu.Lock()
			r.st.OpenErrors++
			r.mu.Unlock()
			if !failing {
				r.log.Warn("keypad port open failed; retrying", "err", err)
				failing = true
			} else {
				r.log.Debug("keypad port open failed", "err", err, "backoff", backoff)
			}
			if !sleep(ctx, jitter(backoff)) {
				return nil
			}
			backoff = min(2*backoff, r.cfg.BackoffMax)
			continue
		}
		failing = false
		r.mu.Lock()
		r.st.Opens++
		if r.st.Opens > 1 {
			r.st.Reconnects++
		}
		r.st.Connected = true
		r.parser.Reset()
		r.lastSeq = -1
		r.mu.Unlock()
		r.log.Info("keypad port open")

		start := time.Now()
		err = r.serve(ctx, port)
		r.mu.Lock()
		r.st.Connected = false
		r.mu.Unlock()
		if ctx.Err() != nil {
			return nil
		}
		r.mu.Lock()
		r.st.PortErrors++
		r.mu.Unlock()
		r.log.Warn("keypad port lost; reopening", "err", err)
		select {
		case r.lost <- struct{}{}:
		default:
		}
		if time.Since(start) > r.cfg.BackoffMax {
			backoff = r.cfg.BackoffMin
		}
		if !sleep(ctx, jitter(backoff)) {
			return nil
		}
		backoff = min(2*backoff, r.cfg.BackoffMax)
	}
}

// jitter spreads d by ±20 % so that a fleet does not retry in step.
func jitter(d time.Duration) time.Duration {
	return d - d/5 + rand.N(d*2/5+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type keyPress struct {
	key     byte
	at      time.Time
	restart bool // not a key: the keypad restarted, drop any pending entry
}

// serve runs one connection: a goroutine reads and parses, the calling
// goroutine runs PIN entry, decisions and every write.
func (r *Reader) serve(ctx context.Context, port io.ReadWriteCloser) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var closing atomic.Bool
	var once sync.Once
	closePort := func() {
		once.Do(func() {
			closing.Store(true)
			_ = port.Close()
		})
	}
	stop := context.AfterFunc(ctx, closePort)
	defer stop()

	keys := make(chan keyPress, 32)
	readErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { readErr <- r.readLoop(ctx, port, &closing, keys) })
	err := r.loop(ctx, keys, readErr, port)
	cancel()
	closePort()
	wg.Wait()
	return err
}

func (r *Reader) readLoop(ctx context.Context, port io.Reader, closing *atomic.Bool, keys chan<- keyPress) error {
	buf := make([]byte, 256)
	idle := 0
	for {
		n, err := port.Read(buf)
		if n > 0 {
			idle = 0
			at := time.Now()
			r.mu.Lock()
			frames, errs := r.parser.Feed(buf[:n])
			ev, report := r.lineErrors(errs, at)
			r.mu.Unlock()
			if report {
				r.emit(ev)
			}
			for _, f := range frames {
				if !r.frame(ctx, f, at, keys) {
					return nil
				}
			}
		}
		if err != nil {
			if closing.Load() {
				return nil
			}
			return fmt.Errorf("keypad: read %s: %w", r.cfg.ID, err)
		}
		if n == 0 {
			// go.bug.st/serial returns (0, nil) on a read timeout. Guard
			// against a port that does so without blocking at all.
			if idle++; idle > 100 && !sleep(ctx, 10*time.Millisecond) {
				return nil
			}
		}
	}
}

// lineErrors counts errs new line errors and returns a reader.error event
// when one is due. r.mu must be held.
func (r *Reader) lineErrors(errs int, at time.Time) (access.Event, bool) {
	r.lineErrs += uint64(errs)
	if r.lineErrs == r.lineReported || at.Sub(r.lineEventAt) < LineErrorEvery {
		return access.Event{}, false
	}
	st := r.parser.Stats()
	n := r.lineErrs - r.lineReported
	r.lineReported, r.lineEventAt = r.lineErrs, at
	return access.Event{ID: access.NewEventID(), Type: access.EventReaderError, At: at, Reader: r.cfg.ID,
		Detail: fmt.Sprintf("%d line errors since the last report (totals: %d garbage bytes, %d bad CRC, %d bad length, %d malformed)",
			n, st.Garbage, st.BadCRC, st.BadLength, st.Malformed)}, true
}

// frame handles one frame from the keypad; it returns false when ctx ends.
func (r *Reader) frame(ctx context.Context, f Frame, at time.Time, keys chan<- keyPress) bool {
	r.mu.Lock()
	restarted := false
	if f.Type == MsgHeartbeat {
		h, _ := f.Heartbeat()
		restarted = r.st.Heartbeats > 0 && h.Uptime < time.Duration(r.st.KeypadUptime)*time.Second
		if restarted {
			r.st.KeypadRestarts++
		}
		r.st.Heartbeats++
		r.st.LastHeartbeat = at
		r.st.Firmware = h.Firmware()
		r.st.KeypadUptime = int64(h.Uptime / time.Second)
		r.st.KeypadFlags = h.Flags
	}
	// A restarted keypad numbers its frames from 0 again: not a gap.
	if r.lastSeq >= 0 && f.Seq != uint8(r.lastSeq+1) && !restarted {
		r.st.SeqGaps++
	}
	r.lastSeq = int(f.Seq)
	switch f.Type {
	case MsgKey:
		r.st.Keys++
		r.st.LastActivity = at
	case MsgAck:
		r.st.Acks++
	case MsgHeartbeat:
	default:
		r.st.Unexpected++
	}
	r.mu.Unlock()

	var k keyPress
	switch {
	case f.Type == MsgHeartbeat:
		select {
		case r.hb <- struct{}{}:
		default:
		}
		if !restarted {
			return true
		}
		// Digits typed before the reset are not part of what is typed now.
		k = keyPress{at: at, restart: true}
	case f.Type == MsgKey:
		k = keyPress{key: f.Payload[0], at: at}
	default:
		return true
	}
	select {
	case keys <- k:
		return true
	case <-ctx.Done():
		return false
	}
}

// loop owns PIN entry and all writes to the keypad. It is pure apart from
// the channels, the writer and the clock, so it runs under testing/synctest.
func (r *Reader) loop(ctx context.Context, keys <-chan keyPress, readErr <-chan error, w io.Writer) error {
	entry := Entry{DigitTimeout: r.cfg.DigitTimeout, MaxDigits: r.cfg.MaxDigits}
	poll := time.NewTicker(r.cfg.PollEvery)
	defer poll.Stop()
	digit := time.NewTimer(r.cfg.DigitTimeout)
	digit.Stop()
	defer digit.Stop()
	r.poll(w)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			// The read loop has stopped; keys it read before the line
			// failed (a '#' among them) still count.
			for {
				select {
				case k := <-keys:
					r.key(ctx, w, &entry, k)
					continue
				default:
				}
				return err
			}
		case <-poll.C:
			r.poll(w)
		case <-digit.C:
			if entry.Expire(time.Now()) {
				r.count(func(s *Stats) { s.Timeouts++ })
				r.show(w, FeedbackDiscard)
			}
		case k := <-keys:
			r.key(ctx, w, &entry, k)
		}
		if d, ok := entry.Deadline(); ok {
			digit.Reset(time.Until(d))
		} else {
			digit.Stop()
		}
	}
}

func (r *Reader) count(f func(*Stats)) {
	r.mu.Lock()
	f(&r.st)
	r.mu.Unlock()
}

func (r *Reader) key(ctx context.Context, w io.Writer, e *Entry, k keyPress) {
	if k.restart {
		*e = Entry{DigitTimeout: e.DigitTimeout, MaxDigits: e.MaxDigits}
		return
	}
	res := e.Key(k.key, k.at)
	if res.Expired {
		r.count(func(s *Stats) { s.Timeouts++ })
	}
	switch res.Outcome {
	case OutcomeSubmit:
		r.submit(ctx, w, res.PIN, k.at)
	case OutcomeTooLong:
		r.count(func(s *Stats) { s.TooLong++ })
		r.log.Info("pin entry too long; discarded", "max_digits", r.cfg.MaxDigits)
		r.emit(access.Event{ID: access.NewEventID(), Type: access.EventBadInput, At: k.at,
			Kind: access.KindPIN.String(), Reader: r.cfg.ID,
			Detail: fmt.Sprintf("pin entry longer than %d digits discarded", r.cfg.MaxDigits)})
		r.show(w, FeedbackDiscard)
	case OutcomeCleared:
		r.count(func(s *Stats) { s.Cleared++ })
	case OutcomeInvalidKey:
		r.count(func(s *Stats) { s.InvalidKeys++ })
		r.log.Debug("invalid key code", "code", k.key)
	}
}

func (r *Reader) submit(ctx context.Context, w io.Writer, pin string, at time.Time) {
	c := access.Credential{Kind: access.KindPIN, Value: pin, Reader: r.cfg.ID, At: at}
	d := r.decide(ctx, c)
	// The engine reports the block's end only on the PIN that starts it;
	// remember it so that later refusals show how long is left.
	if d.Lockout != nil {
		r.blockedUntil = d.Lockout.Until
	} else if d.Reason == access.ReasonKeypadLockedOut && r.blockedUntil.After(d.At) && !d.At.IsZero() {
		d.Lockout = &access.LockoutState{Reader: r.cfg.ID, Until: r.blockedUntil}
	}
	r.count(func(s *Stats) {
		s.PINsSubmitted++
		switch {
		case d.Grant:
			s.Grants++
		case isLockout(d):
			s.Lockouts++
		default:
			s.Denies++
		}
	})
	r.log.Info("pin decided", "grant", d.Grant, "reason", d.Reason, "visit", d.VisitID, "took", d.Took)
	r.show(w, FeedbackFor(d))
}

func (r *Reader) nextSeq(n uint8) uint8 {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.txSeq
	r.txSeq += n
	return s
}

func (r *Reader) show(w io.Writer, f Feedback) {
	r.write(w, f.Append(make([]byte, 0, 2*MaxFrameLen), r.nextSeq(2)))
}

func (r *Reader) poll(w io.Writer) {
	b, _ := PollFrame(r.nextSeq(1)).Encode()
	r.write(w, b)
}

func (r *Reader) write(w io.Writer, b []byte) {
	if _, err := w.Write(b); err != nil {
		r.count(func(s *Stats) { s.WriteErrors++ })
		r.log.Debug("keypad write failed", "err", err)
	}
}

type linkState uint8

const (
	stateUnknown linkState = iota
	stateOnline
	stateOffline
)

// supervise turns heartbeat arrivals and port failures into online/offline
// transitions and their events.
func (r *Reader) supervise(ctx context.Context) {
	t := time.NewTimer(r.cfg.HeartbeatTimeout)
	defer t.Stop()
	state := stateUnknown
	set := func(s linkState, detail string) {
		if s == state {
			return
		}
		state = s
		typ := access.EventReaderOnline
		r.mu.Lock()
		r.st.Online = s == stateOnline
		if s == stateOffline {
			r.st.OfflineEvents++
			typ = access.EventReaderOffline
		}
		r.mu.Unlock()
		if s == stateOffline {
			r.log.Warn("keypad offline", "why", detail)
		} else {
			r.log.Info("keypad online", "why", detail)
		}
		r.emit(access.Event{ID: access.NewEventID(), Type: typ, At: time.Now(), Reader: r.cfg.ID, Detail: detail})
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.hb:
			set(stateOnline, "heartbeat received")
			t.Reset(r.cfg.HeartbeatTimeout)
		case <-r.lost:
			select { // a heartbeat read before the loss is stale
			case <-r.hb:
			default:
			}
			set(stateOffline, "serial port lost")
		case <-t.C:
			set(stateOffline, fmt.Sprintf("no heartbeat for %v", r.cfg.HeartbeatTimeout))
		}
	}
}
