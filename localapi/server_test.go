package localapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/localapi"
	"github.com/intercomd/intercomd/localapi/localapitest"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		childMain(path)
		return
	}
	goleak.VerifyTestMain(m)
}

// auditLog collects audit events.
type auditLog struct {
	mu  sync.Mutex
	evs []access.Event
	err error // returned by record when set
}

func (a *auditLog) record(_ context.Context, ev access.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return a.err
	}
	a.evs = append(a.evs, ev)
	return nil
}

func (a *auditLog) events() []access.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]access.Event(nil), a.evs...)
}

type env struct {
	path   string
	srv    *localapi.Server
	fake   *localapitest.Backend
	audit  *auditLog
	client *localapi.Client
}

// start serves fake on a real Unix socket in a fresh directory until the
// test ends. tweak may adjust the server before it listens.
func start(t testing.TB, fake *localapitest.Backend, tweak func(*localapi.Server)) *env {
	t.Helper()
	e := &env{path: filepath.Join(t.TempDir(), "s.sock"), fake: fake, audit: &auditLog{}}
	e.srv = &localapi.Server{
		Path: e.path, Group: -1, Backend: fake, Audit: e.audit.record,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tweak != nil {
		tweak(e.srv)
	}
	e.path = e.srv.Path
	ln, err := e.srv.Listen()
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.srv.Serve(ctx, ln) }()
	e.client = &localapi.Client{Path: e.path}
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("serve returned %v after cancel, want nil", err)
		}
		e.client.Close()
		if _, err := os.Lstat(e.path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("socket left behind after shutdown: %v", err)
		}
	})
	return e
}

var (
	t0   = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	uid0 = 0
)

func sample() *localapitest.Backend {
	return &localapitest.Backend{
		St: localapi.Status{
			Now: t0, Started: t0.Add(-time.Hour),
			MQTT:     localapi.MQTTStatus{State: "connected", Broker: "tls://broker:8883", Since: t0.Add(-50 * time.Minute)},
			Sync:     localapi.SyncStatus{Revision: 1234, LastSync: t0.Add(-42 * time.Second)},
			Cache:    localapi.CacheStatus{Visits: 812, Credentials: 2301, Tombstones: 17},
			Outbox:   localapi.OutboxStatus{Depth: 3, Dropped: 0},
			Readers:  []localapi.ReaderHealth{{ID: "keypad0", Kind: "keypad", Online: true, LastActivity: t0.Add(-5 * time.Minute)}},
			Door:     localapi.DoorStatus{Relay: "locked", Door: "closed"},
			Clock:    localapi.ClockStatus{Trusted: true},
			Versions: localapi.Versions{Daemon: "v0.1.0", Schema: 1, Go: "go1.26.8"},
		},
		KeyList: []localapi.Key{
			{ID: "v-2", Version: 3, Start: t0, End: t0.Add(time.Hour), Credentials: []localapi.KeyCredential{{Kind: "pin", HashPrefix: "a1b2c3d4"}}},
			{ID: "v-1", Version: 1, Start: t0, End: t0.Add(2 * time.Hour), SingleUse: true},
			{ID: "v-3", Version: 9, Deleted: true},
		},
		Recent: []access.Event{
			{ID: "e1", Type: access.EventAccessDenied, At: t0, Reason: access.ReasonUnknownCredential, Kind: "pin", Reader: "keypad0"},
			{ID: "e2", Type: access.EventAccessGranted, At: t0.Add(time.Second), Reason: access.ReasonGranted, VisitID: "v-2", Kind: "pin", Reader: "keypad0"},
		},
		Decision: access.Decision{Grant: false, Reason: access.ReasonExpired, VisitID: "v-2", At: t0, Took: 42 * time.Microsecond,
			Trace: []access.Verdict{{Rule: "known", Pass: true}, {Rule: "window", Pass: false, Detail: "ended"}}},
		Frames:  []localapi.WiegandFrame{{At: t0, Reader: "wiegand0", Bits: "0101", Error: "short"}, {At: t0, Reader: "wiegand0", Bits: "1", Error: "short"}},
		Keypads: []localapi.KeypadStats{{Reader: "keypad0", Port: "/dev/ttyUSB0", Online: true, Frames: 100, BadCRC: 2}},
		JPEG:    []byte("\xff\xd8\xff\xe0 not really a jpeg \xff\xd9"),
	}
}

func TestRoundTrip(t *testing.T) {
	fake := sample()
	fake.SimMode = true
	e := start(t, fake, nil)
	ctx := t.Context()
	c := e.client

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sync.Revision != 1234 || st.Cache.Visits != 812 || !st.Now.Equal(t0) || len(st.Readers) != 1 || st.Readers[0].ID != "keypad0" {
		t.Errorf("status = %+v", st)
	}

	keys, err := c.Keys(ctx, localapi.KeyFilter{Limit: 10})
	if err != nil || len(keys) != 2 || keys[0].ID != "v-1" || keys[1].ID != "v-2" || keys[1].Credentials[0].HashPrefix != "a1b2c3d4" {
		t.Errorf("keys = %+v, %v", keys, err)
	}
	keys, err = c.Keys(ctx, localapi.KeyFilter{Deleted: true, After: "v-1", Limit: 1})
	if err != nil || len(keys) != 1 || keys[0].ID != "v-2" {
		t.Errorf("keys after v-1 = %+v, %v", keys, err)
	}
	k, err := c.Key(ctx, "v-3")
	if err != nil || !k.Deleted || k.Version != 9 {
		t.Errorf("key v-3 = %+v, %v", k, err)
	}
	if _, err := c.Key(ctx, "v-404"); !errors.Is(err, localapi.ErrNotFound) {
		t.Errorf("key v-404: err = %v, want ErrNotFound", err)
	}

	var evs []access.Event
	if err := c.Events(ctx, 1, false, func(ev access.Event) error { evs = append(evs, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].ID != "e2" {
		t.Errorf("events -n 1 = %+v", evs)
	}

	x, err := c.Explain(ctx, localapi.ExplainRequest{Kind: access.KindPIN, Value: "1234", Reader: "keypad0"})
	if err != nil || x.Grant || x.Reason != access.ReasonExpired || len(x.Trace) != 2 || x.Trace[1].Detail != "ended" || x.TookUS != 42 || x.Reader != "keypad0" {
		t.Errorf("explain = %+v, %v", x, err)
	}

	if err := c.Relay(ctx, localapi.RelayPulse, 5*time.Second); err != nil {
		t.Errorf("relay: %v", err)
	}
	if err := c.Relay(ctx, localapi.RelayLock, 0); err != nil {
		t.Errorf("relay lock: %v", err)
	}
	fr, err := c.WiegandLast(ctx, 1)
	if err != nil || len(fr) != 1 || fr[0].Bits != "1" {
		t.Errorf("wiegand = %+v, %v", fr, err)
	}
	ks, err := c.KeypadStats(ctx)
	if err != nil || len(ks) != 1 || ks[0].BadCRC != 2 {
		t.Errorf("keypad = %+v, %v", ks, err)
	}
	jpg, err := c.CameraSnapshot(ctx)
	if err != nil || !bytes.Equal(jpg, fake.JPEG) {
		t.Errorf("snapshot = %q, %v", jpg, err)
	}
	if err := c.Resync(ctx); err != nil {
		t.Errorf("resync: %v", err)
	}
	if err := c.SetLogLevel(ctx, slog.LevelDebug); err != nil {
		t.Errorf("log-level: %v", err)
	}
	if err := c.SetLockdown(ctx, true); err != nil {
		t.Errorf("lockdown: %v", err)
	}
	if err := c.Sim(ctx, localapi.SimRequest{Kind: localapi.SimPIN, PIN: "4321"}); err != nil {
		t.Errorf("sim: %v", err)
	}

	var names []string
	for _, call := range fake.Calls() {
		names = append(names, call.Name+":"+call.Detail)
	}
	want := []string{
		"status:", "keys:id= after= limit=10 deleted=false", "keys:id= after=v-1 limit=1 deleted=true",
		"keys:id=v-3 after= limit=1 deleted=true", "keys:id=v-404 after= limit=1 deleted=true", "events:n=1 follow=false",
		"explain:pin keypad0", "relay:pulse 5s", "relay:lock", "wiegand:n=1", "keypad:", "snapshot:", "resync:",
		"log-level:DEBUG", "lockdown:true", "sim:pin",
	}
	if !slices.Equal(names, want) {
		t.Errorf("calls:\n got %q\nwant %q", names, want)
	}
	calls := fake.Calls()
	if got := calls[6].Credential; got.Value != "1234" || got.Kind != access.KindPIN {
		t.Errorf("explain credential = %+v", got)
	}
	if got := calls[len(calls)-1].Sim; got.PIN != "4321" {
		t.Errorf("sim request = %+v", got)
	}
}

func TestErrors(t *testing.T) {
	fake := sample()
	fake.JPEG = nil
	e := start(t, fake, nil)
	ctx := t.Context()
	if err := e.client.Sim(ctx, localapi.SimRequest{Kind: localapi.SimREX}); !errors.Is(err, localapi.ErrNotSim) {
		t.Errorf("sim outside sim mode: err = %v, want ErrNotSim", err)
	}
	if _, err := e.client.CameraSnapshot(ctx); !errors.Is(err, localapi.ErrUnavailable) {
		t.Errorf("snapshot without camera: err = %v, want ErrUnavailable", err)
	}
	if err := e.client.Relay(ctx, localapi.RelayPulse, time.Hour); !errors.Is(err, localapi.ErrBadRequest) {
		t.Errorf("relay pulse 1h: err = %v, want ErrBadRequest", err)
	}
	fake.Err = errors.New("store: boom")
	if _, err := e.client.Status(ctx); err == nil || !strings.Contains(err.Error(), "store: boom") {
		t.Errorf("status with a failing backend: err = %v", err)
	}
	if _, err := e.client.WiegandLast(ctx, localapi.MaxWiegandFrames+1); !errors.Is(err, localapi.ErrBadRequest) {
		t.Errorf("wiegand -n too big: err = %v, want ErrBadRequest", err)
	}
}

// TestAuditBeforeAction checks that every control call is on the record,
// with the caller's uid and without secrets, before the backend acts.
func TestAuditBeforeAction(t *testing.T) {
	fake := sample()
	fake.SimMode = true
	var e *env
	var mu sync.Mutex
	seen := map[string]string{} // backend call -> last audit detail when it ran
	fake.OnCall = func(c localapitest.Call) {
		evs := e.audit.events()
		last := ""
		if len(evs) > 0 {
			last = evs[len(evs)-1].Detail
		}
		mu.Lock()
		seen[c.Name] = last
		mu.Unlock()
	}
	e = start(t, fake, nil)
	ctx := t.Context()
	c := e.client
	const pin = "55667788"
	steps := []struct {
		call   string
		do     func() error
		detail string
	}{
		{"relay", func() error { return c.Relay(ctx, localapi.RelayPulse, 3*time.Second) }, "relay pulse 3s"},
		{"resync", func() error { return c.Resync(ctx) }, "resync"},
		{"log-level", func() error { return c.SetLogLevel(ctx, slog.LevelWarn) }, "log-level WARN"},
		{"lockdown", func() error { return c.SetLockdown(ctx, false) }, "lockdown off"},
		{"sim", func() error { return c.Sim(ctx, localapi.SimRequest{Kind: localapi.SimPIN, PIN: pin}) }, "sim pin"},
		{"explain", func() error {
			_, err := c.Explain(ctx, localapi.ExplainRequest{Kind: access.KindPIN, Value: pin, Reader: "keypad0"})
			return err
		}, "explain kind=pin reader=keypad0"},
		{"snapshot", func() error { _, err := c.CameraSnapshot(ctx); return err }, "camera snapshot"},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.call, err)
		}
		mu.Lock()
		got := seen[s.call]
		mu.Unlock()
		if !strings.HasPrefix(got, s.detail+" pid=") {
			t.Errorf("%s ran after audit %q, want %q first", s.call, got, s.detail)
		}
	}
	for _, ev := range e.audit.events() {
		if ev.Type != access.EventAudit || ev.UID == nil || *ev.UID != os.Geteuid() || ev.Reader != localapi.AuditReader || len(ev.ID) != 32 {
			t.Errorf("audit event %+v: want type %s, uid %d", ev, access.EventAudit, os.Geteuid())
		}
		b, _ := json.Marshal(ev)
		if strings.Contains(string(b), pin) {
			t.Errorf("audit event %s carries the PIN", b)
		}
	}
	if got := e.srv.Stats().Audited; got != uint64(len(steps)) {
		t.Errorf("Stats.Audited = %d, want %d", got, len(steps))
	}
	// Reads are not audited.
	n := len(e.audit.events())
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if len(e.audit.events()) != n {
		t.Error("status was audited; reads must not be")
	}
}

func TestAuditFailureRefusesControl(t *testing.T) {
	fake := sample()
	e := start(t, fake, nil)
	e.audit.err = errors.New("store: disk full")
	err := e.client.Relay(t.Context(), localapi.RelayUnlock, 0)
	if !errors.Is(err, localapi.ErrUnavailable) || !strings.Contains(err.Error(), "audit failed") {
		t.Errorf("relay with failing audit: err = %v", err)
	}
	for _, c := range fake.Calls() {
		if c.Name == "relay" {
			t.Error("relay ran although its audit failed")
		}
	}
	if got := e.srv.Stats().AuditFailed; got != 1 {
		t.Errorf("Stats.AuditFailed = %d, want 1", got)
	}
}

// TestWrongUIDAtBoundary runs the real server with a policy that sees the
// caller as another uid: every endpoint must refuse, count and audit.
func TestWrongUIDAtBoundary(t *testing.T) {
	fake := sample()
	e := start(t, fake, func(s *localapi.Server) {
		localapi.SetAllow(s, func(p localapi.Peer) (bool, string) { return false, "not in group" })
	})
	ctx := t.Context()
	c := e.client
	calls := []func() error{
		func() error { _, err := c.Status(ctx); return err },
		func() error { _, err := c.Keys(ctx, localapi.KeyFilter{}); return err },
		func() error { return c.Events(ctx, 5, false, func(access.Event) error { return nil }) },
		func() error { return c.Relay(ctx, localapi.RelayUnlock, 0) },
		func() error { return c.SetLockdown(ctx, false) },
		func() error { _, err := c.CameraSnapshot(ctx); return err },
	}
	for i, call := range calls {
		if err := call(); !errors.Is(err, localapi.ErrPermission) {
			t.Errorf("call %d: err = %v, want ErrPermission", i, err)
		}
	}
	if got := fake.Calls(); len(got) != 0 {
		t.Errorf("backend reached by a refused peer: %+v", got)
	}
	if got := e.srv.Stats().Denied; got != uint64(len(calls)) {
		t.Errorf("Stats.Denied = %d, want %d", got, len(calls))
	}
	evs := e.audit.events()
	if len(evs) != 1 || !strings.HasPrefix(evs[0].Detail, "denied GET /v1/status") || evs[0].UID == nil {
		t.Errorf("denial events = %+v, want one (rate-limited) for the first call", evs)
	}
}

func TestListenStaleAndForeign(t *testing.T) {
	dir := t.TempDir()
	t.Run("stale socket removed", func(t *testing.T) {
		path := filepath.Join(dir, "stale.sock")
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close() // the file stays, nobody listens: a crashed daemon
		if _, err := os.Lstat(path); err != nil {
			t.Fatalf("stale socket not left behind: %v", err)
		}
		ln, err = localapi.Listen(path, -1)
		if err != nil {
			t.Fatalf("listen over a stale socket: %v", err)
		}
		ln.Close()
	})
	t.Run("regular file kept", func(t *testing.T) {
		path := filepath.Join(dir, "file.sock")
		if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := localapi.Listen(path, -1)
		if err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Errorf("listen over a regular file: err = %v, want refusal", err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
			t.Errorf("regular file touched: %q, %v", b, err)
		}
	})
	t.Run("directory kept", func(t *testing.T) {
		path := filepath.Join(dir, "dir.sock")
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := localapi.Listen(path, -1); err == nil {
			t.Error("listen over a directory succeeded")
		}
		if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
			t.Errorf("directory touched: %v", err)
		}
	})
	t.Run("live server", func(t *testing.T) {
		e := start(t, sample(), nil)
		_, err := localapi.Listen(e.path, -1)
		if !errors.Is(err, localapi.ErrRunning) {
			t.Errorf("second listen: err = %v, want ErrRunning", err)
		}
		if _, err := e.client.Status(t.Context()); err != nil {
			t.Errorf("first server hurt by the probe: %v", err)
		}
	})
}

func TestSocketModeAndGroup(t *testing.T) {
	const gid = 4242
	e := start(t, sample(), func(s *localapi.Server) { s.Group = gid })
	fi, err := os.Lstat(e.path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode = %v, want socket 0660", fi.Mode())
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Gid != gid {
		t.Errorf("socket group = %d, want %d", st.Gid, gid)
	}
	if g, err := localapi.LookupGroup("root"); err != nil || g != 0 {
		t.Errorf("LookupGroup(root) = %d, %v", g, err)
	}
	if g, err := localapi.LookupGroup("4242"); err != nil || g != 4242 {
		t.Errorf("LookupGroup(4242) = %d, %v", g, err)
	}
	if _, err := localapi.LookupGroup("no-such-group-here"); err == nil {
		t.Error("LookupGroup of a missing group succeeded")
	}
}

// raw returns an http.Client on the socket, bypassing localapi.Client.
func raw(t *testing.T, path string) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestHugeRequest(t *testing.T) {
	fake := sample()
	e := start(t, fake, nil)
	hc := raw(t, e.path)
	huge := `{"kind":"pin","value":"` + strings.Repeat("1", 1<<20) + `"}`
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(huge)
		if chunked {
			body = io.MultiReader(body) // hides the length: chunked encoding
		}
		req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://local"+localapi.PathExplain, body)
		resp, err := hc.Do(req)
		if err != nil {
			// The server may close before reading everything; that is a refusal too.
			t.Logf("chunked=%v: %v", chunked, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked=%v: status %d, want 413", chunked, resp.StatusCode)
		}
	}
	// Huge headers are refused by the HTTP server itself.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://local"+localapi.PathStatus, nil)
	req.Header.Set("X-Huge", strings.Repeat("a", 64<<10))
	if resp, err := hc.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("huge header: status %d, want 431", resp.StatusCode)
		}
	}
	if got := e.srv.Stats().TooLarge; got != 2 {
		t.Errorf("Stats.TooLarge = %d, want 2", got)
	}
	if len(fake.Calls()) != 0 || len(e.audit.events()) != 0 {
		t.Error("a huge request reached the backend or the audit")
	}
}

// TestSlowloris: clients that trickle their headers or body are cut off
// within the read timeout, and the server keeps answering others.
func TestSlowloris(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e := start(t, sample(), func(s *localapi.Server) { s.ReadTimeout = timeout })
	cases := map[string]string{
		"headers": "GET /v1/status HTTP/1.1\r\nHost: local\r\nX-Slow: " + strings.Repeat("a", 200) + "\r\n\r\n",
		"body":    "POST /v1/lockdown HTTP/1.1\r\nHost: local\r\nContent-Length: 200\r\n\r\n{\"on\":true" + strings.Repeat(" ", 200),
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("unix", e.path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			begin := time.Now()
			go func() {
				for i := 0; i < len(req); i++ {
					if _, err := c.Write([]byte{req[i]}); err != nil {
						return
					}
					time.Sleep(20 * time.Millisecond) // the attack is slowness itself
				}
			}()
			c.SetReadDeadline(time.Now().Add(10 * timeout))
			resp, _ := io.ReadAll(c)
			took := time.Since(begin)
			if took > 4*timeout {
				t.Errorf("slow client held the connection %v, want cut off near %v", took, timeout)
			}
			if strings.Contains(string(resp), "200 OK") || strings.Contains(string(resp), "204") {
				t.Errorf("slow client got an answer: %q", resp)
			}
		})
	}
	if _, err := e.client.Status(t.Context()); err != nil {
		t.Errorf("server unhealthy after slowloris: %v", err)
	}
}

func TestMaxConns(t *testing.T) {
	e := start(t, sample(), func(s *localapi.Server) { s.MaxConns = 1 })
	hog, err := net.Dial("unix", e.path)
	if err != nil {
		t.Fatal(err)
	}
	// The hog holds the only slot; prove it is accepted before we compete.
	if _, err := hog.Write([]byte("GET /v1/status HTTP/1.1\r\nHost: local\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(hog)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("hog: %q, %v", line, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	_, err = e.client.Status(ctx)
	cancel()
	if err == nil {
		t.Error("a second connection was served beyond MaxConns=1")
	}
	hog.Close()
	if _, err := e.client.Status(t.Context()); err != nil {
		t.Errorf("after the hog left: %v", err)
	}
}

func TestEventsFollow(t *testing.T) {
	fake := sample()
	fake.Live = make(chan access.Event)
	const rt = 200 * time.Millisecond
	e := start(t, fake, func(s *localapi.Server) { s.ReadTimeout = rt; s.Heartbeat = 50 * time.Millisecond })

	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan access.Event, 10)
	errc := make(chan error, 1)
	go func() {
		errc <- e.client.Events(ctx, 10, true, func(ev access.Event) error { got <- ev; return nil })
	}()
	for _, want := range []string{"e1", "e2"} {
		if ev := <-got; ev.ID != want {
			t.Fatalf("history: got %s, want %s", ev.ID, want)
		}
	}
	// Outlive the read timeout: the stream must not be cut by it.
	time.Sleep(3 * rt)
	for i := range 3 {
		ev := access.Event{ID: fmt.Sprintf("live%d", i), Type: access.EventDoorOpened, At: t0}
		select {
		case fake.Live <- ev:
		case <-time.After(5 * time.Second):
			t.Fatalf("live event %d not taken by the stream", i)
		}
		if g := <-got; g.ID != ev.ID {
			t.Fatalf("live: got %s, want %s", g.ID, ev.ID)
		}
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Events after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Events did not return after cancel")
	}
	// The server's handler must stop reading Live soon after the client
	// left (it learns of it from the connection's EOF).
	deadline := time.Now().Add(3 * time.Second)
	for {
		select {
		case fake.Live <- access.Event{ID: "late"}:
			if time.Now().After(deadline) {
				t.Fatal("the stream still reads live events 3 s after the client left")
			}
			continue
		case <-time.After(100 * time.Millisecond):
		}
		break
	}
}

func TestEventsHeartbeat(t *testing.T) {
	fake := sample()
	fake.Live = make(chan access.Event)
	e := start(t, fake, func(s *localapi.Server) { s.Heartbeat = 20 * time.Millisecond })
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://local"+localapi.PathEvents+"?n=0&follow=1", nil)
	resp, err := raw(t, e.path).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("content type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil || line != "\n" {
			t.Fatalf("line %d = %q, %v; want a blank heartbeat", i, line, err)
		}
	}
}

// TestServeStopsStreams: cancelling the daemon's context ends open streams
// and Serve returns nil (checked in start's cleanup).
func TestServeStopsStreams(t *testing.T) {
	fake := sample()
	fake.Live = make(chan access.Event)
	path := filepath.Join(t.TempDir(), "s.sock")
	srv := &localapi.Server{Path: path, Group: -1, Backend: fake}
	ln, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, ln) }()
	c := &localapi.Client{Path: path}
	defer c.Close()
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- c.Events(t.Context(), 1, true, func(access.Event) error {
			close(started)
			return nil
		})
	}()
	<-started
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return with a stream open")
	}
	if err := <-done; err != nil {
		t.Errorf("client stream ended with %v, want nil (EOF)", err)
	}
}

func TestClientErrors(t *testing.T) {
	dir := t.TempDir()
	c := &localapi.Client{Path: filepath.Join(dir, "missing.sock")}
	defer c.Close()
	_, err := c.Status(t.Context())
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "is intercomd running") {
		t.Errorf("missing socket: err = %v", err)
	}
	path := filepath.Join(dir, "stale.sock")
	ln, _ := net.Listen("unix", path)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	c2 := &localapi.Client{Path: path}
	defer c2.Close()
	if _, err := c2.Status(t.Context()); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("stale socket: err = %v", err)
	}
}
