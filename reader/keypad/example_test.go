package keypad_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/device/serialport"
	"github.com/intercomd/intercomd/device/serialport/serialporttest"
	"github.com/intercomd/intercomd/reader/keypad"
	"github.com/intercomd/intercomd/reader/keypad/td63sim"
)

// How cmd/intercomd wires the keypad on the device: the serial settings come
// from the config, decide runs the engine and commits the decision before
// the keypad answers, emit appends reader events to the outbox.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	line := serialport.Config{Path: "/dev/serial/by-id/usb-TD63-if00", BaudRate: 115200}
	decide := func(ctx context.Context, c access.Credential) access.Decision {
		// d := engine.Decide(c, clock.Now()); db.Commit(ctx, &d); if d.Grant { door.Unlock() }
		return access.Decision{Reason: access.ReasonUnknownCredential}
	}
	emit := func(e access.Event) { /* db.Append(ctx, e) */ }
	r := keypad.New(keypad.Config{ID: "keypad0"}, line.Opener(), decide, emit, slog.Default())
	_ = r.Run(ctx) // in an errgroup; nil on cancellation
}

// How sim mode wires the same reader to an emulated keypad on a pty: the
// reader opens the link's path with go.bug.st/serial exactly as on the
// device, and the emulator follows the link across unplug/replug.
func Example_sim() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	dir, _ := os.MkdirTemp("", "intercomd-sim")
	defer os.RemoveAll(dir)
	link, err := serialporttest.NewLink(filepath.Join(dir, "ttyTD63"))
	if err != nil {
		return
	}
	defer link.Close()
	kp := td63sim.New(td63sim.Config{})
	go link.Attach(ctx, func(ctx context.Context, m *os.File) error { return kp.Run(ctx, m) })

	decide := func(ctx context.Context, c access.Credential) access.Decision { return access.Decision{} }
	r := keypad.New(keypad.Config{}, serialport.Config{Path: link.Path}.Opener(), decide, nil, nil)
	go r.Run(ctx)
	_ = kp.Type(ctx, "1234#") // e.g. from the debug socket's inject command
}
