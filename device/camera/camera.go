package camera

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/intercomd/intercomd/reader/qr"
)

// Kind is the kind of frame source.
type Kind uint8

// Source kinds.
const (
	KindAuto   Kind = iota // inferred from Config.Source
	KindDevice             // V4L2 device, /dev/videoN
	KindURL                // rtsp://, http://, https://
	KindFile               // a video file
	KindDir                // a directory of images, in name order
)

var kindNames = [...]string{"auto", "device", "url", "file", "dir"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ErrNoCamera is returned for sources that need OpenCV when the binary was
// built without it.
var ErrNoCamera = errors.New("camera: built without camera support")

// ErrClosed is returned by NextOrEnd once a file or directory source has
// ended (without Loop) and no frame is pending.
var ErrClosed = errors.New("camera: source ended")

// Config configures a Camera. Zero values mean the documented defaults.
type Config struct {
	Source string // device path, URL, video file or image directory
	Kind   Kind   // default: inferred from Source
	// Width and Height request a capture size from a device; 0 keeps the
	// driver's.
	Width, Height int
	// FPS paces files and directories; default: the file's own rate, else 30.
	FPS float64
	// Loop replays a file or directory when it ends. Without it the camera
	// idles after the last frame (injected frames still flow).
	Loop       bool
	BackoffMin time.Duration // first reopen delay; default 100 ms
	BackoffMax time.Duration // reopen delay cap; default 10 s
	// OnState, if set, is called from Run when the source comes online or
	// is lost (err says why), for reader.online/offline events.
	OnState func(online bool, err error)
	Logger  *slog.Logger // default: discard
}

// Stats counts what the camera did. Counters only grow.
type Stats struct {
	Frames     uint64 `json:"frames"`      // frames captured
	Dropped    uint64 `json:"dropped"`     // frames overwritten before a reader took them
	Injected   uint64 `json:"injected"`    // frames pushed by Inject
	Opens      uint64 `json:"opens"`       // successful opens
	OpenErrors uint64 `json:"open_errors"` // failed opens
	Lost       uint64 `json:"lost"`        // times the source was lost after opening
	Online     bool   `json:"online"`
}

// Camera captures frames from one source into a latest-frame slot.
type Camera struct {
	cfg  Config
	log  *slog.Logger
	slot slot
	seq  atomic.Uint64

	frames, injected, opens, openErrors, lost atomic.Uint64
	online                                    atomic.Bool
	state                                     atomic.Int32 // 0 unknown, 1 offline, 2 online

	latestMu sync.Mutex
	latest   qr.Frame // last frame captured or injected, for snapshots
}

// New returns a camera for cfg. It does no I/O: Run opens the source.
func New(cfg Config) (*Camera, error) {
	if cfg.Kind == KindAuto {
		k, err := infer(cfg.Source)
		if err != nil {
			return nil, err
		}
		cfg.Kind = k
	}
	if cfg.Kind > KindDir {
		return nil, fmt.Errorf("camera: unknown source kind %v", cfg.Kind)
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 100 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 10 * time.Second
	}
	cfg.BackoffMax = max(cfg.BackoffMax, cfg.BackoffMin)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Camera{cfg: cfg, log: log.With("camera", cfg.Source, "kind", cfg.Kind)}
	c.slot.ready = make(chan struct{}, 1)
	return c, nil
}

// infer guesses the kind of source from its name: a URL scheme, /dev/, a
// directory, else a video file. Only the directory test touches the file
// system.
func infer(src string) (Kind, error) {
	switch {
	case src == "":
		return 0, errors.New("camera: no source configured")
	case strings.Contains(src, "://"):
		return KindURL, nil
	case strings.HasPrefix(src, "/dev/"):
		return KindDevice, nil
	}
	if st, err := os.Stat(src); err == nil && st.IsDir() {
		return KindDir, nil
	}
	return KindFile, nil
}

// Stats returns the counters so far.
func (c *Camera) Stats() Stats {
	return Stats{
		Frames: c.frames.Load(), Dropped: c.slot.dropped.Load(), Injected: c.injected.Load(),
		Opens: c.opens.Load(), OpenErrors: c.openErrors.Load(), Lost: c.lost.Load(), Online: c.online.Load(),
	}
}

// Next returns the newest frame not yet returned to any caller, waiting for
// one if needed. It is safe for concurrent use; each frame goes to one
// caller. It returns ctx's error when ctx is done, and only then: after a
// file or directory has ended it keeps waiting for injected frames, which
// is what the daemon's simulated camera (an empty directory) wants.
func (c *Camera) Next(ctx context.Context) (qr.Frame, error) {
	return c.slot.take(ctx, false)
}

// NextOrEnd is Next for tools that play a file or directory once: it
// returns ErrClosed when the source has ended and no frame is pending.
func (c *Camera) NextOrEnd(ctx context.Context) (qr.Frame, error) {
	return c.slot.take(ctx, true)
}

// Latest returns the last frame captured or injected, for a snapshot.
func (c *Camera) Latest() (qr.Frame, bool) {
	c.latestMu.Lock()
	defer c.latestMu.Unlock()
	return c.latest, c.latest.Pix != nil
}

// Inject pushes a frame into the camera, as if captured now: the daemon's
// simulation uses it so that test frames go through the real reader path.
func (c *Camera) Inject(f qr.Frame) error {
	if err := f.Valid(); err != nil {
		return fmt.Errorf("camera: inject: %w", err)
	}
	c.injected.Add(1)
	c.publish(f)
	return nil
}

// InjectFile reads an image file as gray and injects it.
func (c *Camera) InjectFile(path string) error {
	g, err := qr.ReadImage(path)
	if err != nil {
		return fmt.Errorf("camera: inject: %w", err)
	}
	return c.Inject(qr.Frame{Gray: g})
}

// publish stamps a frame and puts it in the slot.
func (c *Camera) publish(f qr.Frame) {
	f.Seq = c.seq.Add(1)
	if f.At.IsZero() {
		f.At = time.Now()
	}
	c.latestMu.Lock()
	c.latest = f
	c.latestMu.Unlock()
	c.slot.put(f)
}

// slot holds at most one pending frame; a new frame replaces an untaken one.
type slot struct {
	mu      sync.Mutex
	f       qr.Frame
	full    bool
	ended   bool
	ready   chan struct{} // capacity 1: "something changed"
	dropped atomic.Uint64
}

func (s *slot) put(f qr.Frame) {
	s.mu.Lock()
	if s.full {
		s.dropped.Add(1)
	}
	s.f, s.full = f, true
	s.mu.Unlock()
	s.signal()
}

func (s *slot) end() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.signal()
}

func (s *slot) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

func (s *slot) take(ctx context.Context, stopAtEnd bool) (qr.Frame, error) {
	for {
		s.mu.Lock()
		if s.full {
			f := s.f
			s.f, s.full = qr.Frame{}, false
			s.mu.Unlock()
			return f, nil
		}
		ended := s.ended && stopAtEnd
		s.mu.Unlock()
		if ended {
			s.signal() // wake the next waiter too
			return qr.Frame{}, ErrClosed
		}
		select {
		case <-s.ready:
		case <-ctx.Done():
			return qr.Frame{}, ctx.Err()
		}
	}
}

// capture is an open source. read returns the next gray frame; ok false
// means the source is lost or ended. Only Run's capture goroutine uses it.
type capture interface {
	read() (g qr.Gray, ok bool)
	fps() float64 // native frame rate, 0 if unknown or live
	close()
}

// Run opens the source and captures frames until ctx is done, reopening
// with backoff when the source is lost. It returns nil on cancellation. A
// file or directory that ends without Loop leaves Run idle until ctx is
// done (injected frames still flow), and NextOrEnd then reports ErrClosed
// once the pending frame is taken.
func (c *Camera) Run(ctx context.Context) error {
	if c.cfg.Kind != KindDir && !cvAvailable {
		return fmt.Errorf("%w: source %s is a %v", ErrNoCamera, c.cfg.Source, c.cfg.Kind)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.loop(ctx)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		// A stalled network read cannot be interrupted; give it a moment,
		// then let the capture goroutine close the capture on its own.
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			c.log.Warn("camera: capture still blocked in a read at shutdown; it closes when the read returns")
		}
	}
	return nil
}

func (c *Camera) loop(ctx context.Context) {
	backoff := c.cfg.BackoffMin
	live := c.cfg.Kind == KindDevice || c.cfg.Kind == KindURL
	for ctx.Err() == nil {
		cp, err := c.open()
		if err != nil {
			c.openErrors.Add(1)
			c.setState(false, err)
			if !live && errors.Is(err, errEmpty) {
				c.slot.end()
				<-ctx.Done()
				return
			}
			c.log.Warn("camera: open failed", "err", err, "retry_in", backoff)
			if !sleep(ctx, jitter(backoff)) {
				return
			}
			backoff = min(2*backoff, c.cfg.BackoffMax)
			continue
		}
		c.opens.Add(1)
		n := c.pump(ctx, cp)
		cp.close()
		if ctx.Err() != nil {
			return
		}
		if n > 0 {
			backoff = c.cfg.BackoffMin
		}
		if !live {
			if c.cfg.Loop && n > 0 {
				continue
			}
			c.setState(false, nil)
			c.slot.end()
			<-ctx.Done()
			return
		}
		c.lost.Add(1)
		c.setState(false, errors.New("camera: no frame from source"))
		c.log.Warn("camera: source lost", "frames", n, "retry_in", backoff)
		if !sleep(ctx, jitter(backoff)) {
			return
		}
		backoff = min(2*backoff, c.cfg.BackoffMax)
	}
}

// pump reads frames until the source fails or ctx is done, pacing files
// and directories at their frame rate. It returns the frames read.
func (c *Camera) pump(ctx context.Context, cp capture) int {
	var period time.Duration
	if c.cfg.Kind == KindFile || c.cfg.Kind == KindDir {
		fps := c.cfg.FPS
		if fps <= 0 {
			fps = cp.fps()
		}
		if fps <= 0 || fps > 240 {
			fps = 30
		}
		period = time.Duration(float64(time.Second) / fps)
	}
	n := 0
	next := time.Now()
	for ctx.Err() == nil {
		g, ok := cp.read()
		if !ok {
			return n
		}
		if n == 0 {
			c.setState(true, nil)
		}
		n++
		if period > 0 {
			if !sleep(ctx, time.Until(next)) {
				return n
			}
			next = next.Add(period)
			if time.Until(next) < -period { // fell far behind: don't burst
				next = time.Now().Add(period)
			}
		}
		c.frames.Add(1)
		c.publish(qr.Frame{Gray: g, At: time.Now()})
	}
	return n
}

// setState records the source's state and reports changes (and the first
// state) to OnState.
func (c *Camera) setState(online bool, err error) {
	c.online.Store(online)
	st := int32(1)
	if online {
		st = 2
	}
	if c.state.Swap(st) == st {
		return
	}
	if c.cfg.OnState != nil {
		c.cfg.OnState(online, err)
	}
}

// open opens the configured source.
func (c *Camera) open() (capture, error) {
	if c.cfg.Kind == KindDir {
		return openDir(c.cfg.Source)
	}
	return openCV(c.cfg)
}

var errEmpty = errors.New("camera: no images")

// dirCapture reads a directory's images in name order.
type dirCapture struct {
	files []string
	i     int
}

var imageExt = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".bmp": true, ".pgm": true}

func openDir(dir string) (capture, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("camera: open %s: %w", dir, err)
	}
	var files []string
	for _, e := range ents {
		if !e.IsDir() && imageExt[strings.ToLower(filepath.Ext(e.Name()))] {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w in %s", errEmpty, dir)
	}
	slices.Sort(files)
	return &dirCapture{files: files}, nil
}

func (d *dirCapture) read() (qr.Gray, bool) {
	for d.i < len(d.files) {
		g, err := qr.ReadImage(d.files[d.i])
		d.i++
		if err == nil {
			return g, true
		}
		// An unreadable file is skipped, not fatal: the rest still play.
	}
	return qr.Gray{}, false
}

func (d *dirCapture) fps() float64 { return 0 }
func (d *dirCapture) close()       {}

// sleep waits for d or ctx; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// jitter spreads reopen attempts by ±20%, so that many intercoms behind one
// failed switch do not retry in step.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}
