package keypad_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
	"github.com/intercomd/intercomd/device/serialport"
	"github.com/intercomd/intercomd/device/serialport/serialporttest"
	"github.com/intercomd/intercomd/reader/keypad"
	"github.com/intercomd/intercomd/reader/keypad/td63sim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lockedBuffer is a log sink shared by the reader's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rig is a Reader on the slave of a real pty, opened with go.bug.st/serial,
// and a TD63 emulator on the master.
type rig struct {
	t      *testing.T
	ctx    context.Context
	link   *serialporttest.Link
	sim    *td63sim.Keypad
	reader *keypad.Reader
	creds  chan access.Credential
	events chan access.Event
	logs   *lockedBuffer

	simStop context.CancelFunc
	simDone chan error
}

func newRig(t *testing.T, cfg keypad.Config, simCfg td63sim.Config, decide func(access.Credential) access.Decision) *rig {
	t.Helper()
	link, err := serialporttest.NewLink(filepath.Join(t.TempDir(), "ttyTD63"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	g := &rig{t: t, ctx: ctx, link: link, sim: td63sim.New(simCfg),
		creds: make(chan access.Credential, 16), events: make(chan access.Event, 64), logs: &lockedBuffer{}}
	log := slog.New(slog.NewTextHandler(g.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dec := func(_ context.Context, c access.Credential) access.Decision {
		d := decide(c)
		g.creds <- c
		return d
	}
	emit := func(e access.Event) {
		select {
		case g.events <- e:
		default:
			t.Errorf("event channel full, dropped %v", e.Type)
		}
	}
	cfg.BackoffMin, cfg.BackoffMax = 10*time.Millisecond, 100*time.Millisecond
	g.reader = keypad.New(cfg, serialport.Config{Path: link.Path}.Opener(), dec, emit, log)
	done := make(chan error, 1)
	go func() { done <- g.reader.Run(ctx) }()
	g.plugSim()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v on cancel, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
		g.simStop()
		<-g.simDone
		_ = link.Close()
		if pin := "97531"; strings.Contains(g.logs.String(), pin) {
			t.Errorf("logs contain a PIN:\n%s", g.logs)
		}
	})
	return g
}

// plugSim attaches the emulator to the link's current master.
func (g *rig) plugSim() {
	ctx, cancel := context.WithCancel(g.ctx)
	g.simStop = cancel
	g.simDone = make(chan error, 1)
	m := g.link.Master()
	go func() { g.simDone <- g.sim.Run(ctx, m) }()
}

func (g *rig) event(want access.EventType) access.Event {
	g.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-g.events:
			if e.Type == want {
				return e
			}
			g.t.Logf("event %v (%s)", e.Type, e.Detail)
		case <-timeout:
			g.t.Fatalf("no %v event within 10 s; stats %+v", want, g.reader.Stats())
		}
	}
}

func (g *rig) credential() access.Credential {
	g.t.Helper()
	select {
	case c := <-g.creds:
		return c
	case <-time.After(10 * time.Second):
		g.t.Fatalf("no decision within 10 s; stats %+v", g.reader.Stats())
	}
	return access.Credential{}
}

func (g *rig) feedback(from int) (keypad.Feedback, int) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(g.ctx, 10*time.Second)
	defer cancel()
	fb, next, err := g.sim.Feedback(ctx, from)
	if err != nil {
		g.t.Fatalf("no feedback on the keypad: %v", err)
	}
	return fb, next
}

func byPIN(grant, lockout string) func(access.Credential) access.Decision {
	return func(c access.Credential) access.Decision {
		switch c.Value {
		case grant:
			return access.Decision{Grant: true, Reason: access.ReasonGranted}
		case lockout:
			return access.Decision{Reason: access.ReasonKeypadLockedOut}
		}
		return access.Decision{Reason: access.ReasonUnknownCredential}
	}
}

func TestReaderPINThroughPTY(t *testing.T) {
	g := newRig(t, keypad.Config{ID: "keypad-door"}, td63sim.Config{KeyGap: 20 * time.Millisecond}, byPIN("97531", "4444"))
	g.event(access.EventReaderOnline)

	for _, tc := range []struct {
		keys, pin string
		want      keypad.Feedback
	}{
		{"97531#", "97531", keypad.FeedbackGrant},
		{"1212#", "1212", keypad.FeedbackDeny},
		{"4444#", "4444", keypad.FeedbackLockout},
		{"88*97531#", "97531", keypad.FeedbackGrant},
	} {
		from := g.sim.Count()
		if err := g.sim.Type(g.ctx, tc.keys); err != nil {
			t.Fatal(err)
		}
		c := g.credential()
		if c.Kind != access.KindPIN || c.Value != tc.pin || c.Reader != "keypad-door" || c.At.IsZero() {
			t.Fatalf("typed %q: credential %+v, want pin %s from keypad-door", tc.keys, c, tc.pin)
		}
		if fb, _ := g.feedback(from); fb != tc.want {
			t.Fatalf("typed %q: keypad showed %+v, want %+v", tc.keys, fb, tc.want)
		}
	}
	st := g.reader.Stats()
	if st.PINsSubmitted != 4 || st.Grants != 2 || st.Denies != 1 || st.Lockouts != 1 || st.Cleared != 1 {
		t.Errorf("stats = %+v", st)
	}
	if st.Firmware != "1.4" || st.Heartbeats == 0 || !st.Online || !st.Connected || st.SeqGaps != 0 || st.Link.Garbage != 0 {
		t.Errorf("link stats = %+v", st)
	}
	if err := g.reader.Run(g.ctx); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("a second Run: %v, want an already-running error", err)
	}
}

func TestReaderGarbageAndSplitFrames(t *testing.T) {
	g := newRig(t, keypad.Config{}, td63sim.Config{}, byPIN("2468", ""))
	g.event(access.EventReaderOnline)

	// A heartbeat sent in the middle would cut a split frame in two (a real
	// keypad never interleaves its own frames): hold them for the stream.
	g.sim.SetHeartbeat(false)
	defer g.sim.SetHeartbeat(true)
	var stream []byte
	stream = append(stream, 0xFF, 0x00, 0x02, 0xFE, 0x55, 0xAA, '\r', '\n', 0x03) // line noise, a false STX
	for i, k := range []byte("2468#") {
		b, err := g.sim.Frame(keypad.KeyFrame(0, k))
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			bad := bytes.Clone(b) // a corrupted copy of the '6' frame, then the good one
			bad[len(bad)-1] ^= 0x01
			stream = append(stream, bad...)
		}
		stream = append(stream, b...)
	}
	if err := g.sim.WriteChunks(g.ctx, stream, 3, 2*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if c := g.credential(); c.Value != "2468" {
		t.Fatalf("PIN through garbage and split frames = %q, want 2468", c.Value)
	}
	st := g.reader.Stats()
	if st.Link.Garbage < 9+7 || st.Link.BadCRC < 1 || st.Link.Resyncs < 2 || st.PINsSubmitted != 1 {
		t.Errorf("stats after garbage: %+v", st.Link)
	}
	// The corrupted frame did not consume a sequence number, the duplicate
	// is not a gap, and no key was lost.
	if st.Keys != 5 || st.SeqGaps != 0 {
		t.Errorf("keys %d, gaps %d; want 5, 0", st.Keys, st.SeqGaps)
	}
	// The line errors are in the audit trail, counted, once.
	e := g.event(access.EventReaderError)
	if e.Reader != "keypad0" || !strings.Contains(e.Detail, "line errors") || !strings.Contains(e.Detail, "bad CRC") {
		t.Errorf("line error event = %+v", e)
	}
	if err := g.sim.WriteRaw([]byte{0xFF, 0xFE, 0xFD}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	select {
	case e := <-g.events:
		if e.Type == access.EventReaderError {
			t.Errorf("second line error event within %v: %+v", keypad.LineErrorEvery, e)
		}
	default:
	}
}

func TestReaderPortVanishesAndReturns(t *testing.T) {
	g := newRig(t, keypad.Config{}, td63sim.Config{KeyGap: 10 * time.Millisecond}, byPIN("97531", ""))
	g.event(access.EventReaderOnline)
	if err := g.sim.Type(g.ctx, "97531#"); err != nil {
		t.Fatal(err)
	}
	g.credential()

	// Unplug in the middle of an entry: the half-typed digits must not
	// survive the reconnect.
	if err := g.sim.Type(g.ctx, "12"); err != nil {
		t.Fatal(err)
	}
	if err := g.link.Unplug(); err != nil {
		t.Fatal(err)
	}
	if err := <-g.simDone; err == nil {
		t.Fatal("emulator Run returned nil after unplug, want the read error")
	}
	off := g.event(access.EventReaderOffline)
	if off.Reader != keypad.DefaultID || off.Detail == "" {
		t.Errorf("offline event = %+v", off)
	}
	// Let a few reopen attempts fail while unplugged.
	deadline := time.Now().Add(5 * time.Second)
	for g.reader.Stats().OpenErrors < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := g.reader.Stats(); st.OpenErrors < 2 || st.Connected || st.Online {
		t.Fatalf("while unplugged: %+v", st)
	}

	if _, err := g.link.Replug(); err != nil {
		t.Fatal(err)
	}
	g.plugSim()
	g.event(access.EventReaderOnline)
	from := g.sim.Count()
	if err := g.sim.Type(g.ctx, "97531#"); err != nil {
		t.Fatal(err)
	}
	if c := g.credential(); c.Value != "97531" {
		t.Fatalf("after replug: PIN %q, want 97531", c.Value)
	}
	if fb, _ := g.feedback(from); fb != keypad.FeedbackGrant {
		t.Fatalf("after replug: feedback %+v", fb)
	}
	st := g.reader.Stats()
	if st.Reconnects != 1 || st.PortErrors != 1 || st.Opens != 2 || !st.Connected {
		t.Errorf("stats after replug: %+v", st)
	}
}

func TestReaderHeartbeatLoss(t *testing.T) {
	g := newRig(t, keypad.Config{HeartbeatTimeout: 500 * time.Millisecond, PollEvery: 50 * time.Millisecond},
		td63sim.Config{HeartbeatEvery: 50 * time.Millisecond}, byPIN("", ""))
	g.event(access.EventReaderOnline)
	g.sim.SetHeartbeat(false)
	start := time.Now()
	e := g.event(access.EventReaderOffline)
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("offline after %v, before the 500 ms timeout", took)
	}
	if !strings.Contains(e.Detail, "heartbeat") {
		t.Errorf("offline detail %q does not say why", e.Detail)
	}
	if g.reader.Stats().Online || !g.reader.Stats().Connected {
		t.Errorf("stats: %+v; want offline but connected", g.reader.Stats())
	}
	g.sim.SetHeartbeat(true)
	g.event(access.EventReaderOnline)
	// The controller polls the keypad too.
	if g.sim.Polls() == 0 {
		t.Error("keypad received no controller heartbeat")
	}
}

func TestReaderRunMisconfigured(t *testing.T) {
	r := keypad.New(keypad.Config{}, nil, nil, nil, nil)
	if err := r.Run(t.Context()); err == nil || !strings.HasPrefix(err.Error(), "keypad: ") {
		t.Fatalf("Run without opener: %v", err)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// TestReaderNoFDLeakAcrossReconnects unplugs and replugs the keypad many
// times: go.bug.st/serial uses select(2), so a leaked descriptor per
// reconnect would end in a panic once descriptors reach 1024.
func TestReaderNoFDLeakAcrossReconnects(t *testing.T) {
	g := newRig(t, keypad.Config{}, td63sim.Config{HeartbeatEvery: 20 * time.Millisecond}, byPIN("", ""))
	g.event(access.EventReaderOnline)
	base := openFDs(t)
	const cycles = 15
	for range cycles {
		if err := g.link.Unplug(); err != nil {
			t.Fatal(err)
		}
		<-g.simDone
		g.event(access.EventReaderOffline)
		if _, err := g.link.Replug(); err != nil {
			t.Fatal(err)
		}
		g.plugSim()
		g.event(access.EventReaderOnline)
	}
	if got := openFDs(t); got > base {
		t.Fatalf("%d descriptors open after %d reconnects, %d before", got, cycles, base)
	}
	if st := g.reader.Stats(); st.Reconnects != cycles {
		t.Fatalf("Reconnects = %d, want %d", st.Reconnects, cycles)
	}
}

// TestReaderEngineLockout types PINs into the real decision engine: the PIN
// that starts the brute-force block and every PIN during it show the lockout
// pattern for the rest of the block, not a plain deny.
func TestReaderEngineLockout(t *testing.T) {
	lookup := accesstest.NewMapLookup()
	now := time.Now()
	if err := lookup.Put(accesstest.Hasher(), access.Visit{ID: "v1", Start: now.Add(-time.Hour), End: now.Add(time.Hour), Intercoms: []string{"door1"}},
		accesstest.Cred{Kind: access.KindPIN, Value: "97531"}); err != nil {
		t.Fatal(err)
	}
	engine := access.New(access.Config{Intercom: "door1", VisitKeysEnabled: true}, lookup, accesstest.Hasher())
	g := newRig(t, keypad.Config{}, td63sim.Config{KeyGap: 5 * time.Millisecond}, func(c access.Credential) access.Decision {
		return engine.Decide(c, access.Clock{Now: time.Now(), Trusted: true})
	})
	g.event(access.EventReaderOnline)

	for i, keys := range []string{"97531#", "1111#", "2222#", "3333#", "4444#", "5555#", "97531#"} {
		from := g.sim.Count()
		if err := g.sim.Type(g.ctx, keys); err != nil {
			t.Fatal(err)
		}
		g.credential()
		fb, _ := g.feedback(from)
		switch {
		case i == 0:
			if fb != keypad.FeedbackGrant {
				t.Fatalf("right PIN: %+v, want grant", fb)
			}
		case i < 5:
			if fb != keypad.FeedbackDeny {
				t.Fatalf("wrong PIN %d: %+v, want deny", i, fb)
			}
		default: // the 5th wrong PIN blocks; the right PIN is refused while blocked
			if fb.LED.Pattern != keypad.BlinkFast || fb.Buzzer != keypad.FeedbackLockout.Buzzer ||
				fb.LED.Duration < 25*time.Second || fb.LED.Duration > 30*time.Second {
				t.Fatalf("PIN %d (%s) while blocked: %+v, want the lockout pattern for the ~30 s block", i, keys[:1], fb)
			}
		}
	}
	if st := g.reader.Stats(); st.Grants != 1 || st.Denies != 4 || st.Lockouts != 2 {
		t.Fatalf("stats: grants %d denies %d lockouts %d; want 1, 4, 2", st.Grants, st.Denies, st.Lockouts)
	}
}
