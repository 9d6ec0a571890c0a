package pinstest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// Change is one level driven on an Output.
type Change struct {
	Level gpio.Level
	At    time.Time
}

// Output is an observable fake output pin, for the door relay. It records
// every level driven with its time. Read does not return the level: on the
// device, reading an output line turns it into an input (periph's gpioioctl
// Read calls In), so Read is counted in Reads and tests require zero.
type Output struct {
	N string

	mu      sync.Mutex
	level   gpio.Level
	driven  bool
	history []Change
	notify  chan Change

	Reads atomic.Uint64 // Read or In calls: a bug on the device
}

var _ gpio.PinIO = (*Output)(nil)

// NewOutput returns an undriven output. notify, if not nil, receives every
// change without blocking (a full channel misses changes; History has them
// all).
func NewOutput(name string, notify chan Change) *Output {
	return &Output{N: name, notify: notify}
}

// Level returns the level last driven and whether any was.
func (p *Output) Level() (gpio.Level, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level, p.driven
}

// History returns every level driven, oldest first.
func (p *Output) History() []Change {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Change(nil), p.history...)
}

// Out records l.
func (p *Output) Out(l gpio.Level) error {
	c := Change{Level: l, At: time.Now()}
	p.mu.Lock()
	p.level, p.driven = l, true
	p.history = append(p.history, c)
	p.mu.Unlock()
	if p.notify != nil {
		select {
		case p.notify <- c:
		default:
		}
	}
	return nil
}

func (p *Output) String() string { return fmt.Sprintf("pinstest.Output(%s)", p.N) }
func (p *Output) Name() string   { return p.N }
func (p *Output) Number() int    { return -1 }

// Function reports the pin's function.
func (p *Output) Function() string { return "Out" }

// Halt does nothing, as on periph's pins: the relay drives its own inert
// level.
func (p *Output) Halt() error { return nil }

// In is counted as a misuse: the relay line must stay an output.
func (p *Output) In(gpio.Pull, gpio.Edge) error {
	p.Reads.Add(1)
	return errors.New("pinstest: output pin used as input")
}

// Read is counted as a misuse and returns Low.
func (p *Output) Read() gpio.Level               { p.Reads.Add(1); return gpio.Low }
func (p *Output) WaitForEdge(time.Duration) bool { return false }
func (p *Output) Pull() gpio.Pull                { return gpio.PullNoChange }
func (p *Output) DefaultPull() gpio.Pull         { return gpio.PullNoChange }

// PWM is not supported by a relay output.
func (p *Output) PWM(gpio.Duty, physic.Frequency) error {
	return errors.New("pinstest: pwm not supported")
}

// Input is a fake input pin for the door position (DPI) and request-to-exit
// (REX) contacts. Set changes its level and raises an edge when the edge
// configured by In matches. WaitForEdge behaves like periph's gpioioctl: a
// negative timeout returns at once, zero waits forever; both are counted in
// BadWaits.
type Input struct {
	N string

	mu    sync.Mutex
	level gpio.Level
	pull  gpio.Pull
	edge  gpio.Edge
	sig   chan struct{}

	BadWaits atomic.Uint64
}

var _ gpio.PinIO = (*Input)(nil)

// NewInput returns an input at level l.
func NewInput(name string, l gpio.Level) *Input {
	return &Input{N: name, level: l, sig: make(chan struct{}, 16)}
}

// Set drives the input to l, as the contact would.
func (p *Input) Set(l gpio.Level) {
	p.mu.Lock()
	old := p.level
	p.level = l
	e := p.edge
	p.mu.Unlock()
	if old == l {
		return
	}
	if e == gpio.BothEdges || (e == gpio.RisingEdge && l == gpio.High) || (e == gpio.FallingEdge && l == gpio.Low) {
		select {
		case p.sig <- struct{}{}:
		default:
		}
	}
}

// In configures pull and edge detection and discards pending edges.
func (p *Input) In(pull gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	p.pull, p.edge = pull, edge
	p.mu.Unlock()
	for {
		select {
		case <-p.sig:
		default:
			return nil
		}
	}
}

// Read returns the level.
func (p *Input) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// WaitForEdge waits for an edge up to timeout.
func (p *Input) WaitForEdge(timeout time.Duration) bool {
	if timeout <= 0 {
		p.BadWaits.Add(1)
		if timeout < 0 {
			return false
		}
		<-p.sig
		return true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.sig:
		return true
	case <-t.C:
		return false
	}
}

func (p *Input) String() string         { return fmt.Sprintf("pinstest.Input(%s)", p.N) }
func (p *Input) Name() string           { return p.N }
func (p *Input) Number() int            { return -1 }
func (p *Input) Function() string       { return "In" }
func (p *Input) Halt() error            { return nil }
func (p *Input) Pull() gpio.Pull        { p.mu.Lock(); defer p.mu.Unlock(); return p.pull }
func (p *Input) DefaultPull() gpio.Pull { return gpio.PullNoChange }

// Out is refused: the contacts are inputs.
func (p *Input) Out(gpio.Level) error { return errors.New("pinstest: input pin driven") }

// PWM is refused.
func (p *Input) PWM(gpio.Duty, physic.Frequency) error {
	return errors.New("pinstest: pwm not supported")
}
