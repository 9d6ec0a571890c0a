package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/localapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// callTimeout bounds every call but events.
const callTimeout = 30 * time.Second

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// exitCode prints err, if any, and maps it to the process's exit code.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "intercomctl: %v\n\n%s", err, usage)
		return 2
	}
	fmt.Fprintf(stderr, "intercomctl: %v\n", err)
	return 1
}

const usage = `usage: intercomctl [--socket PATH] [--json] COMMAND [ARGS]

commands:
  status                               daemon health at a glance
  keys list [--limit N] [--after ID] [--deleted]
  keys show ID                         one visit, without secrets
  events [-f] [-n N]                   recent events; -f follows live
  explain --kind KIND --value V|- [--reader ID] [--visit ID]
                                       dry run of a credential, rule by rule
  relay pulse [--for 5s] | lock | unlock
  wiegand last [-n N]                  raw bits of recent Wiegand frames
  keypad stats                         TD63 serial link counters
  camera snapshot FILE                 save a JPEG with any QR outlined
  resync                               fetch a full snapshot from the cloud
  log-level debug|info|warn|error
  lockdown on|off
  sim card FC:CN [--format h10301] | sim pin DIGITS | sim qr FILE-or-PAYLOAD
      | sim rex | sim door open|close  (simulation mode only)

--socket defaults to $INTERCOMD_SOCKET or ` + localapi.DefaultPath + `.
`

// cli is one invocation: the shared flags, the client and the streams.
type cli struct {
	socket string
	json   bool
	c      *localapi.Client
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// flags returns a flag set for name that also accepts the global flags, so
// they may come before or after the command.
func (x *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&x.socket, "socket", x.socket, "debug socket path")
	fs.BoolVar(&x.json, "json", x.json, "print JSON")
	return fs
}

// parse parses flags anywhere among the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usagef("%s: help requested", fs.Name())
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// command is one subcommand: it gets its positional arguments after the
// command words and returns what to print.
type command struct {
	words []string
	run   func(x *cli, ctx context.Context, args []string) error
}

var commands = []command{
	{[]string{"status"}, (*cli).runStatus},
	{[]string{"keys", "list"}, (*cli).runKeysList},
	{[]string{"keys", "show"}, (*cli).runKeysShow},
	{[]string{"events"}, (*cli).runEvents},
	{[]string{"explain"}, (*cli).runExplain},
	{[]string{"relay"}, (*cli).runRelay},
	{[]string{"wiegand", "last"}, (*cli).runWiegand},
	{[]string{"keypad", "stats"}, (*cli).runKeypad},
	{[]string{"camera", "snapshot"}, (*cli).runSnapshot},
	{[]string{"resync"}, (*cli).runResync},
	{[]string{"log-level"}, (*cli).runLogLevel},
	{[]string{"lockdown"}, (*cli).runLockdown},
	{[]string{"sim"}, (*cli).runSim},
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	x := &cli{socket: os.Getenv("INTERCOMD_SOCKET"), stdin: stdin, stdout: stdout, stderr: stderr}
	if x.socket == "" {
		x.socket = localapi.DefaultPath
	}
	fs := x.flags("intercomctl")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return flag.ErrHelp
		}
		return usagef("%v", err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return usagef("no command")
	}
	if rest[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	for _, cmd := range commands {
		if len(rest) < len(cmd.words) || !equal(rest[:len(cmd.words)], cmd.words) {
			continue
		}
		x.c = &localapi.Client{Path: x.socket}
		defer x.c.Close()
		if cmd.words[0] != "events" {
			// Only a stream may wait indefinitely.
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, callTimeout)
			defer cancel()
		}
		return cmd.run(x, ctx, rest[len(cmd.words):])
	}
	return usagef("unknown command %q", strings.Join(rest, " "))
}

func equal(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// positional parses flags and checks that n positional arguments remain.
func positional(fs *flag.FlagSet, args []string, n int) ([]string, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	return pos, want(fs.Name(), pos, n)
}

// want checks the number of positional arguments.
func want(name string, args []string, n int) error {
	if len(args) != n {
		return usagef("%s: want %d argument(s), got %d", name, n, len(args))
	}
	return nil
}

// printJSON prints v indented, for --json.
func (x *cli) printJSON(v any) error {
	enc := json.NewEncoder(x.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// output prints v as JSON or with human, unless err.
func output[T any](x *cli, v T, err error, human func(io.Writer, T) error) error {
	if err != nil {
		return err
	}
	if x.json {
		return x.printJSON(v)
	}
	return human(x.stdout, v)
}

// done reports a control call that returns nothing.
func (x *cli) done(action, human string) error {
	if x.json {
		return x.printJSON(map[string]any{"ok": true, "action": action})
	}
	_, err := fmt.Fprintln(x.stdout, human)
	return err
}

func (x *cli) runStatus(ctx context.Context, args []string) error {
	if _, err := positional(x.flags("status"), args, 0); err != nil {
		return err
	}
	st, err := x.c.Status(ctx)
	return output(x, st, err, printStatus)
}

func (x *cli) runKeysList(ctx context.Context, args []string) error {
	fs := x.flags("keys list")
	var f localapi.KeyFilter
	fs.IntVar(&f.Limit, "limit", localapi.DefaultKeyLimit, "at most this many keys")
	fs.StringVar(&f.After, "after", "", "list ids after this one")
	fs.BoolVar(&f.Deleted, "deleted", false, "include deleted visits")
	if _, err := positional(fs, args, 0); err != nil {
		return err
	}
	keys, err := x.c.Keys(ctx, f)
	return output(x, keys, err, printKeys)
}

func (x *cli) runKeysShow(ctx context.Context, args []string) error {
	pos, err := positional(x.flags("keys show"), args, 1)
	if err != nil {
		return err
	}
	k, err := x.c.Key(ctx, pos[0])
	return output(x, k, err, printKey)
}

func (x *cli) runEvents(ctx context.Context, args []string) error {
	fs := x.flags("events")
	follow := fs.Bool("f", false, "follow live events")
	n := fs.Int("n", localapi.DefaultEvents, "recent events to show first")
	if _, err := positional(fs, args, 0); err != nil {
		return err
	}
	if *n < 0 || *n > localapi.MaxEvents {
		return usagef("events: -n must be 0 to %d", localapi.MaxEvents)
	}
	enc := json.NewEncoder(x.stdout)
	header := false
	return x.c.Events(ctx, *n, *follow, func(ev access.Event) error {
		if x.json {
			return enc.Encode(ev) // NDJSON
		}
		if !header {
			header = true
			if _, err := fmt.Fprintln(x.stdout, eventHeader); err != nil {
				return err
			}
		}
		_, err := fmt.Fprintln(x.stdout, eventLine(ev))
		return err
	})
}

func (x *cli) runExplain(ctx context.Context, args []string) error {
	fs := x.flags("explain")
	kind := fs.String("kind", "", "credential kind: pin, qr, card, web, plate, face")
	value := fs.String("value", "", `the credential value, or "-" to read it from stdin`)
	var req localapi.ExplainRequest
	fs.StringVar(&req.Reader, "reader", "", "reader id, e.g. keypad0 (default: the daemon's choice)")
	fs.StringVar(&req.VisitID, "visit", "", "visit id, for web credentials")
	_, err := positional(fs, args, 0)
	if err != nil {
		return err
	}
	if req.Kind, err = access.ParseKind(*kind); err != nil {
		return usagef("explain: --kind: %v", err)
	}
	if req.Value, err = x.secret("explain --value", *value); err != nil {
		return err
	}
	e, err := x.c.Explain(ctx, req)
	return output(x, e, err, printExplanation)
}

// secret returns v, or the first line of stdin when v is "-", so that a PIN
// need not land in the shell's history.
func (x *cli) secret(name, v string) (string, error) {
	if v == "" {
		return "", usagef("%s is required (use - to read it from stdin)", name)
	}
	if v != "-" {
		return v, nil
	}
	if f, ok := x.stdin.(*os.File); ok {
		if restore, ok := noEcho(f); ok {
			fmt.Fprintf(x.stderr, "%s (not shown): ", name)
			defer func() {
				restore()
				fmt.Fprintln(x.stderr)
			}()
		}
	}
	line, err := bufio.NewReader(io.LimitReader(x.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read %s from stdin: %w", name, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usagef("%s: nothing on stdin", name)
	}
	return line, nil
}

func (x *cli) runRelay(ctx context.Context, args []string) error {
	fs := x.flags("relay")
	d := fs.Duration("for", 0, "pulse length, 1s to 60s (default: the configured unlock time)")
	pos, err := positional(fs, args, 1)
	if err != nil {
		return err
	}
	a, err := localapi.ParseRelayAction(pos[0])
	if err != nil {
		return usagef("relay: %v", err)
	}
	if *d != 0 && a != localapi.RelayPulse {
		return usagef("relay: --for goes with pulse only")
	}
	if *d != 0 && (*d < localapi.MinPulse || *d > localapi.MaxPulse) {
		return usagef("relay: --for must be %v to %v", localapi.MinPulse, localapi.MaxPulse)
	}
	if err := x.c.Relay(ctx, a, *d); err != nil {
		return err
	}
	human := map[localapi.RelayAction]string{
		localapi.RelayPulse:  "relay: pulsed (unlocked, locks again after the unlock time)",
		localapi.RelayLock:   "relay: locked",
		localapi.RelayUnlock: "relay: unlocked until `intercomctl relay lock`",
	}[a]
	if *d != 0 {
		human = fmt.Sprintf("relay: pulsed (unlocked for %v)", *d)
	}
	return x.done("relay "+a.String(), human)
}

func (x *cli) runWiegand(ctx context.Context, args []string) error {
	fs := x.flags("wiegand last")
	n := fs.Int("n", localapi.DefaultWiegandFrames, "frames to show")
	if _, err := positional(fs, args, 0); err != nil {
		return err
	}
	if *n < 1 || *n > localapi.MaxWiegandFrames {
		return usagef("wiegand last: -n must be 1 to %d", localapi.MaxWiegandFrames)
	}
	frames, err := x.c.WiegandLast(ctx, *n)
	return output(x, frames, err, printFrames)
}

func (x *cli) runKeypad(ctx context.Context, args []string) error {
	if _, err := positional(x.flags("keypad stats"), args, 0); err != nil {
		return err
	}
	st, err := x.c.KeypadStats(ctx)
	return output(x, st, err, printKeypads)
}

func (x *cli) runSnapshot(ctx context.Context, args []string) error {
	pos, err := positional(x.flags("camera snapshot"), args, 1)
	if err != nil {
		return err
	}
	jpg, err := x.c.CameraSnapshot(ctx)
	if err != nil {
		return err
	}
	// A picture of a person at the door: readable by its owner only.
	if err := os.WriteFile(pos[0], jpg, 0o600); err != nil {
		return fmt.Errorf("camera snapshot: %w", err)
	}
	if x.json {
		return x.printJSON(map[string]any{"ok": true, "file": pos[0], "bytes": len(jpg)})
	}
	_, err = fmt.Fprintf(x.stdout, "wrote %s (%d bytes)\n", pos[0], len(jpg))
	return err
}

func (x *cli) runResync(ctx context.Context, args []string) error {
	if _, err := positional(x.flags("resync"), args, 0); err != nil {
		return err
	}
	if err := x.c.Resync(ctx); err != nil {
		return err
	}
	return x.done("resync", "resync requested: the daemon fetches a full snapshot from the cloud")
}

func (x *cli) runLogLevel(ctx context.Context, args []string) error {
	pos, err := positional(x.flags("log-level"), args, 1)
	if err != nil {
		return err
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(pos[0])); err != nil {
		return usagef("log-level: %q: want debug, info, warn or error", pos[0])
	}
	if err := x.c.SetLogLevel(ctx, l); err != nil {
		return err
	}
	return x.done("log-level "+l.String(), "log level set to "+l.String())
}

func (x *cli) runLockdown(ctx context.Context, args []string) error {
	pos, err := positional(x.flags("lockdown"), args, 1)
	if err != nil {
		return err
	}
	var on bool
	switch pos[0] {
	case "on":
		on = true
	case "off":
	default:
		return usagef("lockdown: want on or off, got %q", pos[0])
	}
	if err := x.c.SetLockdown(ctx, on); err != nil {
		return err
	}
	human := "lockdown off: credentials are decided normally again"
	if on {
		human = "lockdown on: every credential is refused"
	}
	return x.done("lockdown "+pos[0], human)
}

func (x *cli) runSim(ctx context.Context, args []string) error {
	fs := x.flags("sim")
	format := fs.String("format", "", "card: Wiegand format (default "+localapi.DefaultWiegandFormat+")")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("sim: want card, pin, qr, rex or door")
	}
	var r localapi.SimRequest
	if err := r.Kind.UnmarshalText([]byte(pos[0])); err != nil {
		return usagef("sim: %v", err)
	}
	if *format != "" && r.Kind != localapi.SimCard {
		return usagef("sim: --format goes with card only")
	}
	n := 1
	if r.Kind == localapi.SimREX {
		n = 0
	}
	if err := want("sim "+pos[0], pos[1:], n); err != nil {
		return err
	}
	what := pos[0]
	switch r.Kind {
	case localapi.SimCard:
		r.Card, r.Format = pos[1], *format
	case localapi.SimPIN:
		if r.PIN, err = x.secret("sim pin", pos[1]); err != nil {
			return err
		}
	case localapi.SimQR:
		if b, err := readImage(pos[1]); err != nil {
			return err
		} else if b != nil {
			r.Image, what = b, "qr image "+pos[1]
		} else {
			r.QR = pos[1]
		}
	case localapi.SimDoor:
		r.Door = pos[1]
		what = "door " + pos[1]
	}
	if err := x.c.Sim(ctx, r); err != nil {
		return err
	}
	return x.done("sim "+r.Kind.String(), "sim: injected "+what)
}

// readImage returns the contents of path if it names a regular file, or nil
// if it does not exist (then it is a QR payload).
func readImage(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, nil
	}
	if fi.Size() > 8<<20 {
		return nil, usagef("sim qr: %s is over 8 MiB", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sim qr: %w", err)
	}
	return b, nil
}
