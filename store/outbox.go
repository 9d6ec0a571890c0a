package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/bits"

	bolt "go.etcd.io/bbolt"

	"github.com/intercomd/intercomd/access"
)

// Entry is one outbox entry: an event's JSON under its sequence number.
type Entry struct {
	Seq  uint64
	Data []byte
}

// outboxWriter appends to the outbox inside a transaction and keeps the
// length and drop counters in meta exact.
type outboxWriter struct {
	db        *DB
	tx        *bolt.Tx
	out, meta *bolt.Bucket
	n, drops  uint64
	dropped   uint64
}

func (w *outboxWriter) load() {
	w.n, _ = decodeU64(w.meta.Get(kOutboxLen))
	w.dropped, _ = decodeU64(w.meta.Get(kDropped))
	w.out.FillPercent = 1 // keys only grow
}

func (w *outboxWriter) add(events []access.Event) error {
	for i := range events {
		data, err := json.Marshal(&events[i])
		if err != nil {
			return fmt.Errorf("encode event %s: %w", events[i].Type, err)
		}
		seq, err := w.out.NextSequence()
		if err != nil {
			return err
		}
		if err := w.out.Put(u64(seq), data); err != nil {
			return err
		}
		w.n++
	}
	return nil
}

func (w *outboxWriter) save() error {
	max := uint64(w.db.opt.OutboxMax)
	if w.n > max {
		c := w.out.Cursor()
		for w.n > max {
			k, _ := c.First()
			if k == nil {
				w.n = 0
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
			w.n--
			w.drops++
		}
		// Log when the total reaches a new power of two, not at every commit
		// of a full outbox.
		if total := w.dropped + w.drops; bits.Len64(total) != bits.Len64(w.dropped) {
			w.db.log.Warn("store: outbox full, dropping oldest events", "dropped_total", total, "max", max)
		}
	}
	if err := w.meta.Put(kOutboxLen, u64(w.n)); err != nil {
		return err
	}
	if w.drops > 0 {
		return w.meta.Put(kDropped, u64(w.dropped+w.drops))
	}
	return nil
}

// Peek returns up to n of the oldest outbox entries, in sequence order. They
// stay in the outbox until acknowledged.
func (db *DB) Peek(n int) ([]Entry, error) { return db.PeekAfter(0, n) }

// PeekAfter is Peek starting after sequence number seq, for a sender that
// keeps several entries in flight.
func (db *DB) PeekAfter(seq uint64, n int) ([]Entry, error) {
	var out []Entry
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bOutbox).Cursor()
		for k, v := c.Seek(u64(seq + 1)); k != nil && len(out) < n; k, v = c.Next() {
			s, err := decodeU64(k)
			if err != nil {
				continue
			}
			out = append(out, Entry{Seq: s, Data: bytes.Clone(v)})
		}
		return nil
	})
	return out, err
}

// Ack removes acknowledged entries. Unknown sequence numbers (already acked
// or dropped) are ignored.
func (db *DB) Ack(seqs ...uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	return db.update("ack", func(tx *bolt.Tx) error {
		out, meta := tx.Bucket(bOutbox), tx.Bucket(bMeta)
		n, _ := decodeU64(meta.Get(kOutboxLen))
		for _, s := range seqs {
			k := u64(s)
			if out.Get(k) == nil {
				continue
			}
			if err := out.Delete(k); err != nil {
				return err
			}
			if n > 0 {
				n--
			}
		}
		return meta.Put(kOutboxLen, u64(n))
	})
}

// Quarantine moves an entry that can never be sent out of the outbox, with
// the reason, so that it no longer blocks the queue. The quarantine is
// bounded by Options.QuarantineMax (oldest dropped first).
func (db *DB) Quarantine(seq uint64, why string) error {
	return db.update("quarantine", func(tx *bolt.Tx) error {
		out, q, meta := tx.Bucket(bOutbox), tx.Bucket(bQuarantine), tx.Bucket(bMeta)
		k := u64(seq)
		data := out.Get(k)
		if data == nil {
			return fmt.Errorf("outbox entry %d: %w", seq, ErrNotFound)
		}
		val := encodeQuarantine(seq, why, data)
		if err := out.Delete(k); err != nil {
			return err
		}
		n, _ := decodeU64(meta.Get(kOutboxLen))
		if n > 0 {
			n--
		}
		if err := meta.Put(kOutboxLen, u64(n)); err != nil {
			return err
		}
		qs, err := q.NextSequence()
		if err != nil {
			return err
		}
		if err := q.Put(u64(qs), val); err != nil {
			return err
		}
		ql, _ := decodeU64(meta.Get(kQuarLen))
		ql++
		var qd uint64
		c := q.Cursor()
		for ql > uint64(db.opt.QuarantineMax) {
			if k, _ := c.First(); k == nil {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
			ql--
			qd++
		}
		if qd > 0 {
			old, _ := decodeU64(meta.Get(kQuarDropped))
			if err := meta.Put(kQuarDropped, u64(old+qd)); err != nil {
				return err
			}
		}
		return meta.Put(kQuarLen, u64(ql))
	})
}

// Quarantined returns up to n quarantined entries, oldest first. An entry
// that cannot be decoded is returned with its error text as Why.
func (db *DB) Quarantined(n int) ([]QuarantinedEntry, error) {
	var out []QuarantinedEntry
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bQuarantine).Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
			q, err := decodeQuarantine(v)
			if err != nil {
				q = QuarantinedEntry{Why: err.Error()}
			}
			out = append(out, q)
		}
		return nil
	})
	return out, err
}

// OutboxLen returns the number of entries waiting in the outbox.
func (db *DB) OutboxLen() (int, error) {
	n, err := db.metaU64(kOutboxLen)
	return int(n), err
}
