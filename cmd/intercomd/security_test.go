package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/internal/demo"
	"github.com/intercomd/intercomd/internal/mqtttest"
	"github.com/intercomd/intercomd/localapi"
	"github.com/intercomd/intercomd/sync/cloudsim"
	"github.com/intercomd/intercomd/sync/wire"
)

// Planted secrets: long and distinctive, so that finding one in an output
// is a leak and not chance. The card is Corporate 1000 (company 4093, card
// 1048571); its decimal number is searched for on its own too.
var (
	plantPIN      = "739164285017"
	plantWrongPIN = "739164285018"
	plantQR       = "5ec12e75ec12e75ec12e75ec12e7aa01"
	plantWrongQR  = "5ec12e75ec12e75ec12e75ec12e7bb02"
	plantCard     = "4093:1048571"
	plantCardNum  = "1048571"
	plantWrongCN  = "1048569"
	plantWeb      = "WebTokPlanted7f3k9Q2xLm"
	plantWrongWeb = "WebTokWrongXy8d2Pq4Zt9"
)

func plantedSecrets() map[string]string {
	return map[string]string{
		"pin": plantPIN, "wrong pin": plantWrongPIN, "qr token": plantQR, "wrong qr token": plantWrongQR,
		"card": plantCard, "card number": plantCardNum, "wrong card number": plantWrongCN,
		"web token": plantWeb, "wrong web token": plantWrongWeb,
	}
}

// writeConfig rewrites the demo's config with a log format and level and,
// if metrics is not empty, a metrics listener.
func writeConfig(t *testing.T, s *demo.Setup, base, format, level, metrics string) {
	t.Helper()
	cfg := strings.Replace(base, `level = "info"`, fmt.Sprintf("level = %q\nformat = %q", level, format), 1)
	if metrics != "" {
		cfg += fmt.Sprintf("\n[metrics]\nlisten = %q\n", metrics)
	}
	if err := os.WriteFile(s.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestNoSecretsInOutputs plants a visit with known secrets, uses every one
// of them and wrong ones on every reader, with the log in text and then in
// JSON at debug level, and greps every output: the log, the events on the
// bus and on the socket, the events the cloud received, the metrics and the
// raw database file after close. None may contain a planted value.
func TestNoSecretsInOutputs(t *testing.T) {
	t.Parallel()
	s, err := demo.Prepare(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var cloudMu sync.Mutex
	var cloudEvents strings.Builder
	nCloud := 0
	h, err := access.NewHasher(s.SiteKey)
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := cloudsim.Dial(t.Context(), cloudsim.Options{Broker: s.Broker.URL(), Hasher: h, File: &cloudsim.File{Path: s.State},
		OnEvents: func(device string, b *wire.EventBatch) {
			raw, _ := json.Marshal(b)
			cloudMu.Lock()
			defer cloudMu.Unlock()
			cloudEvents.Write(raw)
			cloudEvents.WriteByte('\n')
			nCloud += len(b.Events)
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer cloud.Close()
	base, err := os.ReadFile(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	port, err := mqtttest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", port)
	now := time.Now()
	v, err := cloud.Create(cloudsim.Spec{FirstName: "Planted", Intercoms: []string{s.Device},
		Start: now.Add(-time.Minute), End: now.Add(2 * time.Hour),
		Secrets: cloudsim.Secrets{PIN: plantPIN, QRToken: plantQR, Card: plantCard, WebToken: plantWeb}})
	if err != nil {
		t.Fatal(err)
	}

	outputs := map[string]string{}
	for i, format := range []string{"text", "json"} {
		writeConfig(t, s, string(base), format, "debug", metricsAddr)
		r := startLogged(t, s)
		ctx := t.Context()
		if !waitUntil(ctx, 15*time.Second, func() bool { _, _, err := r.d.db.Visit(v.ID); return err == nil }) {
			t.Fatalf("visit never reached the daemon")
		}
		grants := 0
		present := func(what string, want access.Reason, do func() error) {
			t.Helper()
			mark := r.evs.Len()
			if err := do(); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if !waitUntil(ctx, 10*time.Second, func() bool {
				for _, e := range r.evs.Since(mark) {
					if (e.Type == access.EventAccessGranted || e.Type == access.EventAccessDenied) && (e.Reason == want || want == "" && e.Type == access.EventAccessDenied) {
						return true
					}
				}
				return false
			}) {
				t.Fatalf("%s: no decision %s", what, want)
			}
			if want == access.ReasonGranted {
				grants++
				r.ctl.Relay(ctx, localapi.RelayLock, 0)
			}
		}
		sim := func(req localapi.SimRequest) func() error {
			return func() error { return r.ctl.Sim(ctx, req) }
		}
		web := func(tok string) func() error {
			return func() error {
				_, err := cloud.Command(ctx, s.Device, wire.Command{Type: wire.CmdWebUnlock, VisitID: v.ID, Token: tok})
				return err
			}
		}
		present("wrong pin", access.ReasonUnknownCredential, sim(localapi.SimRequest{Kind: localapi.SimPIN, PIN: plantWrongPIN}))
		present("pin", access.ReasonGranted, sim(localapi.SimRequest{Kind: localapi.SimPIN, PIN: plantPIN}))
		present("pin on wiegand", access.ReasonGranted, sim(localapi.SimRequest{Kind: localapi.SimPIN, PIN: plantPIN, Format: "wiegand"}))
		present("wrong qr", access.ReasonUnknownCredential, sim(localapi.SimRequest{Kind: localapi.SimQR, QR: "VK1:" + plantWrongQR}))
		present("qr", access.ReasonGranted, sim(localapi.SimRequest{Kind: localapi.SimQR, QR: "VK1:" + plantQR}))
		present("wrong card", access.ReasonUnknownCredential, sim(localapi.SimRequest{Kind: localapi.SimCard, Format: "corp1000", Card: "4093:" + plantWrongCN}))
		present("card", access.ReasonGranted, sim(localapi.SimRequest{Kind: localapi.SimCard, Format: "corp1000", Card: plantCard}))
		present("wrong web token", "", web(plantWrongWeb)) // any refusal
		present("web token", access.ReasonGranted, web(plantWeb))
		if _, err := r.ctl.Explain(ctx, localapi.ExplainRequest{Kind: access.KindPIN, Value: plantPIN}); err != nil {
			t.Fatalf("explain: %v", err)
		}
		// The outbox drains to the cloud before the daemon stops.
		if !waitUntil(ctx, 15*time.Second, func() bool { n, _ := r.d.db.OutboxLen(); return n == 0 }) {
			t.Error("the outbox did not drain to the cloud")
		}
		var sock strings.Builder
		if err := r.ctl.Events(ctx, 1000, false, func(e access.Event) error {
			b, _ := json.Marshal(e)
			sock.Write(b)
			sock.WriteByte('\n')
			return nil
		}); err != nil {
			t.Fatalf("socket events: %v", err)
		}
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			t.Fatalf("metrics: %v", err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(metrics), `intercomd_decisions_total{kind="pin",reason="granted",result="grant"}`) {
			t.Errorf("metrics do not count the decisions:\n%s", metrics)
		}
		var bus strings.Builder
		for _, e := range r.evs.Since(0) {
			b, _ := json.Marshal(e)
			bus.Write(b)
			bus.WriteByte('\n')
		}
		if err := r.stop(); err != nil {
			t.Errorf("daemon stopped with %v", err)
		}
		outputs[format+" log"] = r.log.Since(0)
		outputs[format+" run: bus events"] = bus.String()
		outputs[format+" run: socket events"] = sock.String()
		outputs[format+" run: metrics"] = string(metrics)
		t.Logf("run %d (%s log): %d grants, %d log bytes", i, format, grants, r.log.Len())
		if format == "json" && !strings.HasPrefix(strings.TrimSpace(r.log.Since(0)), "{") {
			t.Errorf("the json run did not log JSON")
		}
	}
	cloudMu.Lock()
	outputs["events the cloud received"] = cloudEvents.String()
	if nCloud == 0 {
		t.Error("the cloud received no events")
	}
	cloudMu.Unlock()
	dbDir := filepath.Dir(filepath.Join(s.Dir, "db", "intercomd.db"))
	files, _ := filepath.Glob(filepath.Join(dbDir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		outputs["file "+filepath.Base(f)] = string(b)
	}
	if _, ok := outputs["file intercomd.db"]; !ok {
		t.Fatalf("no database file among %v", files)
	}

	// The search itself works: the cloud stand-in keeps the secrets in its
	// state file by design.
	state, _ := os.ReadFile(s.State)
	for name, val := range plantedSecrets() {
		if strings.HasPrefix(name, "wrong") || name == "card number" {
			continue
		}
		if !strings.Contains(string(state), val) {
			t.Fatalf("control: the cloud's state does not hold the %s: the search cannot be trusted", name)
		}
	}
	for out, text := range outputs {
		if len(text) == 0 {
			t.Errorf("%s is empty: nothing was checked", out)
		}
		for name, val := range plantedSecrets() {
			if i := strings.Index(text, val); i >= 0 {
				t.Errorf("%s contains the %s: …%s…", out, name, text[max(0, i-80):min(len(text), i+len(val)+40)])
			}
		}
	}
}

// TestLockoutSurvivesRestart: five wrong PINs lock the keypad; a daemon
// restarted on the same database still refuses the right PIN.
func TestLockoutSurvivesRestart(t *testing.T) {
	t.Parallel()
	s, cloud := prepare(t)
	now := time.Now()
	v, err := cloud.Create(cloudsim.Spec{Intercoms: []string{s.Device}, Start: now.Add(-time.Minute), End: now.Add(time.Hour),
		Secrets: cloudsim.Secrets{PIN: "20481632"}})
	if err != nil {
		t.Fatal(err)
	}
	r := startLogged(t, s)
	ctx := t.Context()
	if !waitUntil(ctx, 15*time.Second, func() bool { _, _, err := r.d.db.Visit(v.ID); return err == nil }) {
		t.Fatal("visit never reached the daemon")
	}
	try := func(r *daemonRun, pin string) access.Reason {
		t.Helper()
		mark := r.evs.Len()
		if err := r.ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimPIN, PIN: pin}); err != nil {
			t.Fatal(err)
		}
		var got access.Reason
		if !waitUntil(ctx, 10*time.Second, func() bool {
			for _, e := range r.evs.Since(mark) {
				if (e.Type == access.EventAccessGranted || e.Type == access.EventAccessDenied) && e.Kind == "pin" {
					got = e.Reason
					return true
				}
			}
			return false
		}) {
			t.Fatal("no PIN decision")
		}
		return got
	}
	for i := range 5 {
		if got := try(r, "97531864"); got != access.ReasonUnknownCredential {
			t.Fatalf("wrong PIN #%d: %s", i+1, got)
		}
	}
	if got := try(r, "20481632"); got != access.ReasonKeypadLockedOut {
		t.Fatalf("right PIN after 5 wrong ones: %s, want %s", got, access.ReasonKeypadLockedOut)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	r2 := startLogged(t, s)
	if got := try(r2, "20481632"); got != access.ReasonKeypadLockedOut {
		t.Fatalf("right PIN after a restart: %s, want %s (the lockout did not survive)", got, access.ReasonKeypadLockedOut)
	}
	if l, _ := r2.d.hw.sim.relay.Level(); l != lockedLevel(r2.d.cfg) {
		t.Error("the relay is unlocked")
	}
}

// TestClockBehindServerTimeRefuses: a device clock behind the newest server
// time the cloud has shown (the clock was set back, or the cloud is ahead)
// is not trusted, and time-bound keys are refused with clock_untrusted,
// also after a restart (the server time is durable).
func TestClockBehindServerTimeRefuses(t *testing.T) {
	t.Parallel()
	s, cloud := prepare(t)
	now := time.Now()
	v, err := cloud.Create(cloudsim.Spec{Intercoms: []string{s.Device}, Start: now.Add(-time.Minute), End: now.Add(6 * time.Hour),
		Secrets: cloudsim.Secrets{PIN: "80604020"}})
	if err != nil {
		t.Fatal(err)
	}
	r := startLogged(t, s)
	ctx := t.Context()
	if !waitUntil(ctx, 15*time.Second, func() bool { _, _, err := r.d.db.Visit(v.ID); return err == nil }) {
		t.Fatal("visit never reached the daemon")
	}
	// A PIN: the camera holds off a code it has just decided, the keypad
	// decides every entry.
	pin := func(r *daemonRun) access.Event {
		t.Helper()
		mark := r.evs.Len()
		if err := r.ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimPIN, PIN: "80604020"}); err != nil {
			t.Fatal(err)
		}
		var got access.Event
		if !waitUntil(ctx, 10*time.Second, func() bool {
			for _, e := range r.evs.Since(mark) {
				if e.Type == access.EventAccessGranted || e.Type == access.EventAccessDenied {
					got = e
					return true
				}
			}
			return false
		}) {
			t.Fatalf("no PIN decision; log:\n%s", r.log.Since(0))
		}
		r.ctl.Relay(ctx, localapi.RelayLock, 0)
		return got
	}
	if e := pin(r); e.Reason != access.ReasonGranted {
		t.Fatalf("before: %s", e.Reason)
	}
	// The cloud's clock is two hours ahead of the device's: its head says
	// so, and the next change applied carries it into clock trust.
	rev, _ := r.d.db.Revision()
	ahead := time.Now().Add(2 * time.Hour).UTC()
	if err := cloud.Publish(wire.TopicHead.Name(s.Device), &wire.Head{V: 1, Rev: rev, SentAt: ahead}, false); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(ctx, 10*time.Second, func() bool { st, _ := r.d.db.NewestServerTime(); return !st.Before(ahead.Add(-time.Second)) }) {
		t.Fatal("the head's server time was not recorded")
	}
	if _, err := cloud.Create(cloudsim.Spec{Intercoms: []string{s.Device}, Start: now, End: now.Add(time.Hour), GenPIN: true}); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(ctx, 10*time.Second, func() bool { return !r.d.clock.now().Trusted }) {
		st, _ := r.d.db.NewestServerTime()
		t.Fatalf("the clock is still trusted (newest server time %v)", st)
	}
	e := pin(r)
	if e.Reason != access.ReasonClockUntrusted {
		t.Fatalf("with the clock behind the server: %s, want %s", e.Reason, access.ReasonClockUntrusted)
	}
	st, err := r.ctl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Clock.Trusted || st.Clock.Why == "" {
		t.Errorf("status clock %+v, want untrusted with a reason", st.Clock)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	r2 := startLogged(t, s)
	if e := pin(r2); e.Reason != access.ReasonClockUntrusted {
		t.Fatalf("after a restart: %s, want %s", e.Reason, access.ReasonClockUntrusted)
	}
	for _, c := range r2.d.hw.sim.relay.History() {
		if c.Level != lockedLevel(r2.d.cfg) {
			t.Fatal("the relay unlocked on an untrusted clock")
		}
	}
}

// TestTLSRefused: against a TLS broker that requires client certificates,
// the daemon connects with a good certificate, and never with a CA it does
// not trust or with an expired client certificate.
func TestTLSRefused(t *testing.T) {
	t.Parallel()
	b := mqtttest.Start(t, mqtttest.Options{TLS: true})
	other, err := mqtttest.NewCA("not-the-broker")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cases := []struct {
		name    string
		ca      []byte
		from    time.Time
		until   time.Time
		connect bool
	}{
		{"good certificate", b.CA().CertPEM(), now.Add(-time.Hour), now.Add(time.Hour), true},
		{"wrong CA", other.CertPEM(), now.Add(-time.Hour), now.Add(time.Hour), false},
		{"expired client certificate", b.CA().CertPEM(), now.Add(-48 * time.Hour), now.Add(-24 * time.Hour), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := demo.Prepare(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			cert, err := b.CA().Issue(s.Device, c.from, c.until, false)
			if err != nil {
				t.Fatal(err)
			}
			files := map[string][]byte{"ca.pem": c.ca, "client.pem": cert.CertPEM, "client.key": cert.KeyPEM}
			for n, data := range files {
				if err := os.WriteFile(filepath.Join(s.Dir, n), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg, _ := os.ReadFile(s.Config)
			tlsCfg := regexp.MustCompile(`(?m)^broker = .*$`).ReplaceAllString(string(cfg), fmt.Sprintf(
				"broker = %q\nca_file = %q\ncert_file = %q\nkey_file = %q", b.URL(), filepath.Join(s.Dir, "ca.pem"),
				filepath.Join(s.Dir, "client.pem"), filepath.Join(s.Dir, "client.key")))
			if err := os.WriteFile(s.Config, []byte(tlsCfg), 0o600); err != nil {
				t.Fatal(err)
			}
			r := startLogged(t, s)
			within := 10 * time.Second
			if !c.connect {
				within = 4 * time.Second
			}
			connected := waitUntil(t.Context(), within, func() bool { return r.d.link.client.Stats().Connects > 0 })
			st := r.d.link.client.Stats()
			if connected != c.connect {
				t.Fatalf("connected = %v, want %v (stats %+v)\nbroker log:\n%s", connected, c.connect, st, b.Log())
			}
			if !c.connect && st.ConnectFailures == 0 {
				t.Errorf("no connect failure counted: %+v", st)
			}
		})
	}
}

// TestSocketRefusesOtherUsers: with the socket opened up to everyone (0666),
// a process of another user (nobody) still gets 403 from the peer check,
// counted, while root is served.
func TestSocketRefusesOtherUsers(t *testing.T) {
	t.Parallel()
	s, _ := prepare(t)
	r := startLogged(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req := []byte("GET /v1/status HTTP/1.1\r\nHost: intercomd\r\n\r\n")
	before := r.d.socket.Stats().Denied
	out := asNobody(ctx, t, s.Socket, req)
	if out.status != http.StatusForbidden {
		t.Fatalf("nobody got HTTP %d, want 403: %s", out.status, out.body)
	}
	if strings.Contains(out.body, `"device"`) || strings.Contains(out.body, `"cache"`) {
		t.Errorf("the refusal leaked status: %s", out.body)
	}
	if got := r.d.socket.Stats().Denied; got <= before {
		t.Errorf("Denied = %d, not counted", got)
	}
	if _, err := r.ctl.Status(ctx); err != nil {
		t.Errorf("root is refused too: %v", err)
	}
}
