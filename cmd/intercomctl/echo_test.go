package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/intercomd/intercomd/localapi/localapitest"
)

// signalWriter closes ready on the first write.
type signalWriter struct {
	ready chan struct{}
	done  bool
}

func (w *signalWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.done = true
		close(w.ready)
	}
	return len(b), nil
}

// TestSecretNotEchoed types a PIN into a real terminal (a pty) at the
// explain prompt: the terminal must not echo it, and must echo again after.
func TestSecretNotEchoed(t *testing.T) {
	fake := localapitest.Sample(now)
	path := serve(t, fake)
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	prompt := &signalWriter{ready: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		errc <- run(t.Context(), []string{"--socket", path, "explain", "--kind", "pin", "--value", "-"}, tty, io.Discard, prompt)
	}()
	select {
	case <-prompt.ready: // echo is off once the prompt is out
	case <-time.After(10 * time.Second):
		t.Fatal("no prompt on stderr for a terminal stdin")
	}
	if _, err := master.Write([]byte("24680\n")); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("explain: %v", err)
	}
	if got := fake.Calls()[0].Credential.Value; got != "24680" {
		t.Errorf("value sent = %q", got)
	}
	tios, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tios.Lflag&unix.ECHO == 0 {
		t.Error("terminal echo not restored")
	}
	tty.Close()
	echoed, _ := io.ReadAll(master) // ends with EIO once the tty side is closed
	if strings.Contains(string(echoed), "2468") {
		t.Errorf("the terminal echoed the PIN: %q", echoed)
	}
}
