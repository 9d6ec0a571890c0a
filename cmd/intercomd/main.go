// Command intercomd is the door intercom daemon: it reads credentials from
// the camera, the TD63 keypad, a Wiegand reader and the cloud, decides them
// against the bbolt cache of visit keys, and drives the door relay.
//
// This file is the composition root and nothing else: every part lives in
// its own package, and this is where they meet.
//
//	device (pins, serial, camera) ─▶ reader/{wiegand,keypad,qr} ─▶ pipeline ─▶ relay
//	                                   sync/mqttsync ⇄ store ◀──────┘ (access.Engine decides)
//	localapi (technician socket) ◀▶ the daemon as a Backend
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	_ "time/tzdata" // visit windows are evaluated in the site's zone, on boards without zoneinfo

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/device/camera"
	"github.com/intercomd/intercomd/internal/sdnotify"
	"github.com/intercomd/intercomd/localapi"
	"github.com/intercomd/intercomd/reader/keypad"
	"github.com/intercomd/intercomd/reader/qr"
	"github.com/intercomd/intercomd/reader/wiegand"
	"github.com/intercomd/intercomd/relay"
	"github.com/intercomd/intercomd/store"
)

// Set at link time: -ldflags "-X main.version=… -X main.buildTime=2026-12-03T12:00:00Z".
var (
	version   = "dev"
	buildTime = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "intercomd:", err)
		os.Exit(1)
	}
}

// run is the whole daemon; it returns when ctx ends, after a fail-secure
// shutdown. ready, if not nil, is called once the daemon serves.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("intercomd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/intercomd/intercomd.toml", "configuration file")
	sim := fs.Bool("sim", false, "run on simulated hardware (same as hardware = \"sim\")")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Fprintf(stdout, "intercomd %s (built %s, schema %d)\n", version, builtAt().Format(time.RFC3339), store.SchemaVersion)
		return nil
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *sim {
		cfg.Hardware = "sim"
	}
	d := &daemon{cfg: cfg, stdout: stdout}
	return d.run(ctx, stderr)
}

// testHook, if set, sees the daemon once it is ready (tests only).
var testHook func(*daemon)

// daemon holds the running parts.
type daemon struct {
	cfg    *Config
	stdout io.Writer
	log    *slog.Logger
	level  slog.LevelVar

	hw      *hardware
	door    *relay.Door
	db      *store.DB
	engine  *access.Engine
	pipe    *pipeline
	bus     *bus
	metrics *metrics
	clock   *clockSource

	emitq  chan access.Event
	errs   chan error // a part that stopped with an error
	link   *cloudLink
	socket *localapi.Server

	lastSync   atomic.Int64 // unix nanos of the last applied sync batch
	unlockTime atomic.Int64 // cloud-set unlock time; 0 means the configured one

	wiegand *wiegand.Reader
	keypad  *keypad.Reader
	camera  *camera.Camera
	qr      *qr.Reader
	started time.Time
}

func (d *daemon) run(ctx context.Context, stderr io.Writer) (err error) {
	cfg := d.cfg
	d.started = time.Now()
	d.log = newLogger(stderr, cfg.Log.Format, &d.level)
	if err := d.level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}

	// Fail secure, step one: the relay is driven locked before anything
	// else, and stays locked on every way out of this function.
	d.hw, err = openRelay(cfg)
	if err != nil {
		return err
	}
	if err := d.hw.relay.Out(lockedLevel(cfg)); err != nil {
		return fmt.Errorf("relay: drive locked: %w", err)
	}
	defer d.hw.close()
	runDir := filepath.Dir(cfg.Debug.Socket)
	if err := os.MkdirAll(runDir, 0o750); err != nil {
		return fmt.Errorf("run dir: %w", err)
	}
	if err := d.hw.openInputs(cfg, runDir); err != nil {
		return err
	}
	d.bus = newBus(1024)
	d.emitq = make(chan access.Event, 4096)
	d.door, err = relay.New(relay.Config{
		Name:          "door0",
		ActiveLow:     cfg.Relay.ActiveLow,
		UnlockTime:    cfg.Relay.UnlockTime.Duration,
		HeldOpen:      cfg.Relay.HeldOpenTime.Duration,
		DPIOpenLow:    cfg.Relay.DPIOpenLow,
		REXActiveHigh: cfg.Relay.REXActiveHigh,
		REXInLockdown: cfg.Relay.REXInLockdown,
		NoREXUnlock:   cfg.Relay.REXReportOnly,
		RelockOnClose: cfg.Relay.RelockOnClose,
		Debounce:      cfg.Relay.Debounce.Duration,
	}, d.hw.relay, d.hw.dpi, d.hw.rex, d.emitAsync, d.log.With("part", "relay"))
	if err != nil {
		return err
	}
	defer d.door.Halt()
	defer d.door.HaltOnPanic()

	siteKey, err := readSiteKey(cfg.SiteKeyFile)
	if err != nil {
		return err
	}
	hasher, err := access.NewHasher(siteKey)
	if err != nil {
		return fmt.Errorf("site key %s: %w", cfg.SiteKeyFile, err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Database), 0o700); err != nil {
		return fmt.Errorf("database dir: %w", err)
	}
	d.db, err = store.Open(cfg.Database, store.Options{OutboxMax: cfg.Access.OutboxMax, Logger: d.log.With("part", "store")})
	if err != nil {
		return err // the relay is locked; a corrupt or locked store is never recreated
	}
	defer d.db.Close()

	d.clock = &clockSource{build: builtAt(), tolerance: cfg.Access.ClockTolerance.Duration, nowFunc: time.Now}
	if t, err := d.db.NewestServerTime(); err == nil && !t.IsZero() {
		d.clock.observe(t)
	}
	engCfg, err := d.engineConfig()
	if err != nil {
		return err
	}
	d.engine = access.New(engCfg, d.db, hasher)
	if states, err := d.db.LockoutStates(); err != nil {
		d.log.Warn("lockout state not restored", "err", err)
	} else {
		d.engine.RestoreLockout(states)
	}
	if engCfg.Lockdown {
		d.door.SetLockdown(true, "config")
	}
	if cfg.Metrics.Listen != "" {
		d.metrics = newMetrics()
	}
	if raw, err := d.db.DeviceConfig(); err == nil && len(raw) > 0 {
		var cc cloudConfig
		if json.Unmarshal(raw, &cc) == nil && cc.UnlockTime != "" {
			if t, err := time.ParseDuration(cc.UnlockTime); err == nil {
				d.unlockTime.Store(int64(t))
			}
		}
	}
	d.pipe = &pipeline{engine: d.engine, db: d.db, clock: d.clock, door: doorGranter{d}, bus: d.bus, metrics: d.metrics, log: d.log.With("part", "decide")}

	// The cloud link is built (not started) before any part runs, so that
	// the pipeline's hook to wake the outbox drain is set once.
	if d.link, err = d.newCloudLink(); err != nil {
		return err
	}
	if d.link != nil {
		d.pipe.kick = d.link.client.Kick
	}

	// Inputs run under their own context so that shutdown stops them first.
	inCtx, stopInputs := context.WithCancel(ctx)
	defer stopInputs()
	var inputs, services sync.WaitGroup
	d.errs = make(chan error, 16)
	goRun := d.spawn
	goRun(&inputs, "door", func() error { return d.door.Run(inCtx) })
	d.startReaders(inCtx, &inputs, goRun)
	if err := d.startCamera(inCtx, runDir, &inputs, goRun); err != nil {
		return err
	}
	goRun(&services, "events", func() error { return d.runEmitter(ctx) })
	if d.link != nil {
		goRun(&services, "sync", func() error { return d.link.client.Run(ctx) })
		goRun(&services, "sync-watch", func() error { return d.link.watch(ctx) })
	}
	goRun(&services, "maintenance", func() error { return d.maintain(ctx, time.Hour) })
	if err := d.serveSocket(ctx, &services, goRun); err != nil {
		return err
	}
	if d.metrics != nil {
		d.registerMetrics()
		goRun(&services, "metrics", func() error { return d.metrics.serve(ctx, cfg.Metrics.Listen, d.log) })
	}

	if testHook != nil {
		testHook(d)
	}
	sdnotify.Notify("READY=1")
	goRun(&services, "watchdog", func() error {
		return sdnotify.Watchdog(ctx, sdnotify.WatchdogInterval(), func() bool { return true })
	})
	d.log.Info("intercomd ready", "version", version, "device", cfg.DeviceID, "hardware", cfg.Hardware,
		"startup", time.Since(d.started).Round(time.Millisecond))
	fmt.Fprintf(d.stdout, "READY %s\n", cfg.Debug.Socket)

	select {
	case <-ctx.Done():
	case err = <-d.errs:
	}

	// Fail-secure shutdown: stop the inputs, halt the relay, flush the
	// outbox, close the store (deferred).
	sdnotify.Notify("STOPPING=1")
	d.log.Info("shutting down")
	stopInputs()
	d.door.Halt() // at once: a reader that is slow to stop must not hold the door
	if !waitFor(&inputs, 5*time.Second) {
		d.log.Error("inputs did not stop within 5 s; continuing shutdown")
	}
	services.Wait()
	d.flushEmitter()
	return err
}

func (d *daemon) startReaders(ctx context.Context, wg *sync.WaitGroup, goRun func(*sync.WaitGroup, string, func() error)) {
	cfg := d.cfg
	if d.hw.edges != nil && (cfg.Wiegand.Enabled || d.hw.sim != nil) {
		creds := make(chan access.Credential, 16)
		d.wiegand = wiegand.New(wiegandConfig(cfg),
			d.hw.edges, creds, d.emitAsync, d.log.With("part", "wiegand"))
		goRun(wg, "wiegand", func() error { return d.wiegand.Run(ctx) })
		goRun(wg, "wiegand-decide", func() error { return d.decideFrom(ctx, creds) })
	}
	if d.hw.keypad != nil && (cfg.Keypad.Enabled || d.hw.sim != nil) {
		d.keypad = keypad.New(keypad.Config{DigitTimeout: cfg.Keypad.DigitTimeout.Duration}, d.hw.keypad,
			d.pipe.decide, d.emitAsync, d.log.With("part", "keypad"))
		goRun(wg, "keypad", func() error { return d.keypad.Run(ctx) })
		if s := d.hw.sim; s != nil {
			goRun(wg, "td63sim", func() error { return runEmulator(ctx, s) })
		}
	}
}

// wiegandConfig maps the file's [wiegand] table onto the reader's config.
func wiegandConfig(cfg *Config) wiegand.Config {
	w := cfg.Wiegand
	c := wiegand.Config{EOFMin: w.EOFMin.Duration, EOFMax: w.EOFMax.Duration, PINTimeout: w.PINTimeout.Duration}
	if w.Prefer37 != "" {
		c.Decode.Prefer37, _ = wiegand.ParseFormat(w.Prefer37) // validated with the config
	}
	switch w.Raw {
	case "no_parity":
		c.Decode.Raw = wiegand.RawNoParity
	case "reject":
		c.Decode.Raw = wiegand.RawReject
	}
	return c
}

// waitFor waits for wg, at most d; it reports whether wg finished.
func waitFor(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// spawn runs a part in its own goroutine on wg. A part that fails stops the
// daemon; a part that panics locks the door before the panic goes on.
func (d *daemon) spawn(wg *sync.WaitGroup, name string, f func() error) {
	d.spawnWith(wg, name, f, nil)
}

// spawnWith is spawn with a hook that, if set, receives a panic after the
// door is halted instead of letting it crash the process (tests only).
func (d *daemon) spawnWith(wg *sync.WaitGroup, name string, f func() error, onPanic func(any)) {
	wg.Go(func() {
		if onPanic != nil {
			defer func() {
				if r := recover(); r != nil {
					onPanic(r)
				}
			}()
		}
		defer d.door.HaltOnPanic()
		if err := f(); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Error("part stopped", "part", name, "err", err)
			select {
			case d.errs <- fmt.Errorf("%s: %w", name, err):
			default:
			}
		}
	})
}

// tombstoneGrace is how long after a deleted visit's end its tombstone is
// kept. Past its end a visit can no longer grant, so a stale update that
// revived it would still be refused; the grace only keeps it visible to
// technicians and to late deletes for a while.
const tombstoneGrace = 7 * 24 * time.Hour

// maintain purges old tombstones every interval, so that a long-running
// device's cache does not grow with every visit ever deleted.
func (d *daemon) maintain(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		clk := d.clock.now()
		if clk.Trusted { // never purge on a clock that may be years ahead
			if n, err := d.db.PurgeTombstones(clk.Now, tombstoneGrace); err != nil {
				d.log.Warn("tombstone purge failed", "err", err)
			} else if n > 0 {
				d.log.Info("tombstones purged", "n", n)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// decideFrom decides every credential a reader delivers on creds.
func (d *daemon) decideFrom(ctx context.Context, creds <-chan access.Credential) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-creds:
			d.pipe.decide(ctx, c)
		}
	}
}

// runEmulator keeps the simulated keypad attached to the pty's far end.
// Reading the master fails (EIO) whenever the reader has the slave closed,
// e.g. while it reconnects, so the emulator re-attaches to the same master
// promptly; a real keypad simply keeps its line.
func runEmulator(ctx context.Context, s *simHardware) error {
	for ctx.Err() == nil {
		if m := s.link.Master(); m != nil {
			s.pad.Run(ctx, m)
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// engineConfig is the file's access settings, overlaid with what the cloud
// last set (persisted in the store's meta).
func (d *daemon) engineConfig() (access.Config, error) {
	cfg := d.cfg
	loc, err := time.LoadLocation(cfg.Site.TimeZone)
	if err != nil {
		return access.Config{}, err
	}
	ec := access.Config{
		Intercom:         cfg.Intercom,
		VisitKeysEnabled: *cfg.Access.VisitKeysEnabled,
		DoorMode:         access.DoorModeNormal,
		Location:         loc,
		SingleUseWindow:  cfg.Access.SingleUseWindow.Duration,
	}
	if cfg.Access.DoorMode == "third_party" {
		ec.DoorMode = access.DoorModeThirdParty
	}
	if raw, err := d.db.DeviceConfig(); err == nil && len(raw) > 0 {
		if err := overlayCloudConfig(&ec, raw); err != nil {
			d.log.Warn("stored cloud config ignored", "err", err)
		}
	}
	return ec, nil
}

// doorGranter adapts the relay to the pipeline, with the unlock time the
// cloud may have set.
type doorGranter struct{ d *daemon }

func (g doorGranter) Grant(visitID string) error {
	if t := time.Duration(g.d.unlockTime.Load()); t > 0 {
		return g.d.door.Pulse(t, "grant")
	}
	return g.d.door.Unlock("grant")
}

// readSiteKey reads the hex site key. Like ssh with a private key, it
// refuses a file that other users can read or write: anyone with the key
// can test guesses against the credential hashes offline.
func readSiteKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("site key: %w", err)
	}
	if fi.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("site key %s: mode %v lets other users read or write it; chmod 600 (or 640 with a trusted group)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("site key: %w", err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("site key %s: not hex: %w", path, err)
	}
	return k, nil
}

func newLogger(w io.Writer, format string, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// builtAt is the build time: from the linker flag, else the VCS commit time,
// else a fixed floor. A clock before it is not trusted.
func builtAt() time.Time {
	if t, err := time.Parse(time.RFC3339, buildTime); err == nil {
		return t
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					return t
				}
			}
		}
	}
	return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
}
