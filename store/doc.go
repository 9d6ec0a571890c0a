// Package store is intercomd's visit-key cache and event outbox, one bbolt
// file.
//
// # Buckets
//
//	visits     visit id → record: a compact binary encoding (format byte 1,
//	           see record.go) of version, window, restrictions, intercoms,
//	           single-use, tombstone flag and deletion time, and the hashes of
//	           the visit's credentials.
//	creds      credential hash (32 bytes, access.Hash) → visit id. Only keyed
//	           hashes are stored, never a PIN, token or card number.
//	uses       visit id → first accepted use, Unix ns, 8 bytes big-endian.
//	outbox     sequence (NextSequence, 8 bytes big-endian) → event JSON.
//	quarantine sequence → original seq, reason and event JSON.
//	staging    snapshot id → chunk number → encoded chunk (see Snapshots).
//	meta       schema version, sync revision, newest server time, device
//	           config JSON, keypad lockout states JSON, and counters (live
//	           visits, tombstones, credentials, outbox length, outbox drops,
//	           quarantine length), kept exact in the transactions that change
//	           them so that Stats is cheap.
//
// # Opening
//
// Open always bounds the wait for bbolt's file lock (Options.Timeout, 1 s):
// a locked file fails with ErrLocked, naming the file and the holder found in
// /proc/locks. Before bbolt maps an existing file, Open checks its meta pages
// and length itself, and bbolt runs under recover with faults turned into
// panics, so a garbage, truncated or foreign file fails with ErrCorrupt or
// ErrForeign and is never written, recreated or truncated. Only a missing or
// empty file, or a bbolt file with no buckets at all, is initialised. A file
// whose schema is newer than SchemaVersion fails with ErrSchemaTooNew.
// bbolt rebuilds its freelist at open (NoFreelistSync) by walking every page
// in a goroutine of its own, where a garbage page would crash the process;
// so Open first walks every page itself, read-only and under recover (about
// 100-300 ms for the 1M-visit store). Corruption that bbolt only meets later
// (inside a Find or a commit) is still its to handle.
//
// # Decisions: Commit and Append
//
// Open starts one committer goroutine and Close stops it after flushing
// everything queued. Commit and Append enqueue a request and wait; the
// committer takes every request queued (up to Options.MaxGroup) and writes
// them in one bbolt transaction, so concurrent decisions share one fsync
// (group commit). A Commit returns only when its events, first-use mark and
// lockout state are on disk: the relay may fire after that, not before.
// Commit also settles races between concurrent first uses of a visit (see
// Commit): within a group decisions are settled in the order of their At,
// the first-use mark keeps the earliest time, and only one decision keeps
// FirstUse and its visit.started event. A grant whose visit was deleted
// after its lookup is refused at commit (visit_deleted), so a deletion takes
// effect the moment its transaction commits.
//
// The daemon's shutdown order is: stop the inputs, halt the relay, let sync
// flush the outbox, then Close (which writes what is still queued).
//
// # Sync: Apply and snapshots
//
// Apply writes a Batch of upserts and deletes in one transaction: all or
// nothing, also across a SIGKILL. Versions are per visit; an older or equal
// version never overwrites a newer one, and a tombstone is final (see Apply
// for the rules, including a credential hash claimed by two visits).
//
// A snapshot arrives in chunks: sync calls StageSnapshot(id, seq, items) for
// each (each is durable at once, so a restart can resume: StagedChunks), then
// CommitSnapshot(id, rev, n), which in one transaction checks that chunks
// 0..n-1 are all there, applies them with the Apply rules, turns every live
// visit the snapshot lacks into a tombstone, sets the revision and discards
// all staged snapshots. AbortSnapshot discards one.
//
// bbolt has one writer at a time: while an Apply or CommitSnapshot runs,
// Commit waits for it (a 100k-visit snapshot holds the writer for about a
// second on the dev machine). Readers (Find) never wait. Sync should
// therefore send deltas in batches of at most a few thousand visits.
// Batches of 10k upserts or more pack their pages (bulk fill), so a store
// loaded from a snapshot is about half the size of one grown visit by visit.
//
// # Outbox
//
// Events wait in the outbox until Ack. It is bounded (Options.OutboxMax):
// when full the oldest entries are dropped and counted in Stats.Dropped.
// Peek and PeekAfter read without removing; Quarantine moves an entry that
// can never be sent aside, with its reason, so it cannot block the queue.
//
// # Maintenance
//
// bbolt files never shrink: Compact writes a compacted copy. PurgeTombstones
// removes tombstones whose window ended long ago.
package store
