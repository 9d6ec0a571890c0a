package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"go.uber.org/goleak"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/localapi"
	"github.com/intercomd/intercomd/localapi/localapitest"
)

var update = flag.Bool("update", false, "rewrite the golden files and docs/technician.md")

// now is the fake daemon's clock in every example: a Thursday evening.
var now = time.Date(2026, 3, 12, 19, 26, 53, 0, time.UTC)

// testdata is absolute: TestGolden changes directory.
var testdata string

func TestMain(m *testing.M) {
	time.Local = time.UTC // golden output must not depend on the machine's zone
	var err error
	if testdata, err = filepath.Abs("testdata"); err != nil {
		panic(err)
	}
	goleak.VerifyTestMain(m)
}

// serve starts a debug socket on fake and returns its path.
func serve(t *testing.T, fake *localapitest.Backend) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.sock")
	srv := &localapi.Server{Path: path, Group: -1, Backend: fake,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	ln, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return path
}

// goldenCases are the examples of docs/technician.md: each one's output is
// checked against testdata/golden/NAME.txt.
var goldenCases = []struct {
	name  string
	args  []string
	stdin string
	call  string // the backend call it must make, "name:detail"
}{
	{"status", []string{"status"}, "", "status:"},
	{"status-json", []string{"status", "--json"}, "", "status:"},
	{"keys-list", []string{"keys", "list", "--deleted"}, "", "keys:id= after= limit=50 deleted=true"},
	{"keys-show", []string{"keys", "show", "visit-2c91"}, "", "keys:id=visit-2c91 after= limit=1 deleted=true"},
	{"events", []string{"events", "-n", "4"}, "", "events:n=4 follow=false"},
	{"events-json", []string{"--json", "events", "-n", "2"}, "", "events:n=2 follow=false"},
	{"explain", []string{"explain", "--kind", "card", "--value", "-", "--reader", "wiegand0"}, "12:34567\n", "explain:card wiegand0"},
	{"explain-json", []string{"explain", "--json", "--kind", "pin", "--value", "-", "--reader", "keypad0"}, "246810\n", "explain:pin keypad0"},
	{"relay-pulse", []string{"relay", "pulse", "--for", "5s"}, "", "relay:pulse 5s"},
	{"relay-pulse-default", []string{"relay", "pulse"}, "", "relay:pulse"},
	{"relay-lock", []string{"relay", "lock"}, "", "relay:lock"},
	{"relay-unlock", []string{"relay", "unlock"}, "", "relay:unlock"},
	{"wiegand-last", []string{"wiegand", "last", "-n", "3"}, "", "wiegand:n=3"},
	{"keypad-stats", []string{"keypad", "stats"}, "", "keypad:"},
	{"camera-snapshot", []string{"camera", "snapshot", "door.jpg"}, "", "snapshot:"},
	{"resync", []string{"resync"}, "", "resync:"},
	{"log-level", []string{"log-level", "debug"}, "", "log-level:DEBUG"},
	{"lockdown-on", []string{"lockdown", "on"}, "", "lockdown:true"},
	{"lockdown-off", []string{"lockdown", "off"}, "", "lockdown:false"},
	{"sim-card", []string{"sim", "card", "12:34567", "--format", "h10301"}, "", "sim:card"},
	{"sim-pin", []string{"sim", "pin", "-"}, "246810\n", "sim:pin"},
	{"sim-qr", []string{"sim", "qr", "3f2a9c0e5b7d4e1f"}, "", "sim:qr"},
	{"sim-rex", []string{"sim", "rex"}, "", "sim:rex"},
	{"sim-door", []string{"sim", "door", "open"}, "", "sim:door"},
	{"sim-json", []string{"--json", "sim", "rex"}, "", "sim:rex"},
}

func TestGolden(t *testing.T) {
	t.Chdir(t.TempDir()) // camera snapshot writes door.jpg here
	for _, tt := range goldenCases {
		t.Run(tt.name, func(t *testing.T) {
			fake := localapitest.Sample(now)
			fake.SimMode = true
			path := serve(t, fake)
			var out, errOut bytes.Buffer
			err := run(t.Context(), append([]string{"--socket", path}, tt.args...), strings.NewReader(tt.stdin), &out, &errOut)
			if err != nil {
				t.Fatalf("run: %v (stderr %q)", err, errOut.String())
			}
			got := "$ intercomctl " + strings.Join(tt.args, " ") + "\n" + out.String()
			checkGolden(t, filepath.Join(testdata, "golden", tt.name+".txt"), got)
			calls := fake.Calls()
			if len(calls) != 1 || calls[0].Name+":"+calls[0].Detail != tt.call {
				t.Errorf("backend calls %+v, want one %q", calls, tt.call)
			}
			if secret := strings.TrimSpace(tt.stdin); secret != "" && strings.Contains(out.String(), secret) {
				t.Errorf("output echoes the secret read from stdin")
			}
		})
	}
}

func checkGolden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

// TestValuesReachBackend checks what arrives at the daemon for the commands
// that carry secrets or files.
func TestValuesReachBackend(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "code.png")
	if err := os.WriteFile(img, []byte("\x89PNG fake"), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := localapitest.Sample(now)
	fake.SimMode = true
	path := serve(t, fake)
	for _, args := range [][]string{
		{"explain", "--kind", "pin", "--value", "-"},
		{"sim", "pin", "-"},
		{"sim", "qr", img},
		{"camera", "snapshot", filepath.Join(dir, "snap.jpg")},
	} {
		if err := run(t.Context(), append([]string{"--socket", path}, args...), strings.NewReader("135790\r\n"), io.Discard, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	calls := fake.Calls()
	if c := calls[0].Credential; c.Value != "135790" || c.Kind != access.KindPIN || c.Reader != "" {
		t.Errorf("explain credential = %+v", c)
	}
	if s := calls[1].Sim; s.PIN != "135790" {
		t.Errorf("sim pin = %+v", s)
	}
	if s := calls[2].Sim; string(s.Image) != "\x89PNG fake" || s.QR != "" {
		t.Errorf("sim qr image = %+v", s)
	}
	b, err := os.ReadFile(filepath.Join(dir, "snap.jpg"))
	if err != nil || !bytes.Equal(b, fake.JPEG) {
		t.Errorf("snapshot file = %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "snap.jpg")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot mode = %v, %v; want 0600", fi.Mode(), err)
	}
}

func TestExitCodes(t *testing.T) {
	fake := localapitest.Sample(now) // not in sim mode
	path := serve(t, fake)
	missing := filepath.Join(t.TempDir(), "none.sock")
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no command", nil, 2, "no command"},
		{"unknown command", []string{"open", "sesame"}, 2, `unknown command "open sesame"`},
		{"unknown flag", []string{"status", "--colour"}, 2, "flag provided but not defined"},
		{"keys show without id", []string{"keys", "show"}, 2, "want 1 argument"},
		{"bad kind", []string{"explain", "--kind", "iris", "--value", "1"}, 2, "unknown credential kind"},
		{"no value", []string{"explain", "--kind", "pin"}, 2, "--value is required"},
		{"empty stdin", []string{"explain", "--kind", "pin", "--value", "-"}, 2, "nothing on stdin"},
		{"relay bad action", []string{"relay", "open"}, 2, "unknown relay action"},
		{"relay lock for", []string{"relay", "lock", "--for", "5s"}, 2, "pulse only"},
		{"relay too long", []string{"relay", "pulse", "--for", "2m"}, 2, "must be 1s to 1m0s"},
		{"lockdown maybe", []string{"lockdown", "maybe"}, 2, "want on or off"},
		{"log-level loud", []string{"log-level", "loud"}, 2, "want debug"},
		{"sim nothing", []string{"sim"}, 2, "want card"},
		{"sim rex arg", []string{"sim", "rex", "now"}, 2, "want 0 argument"},
		{"events too many", []string{"events", "-n", "5000"}, 2, "-n must be"},
		{"sim outside sim mode", []string{"sim", "rex"}, 1, "not in simulation mode"},
		{"server refuses", []string{"explain", "--kind", "pin", "--value", strings.Repeat("1", 2000)}, 1, "value must be 1-1024 bytes"},
		{"key not found", []string{"keys", "show", "visit-none"}, 1, "not found"},
		{"missing socket", []string{"--socket", missing, "status"}, 1, "no socket at " + missing},
		{"help", []string{"-h"}, 0, ""},
		{"ok", []string{"status"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errOut bytes.Buffer
			args := append([]string{"--socket", path}, tt.args...)
			err := run(t.Context(), args, strings.NewReader(""), io.Discard, &errOut)
			code := exitCode(err, &errOut)
			if code != tt.code || !strings.Contains(errOut.String(), tt.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut.String(), tt.code, tt.msg)
			}
		})
	}
}

func TestSocketFromEnv(t *testing.T) {
	fake := localapitest.Sample(now)
	t.Setenv("INTERCOMD_SOCKET", serve(t, fake))
	if err := run(t.Context(), []string{"resync"}, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("resync via INTERCOMD_SOCKET: %v", err)
	}
	if len(fake.Calls()) != 1 {
		t.Errorf("calls = %+v", fake.Calls())
	}
}

// TestEventsFollow: events -f prints history, then live events as they
// come, and ends without error when cancelled (Ctrl-C).
func TestEventsFollow(t *testing.T) {
	fake := localapitest.Sample(now)
	fake.Live = make(chan access.Event)
	path := serve(t, fake)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"--socket", path, "events", "-f", "-n", "1"}, nil, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	next := func() string {
		if !sc.Scan() {
			t.Fatalf("output ended: %v", sc.Err())
		}
		return sc.Text()
	}
	if h := next(); h != eventHeader {
		t.Errorf("header %q", h)
	}
	if l := next(); !strings.Contains(l, "audit.control") || !strings.Contains(l, "uid=1000") {
		t.Errorf("history line %q", l)
	}
	for i := range 3 {
		ev := access.Event{ID: fmt.Sprint(i), Type: access.EventDoorOpened, At: now.Add(time.Duration(i) * time.Second), Reader: "door0"}
		fake.Live <- ev
		if l := next(); l != eventLine(ev) {
			t.Errorf("live line %q, want %q", l, eventLine(ev))
		}
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if err := <-errc; err != nil {
		t.Errorf("events -f after cancel: %v, want nil", err)
	}
}

// TestTechnicianDoc renders docs/technician.md from its template and the
// golden files, so the documented output is the tested output.
func TestTechnicianDoc(t *testing.T) {
	golden := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(testdata, "golden", name+".txt"))
		if err != nil {
			return "", err
		}
		return "```\n" + string(b) + "```", nil
	}
	tmpl, err := template.New("technician.md.tmpl").Funcs(template.FuncMap{"golden": golden, "usage": func() string { return usage }}).
		ParseFiles(filepath.Join(testdata, "technician.md.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, nil); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(testdata, "..", "..", "..", "docs", "technician.md")
	if *update {
		if err := os.WriteFile(doc, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(doc)
	if err != nil || !bytes.Equal(out.Bytes(), want) {
		t.Errorf("docs/technician.md is stale (%v): run go test ./cmd/intercomctl -update", err)
	}
	// Every golden example is in the doc.
	for _, tt := range goldenCases {
		if !strings.Contains(out.String(), "$ intercomctl "+strings.Join(tt.args, " ")+"\n") {
			t.Errorf("docs/technician.md lacks the %s example", tt.name)
		}
	}
}
