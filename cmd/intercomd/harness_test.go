package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/internal/demo"
	"github.com/intercomd/intercomd/localapi"
	"github.com/intercomd/intercomd/sync/cloudsim"
)

// This file holds the helpers of the reliability and security tests
// (badinput_test.go, security_test.go): a daemon whose log is captured, and
// a recorder of everything it publishes on its event bus.

// logBuf is a goroutine-safe log sink that keeps every byte.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Len is the number of bytes logged so far: a mark to search from.
func (l *logBuf) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// Since returns what was logged after mark.
func (l *logBuf) Since(mark int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b.Bytes()[min(mark, l.b.Len()):])
}

// recorder keeps every event the daemon publishes.
type recorder struct {
	mu  sync.Mutex
	evs []access.Event
}

func (r *recorder) follow(ctx context.Context, ch <-chan access.Event) {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-ch:
				if !ok {
					return
				}
				r.mu.Lock()
				r.evs = append(r.evs, e)
				r.mu.Unlock()
			}
		}
	}()
}

func (r *recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.evs)
}

func (r *recorder) Since(mark int) []access.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]access.Event(nil), r.evs[min(mark, len(r.evs)):]...)
}

// daemonRun is one in-process daemon with its log and events.
type daemonRun struct {
	d    *daemon
	ctl  *localapi.Client
	log  *logBuf
	evs  *recorder
	stop func() error
}

var startMu sync.Mutex

// startLogged runs the daemon in-process on s's config (plus args), with its
// log captured (and copied to the test's output when verbose).
func startLogged(t *testing.T, s *demo.Setup, args ...string) *daemonRun {
	t.Helper()
	// testHook is one global: parallel tests take turns to start.
	startMu.Lock()
	defer startMu.Unlock()
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan *daemon, 1)
	testHook = func(d *daemon) { got <- d }
	lb := &logBuf{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"--sim", "--config", s.Config}, args...), &bytes.Buffer{}, lb)
	}()
	var d *daemon
	select {
	case d = <-got:
	case err := <-done:
		cancel()
		t.Fatalf("daemon did not start: %v\n%s", err, lb.Since(0))
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("daemon not ready within 30 s\n%s", lb.Since(0))
	}
	testHook = nil
	r := &daemonRun{d: d, log: lb, evs: &recorder{}}
	r.evs.follow(ctx, d.bus.subscribe(ctx))
	ctl, err := s.WaitSocket(ctx, 30*time.Second)
	if err != nil {
		cancel()
		t.Fatal(err, <-done)
	}
	r.ctl = ctl
	r.stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			t.Error("daemon did not stop within 15 s")
			return nil
		}
	})
	t.Cleanup(func() { r.stop() })
	return r
}

// prepare starts a private broker and writes a sim config (demo.Prepare),
// and connects the cloud stand-in; both end with the test.
func prepare(t *testing.T) (*demo.Setup, *cloudsim.Cloud) {
	t.Helper()
	s, err := demo.Prepare(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	cloud, err := s.Cloud(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cloud.Close)
	return s, cloud
}

// waitUntil polls cond every 20 ms until it holds or within passes; it
// reports whether it held.
func waitUntil(ctx context.Context, within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventText is an event as one searchable line.
func eventText(e access.Event) string {
	return strings.Join([]string{string(e.Type), string(e.Reason), e.Kind, e.Reader, e.VisitID, e.Detail}, " ")
}
