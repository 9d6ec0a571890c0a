package main

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/intercomd/intercomd/internal/demo"
	"github.com/intercomd/intercomd/localapi"
)

// startDaemon runs the daemon in-process on the demo's config and returns
// it once its socket answers.
func startDaemon(t *testing.T, s *demo.Setup) (*daemon, *localapi.Client, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan *daemon, 1)
	testHook = func(d *daemon) { got <- d }
	t.Cleanup(func() { testHook = nil })
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--sim", "--config", s.Config}, io.Discard, t.Output()) }()
	ctl, err := s.WaitSocket(ctx, 30*time.Second)
	if err != nil {
		cancel()
		t.Fatal(err, <-done)
	}
	d := <-got
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			t.Error("daemon did not stop within 15 s")
			return nil
		}
	})
	t.Cleanup(func() { stop() })
	return d, ctl, stop
}

// TestDemoScenario plays `make demo`'s scripted visit with the daemon
// in-process: every step must match.
func TestDemoScenario(t *testing.T) {
	s, err := demo.Prepare(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cloud, err := s.Cloud(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cloud.Close()
	d, ctl, stop := startDaemon(t, s)
	var out strings.Builder
	steps, err := demo.Play(t.Context(), demo.Env{Device: s.Device, Ctl: ctl, Cloud: demo.InProcess{C: cloud}, Out: &out})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) < 14 {
		t.Errorf("played %d steps, want at least 14", len(steps))
	}
	if err := stop(); err != nil {
		t.Errorf("daemon stopped with %v", err)
	}
	// Every change the relay output saw came from a grant or the script's
	// relock: it ends locked.
	if l, ok := d.hw.sim.relay.Level(); !ok || l != lockedLevel(d.cfg) {
		t.Errorf("relay ends at %v (driven %v), want locked", l, ok)
	}
}

// TestShutdownWhileUnlockedLocks: SIGTERM (context cancel) while the door is
// unlocked leaves the relay locked.
func TestShutdownWhileUnlockedLocks(t *testing.T) {
	s, err := demo.Prepare(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, ctl, stop := startDaemon(t, s)
	if err := ctl.Relay(t.Context(), localapi.RelayUnlock, 0); err != nil {
		t.Fatal(err)
	}
	if l, _ := d.hw.sim.relay.Level(); l == lockedLevel(d.cfg) {
		t.Fatal("relay did not unlock")
	}
	if err := stop(); err != nil {
		t.Errorf("daemon stopped with %v", err)
	}
	hist := d.hw.sim.relay.History()
	if len(hist) == 0 || hist[len(hist)-1].Level != lockedLevel(d.cfg) {
		t.Fatalf("relay history %v does not end locked", hist)
	}
	if hist[0].Level != lockedLevel(d.cfg) {
		t.Errorf("first level driven at start was %v, want locked (never pulse at boot)", hist[0].Level)
	}
}

// TestStartLocksBeforeAnything: a daemon that cannot open its store still
// drove the relay locked first, and never unlocked it.
func TestStartLocksBeforeAnything(t *testing.T) {
	s, err := demo.Prepare(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cfg, err := LoadConfig(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Hardware = "sim"
	cfg.Database = "/proc/not-a-dir/intercomd.db" // cannot be created
	var seen *daemon
	testHook = func(d *daemon) { seen = d }
	defer func() { testHook = nil }()
	d := &daemon{cfg: cfg, stdout: io.Discard}
	err = d.run(t.Context(), t.Output())
	if err == nil {
		t.Fatal("run succeeded with an impossible database path")
	}
	if seen != nil {
		t.Error("daemon reported ready without a store")
	}
	hist := d.hw.sim.relay.History()
	if len(hist) == 0 {
		t.Fatal("relay never driven")
	}
	for _, c := range hist {
		if c.Level != gpio.Level(d.cfg.Relay.ActiveLow) {
			t.Errorf("relay driven to %v during a failed start", c.Level)
		}
	}
}

// TestPanicInAPartLocks: a panic in a part's goroutine halts the relay
// before it propagates.
func TestPanicInAPartLocks(t *testing.T) {
	s, err := demo.Prepare(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, ctl, _ := startDaemon(t, s)
	if err := ctl.Relay(t.Context(), localapi.RelayUnlock, 0); err != nil {
		t.Fatal(err)
	}
	if l, _ := d.hw.sim.relay.Level(); l == lockedLevel(d.cfg) {
		t.Fatal("relay did not unlock")
	}
	var wg sync.WaitGroup
	recovered := make(chan any, 1)
	d.spawnWith(&wg, "panicky", func() error { panic("part failed") }, func(r any) { recovered <- r })
	wg.Wait()
	if r := <-recovered; r != "part failed" {
		t.Fatalf("panic value %v not passed on", r)
	}
	if l, _ := d.hw.sim.relay.Level(); l != lockedLevel(d.cfg) {
		t.Errorf("relay at %v after a panic, want locked", l)
	}
}

// TestQuickRestarts starts and stops the daemon at once, repeatedly: every
// part must stop promptly even when it has only just started (a keypad read
// that was never unblocked once hung shutdown).
func TestQuickRestarts(t *testing.T) {
	s, err := demo.Prepare(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 10 {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"--sim", "--config", s.Config}, io.Discard, io.Discard) }()
		time.Sleep(time.Duration(i*15) * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("run %d did not stop within 10 s", i)
		}
	}
}
