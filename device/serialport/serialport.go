package serialport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.bug.st/serial"
)

// Defaults for a zero Config.
const (
	DefaultBaudRate = 115200
	DefaultDataBits = 8
)

// Config is a serial line's settings as written in the daemon's config. Zero
// values mean the defaults: 115200 baud, 8 data bits, parity "none", stop
// bits "1".
type Config struct {
	Path     string `toml:"path" json:"path"`           // e.g. /dev/serial/by-id/usb-...; prefer by-id paths
	BaudRate int    `toml:"baud" json:"baud"`           // bits per second
	DataBits int    `toml:"data_bits" json:"data_bits"` // 5..8
	Parity   string `toml:"parity" json:"parity"`       // none, odd, even, mark, space
	StopBits string `toml:"stop_bits" json:"stop_bits"` // 1, 1.5, 2
}

// Mode returns the serial.Mode for c, or an error naming the bad setting.
// It never sets the modem output bits: DTR/RTS calls fail on a pty and the
// TD63 does not use them.
func (c Config) Mode() (*serial.Mode, error) {
	m := &serial.Mode{BaudRate: c.BaudRate, DataBits: c.DataBits}
	if m.BaudRate == 0 {
		m.BaudRate = DefaultBaudRate
	}
	if m.BaudRate < 50 || m.BaudRate > 4_000_000 {
		return nil, fmt.Errorf("serialport: baud rate %d out of range 50-4000000", c.BaudRate)
	}
	if m.DataBits == 0 {
		m.DataBits = DefaultDataBits
	}
	if m.DataBits < 5 || m.DataBits > 8 {
		return nil, fmt.Errorf("serialport: data bits %d out of range 5-8", c.DataBits)
	}
	p, err := ParseParity(c.Parity)
	if err != nil {
		return nil, err
	}
	m.Parity = p
	s, err := ParseStopBits(c.StopBits)
	if err != nil {
		return nil, err
	}
	m.StopBits = s
	return m, nil
}

// ParseParity parses "none" (or ""), "odd", "even", "mark" or "space",
// ignoring case.
func ParseParity(s string) (serial.Parity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none", "n":
		return serial.NoParity, nil
	case "odd", "o":
		return serial.OddParity, nil
	case "even", "e":
		return serial.EvenParity, nil
	case "mark", "m":
		return serial.MarkParity, nil
	case "space", "s":
		return serial.SpaceParity, nil
	}
	return 0, fmt.Errorf("serialport: unknown parity %q (want none, odd, even, mark or space)", s)
}

// ParseStopBits parses "1" (or ""), "1.5" or "2".
func ParseStopBits(s string) (serial.StopBits, error) {
	switch strings.TrimSpace(s) {
	case "", "1":
		return serial.OneStopBit, nil
	case "1.5":
		return serial.OnePointFiveStopBits, nil
	case "2":
		return serial.TwoStopBits, nil
	}
	return 0, fmt.Errorf("serialport: unknown stop bits %q (want 1, 1.5 or 2)", s)
}

// Open opens the serial device at path with mode (nil means the defaults).
// It does not block beyond the open(2) call itself, but honours a context
// that is already done. A missing device matches fs.ErrNotExist; other
// failures wrap the library's *serial.PortError.
func Open(ctx context.Context, path string, mode *serial.Mode) (serial.Port, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("serialport: open %s: %w", path, err)
	}
	if path == "" {
		return nil, errors.New("serialport: open: empty device path")
	}
	if mode == nil {
		var err error
		if mode, err = (Config{}).Mode(); err != nil {
			return nil, err
		}
	}
	p, err := serial.Open(path, mode)
	if err != nil {
		return nil, fmt.Errorf("serialport: open %s at %s: %w", path, describe(mode), err)
	}
	if err := ctx.Err(); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("serialport: open %s: %w", path, err)
	}
	return p, nil
}

// Opener returns a function that opens c.Path with c's mode each time it is
// called, for readers that reconnect. A bad Config is reported by every call.
func (c Config) Opener() func(context.Context) (io.ReadWriteCloser, error) {
	return func(ctx context.Context) (io.ReadWriteCloser, error) {
		m, err := c.Mode()
		if err != nil {
			return nil, err
		}
		p, err := Open(ctx, c.Path, m)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}

// IsClosed reports whether err is the library's PortClosed error, which both
// a Close from another goroutine and a vanished device produce.
func IsClosed(err error) bool {
	if pe, ok := errors.AsType[*serial.PortError](err); ok {
		return pe.Code() == serial.PortClosed
	}
	return false
}

func describe(m *serial.Mode) string {
	parity := [...]string{"N", "O", "E", "M", "S"}
	p := "?"
	if int(m.Parity) >= 0 && int(m.Parity) < len(parity) {
		p = parity[m.Parity]
	}
	stop := [...]string{"1", "1.5", "2"}
	s := "?"
	if int(m.StopBits) >= 0 && int(m.StopBits) < len(stop) {
		s = stop[m.StopBits]
	}
	return strconv.Itoa(m.BaudRate) + " " + strconv.Itoa(m.DataBits) + p + s
}
