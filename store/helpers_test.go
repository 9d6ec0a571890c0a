package store

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func openTest(t testing.TB, opt Options) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := Open(path, opt)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// testHash is a deterministic stand-in for a keyed credential hash.
func testHash(visit, n int) access.Hash {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], uint64(visit))
	binary.BigEndian.PutUint64(b[8:], uint64(n))
	return sha256.Sum256(b[:])
}

func testVisit(i int, version uint64) Upsert {
	return Upsert{
		Visit: access.Visit{
			ID: fmt.Sprintf("v%07d", i), Version: version,
			Start: t0, End: t0.Add(48 * time.Hour),
			Days: 0b0111110, DailyFrom: 8 * 60, DailyTo: 18 * 60,
			Intercoms: []string{"ic-main"}, SingleUse: i%2 == 0,
		},
		Creds: []access.Hash{testHash(i, 0), testHash(i, 1), testHash(i, 2)},
	}
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func mustApply(t testing.TB, db *DB, b Batch) Result {
	t.Helper()
	res, err := db.Apply(b)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

// reopen closes db and opens its file again, failing the test on error.
func reopen(t *testing.T, db *DB, path string, opt Options) *DB {
	t.Helper()
	db.Close()
	db2, err := Open(path, opt)
	if err != nil {
		t.Fatalf("reopen %s: %v", path, err)
	}
	t.Cleanup(func() { db2.Close() })
	return db2
}
