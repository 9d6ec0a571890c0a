package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/intercomd/intercomd/access"
)

// Upsert is one visit from the cloud with the complete set of its credential
// hashes; it replaces the stored visit and its credential set.
type Upsert struct {
	Visit access.Visit
	Creds []access.Hash
}

// Delete deletes a visit. Deletion is final: ids are never reused.
type Delete struct {
	ID      string
	Version uint64
}

// Batch is one sync delta: applied in one transaction, all or nothing.
type Batch struct {
	Revision uint64 // the sync revision this batch brings the store to
	Upserts  []Upsert
	Deletes  []Delete
}

// Result counts what a batch did.
type Result struct {
	Upserted   int // visits written
	Deleted    int // visits turned into tombstones
	Stale      int // items skipped: older or equal version, or the visit is a tombstone
	Retargeted int // credential hashes taken from another visit
	Invalid    int // items rejected (empty id, bad window, too many credentials)
	Revision   uint64
}

// Apply applies a batch in one transaction. Upserts are applied in order,
// then deletes. The stored revision becomes max(current, b.Revision).
//
// Rules:
//   - An upsert whose version is not newer than the stored one is skipped
//     (Stale); an upsert of a tombstoned id is skipped (Stale).
//   - A delete always wins, whatever its version: the cloud never reuses an
//     id, so no live version can follow a delete. Deleting an unknown id
//     stores a tombstone so that a late upsert cannot create it.
//   - A visit's credentials keep pointing at its tombstone, so that they are
//     refused with visit_deleted until the tombstone is purged.
//   - A hash that another visit holds is taken by the upsert (Retargeted):
//     the batch is the cloud's newer view, and the previous owner's record
//     drops the hash. Within a batch the later item wins.
//   - An invalid item is skipped and counted (Invalid); the rest applies.
func (db *DB) Apply(b Batch) (Result, error) {
	var res Result
	now := db.opt.Now()
	err := db.update("apply", func(tx *bolt.Tx) error {
		res = Result{}
		a := newApplier(tx, now, &res)
		if err := a.upsertAll(b.Upserts); err != nil {
			return err
		}
		for _, d := range b.Deletes {
			if err := a.delete(d.ID, d.Version); err != nil {
				return err
			}
		}
		return a.finish(b.Revision, false)
	})
	return res, err
}

// Batches of at least bulkUpserts upserts (snapshots, first loads) pack
// pages to bulkFill.
const (
	bulkUpserts = 10000
	bulkFill    = 0.95
)

// applyHook, when set by a test, runs before each upsert of Apply; an error
// aborts the batch.
var applyHook func(item int) error

// applier applies upserts and deletes inside one transaction.
//
// bbolt keeps every node a transaction touches in memory until commit and
// inserts into a node by copying its tail, so many random inserts into one
// node cost O(n²). The applier therefore writes visits in id order and
// collects credential changes in ops, writing them in hash order at the end.
type applier struct {
	tx                  *bolt.Tx
	visits, creds, meta *bolt.Bucket
	uses                *bolt.Bucket
	now                 time.Time
	res                 *Result
	cnt                 counters
	seen                map[access.Hash]struct{}
	ops                 map[access.Hash]string // hash → new owner id, "" to delete
}

func newApplier(tx *bolt.Tx, now time.Time, res *Result) *applier {
	return &applier{tx: tx, visits: tx.Bucket(bVisits), creds: tx.Bucket(bCreds),
		meta: tx.Bucket(bMeta), uses: tx.Bucket(bUses), now: now, res: res,
		seen: make(map[access.Hash]struct{}), ops: make(map[access.Hash]string)}
}

// owner returns the visit that holds h, counting pending changes.
func (a *applier) owner(h access.Hash) (string, bool) {
	if id, ok := a.ops[h]; ok {
		return id, id != ""
	}
	if b := a.creds.Get(h[:]); b != nil {
		return string(b), true
	}
	return "", false
}

// upsertAll applies upserts in id order (stable: of two upserts of one id in
// a batch, the later is applied later), then the credential changes.
func (a *applier) upsertAll(ups []Upsert) error {
	order := make([]int, len(ups))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return strings.Compare(ups[x].Visit.ID, ups[y].Visit.ID) })
	if len(ups) >= bulkUpserts {
		// A bulk load writes in key order: pack pages instead of leaving
		// them half empty (bbolt's default split point).
		a.visits.FillPercent, a.creds.FillPercent = bulkFill, bulkFill
	}
	for _, i := range order {
		if applyHook != nil {
			if err := applyHook(i); err != nil {
				return err
			}
		}
		if err := a.upsert(&ups[i]); err != nil {
			return err
		}
	}
	return a.flushCreds()
}

func (a *applier) flushCreds() error {
	hs := make([]access.Hash, 0, len(a.ops))
	for h := range a.ops {
		hs = append(hs, h)
	}
	slices.SortFunc(hs, func(x, y access.Hash) int { return bytes.Compare(x[:], y[:]) })
	for i := range hs {
		h := hs[i][:] // bbolt keeps the key slice until commit
		id := a.ops[hs[i]]
		cur := a.creds.Get(h)
		if id == "" {
			if cur != nil {
				if err := a.creds.Delete(h); err != nil {
					return err
				}
				a.cnt.creds--
			}
			continue
		}
		if cur == nil {
			a.cnt.creds++
		}
		if err := a.creds.Put(h, []byte(id)); err != nil {
			return err
		}
	}
	clear(a.ops)
	return nil
}

func (a *applier) finish(rev uint64, force bool) error {
	if err := a.cnt.save(a.meta); err != nil {
		return err
	}
	cur, _ := decodeU64(a.meta.Get(kRevision))
	if force || rev > cur {
		cur = rev
		if err := a.meta.Put(kRevision, u64(rev)); err != nil {
			return err
		}
	}
	a.res.Revision = cur
	return nil
}

// existing returns the stored record for id; ok is false if there is none.
// An undecodable record is treated as absent (and overwritten), so that a
// bad record can be repaired by sync rather than block it.
func (a *applier) existing(id []byte) (record, bool) {
	b := a.visits.Get(id)
	if b == nil {
		return record{}, false
	}
	r, err := decodeRecord(string(id), b, true)
	if err != nil {
		return record{}, false
	}
	return r, true
}

func validVisit(v *access.Visit, creds int) bool {
	return v.ID != "" && len(v.ID) <= 255 && v.DailyFrom >= 0 && v.DailyFrom <= 1439 &&
		v.DailyTo >= 0 && v.DailyTo <= 1440 && len(v.Intercoms) <= maxIntercoms && creds <= maxCredsPerVisit
}

// put writes a record. bbolt keeps the value slice until commit, so every
// record gets its own buffer.
func (a *applier) put(r *record) error {
	b, err := encodeRecord(make([]byte, 0, 64+32*len(r.Creds)), r)
	if err != nil {
		return err
	}
	return a.visits.Put([]byte(r.ID), b)
}

func (a *applier) upsert(u *Upsert) error {
	if !validVisit(&u.Visit, len(u.Creds)) {
		a.res.Invalid++
		return nil
	}
	for _, ic := range u.Visit.Intercoms {
		if len(ic) > maxIntercomLen {
			a.res.Invalid++
			return nil
		}
	}
	if u.Visit.Deleted {
		return a.delete(u.Visit.ID, u.Visit.Version)
	}
	id := u.Visit.ID
	old, exists := a.existing([]byte(id))
	if exists && (old.Deleted || u.Visit.Version <= old.Version) {
		a.res.Stale++
		return nil
	}
	// The new credential set, deduplicated.
	clear(a.seen)
	creds := make([]access.Hash, 0, len(u.Creds))
	for _, h := range u.Creds {
		if _, dup := a.seen[h]; !dup {
			a.seen[h] = struct{}{}
			creds = append(creds, h)
		}
	}
	for _, h := range old.Creds {
		if _, keep := a.seen[h]; keep {
			continue
		}
		if o, ok := a.owner(h); ok && o == id {
			a.ops[h] = ""
		}
	}
	oldSet := make(map[access.Hash]struct{}, len(old.Creds))
	for _, h := range old.Creds {
		oldSet[h] = struct{}{}
	}
	for _, h := range creds {
		if _, had := oldSet[h]; had {
			if _, pending := a.ops[h]; !pending {
				continue // the index maps a record's hashes to it: no lookup needed
			}
		}
		o, ok := a.owner(h)
		if ok && o == id {
			continue
		}
		if ok {
			if err := a.dropCred([]byte(o), h); err != nil {
				return err
			}
			a.res.Retargeted++
		}
		a.ops[h] = id
	}
	r := record{Visit: u.Visit, Creds: creds}
	r.Intercoms = append([]string(nil), u.Visit.Intercoms...)
	if err := a.put(&r); err != nil {
		return err
	}
	if !exists {
		a.cnt.visits++
	}
	a.res.Upserted++
	return nil
}

// dropCred removes h from the credential list of visit owner.
func (a *applier) dropCred(owner []byte, h access.Hash) error {
	r, ok := a.existing(owner)
	if !ok {
		return nil
	}
	out := r.Creds[:0]
	for _, c := range r.Creds {
		if c != h {
			out = append(out, c)
		}
	}
	r.Creds = out
	return a.put(&r)
}

func (a *applier) delete(id string, version uint64) error {
	if id == "" || len(id) > 255 {
		a.res.Invalid++
		return nil
	}
	r, exists := a.existing([]byte(id))
	if exists && r.Deleted {
		a.res.Stale++
		return nil
	}
	if !exists {
		r = record{Visit: access.Visit{ID: id}}
		a.cnt.visits++ // undone below: a tombstone is not live
	}
	r.Deleted = true
	r.DeletedAt = a.now
	r.Version = max(r.Version, version)
	a.cnt.visits--
	a.cnt.tombstones++
	a.res.Deleted++
	return a.put(&r)
}

// Snapshots
//
// A snapshot arrives in chunks. StageSnapshot stores each chunk durably under
// staging/<id>/<seq>; CommitSnapshot then applies all of them in one
// transaction, tombstones every live visit the snapshot does not hold, sets
// the revision and discards every staged snapshot. Until then the live data
// is untouched, and a crash keeps the staged chunks (StagedChunks reports
// them, so sync can resume).

// Chunk format: uvarint count, then per item uvarint len(id), id, uvarint
// len(record), record (the visits-bucket encoding, credentials included).

func encodeChunk(items []Upsert) ([]byte, error) {
	b := binary.AppendUvarint(nil, uint64(len(items)))
	var rec []byte
	for i := range items {
		it := &items[i]
		if !validVisit(&it.Visit, len(it.Creds)) {
			return nil, fmt.Errorf("store: snapshot item %d (visit %q): %w", i, it.Visit.ID, ErrInvalid)
		}
		var err error
		rec, err = encodeRecord(rec[:0], &record{Visit: it.Visit, Creds: it.Creds})
		if err != nil {
			return nil, err
		}
		b = binary.AppendUvarint(b, uint64(len(it.Visit.ID)))
		b = append(b, it.Visit.ID...)
		b = binary.AppendUvarint(b, uint64(len(rec)))
		b = append(b, rec...)
	}
	return b, nil
}

func decodeChunk(b []byte) ([]Upsert, error) {
	d := decoder{b: b}
	n := d.uvarint("chunk count")
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("chunk count out of range")
	}
	var out []Upsert
	for i := uint64(0); i < n && d.err == nil; i++ {
		l := d.uvarint("id length")
		if d.err != nil || l == 0 || l > 255 || l > uint64(len(d.b)) {
			d.fail("id length out of range")
			break
		}
		id := string(d.b[:l])
		d.b = d.b[l:]
		rl := d.uvarint("record length")
		if d.err != nil || rl > uint64(len(d.b)) {
			d.fail("record length out of range")
			break
		}
		r, err := decodeRecord(id, d.b[:rl], true)
		if err != nil {
			return nil, fmt.Errorf("store: snapshot chunk item %d: %w", i, err)
		}
		d.b = d.b[rl:]
		out = append(out, Upsert{Visit: r.Visit, Creds: r.Creds})
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, fmt.Errorf("store: snapshot chunk: %w", d.err)
	}
	return out, nil
}

// StageSnapshot stores chunk seq (0-based) of snapshot id durably. Staging
// the same chunk again replaces it. Items must be valid (ErrInvalid
// otherwise); their versions are checked at commit.
func (db *DB) StageSnapshot(id string, seq int, items []Upsert) error {
	if id == "" || seq < 0 {
		return fmt.Errorf("store: stage snapshot %q chunk %d: %w", id, seq, ErrInvalid)
	}
	chunk, err := encodeChunk(items)
	if err != nil {
		return err
	}
	return db.update("stage snapshot "+id, func(tx *bolt.Tx) error {
		sb, err := tx.Bucket(bStaging).CreateBucketIfNotExists([]byte(id))
		if err != nil {
			return err
		}
		sb.FillPercent = 1
		return sb.Put(u64(uint64(seq)), chunk)
	})
}

// StagedChunks returns the chunk numbers staged for snapshot id, in order.
func (db *DB) StagedChunks(id string) ([]int, error) {
	var out []int
	err := db.bolt.View(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bStaging).Bucket([]byte(id))
		if sb == nil {
			return nil
		}
		return sb.ForEach(func(k, _ []byte) error {
			if n, err := decodeU64(k); err == nil {
				out = append(out, int(n))
			}
			return nil
		})
	})
	return out, err
}

// AbortSnapshot discards the staged chunks of snapshot id.
func (db *DB) AbortSnapshot(id string) error {
	return db.update("abort snapshot "+id, func(tx *bolt.Tx) error {
		err := tx.Bucket(bStaging).DeleteBucket([]byte(id))
		if err == nil || err == bolterrors.ErrBucketNotFound {
			return nil
		}
		return err
	})
}

// CommitSnapshot applies staged snapshot id, which must have chunks 0 to
// chunks-1 (ErrSnapshotIncomplete otherwise, and nothing changes), in one
// transaction: upserts follow the Apply rules, every live visit absent from
// the snapshot becomes a tombstone, the revision is set to rev (even if
// lower: a snapshot is authoritative), and all staged snapshots are
// discarded.
func (db *DB) CommitSnapshot(id string, rev uint64, chunks int) (Result, error) {
	var res Result
	now := db.opt.Now()
	err := db.update("commit snapshot "+id, func(tx *bolt.Tx) error {
		res = Result{}
		staging := tx.Bucket(bStaging)
		sb := staging.Bucket([]byte(id))
		if sb == nil || chunks < 0 {
			return fmt.Errorf("snapshot %q has no staged chunks: %w", id, ErrSnapshotIncomplete)
		}
		var missing []int
		for i := 0; i < chunks; i++ {
			if sb.Get(u64(uint64(i))) == nil {
				missing = append(missing, i)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("snapshot %q: %d of %d chunks missing (first %d): %w", id, len(missing), chunks, missing[0], ErrSnapshotIncomplete)
		}
		a := newApplier(tx, now, &res)
		present := make(map[string]struct{})
		var all []Upsert
		for i := 0; i < chunks; i++ {
			items, err := decodeChunk(sb.Get(u64(uint64(i))))
			if err != nil {
				return fmt.Errorf("chunk %d: %w", i, err)
			}
			for j := range items {
				present[items[j].Visit.ID] = struct{}{}
			}
			all = append(all, items...)
		}
		if err := a.upsertAll(all); err != nil {
			return err
		}
		var gone []string
		c := a.visits.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if _, ok := present[string(k)]; ok {
				continue
			}
			if len(v) > 2 && v[0] == recordFormat && isDeleted(v) {
				continue
			}
			gone = append(gone, string(k))
		}
		for _, g := range gone {
			if err := a.delete(g, 0); err != nil {
				return err
			}
		}
		if err := a.finish(rev, true); err != nil {
			return err
		}
		// Every staged snapshot is now obsolete.
		var names [][]byte
		_ = staging.ForEachBucket(func(k []byte) error { names = append(names, bytes.Clone(k)); return nil })
		for _, n := range names {
			if err := staging.DeleteBucket(n); err != nil {
				return err
			}
		}
		return nil
	})
	return res, err
}

// isDeleted reads the deleted flag of an encoded record without decoding it.
func isDeleted(v []byte) bool {
	_, n := binary.Uvarint(v[1:])
	if n <= 0 || 1+n >= len(v) {
		return false
	}
	return v[1+n]&flagDeleted != 0
}
