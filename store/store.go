package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/intercomd/intercomd/access"
)

// SchemaVersion is the schema this build writes. Files with a newer schema
// are refused with ErrSchemaTooNew.
const SchemaVersion = 1

var (
	bVisits     = []byte("visits")
	bCreds      = []byte("creds")
	bUses       = []byte("uses")
	bOutbox     = []byte("outbox")
	bQuarantine = []byte("quarantine")
	bMeta       = []byte("meta")
	bStaging    = []byte("staging")
	allBuckets  = [][]byte{bVisits, bCreds, bUses, bOutbox, bQuarantine, bMeta, bStaging}
)

// Keys of the meta bucket. Counters are 8-byte big-endian.
var (
	kSchema      = []byte("schema")
	kRevision    = []byte("revision")
	kServerTime  = []byte("server_time") // UnixNano
	kConfig      = []byte("device_config")
	kLockout     = []byte("lockout") // JSON []access.LockoutState
	kDropped     = []byte("outbox_dropped")
	kOutboxLen   = []byte("outbox_len")
	kQuarLen     = []byte("quarantine_len")
	kVisits      = []byte("n_visits") // live visits
	kTombstones  = []byte("n_tombstones")
	kCreds       = []byte("n_creds")
	kQuarDropped = []byte("quarantine_dropped")
)

// Options configure Open. Zero values mean the documented defaults.
type Options struct {
	// Timeout bounds the wait for the file lock. Default 1 s.
	Timeout time.Duration
	// OutboxMax bounds the outbox; when full the oldest entries are dropped
	// and counted. Default 200000.
	OutboxMax int
	// QuarantineMax bounds the quarantine the same way. Default 10000.
	QuarantineMax int
	// MaxGroup bounds how many Commit/Append requests share one transaction.
	// Default 512.
	MaxGroup int
	// NoSync skips fsync. For tests and bulk fixture builds only: it gives up
	// durability.
	NoSync bool
	// SyncFreelist writes bbolt's freelist at each commit instead of
	// rebuilding it at open (bbolt NoFreelistSync=false). Default false:
	// cheaper commits, slower open.
	SyncFreelist bool
	// InitialMmapSize is passed to bbolt; a map larger than the file avoids
	// remaps (which stall readers) as it grows. Default: twice the file
	// size, at least 64 MB, at most 1 GB (512 MB on 32-bit).
	InitialMmapSize int
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
	// Now is the clock used for tombstone times. Default time.Now.
	Now func() time.Time
}

// maxInitialMmap caps the default map; 32-bit ARM has little address space.
const maxInitialMmap = int64(1<<30) >> (1 - ^uint(0)>>63)

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.OutboxMax <= 0 {
		o.OutboxMax = 200000
	}
	if o.QuarantineMax <= 0 {
		o.QuarantineMax = 10000
	}
	if o.MaxGroup <= 0 {
		o.MaxGroup = 512
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// DB is the intercomd store. It is safe for concurrent use. Open starts its
// group committer; Close flushes pending commits and stops it.
type DB struct {
	bolt *bolt.DB
	path string
	opt  Options
	log  *slog.Logger

	mu     sync.RWMutex // guards closed against enqueues
	closed bool
	reqs   chan *commitReq
	done   chan struct{}
	groups atomic.Uint64 // transactions written by the committer
}

var _ access.Lookup = (*DB)(nil)

// Open opens or creates the store at path. A missing or empty file is
// initialised. A locked file fails within Options.Timeout with ErrLocked; a
// corrupt or foreign file fails with ErrCorrupt or ErrForeign and is left
// unchanged; a newer schema fails with ErrSchemaTooNew.
func Open(path string, opt Options) (*DB, error) {
	opt.defaults()
	path = filepath.Clean(path)
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		if err := checkFile(path); err != nil {
			return nil, err
		}
		if !opt.SyncFreelist {
			if err := walkFile(path, opt.Timeout); err != nil {
				return nil, err
			}
		}
	}
	if opt.InitialMmapSize == 0 {
		// Map well past the file so that growth rarely remaps: a remap
		// stalls readers and copies every node a write transaction holds.
		opt.InitialMmapSize = 64 << 20
		if st, err := os.Stat(path); err == nil && 2*st.Size() > int64(opt.InitialMmapSize) {
			opt.InitialMmapSize = int(min(2*st.Size(), maxInitialMmap))
		}
	}
	bdb, err := openBolt(path, opt)
	if err != nil {
		return nil, err
	}
	db := &DB{bolt: bdb, path: path, opt: opt, log: opt.Logger,
		reqs: make(chan *commitReq, opt.MaxGroup), done: make(chan struct{})}
	if err := db.initSchema(); err != nil {
		bdb.Close()
		return nil, err
	}
	go db.committer()
	return db, nil
}

// openBolt opens the bbolt file under recover: bbolt can panic (or fault on
// a bad mapping) on a corrupt file.
func openBolt(path string, opt Options) (bdb *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			bdb, err = nil, fmt.Errorf("store: open %s: %v: %w", path, r, ErrCorrupt)
		}
	}()
	bdb, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         lockWait(opt.Timeout),
		FreelistType:    bolt.FreelistMapType,
		NoFreelistSync:  !opt.SyncFreelist,
		NoSync:          opt.NoSync,
		InitialMmapSize: opt.InitialMmapSize,
	})
	if err != nil {
		return nil, boltOpenErr(path, err)
	}
	return bdb, nil
}

// lockWait leaves part of the timeout for finding the lock's holder, so that
// a locked Open fails within Options.Timeout.
func lockWait(t time.Duration) time.Duration {
	if t > 200*time.Millisecond {
		return t - 100*time.Millisecond
	}
	return t
}

// boltOpenErr maps bbolt's open errors to the package's sentinels.
func boltOpenErr(path string, err error) error {
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		if h := lockHolder(path); h != "" {
			return fmt.Errorf("store: open %s: held by %s: %w", path, h, ErrLocked)
		}
		return fmt.Errorf("store: open %s: %w", path, ErrLocked)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrInvalidMapping):
		return fmt.Errorf("store: open %s: %v: %w", path, err, ErrCorrupt)
	}
	return fmt.Errorf("store: open %s: %w", path, err)
}

// walkFile reads every page of an existing file through a read-only bbolt
// handle, in this goroutine, under recover. bbolt's read-write open rebuilds
// the freelist (NoFreelistSync) by walking the tree in a goroutine of its
// own, where a garbage page would crash the process; this walk finds such a
// page first and reports it as ErrCorrupt.
func walkFile(path string, timeout time.Duration) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var bdb *bolt.DB
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: open %s: %v: %w", path, r, ErrCorrupt)
		}
		if bdb != nil {
			closeQuietly(bdb)
		}
	}()
	bdb, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockWait(timeout)})
	if err != nil {
		bdb = nil
		return boltOpenErr(path, err)
	}
	return bdb.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			walkBucket(b)
			return nil
		})
	})
}

func walkBucket(b *bolt.Bucket) {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			if nb := b.Bucket(k); nb != nil {
				walkBucket(nb)
			}
		}
	}
}

func closeQuietly(bdb *bolt.DB) {
	defer func() { _ = recover() }()
	_ = bdb.Close()
}

// initSchema checks the schema of an existing store and initialises an empty
// one. It writes only to a file that has no buckets at all (one bbolt has
// just created) or that is already ours.
func (db *DB) initSchema() (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: open %s: %v: %w", db.path, r, ErrCorrupt)
		}
	}()
	var empty, complete bool
	var schema uint64
	err = db.bolt.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			n := 0
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { n++; return nil })
			if n > 0 {
				return fmt.Errorf("store: open %s: no intercomd meta bucket: %w", db.path, ErrForeign)
			}
			empty = true
			return nil
		}
		v, err := decodeU64(meta.Get(kSchema))
		if err != nil {
			return fmt.Errorf("store: open %s: schema version: %v: %w", db.path, err, ErrForeign)
		}
		schema = v
		complete = true
		for _, b := range allBuckets {
			if tx.Bucket(b) == nil {
				complete = false
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if schema > SchemaVersion {
		return fmt.Errorf("store: open %s: schema %d, this build knows %d: %w", db.path, schema, SchemaVersion, ErrSchemaTooNew)
	}
	if complete {
		return nil
	}
	if !empty {
		db.log.Warn("store: recreating missing buckets", "file", db.path)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if empty {
			return tx.Bucket(bMeta).Put(kSchema, u64(SchemaVersion))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: initialise %s: %w", db.path, err)
	}
	return nil
}

// Path returns the file the store was opened from.
func (db *DB) Path() string { return db.path }

// Close flushes pending commits, stops the committer and closes the file.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	close(db.reqs)
	db.mu.Unlock()
	<-db.done
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", db.path, err)
	}
	return nil
}

// Find implements access.Lookup: the visit holding h (a tombstone too, so
// that the engine can refuse with visit_deleted) and its first-use time. It
// returns access.ErrNotFound for an unknown hash. Safe for concurrent use.
func (db *DB) Find(h access.Hash) (v access.Visit, firstUse time.Time, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bCreds).Get(h[:])
		if id == nil {
			return access.ErrNotFound
		}
		r, err := db.readVisit(tx, id, false)
		if err != nil {
			return err
		}
		v = r.Visit
		firstUse, err = readUse(tx, id)
		return err
	})
	return v, firstUse, err
}

func (db *DB) readVisit(tx *bolt.Tx, id []byte, creds bool) (record, error) {
	b := tx.Bucket(bVisits).Get(id)
	if b == nil {
		return record{}, fmt.Errorf("store: visit %q: %w", id, ErrNotFound)
	}
	return decodeRecord(string(id), b, creds)
}

func readUse(tx *bolt.Tx, id []byte) (time.Time, error) {
	b := tx.Bucket(bUses).Get(id)
	if b == nil {
		return time.Time{}, nil
	}
	t, err := decodeUse(b)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: visit %q: %w", id, err)
	}
	return t, nil
}

// Visit returns one visit (possibly a tombstone) and its first-use time, or
// ErrNotFound.
func (db *DB) Visit(id string) (v access.Visit, firstUse time.Time, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		r, err := db.readVisit(tx, []byte(id), false)
		if err != nil {
			return err
		}
		v = r.Visit
		firstUse, err = readUse(tx, []byte(id))
		return err
	})
	return v, firstUse, err
}

// Visits calls fn for every visit, tombstones included, in id order, until
// fn returns false. fn runs outside any transaction (the store reads in
// pages of 1000), so it may call the DB, and a concurrent Apply may be seen
// part-way. An undecodable record stops the walk with its error.
func (db *DB) Visits(fn func(v access.Visit, firstUse time.Time) bool) error {
	type item struct {
		v access.Visit
		u time.Time
	}
	var after []byte
	for {
		var page []item
		err := db.bolt.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bVisits).Cursor()
			var k, val []byte
			if after == nil {
				k, val = c.First()
			} else if k, val = c.Seek(after); k != nil && bytes.Equal(k, after) {
				k, val = c.Next()
			}
			for ; k != nil && len(page) < 1000; k, val = c.Next() {
				r, err := decodeRecord(string(k), val, false)
				if err != nil {
					return err
				}
				u, err := readUse(tx, k)
				if err != nil {
					return err
				}
				page = append(page, item{r.Visit, u})
				after = append(after[:0], k...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, it := range page {
			if !fn(it.v, it.u) {
				return nil
			}
		}
		if len(page) < 1000 {
			return nil
		}
	}
}

// Revision returns the sync revision last applied.
func (db *DB) Revision() (uint64, error) { return db.metaU64(kRevision) }

// NewestServerTime returns the newest server time observed (zero if none).
func (db *DB) NewestServerTime() (time.Time, error) {
	n, err := db.metaU64(kServerTime)
	if err != nil || n == 0 {
		return time.Time{}, err
	}
	return time.Unix(0, int64(n)).UTC(), nil
}

// ObserveServerTime records t if it is newer than the newest server time
// seen; the stored value only ever grows. It reports whether it grew.
func (db *DB) ObserveServerTime(t time.Time) (bool, error) {
	cur, err := db.NewestServerTime()
	if err != nil || !t.After(cur) {
		return false, err
	}
	grew := false
	err = db.update("observe server time", func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		cur, _ := decodeU64(m.Get(kServerTime))
		if n := uint64(t.UnixNano()); n > cur {
			grew = true
			return m.Put(kServerTime, u64(n))
		}
		return nil
	})
	return grew, err
}

// DeviceConfig returns the device configuration JSON last stored (nil if none).
func (db *DB) DeviceConfig() ([]byte, error) {
	var out []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bMeta).Get(kConfig); b != nil {
			out = bytes.Clone(b)
		}
		return nil
	})
	return out, err
}

// SetDeviceConfig stores the device configuration JSON durably.
func (db *DB) SetDeviceConfig(b []byte) error {
	if !json.Valid(b) {
		return fmt.Errorf("store: device config is not valid json: %w", ErrInvalid)
	}
	return db.update("set device config", func(tx *bolt.Tx) error {
		return tx.Bucket(bMeta).Put(kConfig, b)
	})
}

// LockoutStates returns the keypad brute-force states persisted by Commit,
// for access.Engine.RestoreLockout at start.
func (db *DB) LockoutStates() ([]access.LockoutState, error) {
	var out []access.LockoutState
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		out, err = decodeLockout(tx.Bucket(bMeta).Get(kLockout))
		return err
	})
	return out, err
}

func decodeLockout(b []byte) ([]access.LockoutState, error) {
	if b == nil {
		return nil, nil
	}
	var out []access.LockoutState
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("store: lockout states: %w: %v", ErrBadRecord, err)
	}
	return out, nil
}

// Stats are the store's counters, for status and metrics.
type Stats struct {
	Visits      uint64 // live visits
	Tombstones  uint64
	Creds       uint64 // credential hashes indexed
	Revision    uint64
	OutboxDepth uint64
	Dropped     uint64 // outbox entries dropped because it was full
	Quarantined uint64 // entries in quarantine
	FileSize    int64  // bytes
}

// Stats returns the counters; it is cheap (the counts are kept in meta).
func (db *DB) Stats() (Stats, error) {
	var s Stats
	err := db.bolt.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		get := func(k []byte) uint64 { v, _ := decodeU64(m.Get(k)); return v }
		s = Stats{Visits: get(kVisits), Tombstones: get(kTombstones), Creds: get(kCreds),
			Revision: get(kRevision), OutboxDepth: get(kOutboxLen), Dropped: get(kDropped),
			Quarantined: get(kQuarLen), FileSize: tx.Size()}
		return nil
	})
	return s, err
}

func (db *DB) metaU64(k []byte) (uint64, error) {
	var n uint64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bMeta).Get(k)
		if b == nil {
			return nil
		}
		var err error
		n, err = decodeU64(b)
		if err != nil {
			return fmt.Errorf("store: meta %s: %w", k, err)
		}
		return nil
	})
	return n, err
}

// update runs fn in a write transaction and names the operation in errors.
func (db *DB) update(op string, fn func(tx *bolt.Tx) error) error {
	if err := db.bolt.Update(fn); err != nil {
		if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			err = ErrClosed
		}
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// counters are the meta counts a transaction adjusts.
type counters struct {
	visits, tombstones, creds int64
}

func (c counters) save(m *bolt.Bucket) error {
	for _, kv := range []struct {
		k []byte
		d int64
	}{{kVisits, c.visits}, {kTombstones, c.tombstones}, {kCreds, c.creds}} {
		if kv.d == 0 {
			continue
		}
		cur, _ := decodeU64(m.Get(kv.k))
		n := int64(cur) + kv.d
		if n < 0 {
			n = 0
		}
		if err := m.Put(kv.k, u64(uint64(n))); err != nil {
			return err
		}
	}
	return nil
}
