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
	"sort"
	"strings"
	"syscall"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/sync/cloudsim"
	"github.com/intercomd/intercomd/sync/mqttsync"
	"github.com/intercomd/intercomd/sync/wire"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "visitctl:", err)
		os.Exit(1)
	}
}

// global holds the flags every subcommand shares.
type global struct {
	state, keyFile, broker   string
	caFile, certFile, keyPEM string
	username, password       string
	timeout                  time.Duration
	stdout, stderr           io.Writer
	fs                       *flag.FlagSet
}

func (g *global) register(fs *flag.FlagSet) {
	fs.StringVar(&g.state, "state", "./visitctl-state.json", "state file")
	fs.StringVar(&g.keyFile, "site-key-file", "", "file with the site key in hex (at least 16 bytes)")
	fs.StringVar(&g.broker, "broker", "", "MQTT broker URL, e.g. tcp://127.0.0.1:1883; empty: only change the state file")
	fs.StringVar(&g.caFile, "tls-ca", "", "CA certificate (PEM) for ssl:// brokers")
	fs.StringVar(&g.certFile, "tls-cert", "", "client certificate (PEM)")
	fs.StringVar(&g.keyPEM, "tls-key", "", "client key (PEM)")
	fs.StringVar(&g.username, "username", "", "MQTT username")
	fs.StringVar(&g.password, "password", "", "MQTT password")
	fs.DurationVar(&g.timeout, "timeout", 10*time.Second, "how long to wait for the broker or a device")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	g := &global{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("visitctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	g.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: visitctl [flags] create|update|delete|list|events|unlock|lockdown|config|resync|serve ...")
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	cmds := map[string]func(context.Context, *global, []string) error{
		"create": runCreate, "update": runUpdate, "delete": runDelete, "list": runList, "events": runEvents,
		"unlock": runUnlock, "lockdown": runLockdown, "config": runConfig, "resync": runResync, "serve": runServe,
	}
	f, ok := cmds[cmd]
	if !ok {
		return fmt.Errorf("unknown command %q", cmd)
	}
	return f(ctx, g, rest)
}

// sub parses a subcommand's flags; global flags are accepted there too.
func (g *global) sub(name string, args []string, define func(fs *flag.FlagSet)) (*flag.FlagSet, error) {
	fs := flag.NewFlagSet("visitctl "+name, flag.ContinueOnError)
	fs.SetOutput(g.stderr)
	// Keep values already set by flags before the subcommand.
	saved := *g
	g.register(fs)
	if define != nil {
		define(fs)
	}
	fs.VisitAll(func(f *flag.Flag) {
		switch f.Name {
		case "state", "site-key-file", "broker", "tls-ca", "tls-cert", "tls-key", "username", "password", "timeout":
			_ = f.Value.Set(globalValue(&saved, f.Name))
		}
	})
	if err := parseInterspersed(fs, args); err != nil {
		return nil, err
	}
	return fs, nil
}

// parseInterspersed lets flags follow positional arguments (delete ID --json).
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

func globalValue(g *global, name string) string {
	switch name {
	case "state":
		return g.state
	case "site-key-file":
		return g.keyFile
	case "broker":
		return g.broker
	case "tls-ca":
		return g.caFile
	case "tls-cert":
		return g.certFile
	case "tls-key":
		return g.keyPEM
	case "username":
		return g.username
	case "password":
		return g.password
	}
	return g.timeout.String()
}

func (g *global) hasher() (*access.Hasher, error) {
	if g.keyFile == "" {
		return nil, errors.New("--site-key-file is required")
	}
	b, err := os.ReadFile(g.keyFile)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("site key file %s: not hex: %w", g.keyFile, err)
	}
	return access.NewHasher(key)
}

// cloud connects to the broker if one is given (nil otherwise). Only serve
// keeps a broker session (client id "visitctl-serve"); every other command
// is a short-lived client with a clean session, which leaves nothing behind.
func (g *global) cloud(ctx context.Context, h *access.Hasher, serve bool, onEvents func(string, *wire.EventBatch)) (*cloudsim.Cloud, error) {
	if g.broker == "" {
		return nil, nil
	}
	opt := cloudsim.Options{Broker: g.broker, Hasher: h, File: &cloudsim.File{Path: g.state}, Serve: &serve, Ephemeral: !serve,
		OnEvents: onEvents, Username: g.username, Password: g.password,
		Logger: slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if serve {
		opt.ClientID = "visitctl-serve"
	}
	if g.caFile != "" {
		t, err := mqttsync.TLSFiles(g.caFile, g.certFile, g.keyPEM)
		if err != nil {
			return nil, err
		}
		opt.TLS = t
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	return cloudsim.Dial(ctx, opt)
}

// parseWhen reads RFC 3339 or a duration from now such as +2h or -30m.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		d, err := time.ParseDuration(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q: %w", s, err)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 or +duration: %w", s, err)
	}
	return t, nil
}

// genFlag is a flag that generates a value when given alone (--pin) and
// takes one when given with = (--pin=123456).
type genFlag struct {
	set, gen bool
	value    string
}

func (f *genFlag) String() string   { return f.value }
func (f *genFlag) IsBoolFlag() bool { return true }
func (f *genFlag) Set(s string) error {
	f.set = true
	switch s {
	case "true":
		f.gen = true
	case "false":
		f.set = false
	default:
		f.value = s
	}
	return nil
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// created is create's --json output, which the demo script parses.
type created struct {
	VisitID   string `json:"visit_id"`
	PIN       string `json:"pin,omitempty"`
	QRToken   string `json:"qr_token,omitempty"`
	QRPayload string `json:"qr_payload,omitempty"`
	WebToken  string `json:"web_token,omitempty"`
	Card      string `json:"card,omitempty"`
	Plate     string `json:"plate,omitempty"`
	Face      string `json:"face,omitempty"`
	PNG       string `json:"png,omitempty"`
}

// QRPrefix starts the payload of a visit's QR code (docs/protocol.md).
const QRPrefix = "VK1:"

func runCreate(ctx context.Context, g *global, args []string) error {
	var (
		name, email, start, end, days, daily, plate, face, png string
		intercoms                                              listFlag
		singleUse, asJSON                                      bool
		pin, qr, web, card                                     genFlag
	)
	fs, err := g.sub("create", args, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "visitor's first name")
		fs.StringVar(&email, "email", "", "visitor's email")
		fs.Var(&intercoms, "intercom", "intercom (device) id; repeatable")
		fs.BoolVar(&singleUse, "single-use", false, "keys open only within a short window after first use")
		fs.StringVar(&start, "start", "+0s", "start: RFC 3339 or +duration")
		fs.StringVar(&end, "end", "+4h", "end (exclusive): RFC 3339 or +duration")
		fs.StringVar(&days, "days", "", "weekdays, e.g. mon,tue,fri")
		fs.StringVar(&daily, "daily", "", "daily window, e.g. 09:00-17:00")
		fs.Var(&pin, "pin", "generate a PIN (--pin) or set one (--pin=123456)")
		fs.Var(&qr, "qr", "generate a QR token (--qr) or set one (--qr=HEX)")
		fs.Var(&web, "web", "generate a web token (--web) or set one")
		fs.Var(&card, "card", "generate a card (--card) or set one (--card=FC:CN)")
		fs.StringVar(&plate, "plate", "", "licence plate")
		fs.StringVar(&face, "face", "", "face recogniser subject id")
		fs.StringVar(&png, "png", "", "where to write the QR code PNG (default <visit>.png beside the state file)")
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("create: unexpected %q", fs.Arg(0))
	}
	if len(intercoms) == 0 {
		return errors.New("create: at least one --intercom is required")
	}
	h, err := g.hasher()
	if err != nil {
		return err
	}
	now := time.Now()
	spec := cloudsim.Spec{FirstName: name, Email: email, Intercoms: intercoms, SingleUse: singleUse, Daily: daily,
		GenPIN: pin.gen, GenQR: qr.gen, GenWeb: web.gen, GenCard: card.gen,
		Secrets: cloudsim.Secrets{PIN: pin.value, QRToken: qr.value, WebToken: web.value, Card: card.value, Plate: plate, Face: face}}
	if spec.Start, err = parseWhen(start, now); err != nil {
		return err
	}
	if spec.End, err = parseWhen(end, now); err != nil {
		return err
	}
	if days != "" {
		spec.Days = strings.Split(days, ",")
	}
	cl, err := g.cloud(ctx, h, false, nil)
	if err != nil {
		return err
	}
	var v *cloudsim.Visit
	if cl != nil {
		defer cl.Close()
		v, err = cl.Create(spec)
	} else {
		err = (&cloudsim.File{Path: g.state}).Update(func(st *cloudsim.State) error {
			var err error
			v, _, err = st.Create(h, spec)
			return err
		})
	}
	if err != nil {
		return err
	}
	out := created{VisitID: v.ID, PIN: v.Secrets.PIN, QRToken: v.Secrets.QRToken, WebToken: v.Secrets.WebToken,
		Card: v.Secrets.Card, Plate: v.Secrets.Plate, Face: v.Secrets.Face}
	var qrText string
	if v.Secrets.QRToken != "" {
		out.QRPayload = QRPrefix + strings.ToLower(v.Secrets.QRToken)
		if png == "" {
			png = filepath.Join(filepath.Dir(g.state), v.ID+".png")
		}
		code, err := qrcode.New(out.QRPayload, qrcode.Medium)
		if err != nil {
			return fmt.Errorf("qr: %w", err)
		}
		if err := code.WriteFile(384, png); err != nil {
			return fmt.Errorf("qr: %w", err)
		}
		out.PNG = png
		qrText = code.ToSmallString(false)
	}
	if asJSON {
		return json.NewEncoder(g.stdout).Encode(out)
	}
	w := g.stdout
	fmt.Fprintf(w, "visit %s for %s (%s), %s to %s, intercoms %s\n", v.ID, name, email,
		v.Start.Local().Format(time.RFC3339), v.End.Local().Format(time.RFC3339), strings.Join(v.Intercoms, ","))
	for _, kv := range [][2]string{{"PIN", out.PIN}, {"web token", out.WebToken}, {"card", out.Card}, {"plate", out.Plate}, {"face", out.Face}} {
		if kv[1] != "" {
			fmt.Fprintf(w, "%-10s %s\n", kv[0]+":", kv[1])
		}
	}
	if qrText != "" {
		fmt.Fprintf(w, "QR:        %s (PNG: %s)\n%s", out.QRPayload, out.PNG, qrText)
	}
	if cl == nil {
		fmt.Fprintln(w, "(not published: no --broker; a running visitctl serve will announce it)")
	}
	return nil
}

func runUpdate(ctx context.Context, g *global, args []string) error {
	var start, end, days, daily, pin, plate string
	fs, err := g.sub("update", args, func(fs *flag.FlagSet) {
		fs.StringVar(&start, "start", "", "new start: RFC 3339 or +duration")
		fs.StringVar(&end, "end", "", "new end: RFC 3339 or +duration")
		fs.StringVar(&days, "days", "", "new weekdays, e.g. mon,tue (\"all\" clears)")
		fs.StringVar(&daily, "daily", "", "new daily window, e.g. 09:00-17:00 (\"all\" clears)")
		fs.StringVar(&pin, "pin", "", "new PIN")
		fs.StringVar(&plate, "plate", "", "new plate")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: visitctl update ID [--start T] [--end T] [--days D] [--daily HH:MM-HH:MM] [--pin P] [--plate P]")
	}
	h, err := g.hasher()
	if err != nil {
		return err
	}
	now := time.Now()
	var perr error
	change := func(v *cloudsim.Visit) {
		if start != "" {
			t, err := parseWhen(start, now)
			perr = errors.Join(perr, err)
			v.Start = t.UTC()
		}
		if end != "" {
			t, err := parseWhen(end, now)
			perr = errors.Join(perr, err)
			v.End = t.UTC()
		}
		switch days {
		case "":
		case "all":
			v.Days = nil
		default:
			v.Days = strings.Split(days, ",")
		}
		switch daily {
		case "":
		case "all":
			v.Daily = ""
		default:
			v.Daily = daily
		}
		if pin != "" {
			v.Secrets.PIN = pin
		}
		if plate != "" {
			v.Secrets.Plate = plate
		}
	}
	id := fs.Arg(0)
	cl, err := g.cloud(ctx, h, false, nil)
	if err != nil {
		return err
	}
	if cl != nil {
		defer cl.Close()
		err = cl.Update(id, change)
	} else {
		err = (&cloudsim.File{Path: g.state}).Update(func(st *cloudsim.State) error {
			_, err := st.Update(h, id, change)
			return err
		})
	}
	if err = errors.Join(perr, err); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "updated %s\n", id)
	return nil
}

func runDelete(ctx context.Context, g *global, args []string) error {
	fs, err := g.sub("delete", args, nil)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: visitctl delete ID")
	}
	id := fs.Arg(0)
	cl, err := g.cloud(ctx, nil, false, nil)
	if err != nil {
		return err
	}
	if cl != nil {
		defer cl.Close()
		err = cl.Delete(id)
	} else {
		err = (&cloudsim.File{Path: g.state}).Update(func(st *cloudsim.State) error {
			_, err := st.Delete(id)
			return err
		})
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "deleted %s\n", id)
	return nil
}

// listed is one visit in list's output: no secrets.
type listed struct {
	ID        string    `json:"id"`
	Version   uint64    `json:"version"`
	Name      string    `json:"name,omitempty"`
	Email     string    `json:"email,omitempty"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Days      []string  `json:"days,omitempty"`
	Daily     string    `json:"daily,omitempty"`
	Intercoms []string  `json:"intercoms"`
	SingleUse bool      `json:"single_use,omitempty"`
	Kinds     []string  `json:"kinds"`
	Deleted   bool      `json:"deleted,omitempty"`
}

func runList(ctx context.Context, g *global, args []string) error {
	var asJSON, all bool
	if _, err := g.sub("list", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		fs.BoolVar(&all, "all", false, "include deleted visits")
	}); err != nil {
		return err
	}
	var out []listed
	var revs map[string]uint64
	err := (&cloudsim.File{Path: g.state}).View(func(st *cloudsim.State) error {
		revs = st.Revisions
		for _, v := range st.Sorted() {
			if v.Deleted && !all {
				continue
			}
			l := listed{ID: v.ID, Version: v.Version, Name: v.FirstName, Email: v.Email, Start: v.Start, End: v.End,
				Days: v.Days, Daily: v.Daily, Intercoms: v.Intercoms, SingleUse: v.SingleUse, Deleted: v.Deleted}
			for _, c := range v.Creds {
				l.Kinds = append(l.Kinds, c.Kind.String())
			}
			out = append(out, l)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(g.stdout).Encode(map[string]any{"visits": out, "revisions": revs})
	}
	for _, l := range out {
		state := ""
		if l.Deleted {
			state = " DELETED"
		}
		fmt.Fprintf(g.stdout, "%s v%d %-10s %s..%s %s %s%s\n", l.ID, l.Version, l.Name, l.Start.Local().Format("2006-01-02T15:04"),
			l.End.Local().Format("2006-01-02T15:04"), strings.Join(l.Intercoms, ","), strings.Join(l.Kinds, "+"), state)
	}
	devs := make([]string, 0, len(revs))
	for d := range revs {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	for _, d := range devs {
		fmt.Fprintf(g.stdout, "device %s at revision %d\n", d, revs[d])
	}
	return nil
}

func runEvents(ctx context.Context, g *global, args []string) error {
	var follow, asJSON bool
	var dev string
	var wait time.Duration
	if _, err := g.sub("events", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&follow, "follow", false, "keep printing until interrupted")
		fs.BoolVar(&asJSON, "json", false, "print each event as a JSON line")
		fs.StringVar(&dev, "device", "", "only this device")
		fs.DurationVar(&wait, "for", 5*time.Second, "without --follow: how long to listen")
	}); err != nil {
		return err
	}
	if g.broker == "" {
		return errors.New("events: --broker is required")
	}
	seen := map[string]bool{}
	lines := make(chan string, 1024)
	onEvents := func(d string, b *wire.EventBatch) {
		if dev != "" && d != dev {
			return
		}
		for _, e := range b.Events {
			var line string
			if asJSON {
				j, _ := json.Marshal(struct {
					Device string `json:"device"`
					access.Event
				}{d, e})
				line = string(j)
			} else {
				line = fmt.Sprintf("%s %s %-15s %-22s visit=%s kind=%s reader=%s %s", e.At.Local().Format(time.RFC3339), d, e.Type, e.Reason, e.VisitID, e.Kind, e.Reader, e.Detail)
			}
			select {
			case lines <- e.ID + "\x00" + line:
			case <-ctx.Done():
				return
			}
		}
	}
	cl, err := g.cloud(ctx, nil, false, onEvents)
	if err != nil {
		return err
	}
	defer cl.Close()
	listen := ctx
	if !follow {
		var cancel context.CancelFunc
		listen, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	for {
		select {
		case <-listen.Done():
			return nil
		case l := <-lines:
			id, line, _ := strings.Cut(l, "\x00")
			if seen[id] { // at least once: drop duplicates by id
				continue
			}
			seen[id] = true
			fmt.Fprintln(g.stdout, line)
		}
	}
}

// command sends cmd to dev and prints the result.
func (g *global) command(ctx context.Context, dev string, cmd wire.Command) error {
	if g.broker == "" {
		return errors.New("--broker is required")
	}
	if dev == "" {
		return errors.New("--device is required")
	}
	cl, err := g.cloud(ctx, nil, false, nil)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	res, err := cl.Command(ctx, dev, cmd)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(res)
	fmt.Fprintln(g.stdout, string(b))
	if res.Status != wire.StatusOK {
		return fmt.Errorf("%s: %s %s %s", cmd.Type, res.Status, res.Reason, res.Detail)
	}
	return nil
}

func runUnlock(ctx context.Context, g *global, args []string) error {
	var dev string
	var ttl time.Duration
	fs, err := g.sub("unlock", args, func(fs *flag.FlagSet) {
		fs.StringVar(&dev, "device", "", "intercom (default: the visit's first)")
		fs.DurationVar(&ttl, "ttl", 30*time.Second, "the command expires this long after issue")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: visitctl unlock ID")
	}
	var token string
	err = (&cloudsim.File{Path: g.state}).View(func(st *cloudsim.State) error {
		v, ok := st.Visits[fs.Arg(0)]
		if !ok {
			return fmt.Errorf("%w: %s", cloudsim.ErrNotFound, fs.Arg(0))
		}
		if v.Secrets.WebToken == "" {
			return fmt.Errorf("visit %s has no web token (create it with --web)", v.ID)
		}
		token = v.Secrets.WebToken
		if dev == "" {
			dev = v.Intercoms[0]
		}
		return nil
	})
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	return g.command(ctx, dev, wire.Command{Type: wire.CmdWebUnlock, VisitID: fs.Arg(0), Token: token, IssuedAt: now, ExpiresAt: now.Add(ttl)})
}

func runLockdown(ctx context.Context, g *global, args []string) error {
	var dev string
	fs, err := g.sub("lockdown", args, func(fs *flag.FlagSet) { fs.StringVar(&dev, "device", "", "intercom") })
	if err != nil {
		return err
	}
	if fs.NArg() != 1 || (fs.Arg(0) != "on" && fs.Arg(0) != "off") {
		return errors.New("usage: visitctl lockdown on|off --device D")
	}
	on := fs.Arg(0) == "on"
	return g.command(ctx, dev, wire.Command{Type: wire.CmdLockdown, On: &on})
}

func runResync(ctx context.Context, g *global, args []string) error {
	var dev string
	if _, err := g.sub("resync", args, func(fs *flag.FlagSet) { fs.StringVar(&dev, "device", "", "intercom") }); err != nil {
		return err
	}
	return g.command(ctx, dev, wire.Command{Type: wire.CmdResync})
}

func runConfig(ctx context.Context, g *global, args []string) error {
	var (
		dev, doorMode, tz, keys string
		unlock                  int
		window                  time.Duration
	)
	if _, err := g.sub("config", args, func(fs *flag.FlagSet) {
		fs.StringVar(&dev, "device", "", "intercom")
		fs.IntVar(&unlock, "unlock-seconds", 0, "unlock time, 1-60 s")
		fs.StringVar(&keys, "visit-keys-enabled", "", "true or false")
		fs.StringVar(&doorMode, "door-mode", "", "normal or third_party")
		fs.StringVar(&tz, "time-zone", "", "site time zone (IANA)")
		fs.DurationVar(&window, "single-use-window", 0, "single-use window")
	}); err != nil {
		return err
	}
	ch := wire.ConfigChange{DoorMode: doorMode, TimeZone: tz}
	if unlock != 0 {
		ch.UnlockSeconds = &unlock
	}
	if keys != "" {
		b := keys == "true"
		ch.VisitKeysEnabled = &b
	}
	if window != 0 {
		s := int(window / time.Second)
		ch.SingleUseWindowSeconds = &s
	}
	return g.command(ctx, dev, wire.Command{Type: wire.CmdConfig, Config: &ch})
}

func runServe(ctx context.Context, g *global, args []string) error {
	var printEvents bool
	if _, err := g.sub("serve", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&printEvents, "events", false, "also print events")
	}); err != nil {
		return err
	}
	if g.broker == "" {
		return errors.New("serve: --broker is required")
	}
	var onEvents func(string, *wire.EventBatch)
	if printEvents {
		onEvents = func(d string, b *wire.EventBatch) {
			for _, e := range b.Events {
				fmt.Fprintf(g.stdout, "event %s %s %s %s %s\n", d, e.ID, e.Type, e.Reason, e.VisitID)
			}
		}
	}
	cl, err := g.cloud(ctx, nil, true, onEvents)
	if err != nil {
		return err
	}
	defer cl.Close()
	fmt.Fprintf(g.stdout, "serving %s from %s\n", g.broker, g.state)
	// Changes made without --broker only touch the file: announce their
	// revisions, and the intercoms ask for a snapshot.
	announced := map[string]uint64{}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		revs := map[string]uint64{}
		if err := (&cloudsim.File{Path: g.state}).View(func(st *cloudsim.State) error {
			for d, r := range st.Revisions {
				revs[d] = r
			}
			return nil
		}); err != nil {
			fmt.Fprintln(g.stderr, "visitctl serve:", err)
			continue
		}
		for d, r := range revs {
			if announced[d] != r {
				if err := cl.Publish(wire.TopicHead.Name(d), &wire.Head{Rev: r, SentAt: time.Now().UTC()}, true); err == nil {
					announced[d] = r
				}
			}
		}
	}
}
