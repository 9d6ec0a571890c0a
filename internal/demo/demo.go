// Package demo plays intercomd's scripted visit against a running daemon in
// simulation mode and the cloud stand-in, and prints a timeline. `make demo`
// runs it with the daemon as a separate process; the end-to-end test in
// cmd/intercomd runs the same script with the daemon in-process.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/localapi"
)

// Env is what the script drives.
type Env struct {
	Device   string           // the daemon's device id
	Intercom string           // its intercom id (default Device)
	Ctl      *localapi.Client // the daemon's technician socket
	Cloud    Cloud            // the cloud stand-in: visitctl, or its engine in-process
	Out      io.Writer        // the timeline
	Step     time.Duration    // how long to wait for each decision; default 10 s
}

// Step is one line of the timeline.
type Step struct {
	Input    string // what was presented
	Kind     access.Kind
	Want     access.Reason // expected reason
	Got      access.Reason
	Grant    bool
	Relay    string
	At       time.Duration
	Mismatch string // non-empty if the step did not go as scripted
}

type player struct {
	env    Env
	events chan access.Event
	start  time.Time
	steps  []Step
}

// Play runs the script. It returns an error, after printing the whole
// timeline, if any step did not match.
func Play(ctx context.Context, env Env) ([]Step, error) {
	if env.Step == 0 {
		env.Step = 10 * time.Second
	}
	if env.Intercom == "" {
		env.Intercom = env.Device
	}
	p := &player{env: env, events: make(chan access.Event, 1024), start: time.Now()}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	followed := make(chan struct{})
	go func() {
		first := true
		env.Ctl.Events(ctx, 0, true, func(e access.Event) error {
			if first {
				first = false
				close(followed)
			}
			select {
			case p.events <- e:
			case <-ctx.Done():
			}
			return nil
		})
	}()
	// The stream delivers a heartbeat or event first; give it a moment.
	select {
	case <-followed:
	case <-time.After(500 * time.Millisecond):
	}

	fmt.Fprintf(env.Out, "%-9s %-28s %-6s %-22s %s\n", "TIME", "INPUT", "RESULT", "REASON", "RELAY")
	id, sec, err := env.Cloud.Create(ctx, env.Intercom)
	if err != nil {
		return nil, fmt.Errorf("demo: create visit: %w", err)
	}
	p.note("visitctl create: visit %s (pin, qr, card, web)", id)
	if err := p.waitKey(ctx, id, false); err != nil {
		return nil, err
	}
	p.note("intercomd has visit %s", id)
	s := sec
	wrong := wrongPIN(s.PIN)

	p.try(ctx, "pin "+mask(s.PIN)+" (keypad)", access.KindPIN, access.ReasonGranted, func() error {
		return env.Ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimPIN, PIN: s.PIN})
	})
	p.try(ctx, "qr shown to camera", access.KindQR, access.ReasonGranted, func() error {
		return env.Ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimQR, QR: "VK1:" + s.QRToken})
	})
	p.try(ctx, "card "+maskCard(s.Card)+" (wiegand)", access.KindCard, access.ReasonGranted, func() error {
		return env.Ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimCard, Card: s.Card})
	})
	for i := 1; i <= 5; i++ {
		p.try(ctx, fmt.Sprintf("wrong pin #%d (keypad)", i), access.KindPIN, access.ReasonUnknownCredential, func() error {
			return env.Ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimPIN, PIN: wrong})
		})
	}
	p.try(ctx, "right pin while locked out", access.KindPIN, access.ReasonKeypadLockedOut, func() error {
		return env.Ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimPIN, PIN: s.PIN})
	})
	web := func() error {
		res, err := env.Cloud.WebUnlock(ctx, env.Device, id, s.WebToken)
		if err != nil {
			return err
		}
		p.note("web unlock result: %s", res)
		return nil
	}
	p.try(ctx, "web unlock (cloud)", access.KindWeb, access.ReasonGranted, web)

	if err := env.Cloud.Delete(ctx, id); err != nil {
		return p.steps, fmt.Errorf("demo: delete: %w", err)
	}
	p.note("visitctl delete: visit %s", id)
	if err := p.waitKey(ctx, id, true); err != nil {
		return p.steps, err
	}
	p.note("intercomd has the tombstone")
	p.try(ctx, "card after delete", access.KindCard, access.ReasonVisitDeleted, func() error {
		return env.Ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimCard, Card: s.Card})
	})
	p.try(ctx, "qr after delete", access.KindQR, access.ReasonVisitDeleted, func() error {
		return env.Ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimQR, QR: "VK1:" + s.QRToken})
	})
	p.try(ctx, "web unlock after delete", access.KindWeb, access.ReasonVisitDeleted, web)
	p.try(ctx, "pin after delete (wiegand keypad)", access.KindPIN, access.ReasonVisitDeleted, func() error {
		return env.Ctl.Sim(ctx, localapi.SimRequest{Kind: localapi.SimPIN, PIN: s.PIN, Format: "wiegand"})
	})

	var bad []string
	for _, st := range p.steps {
		if st.Mismatch != "" {
			bad = append(bad, st.Input+": "+st.Mismatch)
		}
	}
	if len(bad) > 0 {
		fmt.Fprintf(env.Out, "\nFAIL: %d of %d steps did not match:\n  %s\n", len(bad), len(p.steps), strings.Join(bad, "\n  "))
		return p.steps, errors.New("demo: steps did not match")
	}
	fmt.Fprintf(env.Out, "\nOK: all %d steps matched\n", len(p.steps))
	return p.steps, nil
}

func (p *player) since() time.Duration { return time.Since(p.start) }

func (p *player) note(format string, args ...any) {
	fmt.Fprintf(p.env.Out, "%-9s # %s\n", fmtDur(p.since()), fmt.Sprintf(format, args...))
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("+%.3fs", d.Seconds()) }

// try presents one input and waits for its decision event.
func (p *player) try(ctx context.Context, input string, kind access.Kind, want access.Reason, do func() error) {
	st := Step{Input: input, Kind: kind, Want: want}
	defer func() {
		st.At = p.since()
		result := "DENY"
		if st.Grant {
			result = "GRANT"
		}
		if st.Got == "" {
			result = "-"
		}
		line := fmt.Sprintf("%-9s %-28s %-6s %-22s %s", fmtDur(st.At), input, result, st.Got, st.Relay)
		if st.Mismatch != "" {
			line += "   <-- expected " + string(want) + ": " + st.Mismatch
		}
		fmt.Fprintln(p.env.Out, line)
		p.steps = append(p.steps, st)
	}()
	if err := do(); err != nil {
		st.Mismatch = "input failed: " + err.Error()
		return
	}
	deadline := time.After(p.env.Step)
	for {
		select {
		case <-ctx.Done():
			st.Mismatch = ctx.Err().Error()
			return
		case <-deadline:
			st.Mismatch = "no decision within " + p.env.Step.String()
			return
		case e := <-p.events:
			if (e.Type != access.EventAccessGranted && e.Type != access.EventAccessDenied) || e.Kind != kind.String() {
				continue
			}
			st.Got, st.Grant = e.Reason, e.Type == access.EventAccessGranted
			st.Relay = p.relay(ctx, st.Grant)
			if st.Got != want {
				st.Mismatch = "got " + string(st.Got)
			} else if st.Grant && st.Relay != "unlocked" {
				st.Mismatch = "relay did not unlock"
			}
			return
		}
	}
}

// relay reads the relay state after a decision, relocking it after a grant
// so that each step starts from a locked door.
func (p *player) relay(ctx context.Context, grant bool) string {
	s, err := p.env.Ctl.Status(ctx)
	if err != nil {
		return "?"
	}
	state := s.Door.Relay
	if grant {
		p.env.Ctl.Relay(ctx, localapi.RelayLock, 0)
	}
	return state
}

// waitKey waits until the daemon's cache holds the visit (or its tombstone).
func (p *player) waitKey(ctx context.Context, id string, deleted bool) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		k, err := p.env.Ctl.Key(ctx, id)
		if err == nil && k.Deleted == deleted {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("demo: visit %s (deleted=%v) did not reach the daemon within 15 s", id, deleted)
}

// wrongPIN returns a PIN of the same length that differs in every digit.
func wrongPIN(pin string) string {
	b := []byte(pin)
	for i := range b {
		b[i] = '0' + (b[i]-'0'+5)%10
	}
	return string(b)
}

// mask shows only the length of a secret: the timeline is no place for it.
func mask(s string) string { return strings.Repeat("•", len(s)) }

func maskCard(c string) string {
	fc, _, _ := strings.Cut(c, ":")
	return fc + ":•••••"
}
