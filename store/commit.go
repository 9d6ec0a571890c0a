package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/intercomd/intercomd/access"
)

// defaultUseWindow applies when a single-use decision carries no UseWindow.
const defaultUseWindow = 5 * time.Minute

// commitReq is one Commit or Append waiting for the committer. The committer
// works on its own copy of the decision, so a caller that gives up (ctx)
// never races with it.
type commitReq struct {
	d      *access.Decision // a private copy; nil for Append
	events []access.Event   // for Append
	err    error
	done   chan struct{}
}

// Commit makes a decision durable before its effect: in one transaction,
// shared with concurrent callers (group commit, one fsync), it writes the
// decision's events to the outbox, the visit's first-use mark (if
// d.FirstUse) and the keypad lockout state (if d.Lockout). It returns once
// the transaction is on disk; only then may the relay fire.
//
// A grant whose visit was deleted after the decision looked it up is turned
// into a deny with ReasonVisitDeleted.
//
// Concurrent first uses: if a first-use mark already exists (a concurrent
// decision committed first), the earlier mark is kept, d.FirstUse is cleared
// and the visit.started event dropped; and if the visit is single-use and
// d.At is at or past that mark plus d.UseWindow, the decision is turned into
// a deny with ReasonSingleUseSpent and its event rewritten. Callers must act
// on d as it is after Commit returns nil.
//
// If ctx ends first, Commit returns its error and leaves d untouched; the
// decision may still be committed, but its effect must not happen.
func (db *DB) Commit(ctx context.Context, d *access.Decision) error {
	if d.DryRun {
		return fmt.Errorf("store: commit of a dry-run decision: %w", ErrInvalid)
	}
	cp := *d
	cp.Events = slices.Clone(d.Events)
	cp.Trace = slices.Clone(d.Trace)
	r := &commitReq{d: &cp, done: make(chan struct{})}
	if err := db.enqueue(ctx, r); err != nil {
		return err
	}
	*d = cp
	return nil
}

// Append makes non-decision events durable in the outbox, through the same
// group commit as Commit.
func (db *DB) Append(ctx context.Context, events ...access.Event) error {
	if len(events) == 0 {
		return nil
	}
	r := &commitReq{events: slices.Clone(events), done: make(chan struct{})}
	return db.enqueue(ctx, r)
}

func (r *commitReq) at() time.Time {
	if r.d != nil {
		return r.d.At
	}
	if len(r.events) > 0 {
		return r.events[0].At
	}
	return time.Time{}
}

func (db *DB) enqueue(ctx context.Context, r *commitReq) error {
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return fmt.Errorf("store: commit: %w", ErrClosed)
	}
	select {
	case db.reqs <- r:
		db.mu.RUnlock()
	case <-ctx.Done():
		db.mu.RUnlock()
		return fmt.Errorf("store: commit: %w", ctx.Err())
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("store: commit: %w", ctx.Err())
	}
}

// committer groups queued requests into one transaction each: while one
// transaction syncs, the next requests queue and are written together.
func (db *DB) committer() {
	defer close(db.done)
	group := make([]*commitReq, 0, db.opt.MaxGroup)
	for r := range db.reqs {
		group = append(group[:0], r)
	drain:
		for len(group) < db.opt.MaxGroup {
			select {
			case r2, ok := <-db.reqs:
				if !ok {
					break drain
				}
				group = append(group, r2)
			default:
				break drain
			}
		}
		err := db.writeGroup(group)
		for _, r := range group {
			if err != nil {
				r.err = err
			}
			close(r.done)
		}
	}
}

// writeGroup writes a group in one transaction. The decisions are adjusted in
// place; if the transaction fails they are restored, since none of it
// happened.
func (db *DB) writeGroup(group []*commitReq) error {
	// Within a group, decisions are settled in the order they were made, so
	// that of two racing first uses the earlier one is the first use.
	slices.SortStableFunc(group, func(a, b *commitReq) int { return a.at().Compare(b.at()) })
	db.groups.Add(1)
	saved := make([]access.Decision, len(group))
	for i, r := range group {
		if r.d != nil {
			saved[i] = *r.d
			saved[i].Events = slices.Clone(r.d.Events)
			saved[i].Trace = slices.Clone(r.d.Trace)
		}
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		w := outboxWriter{db: db, tx: tx, out: tx.Bucket(bOutbox), meta: tx.Bucket(bMeta)}
		w.load()
		var lockouts []*access.LockoutState
		for _, r := range group {
			if r.d != nil {
				recheckDeleted(tx, r.d)
				if err := applyUse(tx, r.d); err != nil {
					return err
				}
				if r.d.Lockout != nil {
					lockouts = append(lockouts, r.d.Lockout)
				}
				if err := w.add(r.d.Events); err != nil {
					return err
				}
			} else if err := w.add(r.events); err != nil {
				return err
			}
		}
		if err := saveLockouts(tx.Bucket(bMeta), lockouts); err != nil {
			return err
		}
		return w.save()
	})
	if err != nil {
		for i, r := range group {
			if r.d != nil {
				*r.d = saved[i]
			}
		}
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// recheckDeleted refuses a grant whose visit was deleted between the
// decision's lookup and its commit, so that a deletion stops every
// credential from the moment its transaction commits.
func recheckDeleted(tx *bolt.Tx, d *access.Decision) {
	if !d.Grant || d.VisitID == "" {
		return
	}
	v := tx.Bucket(bVisits).Get([]byte(d.VisitID))
	if len(v) < 3 || v[0] != recordFormat || !isDeleted(v) {
		return
	}
	deny(d, access.ReasonVisitDeleted, "the visit was deleted before the decision committed")
}

// deny turns a granted decision into a refusal and rewrites its events.
func deny(d *access.Decision, r access.Reason, why string) {
	d.Grant, d.Reason, d.FirstUse = false, r, false
	d.Events = slices.DeleteFunc(d.Events, func(e access.Event) bool { return e.Type == access.EventVisitStarted })
	for i := range d.Events {
		if d.Events[i].Type == access.EventAccessGranted {
			d.Events[i].Type = access.EventAccessDenied
			d.Events[i].Reason = r
		}
	}
	d.Trace = append(d.Trace, access.Verdict{Rule: "commit", Pass: false, Detail: why})
}

// applyUse records a first-use mark and re-checks a single-use visit against
// a mark a concurrent decision may have written.
func applyUse(tx *bolt.Tx, d *access.Decision) error {
	if !d.Grant || !d.FirstUse || d.VisitID == "" {
		return nil
	}
	uses := tx.Bucket(bUses)
	id := []byte(d.VisitID)
	at := d.UseAt
	if at.IsZero() {
		at = d.At
	}
	prev, err := readUse(tx, id)
	if err != nil {
		return err
	}
	if prev.IsZero() {
		d.UseAt = at
		return uses.Put(id, encodeUse(at))
	}
	// Someone else's first use came first.
	mark := prev
	if at.Before(prev) {
		mark = at
		if err := uses.Put(id, encodeUse(at)); err != nil {
			return err
		}
	}
	d.FirstUse = false
	d.Events = slices.DeleteFunc(d.Events, func(e access.Event) bool { return e.Type == access.EventVisitStarted })
	window := d.UseWindow
	if window <= 0 {
		window = defaultUseWindow
	}
	if d.SingleUse && !d.At.Before(mark.Add(window)) {
		deny(d, access.ReasonSingleUseSpent, "a concurrent decision used the visit first at "+mark.Format(time.RFC3339Nano))
	}
	return nil
}

func saveLockouts(meta *bolt.Bucket, states []*access.LockoutState) error {
	if len(states) == 0 {
		return nil
	}
	cur, err := decodeLockout(meta.Get(kLockout))
	if err != nil {
		cur = nil // a bad record is replaced rather than blocking commits
	}
	for _, s := range states {
		i := slices.IndexFunc(cur, func(c access.LockoutState) bool { return c.Reader == s.Reader })
		if i < 0 {
			cur = append(cur, *s)
		} else {
			cur[i] = *s
		}
	}
	b, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	return meta.Put(kLockout, b)
}
