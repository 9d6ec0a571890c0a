// Package sdnotify speaks systemd's notify protocol: READY=1, STOPPING=1 and
// watchdog pings on the datagram socket named by $NOTIFY_SOCKET. Without that
// variable every call is a no-op, so the daemon runs the same outside systemd.
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Notify sends state (e.g. "READY=1") to the socket in $NOTIFY_SOCKET. It
// returns nil when there is no socket.
func Notify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' { // abstract namespace
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sdnotify: dial: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sdnotify: write: %w", err)
	}
	return nil
}

// WatchdogInterval returns half of $WATCHDOG_USEC, the interval at which to
// ping, or 0 when the watchdog is off (or meant for another process).
func WatchdogInterval() time.Duration {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond / 2
}

// Watchdog pings WATCHDOG=1 every interval while healthy() is true, until ctx
// ends. A daemon that stops being healthy stops pinging, and systemd restarts it.
func Watchdog(ctx context.Context, interval time.Duration, healthy func() bool) error {
	if interval <= 0 {
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if healthy == nil || healthy() {
				if err := Notify("WATCHDOG=1"); err != nil {
					return err
				}
			}
		}
	}
}
