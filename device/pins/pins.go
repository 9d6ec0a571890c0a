package pins

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
	"periph.io/x/host/v3/gpioioctl"
	"periph.io/x/host/v3/sysfs"

	"github.com/intercomd/intercomd/reader/wiegand"
)

var (
	initOnce sync.Once
	initErr  error
)

// Init loads periph's host drivers once: the GPIO character-device driver
// (gpioioctl), then sysfs. On a machine without GPIO it succeeds and
// registers nothing; Open then names the missing pin.
func Init() error {
	initOnce.Do(func() {
		if _, err := host.Init(); err != nil {
			initErr = fmt.Errorf("pins: init periph host drivers: %w", err)
		}
	})
	return initErr
}

// Open returns the pins with the given names, in order: a line name of the
// character device as registered by periph (e.g. "GPIO17"), or, as a
// fallback where the character device does not have it, "sysfs:N" or
// "GPIO<N>" for sysfs pin N. It fails naming the first pin not found.
func Open(names ...string) ([]gpio.PinIO, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	out := make([]gpio.PinIO, 0, len(names))
	for _, n := range names {
		p := lookup(n)
		if p == nil {
			return nil, fmt.Errorf("pins: open %q: %w", n, ErrNotFound)
		}
		out = append(out, p)
	}
	return out, nil
}

// ErrNotFound reports a pin name that no driver registered.
var ErrNotFound = errors.New("no such gpio pin (check the pin name in the config and that the gpio driver is loaded)")

func lookup(name string) gpio.PinIO {
	if p := gpioreg.ByName(name); p != nil {
		return p
	}
	num := strings.TrimPrefix(strings.TrimPrefix(name, "sysfs:"), "GPIO")
	if n, err := strconv.Atoi(num); err == nil {
		if p, ok := sysfs.Pins[n]; ok {
			return p
		}
	}
	return nil
}

// minWait replaces a non-positive timeout: gpioioctl returns at once for a
// negative one and waits forever for zero (periph/host#78).
const minWait = time.Millisecond

// LineSource is the device's Wiegand edge source: D0 and D1 requested
// together as one gpioioctl LineSet (inputs, pull-up, falling edges), so the
// kernel reports the edges of both lines in the order they happened. It
// implements wiegand.EdgeSource.
//
// periph v3.8.5 does not pass on the kernel's edge timestamp, so Edge.At is
// the time the edge was read and Edge.Width is zero (the reader's
// narrow-pulse filter then does not apply). After each edge both lines are
// read; both low sets Edge.BothLow.
type LineSource struct {
	ls     *gpioioctl.LineSet
	d0, d1 int // chip line offsets
}

// OpenWiegand requests the lines named d0 and d1, which must be on one GPIO
// chip.
func OpenWiegand(d0, d1 string) (*LineSource, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	if d0 == d1 {
		return nil, fmt.Errorf("pins: wiegand d0 and d1 are both %q", d0)
	}
	for _, chip := range gpioioctl.Chips {
		l0, l1 := chip.ByName(d0), chip.ByName(d1)
		if l0 == nil && l1 == nil {
			continue
		}
		if l0 == nil || l1 == nil {
			return nil, fmt.Errorf("pins: wiegand lines %q and %q must be on one gpio chip (%s has only one)", d0, d1, chip.Name())
		}
		ls, err := chip.LineSetFromConfig(&gpioioctl.LineSetConfig{
			Lines:            []string{d0, d1},
			DefaultDirection: gpioioctl.LineInput,
			DefaultEdge:      gpio.FallingEdge,
			DefaultPull:      gpio.PullUp,
		})
		if err != nil {
			return nil, fmt.Errorf("pins: request wiegand lines %q, %q on %s: %w", d0, d1, chip.Name(), err)
		}
		return &LineSource{ls: ls, d0: l0.Number(), d1: l1.Number()}, nil
	}
	return nil, fmt.Errorf("pins: wiegand lines %q, %q: %w (the character device is required: sysfs merges edges)", d0, d1, ErrNotFound)
}

var (
	_ wiegand.EdgeSource = (*LineSource)(nil)
	_ wiegand.ReadTimer  = (*LineSource)(nil)
)

// ReadTimes reports that Edge.At is the read time (see wiegand.ReadTimer).
func (s *LineSource) ReadTimes() bool { return true }

// WaitForEdge implements wiegand.EdgeSource.
func (s *LineSource) WaitForEdge(timeout time.Duration) (wiegand.Edge, bool, error) {
	if timeout <= 0 {
		timeout = minWait
	}
	num, edge, err := s.ls.WaitForEdge(timeout)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return wiegand.Edge{}, false, nil
	}
	if err != nil {
		return wiegand.Edge{}, false, fmt.Errorf("pins: wiegand wait for edge: %w", err)
	}
	if edge == gpio.NoEdge {
		return wiegand.Edge{}, false, nil
	}
	e := wiegand.Edge{Line: -1, At: time.Now()}
	switch num {
	case s.d0:
		e.Line = 0
	case s.d1:
		e.Line = 1
	}
	if v, err := s.ls.Read(0); err == nil && v&3 == 0 {
		e.BothLow = true
	}
	return e, true, nil
}

// Close releases the lines.
func (s *LineSource) Close() error {
	if err := s.ls.Close(); err != nil {
		return fmt.Errorf("pins: close wiegand lines: %w", err)
	}
	return nil
}
