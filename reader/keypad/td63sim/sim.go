package td63sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/intercomd/intercomd/reader/keypad"
)

// Config configures the emulator. Zero values mean the defaults.
type Config struct {
	FirmwareMajor, FirmwareMinor uint8         // default 1.4
	HeartbeatEvery               time.Duration // default 1 s
	KeyGap                       time.Duration // mean time between typed keys; default 150 ms
	Jitter                       time.Duration // ± spread of KeyGap; default 50 ms
	Seed                         uint64        // for the jitter
}

// Command is one frame the controller sent, as received.
type Command struct {
	At    time.Time
	Frame keypad.Frame
}

// ErrDetached is returned when the emulator is not attached to a line.
var ErrDetached = errors.New("td63sim: keypad not attached (Run not active)")

// Keypad is an emulated TD63. Its methods are safe for concurrent use.
type Keypad struct {
	cfg   Config
	start time.Time
	hbOn  atomic.Bool

	wmu  sync.Mutex // serialises writes so frames never interleave
	w    io.Writer
	seq  uint8
	rand *rand.Rand

	mu      sync.Mutex
	cmds    []Command
	polls   int
	changed chan struct{} // closed and replaced on every new command
	stats   keypad.ParserStats
}

// New returns an emulated keypad, not yet attached.
func New(cfg Config) *Keypad {
	if cfg.FirmwareMajor == 0 && cfg.FirmwareMinor == 0 {
		cfg.FirmwareMajor, cfg.FirmwareMinor = 1, 4
	}
	if cfg.HeartbeatEvery <= 0 {
		cfg.HeartbeatEvery = time.Second
	}
	if cfg.KeyGap <= 0 {
		cfg.KeyGap = 150 * time.Millisecond
	}
	if cfg.Jitter < 0 || cfg.Jitter > cfg.KeyGap {
		cfg.Jitter = cfg.KeyGap
	} else if cfg.Jitter == 0 {
		cfg.Jitter = min(50*time.Millisecond, cfg.KeyGap)
	}
	k := &Keypad{cfg: cfg, start: time.Now(), changed: make(chan struct{}),
		rand: rand.New(rand.NewPCG(cfg.Seed, 0x7d63))}
	k.hbOn.Store(true)
	return k
}

type deadliner interface{ SetReadDeadline(time.Time) error }

// Run attaches the keypad to rw until ctx ends (it returns nil) or reading rw
// fails (it returns the error: the line was unplugged). If rw has
// SetReadDeadline (a pty master from serialporttest does), cancelling ctx
// interrupts the read; otherwise the caller must close rw to stop Run.
func (k *Keypad) Run(ctx context.Context, rw io.ReadWriter) error {
	k.wmu.Lock()
	if k.w != nil {
		k.wmu.Unlock()
		return errors.New("td63sim: run: already attached")
	}
	k.w = rw
	k.wmu.Unlock()
	defer func() {
		k.wmu.Lock()
		k.w = nil
		k.wmu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if d, ok := rw.(deadliner); ok {
		_ = d.SetReadDeadline(time.Time{})
		stop := context.AfterFunc(ctx, func() { _ = d.SetReadDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { errc <- k.read(ctx, rw) })
	defer wg.Wait()

	t := time.NewTicker(k.cfg.HeartbeatEvery)
	defer t.Stop()
	k.heartbeat()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-t.C:
			k.heartbeat()
		}
	}
}

func (k *Keypad) read(ctx context.Context, r io.Reader) error {
	var p keypad.Parser
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			frames, _ := p.Feed(buf[:n])
			k.record(frames, p.Stats())
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			return fmt.Errorf("td63sim: read: %w", err)
		}
	}
}

func (k *Keypad) record(frames []keypad.Frame, st keypad.ParserStats) {
	now := time.Now()
	for _, f := range frames {
		if f.Type == keypad.MsgLED || f.Type == keypad.MsgBuzzer {
			_ = k.send(keypad.AckFrame(0, f.Seq))
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stats = st
	if len(frames) == 0 {
		return
	}
	for _, f := range frames {
		if f.Type == keypad.MsgPoll {
			k.polls++ // counted, not kept: one a second would grow without bound
			continue
		}
		k.cmds = append(k.cmds, Command{At: now, Frame: f})
	}
	close(k.changed)
	k.changed = make(chan struct{})
}

// send numbers f with the keypad's next sequence number and writes it in one
// Write.
func (k *Keypad) send(f keypad.Frame) error {
	k.wmu.Lock()
	defer k.wmu.Unlock()
	if k.w == nil {
		return ErrDetached
	}
	f.Seq = k.seq
	k.seq++
	b, err := f.Encode()
	if err != nil {
		return err
	}
	return k.writeLocked(b)
}

// writeDeadline bounds a write: a UART sends into the void when nobody
// listens, but a pty whose slave nobody reads fills up and would block the
// emulator (and its Run) for good.
const writeDeadline = time.Second

type writeDeadliner interface{ SetWriteDeadline(time.Time) error }

func (k *Keypad) writeLocked(b []byte) error {
	if d, ok := k.w.(writeDeadliner); ok {
		_ = d.SetWriteDeadline(time.Now().Add(writeDeadline))
	}
	if _, err := k.w.Write(b); err != nil {
		return fmt.Errorf("td63sim: write: %w", err)
	}
	return nil
}

func (k *Keypad) heartbeat() {
	if !k.hbOn.Load() {
		return
	}
	_ = k.send(keypad.Heartbeat{FirmwareMajor: k.cfg.FirmwareMajor, FirmwareMinor: k.cfg.FirmwareMinor,
		Uptime: time.Since(k.start)}.Frame(0))
}

// Attached reports whether Run is attached to a line.
func (k *Keypad) Attached() bool {
	k.wmu.Lock()
	defer k.wmu.Unlock()
	return k.w != nil
}

// SetHeartbeat turns the periodic heartbeat on or off.
func (k *Keypad) SetHeartbeat(on bool) { k.hbOn.Store(on) }

// Press sends one key event now.
func (k *Keypad) Press(key byte) error { return k.send(keypad.KeyFrame(0, key)) }

// Type presses each key of keys (e.g. "1234#") with human timing: KeyGap ±
// Jitter between keys. It returns early with ctx's error.
func (k *Keypad) Type(ctx context.Context, keys string) error {
	for i := 0; i < len(keys); i++ {
		if i > 0 {
			k.wmu.Lock()
			gap := k.cfg.KeyGap - k.cfg.Jitter + time.Duration(k.rand.Int64N(int64(2*k.cfg.Jitter)+1))
			k.wmu.Unlock()
			t := time.NewTimer(gap)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		if err := k.Press(keys[i]); err != nil {
			return err
		}
	}
	return nil
}

// Frame numbers and encodes f as the keypad would send it, without sending
// it, for tests that corrupt or split frames; it consumes a sequence number.
func (k *Keypad) Frame(f keypad.Frame) ([]byte, error) {
	k.wmu.Lock()
	defer k.wmu.Unlock()
	f.Seq = k.seq
	k.seq++
	return f.Encode()
}

// WriteRaw writes b to the line as is: garbage, corrupted or hand-made frames.
func (k *Keypad) WriteRaw(b []byte) error {
	k.wmu.Lock()
	defer k.wmu.Unlock()
	if k.w == nil {
		return ErrDetached
	}
	return k.writeLocked(b)
}

// WriteChunks writes b in pieces of chunk bytes with gap between them, so
// the reader sees frames split across reads.
func (k *Keypad) WriteChunks(ctx context.Context, b []byte, chunk int, gap time.Duration) error {
	chunk = max(chunk, 1)
	for len(b) > 0 {
		n := min(chunk, len(b))
		if err := k.WriteRaw(b[:n]); err != nil {
			return err
		}
		b = b[n:]
		if len(b) > 0 && gap > 0 {
			t := time.NewTimer(gap)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
	return nil
}

// Polls returns the number of controller heartbeats (poll frames) received.
func (k *Keypad) Polls() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.polls
}

// Commands returns the LED, buzzer and other non-poll frames received from
// the controller so far.
func (k *Keypad) Commands() []Command {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Command(nil), k.cmds...)
}

// LinkStats returns the emulator's own parser counters for the controller's
// frames.
func (k *Keypad) LinkStats() keypad.ParserStats {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stats
}

// Wait returns the first command at index from or later for which match is
// true, and the index after it, waiting for it until ctx ends.
func (k *Keypad) Wait(ctx context.Context, from int, match func(keypad.Frame) bool) (Command, int, error) {
	for {
		k.mu.Lock()
		for i := max(from, 0); i < len(k.cmds); i++ {
			if match(k.cmds[i].Frame) {
				c := k.cmds[i]
				k.mu.Unlock()
				return c, i + 1, nil
			}
		}
		from = len(k.cmds)
		ch := k.changed
		k.mu.Unlock()
		select {
		case <-ctx.Done():
			return Command{}, from, fmt.Errorf("td63sim: wait: %w", ctx.Err())
		case <-ch:
		}
	}
}

// Feedback waits for the next LED command and the next buzzer command at
// index from or later, and returns them with the index after the later one.
func (k *Keypad) Feedback(ctx context.Context, from int) (keypad.Feedback, int, error) {
	var fb keypad.Feedback
	c, next, err := k.Wait(ctx, from, func(f keypad.Frame) bool { return f.Type == keypad.MsgLED })
	if err != nil {
		return fb, from, err
	}
	fb.LED, _ = c.Frame.LED()
	c, next2, err := k.Wait(ctx, from, func(f keypad.Frame) bool { return f.Type == keypad.MsgBuzzer })
	if err != nil {
		return fb, from, err
	}
	fb.Buzzer, _ = c.Frame.Buzzer()
	return fb, max(next, next2), nil
}

// LED returns the last LED command received, if any.
func (k *Keypad) LED() (keypad.LED, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := len(k.cmds) - 1; i >= 0; i-- {
		if l, err := k.cmds[i].Frame.LED(); err == nil {
			return l, true
		}
	}
	return keypad.LED{}, false
}

// Count returns the number of commands received so far, a starting index
// for Wait and Feedback.
func (k *Keypad) Count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.cmds)
}
