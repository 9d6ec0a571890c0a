package serialport_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"
	"go.uber.org/goleak"

	"github.com/intercomd/intercomd/device/serialport"
	"github.com/intercomd/intercomd/device/serialport/serialporttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var modeCases = []struct {
	name    string
	cfg     serialport.Config
	want    serial.Mode
	wantErr string
}{
	{"zero means defaults", serialport.Config{}, serial.Mode{BaudRate: 115200, DataBits: 8}, ""},
	{"9600 7E2", serialport.Config{BaudRate: 9600, DataBits: 7, Parity: "Even", StopBits: "2"}, serial.Mode{BaudRate: 9600, DataBits: 7, Parity: serial.EvenParity, StopBits: serial.TwoStopBits}, ""},
	{"odd 1.5", serialport.Config{Parity: "odd", StopBits: "1.5"}, serial.Mode{BaudRate: 115200, DataBits: 8, Parity: serial.OddParity, StopBits: serial.OnePointFiveStopBits}, ""},
	{"bad parity", serialport.Config{Parity: "sometimes"}, serial.Mode{}, "unknown parity"},
	{"bad stop bits", serialport.Config{StopBits: "3"}, serial.Mode{}, "unknown stop bits"},
	{"bad data bits", serialport.Config{DataBits: 9}, serial.Mode{}, "data bits 9"},
	{"negative baud", serialport.Config{BaudRate: -1}, serial.Mode{}, "baud rate -1"},
}

func TestConfigMode(t *testing.T) {
	for _, tc := range modeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.Mode()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "serialport: ") {
					t.Fatalf("Mode() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Mode() error = %v", err)
			}
			if *got != tc.want {
				t.Fatalf("Mode() = %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func FuzzConfigMode(f *testing.F) {
	for _, tc := range modeCases {
		f.Add(tc.cfg.BaudRate, tc.cfg.DataBits, tc.cfg.Parity, tc.cfg.StopBits)
	}
	f.Fuzz(func(t *testing.T, baud, bits int, parity, stop string) {
		m, err := serialport.Config{BaudRate: baud, DataBits: bits, Parity: parity, StopBits: stop}.Mode()
		if err != nil {
			if !strings.HasPrefix(err.Error(), "serialport: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if m.BaudRate < 50 || m.DataBits < 5 || m.DataBits > 8 || m.InitialStatusBits != nil {
			t.Fatalf("accepted invalid mode %+v", m)
		}
	})
}

// openPair opens a pty pair and its slave through serialport.Open; both are
// closed when the test ends.
func openPair(t *testing.T) (*serialporttest.Pair, serial.Port) {
	t.Helper()
	p, err := serialporttest.OpenPair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	port, err := serialport.Open(t.Context(), p.SlavePath, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = port.Close() })
	return p, port
}

func TestOpenReadWriteOverPTY(t *testing.T) {
	p, port := openPair(t)

	// Bytes that a cooked tty would mangle: CR, NL, ^C, ^S.
	msg := []byte{0x02, '\r', '\n', 0x03, 0x13, 0xff}
	if _, err := p.Master.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := readN(t, port, len(msg))
	if string(got) != string(msg) {
		t.Fatalf("slave read %x, want %x", got, msg)
	}
	if _, err := port.Write([]byte("ok\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	_ = p.Master.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := p.Master.Read(buf)
	if err != nil || string(buf[:n]) != "ok\n" {
		t.Fatalf("master read %q, %v; want \"ok\\n\" (no echo, no translation)", buf[:n], err)
	}
}

func readN(t *testing.T, port serial.Port, n int) []byte {
	t.Helper()
	if err := port.SetReadTimeout(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var out []byte
	buf := make([]byte, 64)
	deadline := time.Now().Add(5 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		k, err := port.Read(buf) // (0, nil) on timeout: loop
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		out = append(out, buf[:k]...)
	}
	return out
}

func TestOpenMissingDevice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ttyNONE")
	_, err := serialport.Open(t.Context(), path, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(missing) error = %v, want fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.HasPrefix(err.Error(), "serialport: open ") {
		t.Fatalf("error %q does not name the device", err)
	}
}

func TestOpenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := serialport.Open(ctx, "/dev/null", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open(cancelled) error = %v, want context.Canceled", err)
	}
}

func TestOpenerBadConfig(t *testing.T) {
	open := serialport.Config{Path: "/dev/null", Parity: "weird"}.Opener()
	if _, err := open(t.Context()); err == nil || !strings.Contains(err.Error(), "parity") {
		t.Fatalf("Opener with bad parity: error = %v", err)
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	_, port := openPair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := port.Read(make([]byte, 8))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond) // let Read block; the assertion does not depend on it
	_ = port.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatalf("Read after Close = %v, want an error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Read")
	}
}

func TestUnplugReplug(t *testing.T) {
	link, err := serialporttest.NewLink(filepath.Join(t.TempDir(), "ttyTD63"))
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	port, err := serialport.Open(t.Context(), link.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	first := link.SlavePath()
	if err := link.Unplug(); err != nil {
		t.Fatal(err)
	}
	if _, err := port.Read(make([]byte, 8)); err == nil {
		t.Fatal("Read on an unplugged port returned no error")
	}
	if _, err := serialport.Open(t.Context(), link.Path, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open while unplugged: %v, want fs.ErrNotExist", err)
	}
	m, err := link.Replug()
	if err != nil {
		t.Fatal(err)
	}
	if link.SlavePath() == "" || link.Master() != m {
		t.Fatalf("Replug: slave %q master %v", link.SlavePath(), link.Master())
	}
	t.Logf("replugged %s -> %s", first, link.SlavePath())
	port2, err := serialport.Open(t.Context(), link.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer port2.Close()
	if _, err := m.Write([]byte{0x55}); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, port2, 1); len(got) != 1 || got[0] != 0x55 {
		t.Fatalf("after replug read %x, want 55", got)
	}
}

func TestLinkAttachFollowsReplug(t *testing.T) {
	link, err := serialporttest.NewLink(filepath.Join(t.TempDir(), "ttyTD63"))
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	attached := make(chan *os.File)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- link.Attach(ctx, func(ctx context.Context, m *os.File) error {
			select {
			case attached <- m:
			case <-ctx.Done():
				return nil
			}
			stop := context.AfterFunc(ctx, func() { _ = m.SetReadDeadline(time.Unix(1, 0)) })
			defer stop()
			_, err := m.Read(make([]byte, 1)) // returns when unplugged or cancelled
			return err
		})
	}()
	next := func() *os.File {
		t.Helper()
		select {
		case m := <-attached:
			return m
		case <-time.After(5 * time.Second):
			t.Fatal("attach not called")
		}
		return nil
	}
	if m := next(); m != link.Master() {
		t.Fatal("attached to something other than the current master")
	}
	if err := link.Unplug(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-attached:
		t.Fatalf("attached to %v while unplugged", m)
	case <-time.After(50 * time.Millisecond):
	}
	m2, err := link.Replug()
	if err != nil {
		t.Fatal(err)
	}
	if m := next(); m != m2 {
		t.Fatal("not re-attached to the new master after Replug")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Attach on cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Attach did not return on cancel")
	}
}
