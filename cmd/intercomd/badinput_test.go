package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/device/pins/pinstest"
	"github.com/intercomd/intercomd/internal/demo"
	"github.com/intercomd/intercomd/localapi"
	"github.com/intercomd/intercomd/reader/wiegand"
	"github.com/intercomd/intercomd/sync/cloudsim"
	"github.com/intercomd/intercomd/sync/wire"
)

// The bad-input catalogue: testdata/bad/<area>/<case>/{input,expected}, one
// folder per case (Telegraf style). TestBadInputCatalogue feeds every case
// through its real entry point into a daemon running in simulation mode
// against a real mosquitto:
//
//	mqtt     published on intercom/<device>/<topic> by the cloud stand-in
//	serial   written on the simulated keypad's line (the pty's far end)
//	wiegand  a transcript replayed as edges on the fake D0/D1 lines
//	qr       rendered into a camera frame (sim qr through the debug socket)
//	config   ParseConfig
//	socket   raw HTTP over the debug socket (as root, or as nobody)
//
// An expected file has one assertion per line:
//
//	topic T          mqtt: the topic under intercom/<device>/
//	send command     mqtt: send through cloudsim.Command and check the result
//	                 ("twice": the second send's; "after fresh": after a fresh command)
//	result S R       the command's result status (and reason); "result" alone: not ok
//	counter a|b      one of these counters increased (see badCounters)
//	error TEXT       TEXT appears in the log, an event, the result or the returned error
//	event TYPE       an event of TYPE was emitted
//	relay locked     the relay never left the locked level during the case
//	status N         socket: the HTTP status
//	as nobody        socket: sent by uid 65534 through a 0666 socket
//	slowloris        socket: a request that never ends; "closed": the server cuts it off
//
// Inputs may use placeholders, expanded at run time: $NOW, $SOON (+1 min),
// $NOW1H (+1 h), $PAST5M, $PAST4M, $REV, $REV1, $REV2, $REV10, $REVM1 (the
// device's revision and offsets), $RID (a fresh request id), $VISIT and
// $WEBTOKEN (the planted visit), $PAD200K, $PAD2M, $BODY1M, $HDR2M (fillers).
//
// After every case nothing already stored may be lost: the planted visit
// still explains as granted for its QR token and card, and the store's visit
// count is unchanged; no rejected message created the ghost visit.

type badCase struct {
	area, name string
	input      []byte
	expect     [][]string // each line split in fields
}

func (c badCase) has(key string) []string {
	for _, l := range c.expect {
		if l[0] == key {
			return l
		}
	}
	return nil
}

func loadBadCases(t *testing.T, root string) []badCase {
	t.Helper()
	var cases []badCase
	dirs, _ := filepath.Glob(filepath.Join(root, "*", "*"))
	for _, dir := range dirs {
		in, err := os.ReadFile(filepath.Join(dir, "input"))
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		ex, err := os.ReadFile(filepath.Join(dir, "expected"))
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		c := badCase{area: filepath.Base(filepath.Dir(dir)), name: filepath.Base(dir), input: in}
		for _, l := range strings.Split(string(ex), "\n") {
			if f := strings.Fields(l); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
				c.expect = append(c.expect, f)
			}
		}
		if len(c.expect) == 0 {
			t.Fatalf("%s: expected asserts nothing", dir)
		}
		cases = append(cases, c)
	}
	return cases
}

// badCounters flattens every input counter the daemon keeps.
func badCounters(r *daemonRun) map[string]uint64 {
	d := r.d
	m := map[string]uint64{}
	if d.link != nil {
		st := d.link.client.Stats()
		for k, v := range st.Rejected {
			m["mqtt:"+k] = v
		}
		m["mqtt:stale"] = st.Stale
		m["mqtt:snapshot_timeouts"] = st.SnapshotTimeouts
		m["mqtt:commands_refused"] = st.CommandsRefused
		m["mqtt:commands"] = st.Commands
		m["mqtt:errors"] = st.Errors
	}
	if d.keypad != nil {
		st := d.keypad.Stats()
		l := st.Link
		for k, v := range map[string]uint64{"garbage": l.Garbage, "bad_crc": l.BadCRC, "bad_length": l.BadLength,
			"malformed": l.Malformed, "unknown_type": l.UnknownType, "resyncs": l.Resyncs, "unexpected": st.Unexpected,
			"invalid_keys": st.InvalidKeys, "seq_gaps": st.SeqGaps, "too_long": st.TooLong} {
			m["keypad:"+k] = v
		}
	}
	if d.wiegand != nil {
		for k, v := range d.wiegand.Stats().Snapshot() {
			m["wiegand:"+k] = v
		}
	}
	if d.qr != nil {
		st := d.qr.Stats()
		m["qr:not_visit_key"] = st.NotVisitKey
		m["qr:decode_errors"] = st.DecodeErrors
		m["qr:decoded"] = st.Decoded
	}
	st := d.socket.Stats()
	m["socket:denied"] = st.Denied
	m["socket:too_large"] = st.TooLarge
	m["socket:bad_requests"] = st.BadRequests
	m["socket:requests"] = st.Requests
	return m
}

// badEnv is the running world the catalogue is fed into.
type badEnv struct {
	t      *testing.T
	s      *demo.Setup
	r      *daemonRun
	cloud  *cloudsim.Cloud
	visit  *cloudsim.Visit
	visits uint64
	seq    int
}

func TestBadInputCatalogue(t *testing.T) {
	t.Parallel()
	cases := loadBadCases(t, filepath.Join("..", "..", "testdata", "bad"))
	if len(cases) < 50 {
		t.Fatalf("the catalogue has %d cases, want at least 50", len(cases))
	}
	s, cloud := prepare(t)
	r := startLogged(t, s)
	r.d.level.Set(slog.LevelDebug) // readers give their reasons at debug level
	now := time.Now()
	v, err := cloud.Create(cloudsim.Spec{FirstName: "Bad", Intercoms: []string{s.Device},
		Start: now.Add(-time.Minute), End: now.Add(2 * time.Hour), GenPIN: true, GenQR: true, GenWeb: true, GenCard: true})
	if err != nil {
		t.Fatal(err)
	}
	if !waitUntil(t.Context(), 15*time.Second, func() bool { _, _, err := r.d.db.Visit(v.ID); return err == nil }) {
		t.Fatalf("visit %s never reached the daemon", v.ID)
	}
	st, _ := r.d.db.Stats()
	e := &badEnv{t: t, s: s, r: r, cloud: cloud, visit: v, visits: st.Visits}
	e.intact(t)

	// The slow cases (a stalled snapshot, slowloris) wait on the daemon's
	// own timeouts; run them last so a failure elsewhere shows quickly.
	slices.SortStableFunc(cases, func(a, b badCase) int {
		return boolInt(a.has("slowloris") != nil || strings.Contains(a.name, "missing")) -
			boolInt(b.has("slowloris") != nil || strings.Contains(b.name, "missing"))
	})
	for _, c := range cases {
		t.Run(c.area+"/"+c.name, func(t *testing.T) { e.run(t, c) })
	}
	t.Logf("%d bad-input cases", len(cases))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// intact checks that nothing already stored was lost.
func (e *badEnv) intact(t *testing.T) {
	t.Helper()
	d := e.r.d
	st, err := d.db.Stats()
	if err != nil {
		t.Fatalf("store stats: %v", err)
	}
	if st.Visits != e.visits {
		t.Errorf("store holds %d visits, want %d", st.Visits, e.visits)
	}
	clk := d.clock.now()
	for _, c := range []access.Credential{
		{Kind: access.KindQR, Value: e.visit.Secrets.QRToken, Reader: "explain", At: time.Now()},
		{Kind: access.KindCard, Value: e.visit.Secrets.Card, Reader: "explain", At: time.Now()},
	} {
		if dec := d.engine.Explain(c, clk); !dec.Grant || dec.VisitID != e.visit.ID {
			t.Errorf("the planted visit's %v now explains as %v (visit %q)", c.Kind, dec.Reason, dec.VisitID)
		}
	}
	if _, _, err := d.db.Visit("ghost-visit"); err == nil {
		t.Error("a rejected message created the ghost visit")
	}
}

func (e *badEnv) expand(in []byte) []byte {
	rev, _ := e.r.d.db.Revision()
	now := time.Now().UTC()
	ts := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	e.seq++
	rep := strings.NewReplacer(
		"$NOW1H", ts(now.Add(time.Hour)), "$NOW", ts(now), "$SOON", ts(now.Add(time.Minute)),
		"$PAST5M", ts(now.Add(-5*time.Minute)), "$PAST4M", ts(now.Add(-4*time.Minute)),
		"$REVM1", strconv.FormatUint(rev-1, 10), "$REV10", strconv.FormatUint(rev+10, 10),
		"$REV1", strconv.FormatUint(rev+1, 10), "$REV2", strconv.FormatUint(rev+2, 10), "$REV", strconv.FormatUint(rev, 10),
		"$RID", fmt.Sprintf("bad-%d-%d", now.UnixNano(), e.seq),
		"$VISIT", e.visit.ID, "$WEBTOKEN", e.visit.Secrets.WebToken,
		"$PAD200K", strings.Repeat("x", 200<<10), "$PAD2M", strings.Repeat("# padding\n", 200<<10),
		"$BODY1M", strings.Repeat(" ", 1<<20), "$HDR2M", strings.Repeat("h", 2<<20),
	)
	return []byte(rep.Replace(string(in)))
}

// outcome is what a case produced directly.
type outcome struct {
	err    error
	result *wire.Result
	status int
	body   string
	closed bool
}

func (e *badEnv) run(t *testing.T, c badCase) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r := e.r
	before := badCounters(r)
	logMark, evMark := r.log.Len(), r.evs.Len()
	relayMark := len(r.d.hw.sim.relay.History())
	caseStart := time.Now()
	in := e.expand(c.input)
	var out outcome
	switch c.area {
	case "mqtt":
		out = e.mqtt(ctx, t, c, in)
	case "serial":
		out.err = r.d.hw.sim.pad.WriteRaw(in)
		if out.err != nil {
			t.Fatalf("write on the keypad line: %v", out.err)
		}
		out.err = nil
	case "wiegand":
		tr, err := wiegand.ReadTranscript(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("transcript: %v", err)
		}
		// A transcript starts on an idle line: let any earlier frame end
		// (the simulated reader's end-of-frame gap is 30 ms).
		time.Sleep(100 * time.Millisecond)
		if _, err := pinstest.Replay(ctx, r.d.hw.sim.edges, tr); err != nil {
			t.Fatal(err)
		}
	case "qr":
		if err := r.ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimQR, QR: string(in)}); err != nil {
			t.Fatalf("sim qr: %v", err)
		}
	case "config":
		_, out.err = ParseConfig(c.name+".toml", in)
		if out.err == nil {
			t.Fatal("ParseConfig accepted a bad config")
		}
	case "socket":
		out = e.socket(ctx, t, c, in)
	default:
		t.Fatalf("unknown area %q", c.area)
	}

	// Every assertion of the case, polled until all hold or time runs out.
	within := 10 * time.Second
	if strings.Contains(c.name, "missing") {
		within = 25 * time.Second // the snapshot's chunk timeout is 10 s
	}
	var failed []string
	check := func() bool {
		failed = failed[:0]
		after := badCounters(r)
		hay := r.log.Since(logMark)
		var evTypes []string
		for _, ev := range r.evs.Since(evMark) {
			hay += "\n" + eventText(ev)
			evTypes = append(evTypes, string(ev.Type))
		}
		if out.err != nil {
			hay += "\n" + out.err.Error()
		}
		if out.result != nil {
			hay += fmt.Sprintf("\n%s %s %s", out.result.Status, out.result.Reason, out.result.Detail)
		}
		hay += "\n" + out.body
		for _, l := range c.expect {
			arg := strings.Join(l[1:], " ")
			switch l[0] {
			case "counter":
				ok := false
				for _, name := range strings.Split(arg, "|") {
					ok = ok || after[name] > before[name]
				}
				if !ok {
					failed = append(failed, "no increase of counter "+arg)
				}
			case "error":
				if !strings.Contains(strings.ToLower(hay), strings.ToLower(arg)) {
					failed = append(failed, fmt.Sprintf("no clear error containing %q", arg))
				}
			case "event":
				// Readers rate-limit input.rejected events (one per 10 s);
				// a rejection right after an event is counted into the
				// next one's detail instead.
				if !slices.Contains(evTypes, arg) && !(c.area == "wiegand" && recentEvent(r, evMark, arg, caseStart.Add(-10*time.Second))) {
					failed = append(failed, "no "+arg+" event")
				}
			case "result":
				switch {
				case out.result == nil:
					failed = append(failed, "no command result")
				case len(l) == 1 && out.result.Status == wire.StatusOK:
					failed = append(failed, "command result ok, want a refusal or error")
				case len(l) > 1 && string(out.result.Status) != l[1]:
					failed = append(failed, fmt.Sprintf("result status %s, want %s", out.result.Status, l[1]))
				case len(l) > 2 && out.result.Reason != l[2]:
					failed = append(failed, fmt.Sprintf("result reason %q, want %q", out.result.Reason, l[2]))
				}
			case "status":
				if strconv.Itoa(out.status) != arg {
					failed = append(failed, fmt.Sprintf("HTTP status %d, want %s", out.status, arg))
				}
			case "closed":
				if !out.closed {
					failed = append(failed, "the server did not cut the connection off")
				}
			case "relay":
				for _, ch := range r.d.hw.sim.relay.History()[relayMark:] {
					if ch.Level != lockedLevel(r.d.cfg) {
						failed = append(failed, "the relay unlocked")
						break
					}
				}
			}
		}
		return len(failed) == 0
	}
	if !waitUntil(ctx, within, check) {
		t.Errorf("case %s/%s:\n  %s", c.area, c.name, strings.Join(failed, "\n  "))
		if testing.Verbose() {
			t.Logf("log since the case:\n%s", r.log.Since(logMark))
		}
	}
	e.intact(t)
}

// recentEvent reports whether an event of type typ was published shortly
// before the mark.
func recentEvent(r *daemonRun, mark int, typ string, after time.Time) bool {
	evs := r.evs.Since(0)
	for _, ev := range evs[:min(mark, len(evs))] {
		if string(ev.Type) == typ && ev.At.After(after) {
			return true
		}
	}
	return false
}

func (e *badEnv) mqtt(ctx context.Context, t *testing.T, c badCase, in []byte) outcome {
	topic := c.has("topic")
	if topic == nil {
		t.Fatal("mqtt case without a topic")
	}
	full := "intercom/" + e.s.Device + "/" + topic[1]
	send := c.has("send")
	if send == nil {
		for _, part := range bytes.Split(in, []byte("\n---\n")) {
			if err := e.cloud.PublishRaw(full, part, false); err != nil {
				t.Fatalf("publish: %v", err)
			}
		}
		return outcome{}
	}
	var cmd wire.Command
	if err := json.Unmarshal(in, &cmd); err != nil {
		t.Fatalf("the case's command does not decode: %v", err)
	}
	sendOne := func(cmd wire.Command) wire.Result {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		res, err := e.cloud.Command(cctx, e.s.Device, cmd)
		if err != nil {
			t.Fatalf("command %s: %v", cmd.Type, err)
		}
		return res
	}
	switch {
	case slices.Contains(send, "twice"):
		if first := sendOne(cmd); first.Status != wire.StatusOK {
			t.Fatalf("the first send was not accepted: %+v", first)
		}
	case slices.Contains(send, "after"):
		off := false
		if fresh := sendOne(wire.Command{V: 1, Type: wire.CmdLockdown, On: &off}); fresh.Status != wire.StatusOK {
			t.Fatalf("a fresh command was not accepted: %+v", fresh)
		}
	}
	res := sendOne(cmd)
	return outcome{result: &res}
}

// socket sends a raw request over the debug socket and reads the answer.
func (e *badEnv) socket(ctx context.Context, t *testing.T, c badCase, in []byte) outcome {
	in = fixContentLength(in)
	path := e.s.Socket
	if c.has("as") != nil {
		return asNobody(ctx, t, path, in)
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if c.has("slowloris") != nil {
		// Trickle a header that never ends: the server must cut it off
		// within its read timeout (5 s by default), not hold it forever.
		start := time.Now()
		conn.Write(in)
		var closed bool
		for time.Since(start) < 12*time.Second {
			conn.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := conn.Write([]byte("x")); err != nil {
				closed = true
				break
			}
			buf := make([]byte, 512)
			if _, err := conn.Read(buf); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				closed = true
				break
			}
		}
		return outcome{closed: closed, body: fmt.Sprintf("slowloris connection closed after %v", time.Since(start).Round(time.Second))}
	}
	go func() { conn.Write(in) }() // the server may answer (413, 431) before reading it all
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	return parseHTTP(t, conn)
}

func parseHTTP(t *testing.T, rd io.Reader) outcome {
	br := bufio.NewReader(rd)
	line, err := br.ReadString('\n')
	if err != nil {
		return outcome{err: fmt.Errorf("no HTTP answer: %w", err)}
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		t.Fatalf("bad status line %q", line)
	}
	code, _ := strconv.Atoi(f[1])
	rest, _ := io.ReadAll(io.LimitReader(br, 64<<10))
	return outcome{status: code, body: string(rest)}
}

// fixContentLength sets Content-Length to the body's real length, so that
// catalogue files stay hand-editable.
func fixContentLength(in []byte) []byte {
	head, body, ok := bytes.Cut(in, []byte("\r\n\r\n"))
	if !ok || !bytes.Contains(head, []byte("Content-Length:")) {
		return in
	}
	var out []string
	for _, l := range strings.Split(string(head), "\r\n") {
		if strings.HasPrefix(l, "Content-Length:") {
			l = "Content-Length: " + strconv.Itoa(len(body))
		}
		out = append(out, l)
	}
	return append([]byte(strings.Join(out, "\r\n")+"\r\n\r\n"), body...)
}

// asNobody sends the request from a child process running as uid/gid 65534
// through the socket opened up to everyone (0666, its directory 0755): only
// the peer-credential check stands between that user and the daemon.
func asNobody(ctx context.Context, t *testing.T, path string, in []byte) outcome {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child as another user")
	}
	py := "/usr/bin/python3" // not a per-user shim: nobody must be able to run it
	if _, err := os.Stat(py); err != nil {
		t.Skip("python3 not installed")
	}
	for p := filepath.Dir(path); p != "/" && p != filepath.Clean(os.TempDir()); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	script := `import socket,sys
s=socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read())
s.settimeout(10)
out=b""
while True:
    b=s.recv(65536)
    if not b: break
    out+=b
    if b"\r\n\r\n" in out and len(out)>200: break
sys.stdout.buffer.write(out)`
	cmd := exec.CommandContext(ctx, py, "-c", script, path)
	cmd.Stdin = bytes.NewReader(bytes.Replace(in, []byte("HTTP/1.1\r\n"), []byte("HTTP/1.1\r\nConnection: close\r\n"), 1))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Dir = "/"
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("child as nobody: %v: %s", err, stderr.String())
	}
	return parseHTTP(t, bytes.NewReader(b))
}
