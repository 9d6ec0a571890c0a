package mqttsync

import (
	"context"
	"fmt"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/store"
	"github.com/intercomd/intercomd/sync/wire"
)

// maxHeld bounds the deltas held while a gap or a snapshot is open.
const maxHeld = 10000

// keys is the key-sync state machine. Only its own goroutine (run) touches
// it.
type keys struct {
	c        *Client
	rev      uint64
	held     map[uint64]*wire.Delta // by Rev
	gapSince time.Time              // zero: no open gap
	headRev  uint64
	snap     *snapState // the outstanding snapshot request, nil if none
	// timeouts counts snapshot requests in a row that went unanswered; the
	// wait doubles with each (up to maxSnapWait), so that a cloud outage
	// costs neither a request storm nor an event flood.
	timeouts int
}

const maxSnapWait = 5 * time.Minute

type snapState struct {
	requestID string
	reason    wire.SnapshotReason
	last      time.Time // request or last chunk
	id        string    // the snapshot being staged ("" until its first chunk)
	rev       uint64
	total     int
	got       map[int]bool // wire chunks received
	// Wire chunks are staged in groups, one store chunk (and one fsync) per
	// group of those that arrived together: buf holds the group, staged
	// counts the store chunks written.
	buf    []store.Upsert
	bufN   int
	staged int
}

// maxGroup bounds the wire chunks staged in one store chunk.
const maxGroup = 32

func newKeys(c *Client, rev uint64) *keys {
	return &keys{c: c, rev: rev, held: map[uint64]*wire.Delta{}}
}

func (k *keys) run(ctx context.Context) {
	tick := max(min(k.c.opt.GapWait, k.c.opt.ChunkTimeout)/4, 5*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case in := <-k.c.keysIn:
			k.handle(ctx, in)
		case r := <-k.c.resyncIn:
			k.request(ctx, r)
		case <-t.C:
			k.tick(ctx, k.c.opt.Now())
		}
	}
}

func (k *keys) handle(ctx context.Context, in inbound) {
	if in.err != nil {
		// A bad chunk of the snapshot being staged leaves it incomplete: the
		// chunk timeout then asks for a new one, which also paces a cloud
		// that keeps sending bad chunks.
		k.c.reject(ctx, in.topic, wire.Class(in.err), in.err)
		return
	}
	switch m := in.msg.(type) {
	case *wire.Delta:
		k.c.observe(m.SentAt)
		k.delta(ctx, m)
	case *wire.Head:
		k.c.observe(m.SentAt)
		k.headRev = max(k.headRev, m.Rev)
		k.checkGap()
	case *wire.SnapshotChunk:
		k.c.observe(m.SentAt)
		k.chunk(ctx, m)
	}
}

func (k *keys) delta(ctx context.Context, d *wire.Delta) {
	switch {
	case d.Rev <= k.rev:
		k.c.stats.add(func(s *Stats) { s.Stale++ })
		k.c.log.Debug("stale delta dropped", "rev", d.Rev, "have", k.rev)
		return
	case k.snap != nil || d.PrevRev > k.rev:
		k.hold(d)
	default:
		k.apply(ctx, d)
	}
	k.applyHeld(ctx)
}

func (k *keys) hold(d *wire.Delta) {
	if len(k.held) >= maxHeld {
		// The oldest held delta goes; if it mattered, the gap it leaves
		// ends in a snapshot.
		var oldest uint64
		for r := range k.held {
			if oldest == 0 || r < oldest {
				oldest = r
			}
		}
		delete(k.held, oldest)
	}
	k.held[d.Rev] = d
	k.checkGap()
}

// applyHeld applies held deltas that now follow the revision, in order.
func (k *keys) applyHeld(ctx context.Context) {
	for k.snap == nil {
		var next *wire.Delta
		for r, d := range k.held {
			if r <= k.rev {
				delete(k.held, r)
				continue
			}
			if d.PrevRev <= k.rev && (next == nil || d.Rev < next.Rev) {
				next = d
			}
		}
		if next == nil {
			break
		}
		delete(k.held, next.Rev)
		if !k.apply(ctx, next) {
			break
		}
	}
	k.checkGap()
}

// checkGap opens or closes the gap timer.
func (k *keys) checkGap() {
	open := k.snap == nil && (len(k.held) > 0 || k.headRev > k.rev)
	switch {
	case !open:
		k.gapSince = time.Time{}
	case k.gapSince.IsZero():
		k.gapSince = k.c.opt.Now()
	}
}

func upserts(recs []wire.Record) []store.Upsert {
	out := make([]store.Upsert, len(recs))
	for i, r := range recs {
		out[i] = store.Upsert{Visit: r.Visit, Creds: r.Creds}
	}
	return out
}

func (k *keys) apply(ctx context.Context, d *wire.Delta) bool {
	b := store.Batch{Revision: d.Rev, Upserts: upserts(d.Records())}
	for _, t := range d.Deletes {
		b.Deletes = append(b.Deletes, store.Delete{ID: t.ID, Version: t.Version})
	}
	res, err := k.c.opt.Store.Apply(b)
	if err != nil {
		k.syncError(ctx, fmt.Errorf("mqttsync: apply delta rev %d: %w", d.Rev, err))
		return false
	}
	k.rev = res.Revision
	k.c.stats.add(func(s *Stats) { s.DeltasApplied++; s.Revision = k.rev })
	if k.c.opt.Applied != nil {
		k.c.opt.Applied(k.rev)
	}
	return true
}

func (k *keys) syncError(ctx context.Context, err error) {
	k.c.stats.add(func(s *Stats) { s.Errors++ })
	k.c.log.Error("sync error", "err", err)
	k.c.event(ctx, access.Event{Type: access.EventSync, Reader: "mqtt", Detail: err.Error()})
}

// request asks for a snapshot, discarding any snapshot being staged.
func (k *keys) request(ctx context.Context, reason wire.SnapshotReason) {
	k.abortStaged()
	now := k.c.opt.Now()
	k.snap = &snapState{requestID: newRequestID(), reason: reason, last: now}
	k.gapSince = time.Time{}
	k.c.stats.add(func(s *Stats) { s.SnapshotRequests++ })
	k.c.log.Info("requesting snapshot", "reason", reason, "have_rev", k.rev)
	err := k.c.publish(wire.TopicSnapshotReq, &wire.SnapshotRequest{
		RequestID: k.snap.requestID, Reason: reason, HaveRev: k.rev, At: now.UTC()})
	if err != nil {
		// Not connected: the chunk timeout asks again.
		k.c.log.Debug("snapshot request not sent", "err", err)
	}
}

func (k *keys) abortStaged() {
	if k.snap != nil && k.snap.id != "" {
		if err := k.c.opt.Store.AbortSnapshot(k.snap.id); err != nil {
			k.c.log.Error("abort snapshot", "id", k.snap.id, "err", err)
		}
	}
}

func (k *keys) tick(ctx context.Context, now time.Time) {
	switch {
	case k.snap != nil && now.Sub(k.snap.last) >= k.snapWait():
		k.c.stats.add(func(s *Stats) { s.SnapshotTimeouts++ })
		if k.snap.id != "" {
			k.syncError(ctx, fmt.Errorf("mqttsync: snapshot %s stalled with %d of %d chunks after %v; asking again",
				k.snap.id, len(k.snap.got), k.snap.total, k.snapWait()))
		} else if k.timeouts == 0 {
			k.syncError(ctx, fmt.Errorf("mqttsync: no answer to snapshot request after %v; asking again with backoff", k.snapWait()))
		}
		k.timeouts++
		k.request(ctx, wire.SnapTimeout)
	case k.snap == nil && !k.gapSince.IsZero() && now.Sub(k.gapSince) >= k.c.opt.GapWait:
		k.request(ctx, wire.SnapGap)
	}
}

// snapWait is how long the outstanding snapshot may go without a chunk.
func (k *keys) snapWait() time.Duration {
	w := k.c.opt.ChunkTimeout
	for range min(k.timeouts, 10) {
		w *= 2
	}
	return min(w, max(maxSnapWait, k.c.opt.ChunkTimeout))
}

func (k *keys) chunk(ctx context.Context, ch *wire.SnapshotChunk) {
	s := k.snap
	switch {
	case s == nil && ch.RequestID == "" && ch.Rev >= k.rev:
		// Pushed by the cloud unasked: take it.
		s = &snapState{reason: wire.SnapResync}
		k.snap = s
	case s == nil, ch.RequestID != "" && ch.RequestID != s.requestID, ch.RequestID == "" && s.id != "" && s.id != ch.SnapshotID:
		if ch.RequestID == "" && ch.Rev < k.rev {
			k.c.reject(ctx, wire.TopicSnapshot, "invalid", fmt.Errorf("%w: snapshot %s: revision goes backwards (rev %d, have %d)", wire.ErrInvalid, ch.SnapshotID, ch.Rev, k.rev))
			return
		}
		k.c.stats.add(func(s *Stats) { s.Stale++ })
		return
	}
	if s.id != ch.SnapshotID {
		// The first chunk, or the cloud restarted the snapshot.
		k.abortStaged()
		s.id, s.rev, s.total, s.got = ch.SnapshotID, ch.Rev, ch.Total, map[int]bool{}
		s.buf, s.bufN, s.staged = nil, 0, 0
		k.c.log.Debug("snapshot arriving", "id", s.id, "rev", s.rev, "chunks", s.total)
	}
	if ch.Rev != s.rev || ch.Total != s.total {
		k.c.reject(ctx, wire.TopicSnapshot, "invalid", fmt.Errorf("%w: snapshot %s: chunk %d says rev %d of %d chunks, first said rev %d of %d",
			wire.ErrInvalid, s.id, ch.Seq, ch.Rev, ch.Total, s.rev, s.total))
		return
	}
	if s.got[ch.Seq] {
		k.c.stats.add(func(st *Stats) { st.Stale++ }) // redelivered
		return
	}
	s.got[ch.Seq] = true
	s.buf = append(s.buf, upserts(ch.Records())...)
	s.bufN++
	s.last = k.c.opt.Now()
	complete := len(s.got) == s.total
	if complete || s.bufN >= maxGroup || len(k.c.keysIn) == 0 {
		if err := k.c.opt.Store.StageSnapshot(s.id, s.staged, s.buf); err != nil {
			k.syncError(ctx, fmt.Errorf("mqttsync: stage snapshot %s: %w", s.id, err))
			k.request(ctx, wire.SnapRejected)
			return
		}
		s.staged++
		k.c.stats.add(func(st *Stats) { st.ChunksStaged += uint64(s.bufN) })
		s.buf, s.bufN = nil, 0
	}
	if !complete {
		return
	}
	k.c.log.Debug("committing snapshot", "id", s.id, "chunks", s.total)
	res, err := k.c.opt.Store.CommitSnapshot(s.id, s.rev, s.staged)
	if err != nil {
		k.syncError(ctx, fmt.Errorf("mqttsync: commit snapshot %s: %w", s.id, err))
		k.request(ctx, wire.SnapRejected)
		return
	}
	k.snap, k.timeouts = nil, 0
	k.rev = res.Revision
	k.c.log.Info("snapshot applied", "id", s.id, "rev", k.rev, "upserted", res.Upserted, "deleted", res.Deleted)
	k.c.stats.add(func(st *Stats) { st.SnapshotsApplied++; st.Revision = k.rev })
	if k.c.opt.Applied != nil {
		k.c.opt.Applied(k.rev)
	}
	k.applyHeld(ctx)
}
