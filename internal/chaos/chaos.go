package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/internal/demo"
	"github.com/intercomd/intercomd/localapi"
	"github.com/intercomd/intercomd/store"
	"github.com/intercomd/intercomd/sync/cloudsim"
	"github.com/intercomd/intercomd/sync/wire"
)

// Phase is what the daemon is busy with when it is killed.
type Phase int

// Phases, in the order iterations cycle through them.
const (
	PhaseSnapshot  Phase = iota // applying a snapshot (a resync, or the start's own)
	PhaseDelta                  // applying a burst of deltas
	PhaseSingleUse              // consuming a single-use key
	PhaseOutbox                 // draining a pile of events to the broker
	numPhases
)

func (p Phase) String() string {
	switch p {
	case PhaseSnapshot:
		return "snapshot"
	case PhaseDelta:
		return "delta"
	case PhaseSingleUse:
		return "single-use"
	case PhaseOutbox:
		return "outbox"
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

// Options configure Run. Zero values mean the documented defaults.
type Options struct {
	Binary     string // the intercomd binary (required)
	Dir        string // work directory (required); the daemon's log is Dir/daemon.log
	Iterations int    // default 200
	Seed       uint64 // default: from the clock
	Visits     int    // visits in the cloud at the start, default 300
	// MaxPause is the longest broker freeze (SIGSTOP); default 30 s.
	MaxPause time.Duration
	// BrokerEvery and PauseEvery: every BrokerEvery-th iteration kills and
	// restarts the broker, every PauseEvery-th freezes it. Defaults 8 and 25.
	BrokerEvery, PauseEvery int
	// SingleUseWindow is the daemon's single-use window, short so that the
	// "never twice outside the window" rule is exercised; default 10 s
	// (the daemon's minimum).
	SingleUseWindow time.Duration
	Logger          *slog.Logger // progress; default discard
}

// Report is the outcome of a run.
type Report struct {
	Iterations       int
	Failures         int // iterations with at least one problem
	EventsCommitted  int // distinct event ids seen in an outbox after a kill
	EventsReceived   int // distinct event ids the cloud received
	EventsLost       int // committed ids the cloud never received
	EventsDuplicated int // extra copies the cloud received (same id)
	Grants           int
	Kills            map[string]int // by phase
	BrokerKills      int
	BrokerPauses     int
	Problems         []string // the first problems, for the log
}

// Run runs the chaos rounds. It returns an error only if the world cannot
// be set up; failed checks are counted in the report.
func Run(ctx context.Context, opt Options) (*Report, error) {
	if opt.Binary == "" || opt.Dir == "" {
		return nil, errors.New("chaos: Binary and Dir are required")
	}
	if opt.Iterations <= 0 {
		opt.Iterations = 200
	}
	if opt.Seed == 0 {
		opt.Seed = uint64(time.Now().UnixNano())
	}
	if opt.Visits <= 0 {
		opt.Visits = 300
	}
	if opt.MaxPause <= 0 {
		opt.MaxPause = 30 * time.Second
	}
	if opt.BrokerEvery <= 0 {
		opt.BrokerEvery = 8
	}
	if opt.PauseEvery <= 0 {
		opt.PauseEvery = 25
	}
	if opt.SingleUseWindow <= 0 {
		opt.SingleUseWindow = 10 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	h := &harness{opt: opt, log: opt.Logger, rng: rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15)),
		recv: map[string]int{}, first: map[string]string{}, pending: map[string]bool{}, probes: map[string]bool{}, singleUse: map[string]*suVisit{},
		rep: Report{Kills: map[string]int{}}}
	if err := h.setup(ctx); err != nil {
		h.close()
		return nil, err
	}
	defer h.close()
	h.log.Info("chaos: world ready", "seed", opt.Seed, "visits", opt.Visits, "dir", opt.Dir)
	for i := 0; i < opt.Iterations && ctx.Err() == nil; i++ {
		problems := h.iteration(ctx, i)
		h.rep.Iterations++
		if len(problems) > 0 {
			h.rep.Failures++
			for _, p := range problems {
				h.log.Error("chaos: check failed", "iteration", i, "problem", p)
				if len(h.rep.Problems) < 50 {
					h.rep.Problems = append(h.rep.Problems, fmt.Sprintf("iteration %d: %s", i, p))
				}
			}
		}
	}
	h.final(ctx)
	return &h.rep, nil
}

type suVisit struct {
	id, pin string
}

type harness struct {
	opt   Options
	log   *slog.Logger
	rng   *rand.Rand
	s     *demo.Setup
	cloud *cloudsim.Cloud

	mu      sync.Mutex
	recv    map[string]int    // event id → copies received by the cloud
	first   map[string]string // event id → its first copy, canonical JSON
	evs     []access.Event    // first copies, in arrival order
	checked int               // evs already checked for single-use and relay rules

	probes    map[string]bool // probe event ids the cloud received
	pending   map[string]bool // ids seen in an outbox after a kill
	singleUse map[string]*suVisit
	live      []string // cloud visit ids that may be deleted by the load
	multi     []string // PINs of multi-use visits, for load

	padMu    [2]sync.Mutex
	proc     *exec.Cmd
	procDone chan error
	logFile  *os.File
	ctl      *localapi.Client
	rep      Report
}

func (h *harness) setup(ctx context.Context) error {
	if err := os.MkdirAll(h.opt.Dir, 0o755); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	s, err := demo.Prepare(h.opt.Dir)
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	h.s = s
	cfg, err := os.ReadFile(s.Config)
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	cfg = append(cfg, fmt.Sprintf("\n[access]\nsingle_use_window = %q\n", h.opt.SingleUseWindow)...)
	if err := os.WriteFile(s.Config, cfg, 0o600); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	h.logFile, err = os.OpenFile(filepath.Join(h.opt.Dir, "daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	hasher, err := access.NewHasher(s.SiteKey)
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	h.cloud, err = cloudsim.Dial(ctx, cloudsim.Options{Broker: s.Broker.URL(), Hasher: hasher, State: cloudsim.NewState(), OnEvents: h.onEvents, Logger: h.log})
	if err != nil {
		return fmt.Errorf("chaos: cloud: %w", err)
	}
	for range h.opt.Visits {
		if err := h.create(false); err != nil {
			return fmt.Errorf("chaos: create visit: %w", err)
		}
	}
	return h.start(ctx, -1)
}

func (h *harness) close() {
	h.kill()
	if h.cloud != nil {
		h.cloud.Close()
	}
	if h.s != nil {
		h.s.Close()
	}
	if h.logFile != nil {
		h.logFile.Close()
	}
}

// probeDevice is the device name of the harness's own probe events.
const probeDevice = "chaos-probe"

// cloudReady waits until the cloud stand-in receives events again: it
// publishes a probe batch on a device topic of its own and waits for it.
func (h *harness) cloudReady(ctx context.Context) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		id := access.NewEventID()
		b := &wire.EventBatch{V: 1, Device: probeDevice, Events: []access.Event{{ID: id, Type: access.EventDaemon, At: time.Now().UTC(), Detail: "chaos probe"}}}
		if err := h.cloud.Publish(wire.TopicEvents.Name(probeDevice), b, false); err == nil {
			for range 10 {
				h.mu.Lock()
				ok := h.probes[id]
				h.mu.Unlock()
				if ok {
					return
				}
				sleep(ctx, 50*time.Millisecond)
			}
		} else {
			sleep(ctx, 200*time.Millisecond)
		}
	}
	h.log.Warn("chaos: the cloud stand-in did not resubscribe within 20 s")
}

func (h *harness) onEvents(device string, b *wire.EventBatch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if device == probeDevice {
		for _, e := range b.Events {
			h.probes[e.ID] = true
		}
		return
	}
	for _, e := range b.Events {
		raw, _ := json.Marshal(e)
		h.recv[e.ID]++
		if h.recv[e.ID] == 1 {
			h.first[e.ID] = string(raw)
			h.evs = append(h.evs, e)
		} else if h.first[e.ID] != string(raw) {
			h.first[e.ID] = "MISMATCH " + string(raw)
		}
	}
}

// create makes a visit in the cloud (which publishes its delta).
func (h *harness) create(single bool) error {
	now := time.Now()
	v, err := h.cloud.Create(cloudsim.Spec{Intercoms: []string{h.s.Device}, SingleUse: single,
		Start: now.Add(-time.Minute), End: now.Add(12 * time.Hour), GenPIN: true})
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if single {
		h.singleUse[v.ID] = &suVisit{id: v.ID, pin: v.Secrets.PIN}
	} else {
		h.live = append(h.live, v.ID)
		h.multi = append(h.multi, v.Secrets.PIN)
	}
	return nil
}

// deleteOne deletes a random multi-use visit.
func (h *harness) deleteOne(rng *rand.Rand) error {
	h.mu.Lock()
	if len(h.live) < 10 {
		h.mu.Unlock()
		return nil
	}
	i := rng.IntN(len(h.live))
	id := h.live[i]
	h.live = slices.Delete(h.live, i, i+1)
	h.mu.Unlock()
	return h.cloud.Delete(id)
}

// start runs the daemon as a child process and waits for its socket.
func (h *harness) start(ctx context.Context, iteration int) error {
	fmt.Fprintf(h.logFile, "\n=== chaos: start before iteration %d at %s ===\n", iteration+1, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(h.opt.Binary, "--sim", "--config", h.s.Config)
	cmd.Stdout, cmd.Stderr = h.logFile, h.logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("chaos: start intercomd: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	h.proc, h.procDone = cmd, done
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
			done <- errors.New("exited") // let kill see it too
		case <-wctx.Done():
		}
	}()
	ctl, err := h.s.WaitSocket(wctx, 30*time.Second)
	if err != nil {
		return fmt.Errorf("chaos: intercomd did not come up: %w", err)
	}
	h.ctl = ctl
	return nil
}

// kill SIGKILLs the daemon and waits for it to die.
func (h *harness) kill() {
	if h.proc == nil {
		return
	}
	h.proc.Process.Signal(syscall.SIGKILL)
	select {
	case <-h.procDone:
	case <-time.After(10 * time.Second):
	}
	h.proc = nil
}

// load runs background traffic until ctx ends: visits created and deleted,
// PINs typed, the door opened and closed.
func (h *harness) load(ctx context.Context, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for ctx.Err() == nil {
		switch rng.IntN(6) {
		case 0:
			h.create(rng.IntN(4) == 0)
		case 1:
			h.deleteOne(rng)
		case 2, 3:
			h.mu.Lock()
			pin := h.multi[rng.IntN(len(h.multi))]
			h.mu.Unlock()
			format := ""
			if rng.IntN(3) == 0 {
				format = "wiegand"
			}
			h.typePIN(ctx, pin, format)
		case 4:
			h.ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimDoor, Door: "open"})
			h.ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimDoor, Door: "close"})
		case 5:
			if rng.IntN(3) == 0 {
				h.ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimREX})
			}
		}
		sleep(ctx, time.Duration(20+rng.IntN(80))*time.Millisecond)
	}
}

// typePIN types a PIN on the keypad (format "") or the Wiegand reader's
// keypad, one at a time per keypad: interleaved key presses would make
// wrong PINs and lock the keypad out.
func (h *harness) typePIN(ctx context.Context, pin, format string) {
	mu := &h.padMu[0]
	if format == "wiegand" {
		mu = &h.padMu[1]
	}
	mu.Lock()
	defer mu.Unlock()
	h.ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimPIN, PIN: pin, Format: format})
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (h *harness) jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(h.rng.Int64N(int64(max)))
}

// iteration runs one round and returns the problems it found.
func (h *harness) iteration(ctx context.Context, i int) []string {
	var problems []string
	phase := Phase(h.rng.IntN(int(numPhases)))
	brokerKill := i%h.opt.BrokerEvery == h.opt.BrokerEvery-1
	pause := i%h.opt.PauseEvery == h.opt.PauseEvery/2
	brokerKill = brokerKill && !pause // a kill would end the freeze
	if h.proc == nil {
		if err := h.start(ctx, i); err != nil {
			return []string{err.Error()}
		}
	}
	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { h.load(lctx, h.rng.Uint64()) })
	wg.Go(func() { h.load(lctx, h.rng.Uint64()) })
	sleep(ctx, 200*time.Millisecond+h.jitter(800*time.Millisecond))

	var pausedUntil time.Time
	if pause {
		d := time.Second + h.jitter(h.opt.MaxPause-time.Second)
		if err := h.s.Broker.Pause(); err == nil {
			pausedUntil = time.Now().Add(d)
			h.rep.BrokerPauses++
		}
	}
	if brokerKill {
		if err := h.s.Broker.Kill(); err == nil {
			h.rep.BrokerKills++
			proc := h.proc.Process
			wait := 300*time.Millisecond + h.jitter(time.Second)
			wg.Go(func() {
				sleep(ctx, wait)
				// A crashed broker loses what it acknowledged but had not
				// delivered. The real cloud consumes from a durable queue;
				// here the daemon is held (SIGSTOP) until the stand-in has
				// resubscribed, so that the figures count the device's
				// losses, not the test broker's.
				proc.Signal(syscall.SIGSTOP)
				defer proc.Signal(syscall.SIGCONT)
				if err := h.s.Broker.Start(); err != nil {
					h.log.Error("chaos: broker restart", "err", err)
				}
				h.cloudReady(ctx)
			})
		}
	}

	// The phase's work, and the kill at a random moment of it.
	switch phase {
	case PhaseSnapshot:
		h.ctl.Resync(ctx)
		sleep(ctx, h.jitter(150*time.Millisecond))
	case PhaseDelta:
		burst := 10 + h.rng.IntN(20)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for j := 0; j < burst && lctx.Err() == nil; j++ {
				if j%3 == 2 {
					h.deleteOne(rng)
				} else {
					h.create(rng.IntN(5) == 0)
				}
			}
		})
		sleep(ctx, h.jitter(300*time.Millisecond))
	case PhaseSingleUse:
		// A fresh single-use key, and one used long ago (outside its window).
		if err := h.create(true); err == nil {
			sleep(ctx, 300*time.Millisecond) // its delta
		}
		h.mu.Lock()
		var fresh, old *suVisit
		for _, v := range h.singleUse {
			if fresh == nil || v.id > fresh.id {
				fresh = v
			}
		}
		for _, v := range h.singleUse {
			if v != fresh && (old == nil || h.rng.IntN(2) == 0) {
				old = v
			}
		}
		h.mu.Unlock()
		if old != nil {
			h.typePIN(ctx, old.pin, "wiegand")
		}
		if fresh != nil {
			h.typePIN(ctx, fresh.pin, "")
			sleep(ctx, h.jitter(40*time.Millisecond))
		}
	case PhaseOutbox:
		// Hold the broker while events pile up, then kill the daemon a
		// moment after it starts draining them.
		held := pausedUntil.IsZero() && !brokerKill && h.s.Broker.Pause() == nil
		n := 20 + h.rng.IntN(40)
		for j := 0; j < n && ctx.Err() == nil; j++ {
			door := "open"
			if j%2 == 1 {
				door = "close"
			}
			h.ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimDoor, Door: door})
		}
		if held {
			h.s.Broker.Resume()
		}
		sleep(ctx, h.jitter(200*time.Millisecond))
	}
	h.kill()
	h.rep.Kills[phase.String()]++
	stopLoad()
	wg.Wait()
	if !h.s.Broker.Running() {
		h.s.Broker.Start()
	}

	// The database opens, outside the daemon; its outbox is what the daemon
	// committed and has not yet had acknowledged.
	if err := h.readOutbox(); err != nil {
		problems = append(problems, err.Error())
	}
	if pausedUntil.IsZero() {
		h.cloudReady(ctx)
	}
	if err := h.start(ctx, i); err != nil {
		return append(problems, err.Error())
	}
	if !pausedUntil.IsZero() {
		sleep(ctx, time.Until(pausedUntil))
		h.s.Broker.Resume()
	}
	problems = append(problems, h.converge(ctx)...)
	problems = append(problems, h.delivered(ctx)...)
	problems = append(problems, h.rules()...)
	h.log.Info("chaos: iteration", "i", i, "phase", phase, "broker_kill", brokerKill, "pause", !pausedUntil.IsZero(),
		"problems", len(problems), "received", len(h.recv))
	return problems
}

func (h *harness) readOutbox() error {
	path := filepath.Join(h.opt.Dir, "db", "intercomd.db")
	db, err := store.Open(path, store.Options{Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("the database does not open after a kill: %w", err)
	}
	defer db.Close()
	var after uint64
	n := 0
	for {
		es, err := db.PeekAfter(after, 1000)
		if err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			var ev access.Event
			if err := json.Unmarshal(e.Data, &ev); err != nil || ev.ID == "" {
				return fmt.Errorf("outbox entry %d is not an event: %v", e.Seq, err)
			}
			h.mu.Lock()
			h.pending[ev.ID] = true
			h.mu.Unlock()
			after = e.Seq
			n++
		}
	}
	if _, err := db.Stats(); err != nil {
		return fmt.Errorf("store stats after a kill: %w", err)
	}
	return nil
}

// converge waits until the daemon's cache equals the cloud's state.
func (h *harness) converge(ctx context.Context) []string {
	deadline := time.Now().Add(45 * time.Second)
	var diff string
	for time.Now().Before(deadline) && ctx.Err() == nil {
		diff = h.diff(ctx)
		if diff == "" {
			return nil
		}
		sleep(ctx, 200*time.Millisecond)
	}
	return []string{"the cache did not converge to the cloud: " + diff}
}

func (h *harness) diff(ctx context.Context) string {
	keys := map[string]localapi.Key{}
	after := ""
	for {
		ks, err := h.ctl.Keys(ctx, localapi.KeyFilter{After: after, Limit: localapi.MaxKeyLimit, Deleted: true})
		if err != nil {
			return "keys: " + err.Error()
		}
		for _, k := range ks {
			keys[k.ID] = k
			after = k.ID
		}
		if len(ks) < localapi.MaxKeyLimit {
			break
		}
	}
	var out []string
	h.cloud.View(func(st *cloudsim.State) error {
		for id, v := range st.Visits {
			k, ok := keys[id]
			switch {
			case !v.Deleted && !ok:
				out = append(out, id+" missing")
			case !v.Deleted && (k.Deleted || k.Version != v.Version):
				out = append(out, fmt.Sprintf("%s version %d deleted %v, cloud %d", id, k.Version, k.Deleted, v.Version))
			case v.Deleted && ok && !k.Deleted:
				out = append(out, id+" deleted in the cloud, live on the device")
			}
		}
		for id, k := range keys {
			if _, ok := st.Visits[id]; !ok && !k.Deleted {
				out = append(out, id+" unknown to the cloud")
			}
		}
		return nil
	})
	sort.Strings(out)
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("and %d more", len(out)-5))
	}
	return strings.Join(out, "; ")
}

// delivered waits for the outbox to drain and every committed event to
// reach the cloud.
func (h *harness) delivered(ctx context.Context) []string {
	deadline := time.Now().Add(45 * time.Second)
	var missing int
	for time.Now().Before(deadline) && ctx.Err() == nil {
		missing = 0
		h.mu.Lock()
		for id := range h.pending {
			if h.recv[id] == 0 {
				missing++
			}
		}
		h.mu.Unlock()
		if missing == 0 {
			if st, err := h.ctl.Status(ctx); err == nil && st.Outbox.Depth == 0 {
				return nil
			}
		}
		sleep(ctx, 100*time.Millisecond)
	}
	return []string{fmt.Sprintf("%d committed events had not reached the cloud after 45 s", missing)}
}

// rules checks the events received since the last call: single-use grants
// stay within the window of the first use, every relay unlock has a cause,
// and duplicates are identical.
func (h *harness) rules() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	firstGrant := map[string]time.Time{}
	grants := map[time.Time]bool{}
	var grantTimes []time.Time
	for _, e := range h.evs {
		if e.Type == access.EventAccessGranted {
			grantTimes = append(grantTimes, e.At)
			if _, ok := h.singleUse[e.VisitID]; ok {
				if f, ok := firstGrant[e.VisitID]; !ok || e.At.Before(f) {
					firstGrant[e.VisitID] = e.At
				}
			}
		}
	}
	for _, e := range h.evs[h.checked:] {
		switch e.Type {
		case access.EventAccessGranted:
			h.rep.Grants++
			grants[e.At] = true
			if f, ok := firstGrant[e.VisitID]; ok && e.At.Sub(f) > h.opt.SingleUseWindow+time.Second {
				out = append(out, fmt.Sprintf("single-use visit %s granted %v after its first use", e.VisitID, e.At.Sub(f).Round(time.Millisecond)))
			}
		case access.EventRelay:
			src, ok := strings.CutPrefix(e.Detail, "unlocked: ")
			if !ok {
				continue
			}
			switch src {
			case "grant":
				found := false
				for _, g := range grantTimes {
					if d := e.At.Sub(g); d > -500*time.Millisecond && d < 3*time.Second {
						found = true
						break
					}
				}
				if !found {
					out = append(out, fmt.Sprintf("relay unlocked for a grant at %v with no grant event", e.At))
				}
			case "rex", "technician", "remote", "REX":
			default:
				out = append(out, fmt.Sprintf("relay unlocked by %q", src))
			}
		}
	}
	for id, raw := range h.first {
		if strings.HasPrefix(raw, "MISMATCH") {
			out = append(out, "event "+id+" arrived twice with different content")
			h.first[id] = strings.TrimPrefix(raw, "MISMATCH ")
		}
	}
	h.checked = len(h.evs)
	return out
}

// final waits for the last events and counts.
func (h *harness) final(ctx context.Context) {
	if h.proc != nil {
		h.delivered(ctx)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rep.EventsCommitted = len(h.pending)
	h.rep.EventsReceived = len(h.recv)
	for id := range h.pending {
		if h.recv[id] == 0 {
			h.rep.EventsLost++
		}
	}
	for _, n := range h.recv {
		h.rep.EventsDuplicated += n - 1
	}
}

// Print writes the report's BENCH lines and a summary.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "BENCH chaos_iterations %d iterations\n", r.Iterations)
	fmt.Fprintf(w, "BENCH chaos_failures %d failures\n", r.Failures)
	fmt.Fprintf(w, "BENCH events_lost %d events\n", r.EventsLost)
	fmt.Fprintf(w, "BENCH events_duplicated %d events\n", r.EventsDuplicated)
	fmt.Fprintf(w, "chaos: kills by phase %v, broker kills %d, pauses %d; events committed (seen in an outbox) %d, received %d; grants %d\n",
		r.Kills, r.BrokerKills, r.BrokerPauses, r.EventsCommitted, r.EventsReceived, r.Grants)
	for _, p := range r.Problems {
		fmt.Fprintln(w, "chaos: FAIL", p)
	}
}
