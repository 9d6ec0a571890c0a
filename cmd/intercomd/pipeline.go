package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/store"
)

// opener is the door as the pipeline drives it.
type opener interface {
	Grant(visitID string) error
}

// pipeline is the one path every credential takes: decide, make the event
// (and any first use) durable, then act. Nothing opens the door elsewhere,
// except REX and audited technician or cloud commands.
type pipeline struct {
	engine  *access.Engine
	db      *store.DB
	clock   *clockSource
	door    opener
	kick    func() // wakes the outbox drain after a commit; may be nil
	bus     *bus
	metrics *metrics
	log     *slog.Logger

	lastDecision atomic.Pointer[access.Decision]
}

// decide runs one credential through the engine, commits the result durably
// and, for a grant, unlocks the door. It is safe for concurrent use; the
// store's group commit lets concurrent decisions share one fsync.
func (p *pipeline) decide(ctx context.Context, c access.Credential) access.Decision {
	d := p.engine.Decide(c, p.clock.now())
	start := time.Now()
	if err := p.db.Commit(ctx, &d); err != nil {
		// Fail secure: an event that is not durable never opens the door.
		p.log.Error("decision not durable; denying", "reason", d.Reason, "visit", d.VisitID, "err", err)
		if d.Grant {
			d.Grant = false
			d.Reason = access.ReasonCommitFailed
			for i := range d.Events {
				if d.Events[i].Type == access.EventAccessGranted {
					d.Events[i].Type = access.EventAccessDenied
					d.Events[i].Reason = access.ReasonCommitFailed
				}
			}
		}
	}
	commit := time.Since(start)
	if p.kick != nil {
		p.kick()
	}
	if d.Grant {
		if err := p.door.Grant(d.VisitID); err != nil {
			p.log.Warn("grant not acted on", "visit", d.VisitID, "err", err)
		}
	}
	p.bus.publish(d.Events...)
	if p.metrics != nil {
		p.metrics.observe(&d, commit)
	}
	p.lastDecision.Store(&d)
	p.log.Info("decision", "grant", d.Grant, "reason", d.Reason, "kind", d.Kind, "reader", d.Reader,
		"visit", d.VisitID, "first_use", d.FirstUse, "took", d.Took, "commit", commit)
	return d
}

// emit records a non-decision event (door, reader, audit) durably and
// publishes it. It is safe to call from any goroutine.
func (p *pipeline) emit(e access.Event) {
	if e.ID == "" {
		e.ID = access.NewEventID()
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.db.Append(ctx, e); err != nil {
		p.log.Error("event not recorded", "type", e.Type, "err", err)
	}
	p.bus.publish(e)
}

// clockSource says what time it is and whether that can be trusted: not
// before the build, and not before the newest server time seen, less a
// tolerance. Boards boot at 1970 until NTP or the cloud says otherwise.
type clockSource struct {
	build     time.Time
	tolerance time.Duration
	newest    atomic.Int64 // unix nanos of the newest server time seen
	nowFunc   func() time.Time
}

func (c *clockSource) now() access.Clock {
	now := c.nowFunc()
	var newest time.Time
	if n := c.newest.Load(); n != 0 {
		newest = time.Unix(0, n)
	}
	return access.ClockTrust(now, c.build, newest, c.tolerance)
}

// observe records a server time; the newest only ever moves forward.
func (c *clockSource) observe(t time.Time) {
	for {
		old := c.newest.Load()
		if t.UnixNano() <= old || c.newest.CompareAndSwap(old, t.UnixNano()) {
			return
		}
	}
}
