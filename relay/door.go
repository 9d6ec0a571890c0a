package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/intercomd/intercomd/access"
)

// Defaults and limits.
const (
	DefaultName       = "door0"
	DefaultUnlockTime = 10 * time.Second
	MinUnlockTime     = time.Second
	MaxUnlockTime     = 60 * time.Second
	DefaultHeldOpen   = 30 * time.Second
	DefaultDebounce   = 20 * time.Millisecond
	MinPulse          = 100 * time.Millisecond
	// poll bounds every input wait: a positive timeout (periph/host#78), and
	// a level re-read that catches an edge the driver missed.
	poll = 100 * time.Millisecond
)

// ErrLockdown is returned by unlocks refused because the door is in
// lockdown.
var ErrLockdown = errors.New("relay: door is in lockdown")

// Config configures a Door. Zero values mean the documented defaults.
type Config struct {
	Name       string        // input id in events; default "door0"
	ActiveLow  bool          // the output energises (unlocks) at Low; default High
	UnlockTime time.Duration // default 10 s, allowed 1-60 s
	HeldOpen   time.Duration // door open longer than this raises door.held; default 30 s
	// DPIOpenLow: the door-position input reads Low when the door is open.
	// The default (High = open) fits a contact to ground that the closed
	// door holds shut, with the pull-up: a cut wire reads "open".
	DPIOpenLow bool
	// REXActiveHigh: the exit button reads High when pressed. Default Low
	// (a button to ground, with the pull-up).
	REXActiveHigh bool
	Debounce      time.Duration // inputs must hold a level this long; default 20 ms
	RelockOnClose bool          // relock as soon as an unlocked door closes again
	NoREXUnlock   bool          // REX only reports (doors with mechanical egress)
	// REXInLockdown lets REX unlock during lockdown. By default lockdown
	// refuses every electric unlock; egress must then be mechanical, as fire
	// codes require for fail-secure locks anyway.
	REXInLockdown bool
}

// withDefaults fills zero fields and checks the ranges.
func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.UnlockTime == 0 {
		c.UnlockTime = DefaultUnlockTime
	}
	if c.UnlockTime < MinUnlockTime || c.UnlockTime > MaxUnlockTime {
		return c, fmt.Errorf("relay: unlock time %v outside %v-%v", c.UnlockTime, MinUnlockTime, MaxUnlockTime)
	}
	if c.HeldOpen == 0 {
		c.HeldOpen = DefaultHeldOpen
	}
	if c.HeldOpen < 0 {
		return c, fmt.Errorf("relay: negative held-open time %v", c.HeldOpen)
	}
	if c.Debounce <= 0 {
		c.Debounce = DefaultDebounce
	}
	return c, nil
}

// State is a snapshot of the door.
type State struct {
	Unlocked  bool      `json:"unlocked"`
	Until     time.Time `json:"until,omitzero"` // when an unlock ends
	Source    string    `json:"source"`         // what last drove the relay
	Lockdown  bool      `json:"lockdown"`       //
	DoorKnown bool      `json:"door_known"`     // a DPI input is read
	DoorOpen  bool      `json:"door_open"`      //
	Held      bool      `json:"held"`           // open past the held-open time
	Forced    bool      `json:"forced"`         // opened while locked, not yet closed
	Changes   uint64    `json:"relay_changes"`  // output changes since start
	OpenSince time.Time `json:"open_since,omitzero"`
}

// Door drives the door relay and watches the door inputs. Its methods are
// safe for concurrent use. The output's level is kept here and never read
// back: reading a periph output line turns it into an input.
type Door struct {
	cfg  Config
	out  gpio.PinOut
	dpi  gpio.PinIn
	rex  gpio.PinIn
	emit func(access.Event)
	log  *slog.Logger

	mu      sync.Mutex
	st      State
	relock  *time.Timer
	held    *time.Timer
	gen     uint64 // unlock generation, so a stale relock timer does nothing
	openGen uint64 // door-open generation, for the held timer
	running bool
}

// New returns a door on out, with the optional door-position (dpi) and
// request-to-exit (rex) inputs (nil when not wired). emit receives the door
// events; it must not block and must not call back into the Door.
//
// New drives the output locked at once. That is I/O in a constructor, on
// purpose: fail-secure means the relay is locked before anything else runs,
// and a Door that exists is a Door whose output is known. It never drives the
// unlocked level, so the lock never pulses at boot.
func New(cfg Config, out gpio.PinOut, dpi, rex gpio.PinIn, emit func(access.Event), log *slog.Logger) (*Door, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, errors.New("relay: no output pin")
	}
	if emit == nil {
		emit = func(access.Event) {}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Door{cfg: cfg, out: out, dpi: dpi, rex: rex, emit: emit, log: log}
	d.st.Source = "start"
	if err := d.drive(false); err != nil {
		return nil, err
	}
	return d, nil
}

// Config returns the configuration in effect.
func (d *Door) Config() Config { return d.cfg }

func (d *Door) level(unlocked bool) gpio.Level {
	return gpio.Level(unlocked != d.cfg.ActiveLow)
}

// drive sets the output; d.mu is held or d is not yet shared.
func (d *Door) drive(unlocked bool) error {
	if err := d.out.Out(d.level(unlocked)); err != nil {
		return fmt.Errorf("relay: drive %s %s: %w", d.out, lockWord(unlocked), err)
	}
	return nil
}

func lockWord(unlocked bool) string {
	if unlocked {
		return "unlocked"
	}
	return "locked"
}

func (d *Door) event(t access.EventType, at time.Time, detail string) access.Event {
	return access.Event{ID: access.NewEventID(), Type: t, At: at, Reader: d.cfg.Name, Detail: detail}
}

func (d *Door) send(evs []access.Event) {
	for _, e := range evs {
		d.emit(e)
	}
}

// Halt locks the door at once, whatever its state: it is the fail-secure
// path, for start, shutdown and panics. Lockdown is kept.
func (d *Door) Halt() error {
	d.mu.Lock()
	evs, err := d.lockLocked(time.Now(), "halt", true)
	d.mu.Unlock()
	d.send(evs)
	return err
}

// HaltOnPanic halts the door if the calling goroutine is panicking, then
// re-panics. Use it as `defer door.HaltOnPanic()` at the top of main and of
// every goroutine that can panic while the door may be unlocked.
func (d *Door) HaltOnPanic() {
	if r := recover(); r != nil {
		_ = d.Halt()
		panic(r)
	}
}

// lockLocked locks; with force the output is driven even when already
// locked. d.mu is held.
func (d *Door) lockLocked(now time.Time, source string, force bool) ([]access.Event, error) {
	d.gen++
	if d.relock != nil {
		d.relock.Stop()
		d.relock = nil
	}
	was := d.st.Unlocked
	if !was && !force {
		return nil, nil
	}
	err := d.drive(false)
	if err != nil {
		// The output state is unknown: keep reporting it unlocked so that
		// State does not claim a lock that may not have happened.
		d.log.Error("relay: lock failed", "door", d.cfg.Name, "err", err)
		return nil, err
	}
	d.st.Unlocked, d.st.Until = false, time.Time{}
	d.st.Source = source
	if !was {
		return nil, nil
	}
	d.st.Changes++
	return []access.Event{d.event(access.EventRelay, now, "locked: "+source)}, nil
}

// unlockLocked unlocks until now+dur, extending a running unlock. d.mu is
// held.
func (d *Door) unlockLocked(now time.Time, dur time.Duration, source string, inLockdown bool) ([]access.Event, error) {
	if d.st.Lockdown && !inLockdown {
		return nil, ErrLockdown
	}
	until := now.Add(dur)
	if d.st.Unlocked && d.st.Until.After(until) {
		until = d.st.Until
	}
	var evs []access.Event
	if !d.st.Unlocked {
		if err := d.drive(true); err != nil {
			// Fail secure: try to put the lock back.
			_ = d.drive(false)
			return nil, err
		}
		d.st.Unlocked = true
		d.st.Changes++
		evs = append(evs, d.event(access.EventRelay, now, "unlocked: "+source))
	}
	d.st.Until, d.st.Source = until, source
	d.gen++
	gen := d.gen
	if d.relock != nil {
		d.relock.Stop()
	}
	d.relock = time.AfterFunc(until.Sub(now), func() { d.expire(gen) })
	return evs, nil
}

func (d *Door) expire(gen uint64) {
	d.mu.Lock()
	if gen != d.gen {
		d.mu.Unlock()
		return
	}
	evs, _ := d.lockLocked(time.Now(), "timer", false)
	d.mu.Unlock()
	d.send(evs)
}

// Unlock unlocks for the configured unlock time, or extends a running
// unlock to end that long from now. source names the cause in events
// ("grant", "remote", ...). It fails with ErrLockdown in lockdown.
func (d *Door) Unlock(source string) error {
	return d.Pulse(d.cfg.UnlockTime, source)
}

// Pulse unlocks for dur (100 ms to 60 s), e.g. a technician's relay test.
func (d *Door) Pulse(dur time.Duration, source string) error {
	if dur < MinPulse || dur > MaxUnlockTime {
		return fmt.Errorf("relay: pulse %v outside %v-%v", dur, MinPulse, MaxUnlockTime)
	}
	d.mu.Lock()
	evs, err := d.unlockLocked(time.Now(), dur, source, false)
	d.mu.Unlock()
	d.send(evs)
	return err
}

// Lock locks now, ending any unlock.
func (d *Door) Lock(source string) error {
	d.mu.Lock()
	evs, err := d.lockLocked(time.Now(), source, false)
	d.mu.Unlock()
	d.send(evs)
	return err
}

// SetLockdown enters or leaves lockdown. Entering locks at once; while in
// lockdown every unlock fails with ErrLockdown.
func (d *Door) SetLockdown(on bool, source string) error {
	d.mu.Lock()
	d.st.Lockdown = on
	var evs []access.Event
	var err error
	if on {
		evs, err = d.lockLocked(time.Now(), "lockdown: "+source, true)
	}
	d.mu.Unlock()
	d.send(evs)
	return err
}

// State returns a snapshot of the door.
func (d *Door) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

// Run watches the DPI and REX inputs until ctx is cancelled, then returns
// nil. It returns an error if an input cannot be set up. Without inputs it
// just waits. Call it once.
func (d *Door) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.running {
		d.mu.Unlock()
		return errors.New("relay: Run called twice")
	}
	d.running = true
	d.mu.Unlock()
	var wg sync.WaitGroup
	if d.dpi != nil {
		if err := d.setup(d.dpi); err != nil {
			return fmt.Errorf("relay: set up door position input %s: %w", d.dpi, err)
		}
		l := d.dpi.Read()
		d.doorLevel(l, true)
		wg.Go(func() { d.watch(ctx, d.dpi, l, func(l gpio.Level) { d.doorLevel(l, false) }) })
	}
	if d.rex != nil {
		if err := d.setup(d.rex); err != nil {
			return fmt.Errorf("relay: set up exit button input %s: %w", d.rex, err)
		}
		wg.Go(func() { d.watch(ctx, d.rex, d.rex.Read(), d.rexLevel) })
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// setup configures an input with the pull-up, both edges. sysfs pins cannot
// set a pull: they then rely on an external pull-up resistor.
func (d *Door) setup(p gpio.PinIn) error {
	err := p.In(gpio.PullUp, gpio.BothEdges)
	if err == nil {
		return nil
	}
	if err2 := p.In(gpio.PullNoChange, gpio.BothEdges); err2 != nil {
		return errors.Join(err, err2)
	}
	d.log.Warn("relay: input without internal pull-up; fit an external one", "pin", p.String(), "err", err)
	return nil
}

// watch calls changed with every debounced level change of p.
func (d *Door) watch(ctx context.Context, p gpio.PinIn, last gpio.Level, changed func(gpio.Level)) {
	for ctx.Err() == nil {
		edge := p.WaitForEdge(poll)
		if edge {
			// Let the contact settle, then take the level it settled at.
			t := time.NewTimer(d.cfg.Debounce)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		if l := p.Read(); l != last {
			last = l
			changed(l)
		}
	}
}

func (d *Door) doorLevel(l gpio.Level, initial bool) {
	open := (l == gpio.High) != d.cfg.DPIOpenLow
	now := time.Now()
	var evs []access.Event
	d.mu.Lock()
	if d.st.DoorKnown && d.st.DoorOpen == open {
		d.mu.Unlock()
		return
	}
	d.st.DoorKnown = true
	d.st.DoorOpen = open
	d.openGen++
	if d.held != nil {
		d.held.Stop()
		d.held = nil
	}
	if open {
		d.st.OpenSince = now
		switch {
		case initial:
			evs = append(evs, d.event(access.EventDoorOpened, now, "open at start"))
		case !d.st.Unlocked:
			d.st.Forced = true
			evs = append(evs, d.event(access.EventDoorForced, now, "opened while locked"))
		default:
			evs = append(evs, d.event(access.EventDoorOpened, now, "opened: "+d.st.Source))
		}
		gen := d.openGen
		if d.cfg.HeldOpen > 0 {
			d.held = time.AfterFunc(d.cfg.HeldOpen, func() { d.heldOpen(gen) })
		}
	} else {
		d.st.OpenSince = time.Time{}
		d.st.Held, d.st.Forced = false, false
		if !initial {
			evs = append(evs, d.event(access.EventDoorClosed, now, ""))
		}
		if d.cfg.RelockOnClose && d.st.Unlocked && !initial {
			more, _ := d.lockLocked(now, "door closed", false)
			evs = append(evs, more...)
		}
	}
	d.mu.Unlock()
	d.send(evs)
}

func (d *Door) heldOpen(gen uint64) {
	d.mu.Lock()
	if gen != d.openGen || !d.st.DoorOpen {
		d.mu.Unlock()
		return
	}
	d.st.Held = true
	e := d.event(access.EventDoorHeld, time.Now(), fmt.Sprintf("open longer than %v", d.cfg.HeldOpen))
	d.mu.Unlock()
	d.emit(e)
}

func (d *Door) rexLevel(l gpio.Level) {
	pressed := (l == gpio.High) == d.cfg.REXActiveHigh
	if !pressed {
		return
	}
	now := time.Now()
	d.mu.Lock()
	var evs []access.Event
	detail := "unlock"
	switch {
	case d.cfg.NoREXUnlock:
		detail = "reported only"
	case d.st.Lockdown && !d.cfg.REXInLockdown:
		detail = "refused: lockdown"
	default:
		more, err := d.unlockLocked(now, d.cfg.UnlockTime, "rex", d.cfg.REXInLockdown)
		if err != nil {
			detail = "unlock failed: " + err.Error()
		}
		evs = more
	}
	evs = append([]access.Event{d.event(access.EventREX, now, detail)}, evs...)
	d.mu.Unlock()
	d.send(evs)
}
