package relay_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/device/pins/pinstest"
	"github.com/intercomd/intercomd/relay"
)

// Door contacts as wired by default: DPI High = open, REX Low = pressed.
const (
	doorClosed = gpio.Low
	doorOpen   = gpio.High
	rexIdle    = gpio.High
	rexPressed = gpio.Low
)

type bench struct {
	t        *testing.T
	out      *pinstest.Output
	dpi, rex *pinstest.Input
	door     *relay.Door
	mu       sync.Mutex
	events   []access.Event
}

// newBench builds a door with both inputs and runs it until the test ends.
func newBench(t *testing.T, cfg relay.Config) *bench {
	t.Helper()
	b := &bench{t: t, out: pinstest.NewOutput("RELAY", nil), dpi: pinstest.NewInput("DPI", doorClosed), rex: pinstest.NewInput("REX", rexIdle)}
	d, err := relay.New(cfg, b.out, b.dpi, b.rex, func(e access.Event) {
		b.mu.Lock()
		b.events = append(b.events, e)
		b.mu.Unlock()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.door = d
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if n := b.out.Reads.Load(); n != 0 {
			t.Errorf("relay output read back %d times", n)
		}
		if n := b.dpi.BadWaits.Load() + b.rex.BadWaits.Load(); n != 0 {
			t.Errorf("%d input waits without a positive timeout", n)
		}
	})
	synctest.Wait()
	return b
}

// eventTypes returns the event types so far, as "type" or "type:detail".
func (b *bench) eventTypes() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s []string
	for _, e := range b.events {
		if e.Reader != "door0" || e.ID == "" || e.At.IsZero() {
			b.t.Errorf("malformed event %+v", e)
		}
		s = append(s, string(e.Type))
	}
	return s
}

func (b *bench) wantEvents(want ...string) {
	b.t.Helper()
	synctest.Wait()
	if got := b.eventTypes(); !slices.Equal(got, want) {
		b.t.Errorf("events = %v, want %v", got, want)
	}
}

// level returns the relay output: true when energised (unlocked).
func (b *bench) energised() bool {
	l, driven := b.out.Level()
	if !driven {
		b.t.Fatal("relay output never driven")
	}
	return l == gpio.High
}

func TestNewDrivesLockedWithoutPulse(t *testing.T) {
	for _, activeLow := range []bool{false, true} {
		out := pinstest.NewOutput("RELAY", nil)
		d, err := relay.New(relay.Config{ActiveLow: activeLow}, out, nil, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []gpio.Level{gpio.Level(activeLow)} // the inactive level
		var got []gpio.Level
		for _, c := range out.History() {
			got = append(got, c.Level)
		}
		if !slices.Equal(got, want) {
			t.Errorf("active low %v: output history %v, want only the locked level %v", activeLow, got, want)
		}
		if d.State().Unlocked {
			t.Error("new door reports unlocked")
		}
		if err := d.Halt(); err != nil {
			t.Fatal(err)
		}
		if h := out.History(); len(h) != 2 || h[1].Level != gpio.Level(activeLow) {
			t.Errorf("Halt drove %v, want the locked level again", h)
		}
	}
}

func TestConfigLimits(t *testing.T) {
	for _, ut := range []time.Duration{500 * time.Millisecond, 61 * time.Second, -time.Second} {
		if _, err := relay.New(relay.Config{UnlockTime: ut}, pinstest.NewOutput("R", nil), nil, nil, nil, nil); err == nil {
			t.Errorf("unlock time %v accepted", ut)
		}
	}
	d, err := relay.New(relay.Config{}, pinstest.NewOutput("R", nil), nil, nil, nil, nil)
	if err != nil || d.Config().UnlockTime != 10*time.Second {
		t.Errorf("default unlock time: %v, %v", d.Config().UnlockTime, err)
	}
}

func TestUnlockExtendRelock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBench(t, relay.Config{})
		start := time.Now()
		if err := b.door.Unlock("grant"); err != nil {
			t.Fatal(err)
		}
		if !b.energised() {
			t.Fatal("not energised after Unlock")
		}
		time.Sleep(6 * time.Second)
		if err := b.door.Unlock("grant"); err != nil { // extends to 16 s
			t.Fatal(err)
		}
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if !b.energised() {
			t.Fatal("relocked before the extended unlock ended")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if b.energised() {
			t.Fatal("still energised after the extended unlock")
		}
		h := b.out.History()
		if len(h) != 3 || h[2].At.Sub(start) != 16*time.Second {
			t.Errorf("history %v, want locked, unlocked, locked at +16s", h)
		}
		b.wantEvents("relay.changed", "relay.changed")
		if s := b.door.State(); s.Unlocked || s.Changes != 2 || s.Source != "timer" {
			t.Errorf("state %+v", s)
		}
	})
}

func TestPulseAndLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBench(t, relay.Config{})
		if err := b.door.Pulse(time.Second, "technician"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if b.energised() {
			t.Error("pulse did not end after 1 s")
		}
		if err := b.door.Pulse(10*time.Millisecond, "technician"); err == nil {
			t.Error("10 ms pulse accepted")
		}
		b.door.Unlock("remote")
		b.door.Lock("remote")
		if b.energised() {
			t.Error("Lock did not lock")
		}
		time.Sleep(20 * time.Second) // a stale relock timer must do nothing
		b.wantEvents("relay.changed", "relay.changed", "relay.changed", "relay.changed")
	})
}

func TestForcedHeldClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBench(t, relay.Config{HeldOpen: 30 * time.Second})
		// Opened while locked: forced.
		b.dpi.Set(doorOpen)
		time.Sleep(100 * time.Millisecond)
		b.wantEvents("door.forced")
		if s := b.door.State(); !s.DoorOpen || !s.Forced {
			t.Errorf("state %+v", s)
		}
		time.Sleep(30 * time.Second)
		b.wantEvents("door.forced", "door.held")
		b.dpi.Set(doorClosed)
		time.Sleep(100 * time.Millisecond)
		b.wantEvents("door.forced", "door.held", "door.closed")

		// Opened while unlocked: opened, closed before held-open.
		b.door.Unlock("grant")
		time.Sleep(time.Second)
		b.dpi.Set(doorOpen)
		time.Sleep(5 * time.Second)
		b.dpi.Set(doorClosed)
		time.Sleep(60 * time.Second)
		b.wantEvents("door.forced", "door.held", "door.closed", "relay.changed", "door.opened", "door.closed", "relay.changed")
	})
}

func TestDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBench(t, relay.Config{})
		b.door.Unlock("grant")
		// Contact bounce: the door settles open; one event.
		for range 3 {
			b.dpi.Set(doorOpen)
			time.Sleep(2 * time.Millisecond)
			b.dpi.Set(doorClosed)
			time.Sleep(2 * time.Millisecond)
		}
		b.dpi.Set(doorOpen)
		time.Sleep(time.Second)
		b.wantEvents("relay.changed", "door.opened")
	})
}

func TestRelockOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBench(t, relay.Config{RelockOnClose: true})
		b.door.Unlock("grant")
		b.dpi.Set(doorOpen)
		time.Sleep(time.Second)
		b.dpi.Set(doorClosed)
		time.Sleep(100 * time.Millisecond)
		if b.energised() {
			t.Error("not relocked when the door closed")
		}
		b.wantEvents("relay.changed", "door.opened", "door.closed", "relay.changed")
	})
}

func TestREX(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBench(t, relay.Config{})
		b.rex.Set(rexPressed)
		time.Sleep(100 * time.Millisecond)
		if !b.energised() {
			t.Fatal("REX did not unlock")
		}
		b.rex.Set(rexIdle)
		b.dpi.Set(doorOpen) // leaving: not forced
		time.Sleep(2 * time.Second)
		b.dpi.Set(doorClosed)
		time.Sleep(10 * time.Second)
		b.wantEvents("door.rex", "relay.changed", "door.opened", "door.closed", "relay.changed")
	})
}

func TestLockdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBench(t, relay.Config{})
		b.door.Unlock("grant")
		if err := b.door.SetLockdown(true, "cloud"); err != nil {
			t.Fatal(err)
		}
		if b.energised() {
			t.Fatal("lockdown did not lock")
		}
		if err := b.door.Unlock("grant"); !errors.Is(err, relay.ErrLockdown) {
			t.Errorf("Unlock in lockdown = %v, want ErrLockdown", err)
		}
		b.rex.Set(rexPressed)
		time.Sleep(100 * time.Millisecond)
		if b.energised() {
			t.Error("REX unlocked in lockdown")
		}
		b.rex.Set(rexIdle)
		time.Sleep(100 * time.Millisecond)
		b.door.SetLockdown(false, "cloud")
		if err := b.door.Unlock("grant"); err != nil {
			t.Errorf("Unlock after lockdown: %v", err)
		}
		b.wantEvents("relay.changed", "relay.changed", "door.rex", "relay.changed")
		b.mu.Lock()
		rex := b.events[2]
		b.mu.Unlock()
		if !strings.Contains(rex.Detail, "lockdown") {
			t.Errorf("rex event detail %q, want the lockdown refusal", rex.Detail)
		}
	})
}

func TestHaltOnPanic(t *testing.T) {
	out := pinstest.NewOutput("RELAY", nil)
	d, err := relay.New(relay.Config{}, out, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Unlock("grant")
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the re-panicked value", r)
			}
		}()
		defer d.HaltOnPanic()
		panic("boom")
	}()
	if l, _ := out.Level(); l != gpio.Low || d.State().Unlocked {
		t.Error("door not halted on panic")
	}
}

// A door open at start is reported, not taken as forced.
func TestOpenAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := pinstest.NewOutput("RELAY", nil)
		dpi := pinstest.NewInput("DPI", doorOpen)
		var mu sync.Mutex
		var evs []access.Event
		d, _ := relay.New(relay.Config{}, out, dpi, nil, func(e access.Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() }, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		synctest.Wait()
		mu.Lock()
		if len(evs) != 1 || evs[0].Type != access.EventDoorOpened {
			t.Errorf("events %+v, want one door.opened", evs)
		}
		mu.Unlock()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// noPull is a sysfs pin: it cannot set a pull resistor.
type noPull struct{ *pinstest.Input }

func (p noPull) In(pull gpio.Pull, edge gpio.Edge) error {
	if pull != gpio.PullNoChange && pull != gpio.Float {
		return errors.New("sysfs-gpio: doesn't support pull-up/pull-down")
	}
	return p.Input.In(pull, edge)
}

func TestInputWithoutPull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := pinstest.NewOutput("RELAY", nil)
		dpi := pinstest.NewInput("DPI", doorClosed)
		var mu sync.Mutex
		var evs []access.EventType
		d, _ := relay.New(relay.Config{}, out, noPull{dpi}, nil, func(e access.Event) { mu.Lock(); evs = append(evs, e.Type); mu.Unlock() }, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		synctest.Wait()
		dpi.Set(doorOpen)
		time.Sleep(time.Second)
		mu.Lock()
		if !slices.Equal(evs, []access.EventType{access.EventDoorForced}) {
			t.Errorf("events %v, want door.forced", evs)
		}
		mu.Unlock()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}
