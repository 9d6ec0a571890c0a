package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"periph.io/x/conn/v3/gpio"

	"github.com/intercomd/intercomd/device/pins"
	"github.com/intercomd/intercomd/device/pins/pinstest"
	"github.com/intercomd/intercomd/device/serialport"
	"github.com/intercomd/intercomd/device/serialport/serialporttest"
	"github.com/intercomd/intercomd/reader/keypad/td63sim"
	"github.com/intercomd/intercomd/reader/wiegand"
)

// hardware is what the daemon drives and reads, real or simulated. The
// readers and the relay see the same interfaces either way, so simulation
// goes through the real code paths.
type hardware struct {
	relay    gpio.PinOut
	dpi, rex gpio.PinIn                                        // nil when not wired
	edges    wiegand.EdgeSource                                // nil when Wiegand is off
	keypad   func(context.Context) (io.ReadWriteCloser, error) // nil when the keypad is off
	sim      *simHardware                                      // set in simulation mode
	closers  []func() error
}

// simHardware is the far side of the simulated parts: what a test or a
// technician's `intercomctl sim` drives.
type simHardware struct {
	relay    *pinstest.Output
	dpi, rex *pinstest.Input
	edges    *pinstest.Edges
	tx       *pinstest.Transmitter
	link     *serialporttest.Link
	pad      *td63sim.Keypad
}

func (h *hardware) close() {
	for i := len(h.closers) - 1; i >= 0; i-- {
		h.closers[i]()
	}
}

// openRelay opens only the relay output, so that it can be driven locked
// before anything else happens.
func openRelay(cfg *Config) (*hardware, error) {
	h := &hardware{}
	if cfg.Hardware == "sim" {
		h.sim = &simHardware{relay: pinstest.NewOutput("sim-relay", nil)}
		h.relay = h.sim.relay
		return h, nil
	}
	if err := pins.Init(); err != nil {
		return nil, err
	}
	p, err := pins.Open(cfg.Relay.Pin)
	if err != nil {
		return nil, err
	}
	h.relay = p[0]
	return h, nil
}

// openInputs opens the door inputs and the readers' hardware.
func (h *hardware) openInputs(cfg *Config, runDir string) error {
	if h.sim != nil {
		return h.openSim(cfg, runDir)
	}
	if cfg.Relay.DPIPin != "" {
		p, err := pins.Open(cfg.Relay.DPIPin)
		if err != nil {
			return err
		}
		h.dpi = p[0]
	}
	if cfg.Relay.REXPin != "" {
		p, err := pins.Open(cfg.Relay.REXPin)
		if err != nil {
			return err
		}
		h.rex = p[0]
	}
	if cfg.Wiegand.Enabled {
		ls, err := pins.OpenWiegand(cfg.Wiegand.D0Pin, cfg.Wiegand.D1Pin)
		if err != nil {
			return err
		}
		h.edges = ls
		h.closers = append(h.closers, ls.Close)
	}
	if cfg.Keypad.Enabled {
		k := cfg.Keypad
		sc := serialport.Config{Path: k.Port, BaudRate: k.Baud, DataBits: k.DataBits, Parity: k.Parity, StopBits: k.StopBits}
		if _, err := sc.Mode(); err != nil {
			return fmt.Errorf("keypad: %w", err)
		}
		h.keypad = sc.Opener()
	}
	return nil
}

// openSim builds the simulated inputs: a door contact held closed, an idle
// exit button, a Wiegand line pair fed by a transmitter with real timing,
// and a TD63 emulator on the far side of a pty.
func (h *hardware) openSim(cfg *Config, runDir string) error {
	s := h.sim
	s.dpi = pinstest.NewInput("sim-dpi", dpiLevel(cfg, false))
	s.rex = pinstest.NewInput("sim-rex", rexLevel(cfg, false))
	h.dpi, h.rex = s.dpi, s.rex
	s.edges = pinstest.NewEdges()
	// Ahead queues each frame's edges with their real-time stamps, as the
	// kernel buffers them: a sim goroutine descheduled on a loaded machine
	// cannot split a frame, which real reader hardware never does.
	s.tx = &pinstest.Transmitter{Edges: s.edges, Jitter: 0.1, Ahead: true}
	h.edges = s.edges
	path := filepath.Join(runDir, fmt.Sprintf("ttyTD63-%d", os.Getpid()))
	os.Remove(path)
	link, err := serialporttest.NewLink(path)
	if err != nil {
		return fmt.Errorf("sim: keypad pty: %w", err)
	}
	s.link = link
	h.closers = append(h.closers, link.Close)
	s.pad = td63sim.New(td63sim.Config{})
	sc := serialport.Config{Path: link.Path, BaudRate: cfg.Keypad.Baud}
	h.keypad = sc.Opener()
	return nil
}

// dpiLevel is the level the door contact reads for open or closed.
func dpiLevel(cfg *Config, open bool) gpio.Level {
	return gpio.Level(open != cfg.Relay.DPIOpenLow)
}

// rexLevel is the level the exit button reads, pressed or not.
func rexLevel(cfg *Config, pressed bool) gpio.Level {
	return gpio.Level(pressed == cfg.Relay.REXActiveHigh)
}

// lockedLevel is the relay output level that keeps the door locked.
func lockedLevel(cfg *Config) gpio.Level { return gpio.Level(cfg.Relay.ActiveLow) }
