package store

import (
	"bytes"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PurgeTombstones deletes tombstones whose visit ended (or, if later, whose
// deletion happened) more than grace before now, with their credential
// hashes and first-use marks, and returns how many it purged. After a purge
// a late upsert of the id could store it again, but its window is then long
// past, so it can grant nothing; use a grace of days, not minutes.
func (db *DB) PurgeTombstones(now time.Time, grace time.Duration) (int, error) {
	purged := 0
	err := db.update("purge tombstones", func(tx *bolt.Tx) error {
		purged = 0
		visits, creds, uses := tx.Bucket(bVisits), tx.Bucket(bCreds), tx.Bucket(bUses)
		var victims []record
		err := visits.ForEach(func(k, v []byte) error {
			if len(v) < 3 || v[0] != recordFormat || !isDeleted(v) {
				return nil
			}
			r, err := decodeRecord(string(k), v, true)
			if err != nil {
				return nil // left for sync to overwrite; not ours to guess
			}
			last := r.End
			if r.DeletedAt.After(last) {
				last = r.DeletedAt
			}
			if last.Add(grace).Before(now) {
				victims = append(victims, r)
			}
			return nil
		})
		if err != nil {
			return err
		}
		var cnt counters
		for _, r := range victims {
			id := []byte(r.ID)
			for _, h := range r.Creds {
				if bytes.Equal(creds.Get(h[:]), id) {
					if err := creds.Delete(h[:]); err != nil {
						return err
					}
					cnt.creds--
				}
			}
			if err := uses.Delete(id); err != nil {
				return err
			}
			if err := visits.Delete(id); err != nil {
				return err
			}
			cnt.tombstones--
			purged++
		}
		return cnt.save(tx.Bucket(bMeta))
	})
	return purged, err
}

// Compact writes a compacted copy of the store to dst, which must not exist
// (bbolt files never shrink). The daemon can then swap files at a restart.
// Commits may continue meanwhile; the copy is a consistent snapshot.
func (db *DB) Compact(dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("store: compact to %s: file exists: %w", dst, ErrInvalid)
	}
	out, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: db.opt.Timeout, FreelistType: bolt.FreelistMapType,
		NoFreelistSync: !db.opt.SyncFreelist})
	if err != nil {
		return fmt.Errorf("store: compact to %s: %w", dst, err)
	}
	if err := bolt.Compact(out, db.bolt, 64<<20); err != nil {
		out.Close()
		os.Remove(dst)
		return fmt.Errorf("store: compact to %s: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("store: compact to %s: %w", dst, err)
	}
	return nil
}
