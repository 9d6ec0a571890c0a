package td63sim_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"go.bug.st/serial"
	"go.uber.org/goleak"

	"github.com/intercomd/intercomd/device/serialport"
	"github.com/intercomd/intercomd/device/serialport/serialporttest"
	"github.com/intercomd/intercomd/reader/keypad"
	"github.com/intercomd/intercomd/reader/keypad/td63sim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type arrival struct {
	at time.Time
	f  keypad.Frame
}

// controller is the reader's side of the line, opened with go.bug.st/serial.
type controller struct {
	port   serial.Port
	frames chan arrival
	done   chan struct{}
}

func openController(t *testing.T, path string) *controller {
	t.Helper()
	port, err := serialport.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &controller{port: port, frames: make(chan arrival, 256), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		var p keypad.Parser
		buf := make([]byte, 128)
		for {
			n, err := port.Read(buf)
			fs, _ := p.Feed(buf[:n])
			for _, f := range fs {
				c.frames <- arrival{time.Now(), f}
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { _ = port.Close(); <-c.done })
	return c
}

func (c *controller) next(t *testing.T, typ keypad.MsgType) arrival {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case a := <-c.frames:
			if a.f.Type == typ {
				return a
			}
		case <-timeout:
			t.Fatalf("no %v frame within 5 s", typ)
		}
	}
}

func (c *controller) send(t *testing.T, fs ...keypad.Frame) {
	t.Helper()
	var b []byte
	for _, f := range fs {
		b, _ = f.Append(b)
	}
	if _, err := c.port.Write(b); err != nil {
		t.Fatal(err)
	}
}

func start(t *testing.T, cfg td63sim.Config) (*td63sim.Keypad, *serialporttest.Pair, chan error, context.CancelFunc) {
	t.Helper()
	p, err := serialporttest.OpenPair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	k := td63sim.New(cfg)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx, p.Master) }()
	t.Cleanup(func() { cancel(); <-done })
	return k, p, done, cancel
}

func TestTypeWithHumanTiming(t *testing.T) {
	k, p, _, _ := start(t, td63sim.Config{KeyGap: 40 * time.Millisecond, Jitter: 10 * time.Millisecond, FirmwareMajor: 2, FirmwareMinor: 1})
	c := openController(t, p.SlavePath)
	hb := c.next(t, keypad.MsgHeartbeat)
	if h, _ := hb.f.Heartbeat(); h.Firmware() != "2.1" {
		t.Fatalf("heartbeat firmware %s, want 2.1", h.Firmware())
	}
	start := time.Now()
	if err := k.Type(t.Context(), "90#"); err != nil {
		t.Fatal(err)
	}
	// Two gaps of 40±10 ms. Timed at the sender: arrival times on a loaded
	// machine bunch up when the reading goroutine is late.
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Errorf("typing 3 keys took %v, want at least 2 × 30 ms", took)
	}
	var prev arrival
	for i, want := range []byte("90#") {
		a := c.next(t, keypad.MsgKey)
		if got, _ := a.f.Key(); got != want {
			t.Fatalf("key %d = %q, want %q", i, got, want)
		}
		if i > 0 {
			if a.f.Seq != prev.f.Seq+1 {
				t.Errorf("key seq %d after %d", a.f.Seq, prev.f.Seq)
			}
		}
		prev = a
	}
}

func TestRecordsAndAcksCommands(t *testing.T) {
	k, p, _, _ := start(t, td63sim.Config{})
	c := openController(t, p.SlavePath)
	c.next(t, keypad.MsgHeartbeat)
	from := k.Count()
	c.send(t, keypad.PollFrame(1), keypad.FeedbackDeny.LED.Frame(2), keypad.FeedbackDeny.Buzzer.Frame(3))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	fb, next, err := k.Feedback(ctx, from)
	if err != nil || fb != keypad.FeedbackDeny || next != from+2 {
		t.Fatalf("Feedback = %+v, %d, %v; want deny, %d", fb, next, err, from+2)
	}
	for _, want := range []uint8{2, 3} {
		if got, _ := c.next(t, keypad.MsgAck).f.Ack(); got != want {
			t.Fatalf("ack for %d, want %d", got, want)
		}
	}
	if l, ok := k.LED(); !ok || l != keypad.FeedbackDeny.LED {
		t.Fatalf("LED() = %+v, %v", l, ok)
	}
	if k.Polls() != 1 {
		t.Fatalf("Polls() = %d, want 1", k.Polls())
	}
	// Garbage on the line is counted by the emulator's parser, not recorded.
	if _, err := c.port.Write([]byte{0xFF, 0x02, 0xFF}); err != nil {
		t.Fatal(err)
	}
	c.send(t, keypad.FeedbackGrant.LED.Frame(4))
	if _, _, err := k.Wait(ctx, next, func(f keypad.Frame) bool { return f.Type == keypad.MsgLED }); err != nil {
		t.Fatal(err)
	}
	if st := k.LinkStats(); st.Garbage != 3 || k.Count() != from+3 {
		t.Fatalf("link stats %+v, count %d", st, k.Count())
	}
}

func TestHeartbeatPeriodAndSilence(t *testing.T) {
	k, p, _, _ := start(t, td63sim.Config{HeartbeatEvery: 30 * time.Millisecond})
	c := openController(t, p.SlavePath)
	c.next(t, keypad.MsgHeartbeat) // may have waited in the pty before we opened it
	a := c.next(t, keypad.MsgHeartbeat)
	var b arrival
	for range 5 {
		b = c.next(t, keypad.MsgHeartbeat)
	}
	// Five periods; a ticker under load may bunch two ticks, never all.
	if span := b.at.Sub(a.at); span < 100*time.Millisecond {
		t.Fatalf("5 heartbeat periods took %v, want about 150 ms", span)
	}
	k.SetHeartbeat(false)
	for len(c.frames) > 0 {
		<-c.frames
	}
	select {
	case f := <-c.frames:
		// one heartbeat may have been in flight when silenced
		select {
		case f2 := <-c.frames:
			t.Fatalf("frames after SetHeartbeat(false): %v %v", f.f, f2.f)
		case <-time.After(150 * time.Millisecond):
		}
	case <-time.After(150 * time.Millisecond):
	}
}

func TestDetachedAndUnplugged(t *testing.T) {
	k := td63sim.New(td63sim.Config{})
	if err := k.Press('1'); !errors.Is(err, td63sim.ErrDetached) {
		t.Fatalf("Press before Run: %v, want ErrDetached", err)
	}
	k2, p, done, _ := start(t, td63sim.Config{})
	openController(t, p.SlavePath).next(t, keypad.MsgHeartbeat) // attached
	if err := k2.Run(t.Context(), p.Master); err == nil {
		t.Fatal("a second Run on an attached keypad succeeded")
	}
	_ = p.Close() // unplug
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Run returned nil after the line closed, want an error")
		}
		done <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after unplug")
	}
	if err := k2.Type(t.Context(), "1"); !errors.Is(err, td63sim.ErrDetached) {
		t.Fatalf("Type after unplug: %v, want ErrDetached", err)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	_, _, done, cancel := start(t, td63sim.Config{})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run on cancel = %v, want nil", err)
		}
		done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel: the pty read was not interrupted")
	}
}

// TestStuckLineDoesNotHang leaves the controller side unread until the pty
// fills: the emulator's writes time out instead of blocking Run forever.
func TestStuckLineDoesNotHang(t *testing.T) {
	k, _, done, cancel := start(t, td63sim.Config{HeartbeatEvery: time.Hour})
	for deadline := time.Now().Add(5 * time.Second); !k.Attached(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Run never attached")
		}
	}
	junk := make([]byte, 4096)
	var err error
	for range 64 { // far more than a pty buffers
		if err = k.WriteRaw(junk); err != nil {
			break
		}
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("256 KB written into a pty nobody reads: %v, want a write timeout", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v on cancel", err)
		}
		done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run hung after its line filled up")
	}
}
