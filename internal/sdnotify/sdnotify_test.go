package sdnotify

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

func read(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 256)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestNotify(t *testing.T) {
	c := listen(t)
	if err := Notify("READY=1"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != "READY=1" {
		t.Errorf("got %q, want READY=1", got)
	}
}

func TestNoSocketIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Notify("READY=1"); err != nil {
		t.Errorf("Notify without socket = %v", err)
	}
}

func TestWatchdog(t *testing.T) {
	c := listen(t)
	t.Setenv("WATCHDOG_USEC", "20000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(0))
	if got := WatchdogInterval(); got != 0 {
		t.Errorf("interval for another pid = %v, want 0", got)
	}
	t.Setenv("WATCHDOG_PID", "")
	iv := WatchdogInterval()
	if iv != 10*time.Millisecond {
		t.Fatalf("interval = %v, want 10ms", iv)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- Watchdog(ctx, iv, func() bool { return true }) }()
	if got := read(t, c); got != "WATCHDOG=1" {
		t.Errorf("got %q, want WATCHDOG=1", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watchdog returned %v on cancel", err)
	}
}
