// Package localapitest holds a fake localapi.Backend for tests of the debug
// socket and of intercomctl: a struct with exported fields, in the manner of
// periph's gpiotest. Set the fields before serving; read Calls after.
package localapitest

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/localapi"
)

// Backend is a fake daemon. Its answers come from its fields; every call is
// recorded in Calls, in order. It is safe for concurrent use once serving.
type Backend struct {
	St       localapi.Status
	KeyList  []localapi.Key
	Recent   []access.Event
	Live     chan access.Event // events -f reads this; nil: no live events
	Decision access.Decision   // Explain's answer
	Frames   []localapi.WiegandFrame
	Keypads  []localapi.KeypadStats
	JPEG     []byte
	Err      error // when set, every call returns it
	SimMode  bool  // Sim returns localapi.ErrNotSim unless set
	// OnCall, when set, runs at the start of every call with its Call.
	OnCall func(Call)

	mu    sync.Mutex
	calls []Call
}

// Call is one recorded call. Credential holds Explain's credential and Sim
// its request, so tests can check what reached the backend.
type Call struct {
	Name       string // "status", "keys", "events", "explain", "relay", …
	Detail     string // e.g. "pulse 5s", "debug", "on"
	Credential access.Credential
	Sim        localapi.SimRequest
}

// Calls returns the calls so far.
func (b *Backend) Calls() []Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Call(nil), b.calls...)
}

func (b *Backend) record(c Call) error {
	if b.OnCall != nil {
		b.OnCall(c)
	}
	b.mu.Lock()
	b.calls = append(b.calls, c)
	b.mu.Unlock()
	return b.Err
}

var _ localapi.Backend = (*Backend)(nil)

func (b *Backend) Status(ctx context.Context) (localapi.Status, error) {
	return b.St, b.record(Call{Name: "status"})
}

func (b *Backend) Keys(ctx context.Context, f localapi.KeyFilter) ([]localapi.Key, error) {
	if err := b.record(Call{Name: "keys", Detail: fmt.Sprintf("id=%s after=%s limit=%d deleted=%t", f.ID, f.After, f.Limit, f.Deleted)}); err != nil {
		return nil, err
	}
	keys := append([]localapi.Key(nil), b.KeyList...)
	sort.Slice(keys, func(i, j int) bool { return keys[i].ID < keys[j].ID })
	var out []localapi.Key
	for _, k := range keys {
		switch {
		case f.ID != "" && k.ID != f.ID:
		case f.ID == "" && k.Deleted && !f.Deleted:
		case k.ID <= f.After:
		default:
			out = append(out, k)
		}
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	if f.ID != "" && len(out) == 0 {
		return nil, fmt.Errorf("%w: key %s", localapi.ErrNotFound, f.ID)
	}
	return out, nil
}

func (b *Backend) Events(ctx context.Context, n int, follow bool) ([]access.Event, <-chan access.Event, error) {
	if err := b.record(Call{Name: "events", Detail: fmt.Sprintf("n=%d follow=%t", n, follow)}); err != nil {
		return nil, nil, err
	}
	recent := b.Recent
	if len(recent) > n {
		recent = recent[len(recent)-n:]
	}
	if !follow {
		return recent, nil, nil
	}
	return recent, b.Live, nil
}

func (b *Backend) Explain(ctx context.Context, c access.Credential) (access.Decision, error) {
	err := b.record(Call{Name: "explain", Detail: c.Kind.String() + " " + c.Reader, Credential: c})
	d := b.Decision
	d.Kind, d.Reader, d.Events = c.Kind, c.Reader, nil
	return d, err
}

func (b *Backend) Relay(ctx context.Context, a localapi.RelayAction, d localapi.Duration) error {
	detail := a.String()
	if d != 0 {
		detail += " " + d.String()
	}
	return b.record(Call{Name: "relay", Detail: detail})
}

func (b *Backend) WiegandLast(ctx context.Context, n int) ([]localapi.WiegandFrame, error) {
	err := b.record(Call{Name: "wiegand", Detail: fmt.Sprintf("n=%d", n)})
	f := b.Frames
	if len(f) > n {
		f = f[len(f)-n:]
	}
	return f, err
}

func (b *Backend) KeypadStats(ctx context.Context) ([]localapi.KeypadStats, error) {
	return b.Keypads, b.record(Call{Name: "keypad"})
}

func (b *Backend) CameraSnapshot(ctx context.Context) ([]byte, error) {
	if err := b.record(Call{Name: "snapshot"}); err != nil {
		return nil, err
	}
	if b.JPEG == nil {
		return nil, fmt.Errorf("%w: no camera", localapi.ErrUnavailable)
	}
	return b.JPEG, nil
}

func (b *Backend) Resync(ctx context.Context) error { return b.record(Call{Name: "resync"}) }

func (b *Backend) SetLogLevel(ctx context.Context, l slog.Level) error {
	return b.record(Call{Name: "log-level", Detail: l.String()})
}

func (b *Backend) SetLockdown(ctx context.Context, on bool) error {
	return b.record(Call{Name: "lockdown", Detail: fmt.Sprint(on)})
}

func (b *Backend) Sim(ctx context.Context, r localapi.SimRequest) error {
	if err := b.record(Call{Name: "sim", Detail: r.Kind.String(), Sim: r}); err != nil {
		return err
	}
	if !b.SimMode {
		return localapi.ErrNotSim
	}
	return nil
}
