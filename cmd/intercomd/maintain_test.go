package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/store"
)

func TestMaintainPurgesOldTombstones(t *testing.T) {
	now := time.Now()
	storeNow := now
	db, err := store.Open(filepath.Join(t.TempDir(), "m.db"), store.Options{NoSync: true, Now: func() time.Time { return storeNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	old := access.Visit{ID: "old", Version: 1, Start: now.Add(-40 * 24 * time.Hour), End: now.Add(-30 * 24 * time.Hour)}
	recent := access.Visit{ID: "recent", Version: 1, Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour)}
	if _, err := db.Apply(store.Batch{Revision: 1, Upserts: []store.Upsert{{Visit: old}, {Visit: recent}}}); err != nil {
		t.Fatal(err)
	}
	storeNow = now.Add(-35 * 24 * time.Hour) // deleted long ago
	if _, err := db.Apply(store.Batch{Revision: 2, Deletes: []store.Delete{{ID: "old", Version: 2}}}); err != nil {
		t.Fatal(err)
	}
	storeNow = now // deleted just now, though it ended an hour ago
	if _, err := db.Apply(store.Batch{Revision: 3, Deletes: []store.Delete{{ID: "recent", Version: 2}}}); err != nil {
		t.Fatal(err)
	}
	tomb := func() uint64 {
		st, err := db.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st.Tombstones
	}
	if got := tomb(); got != 2 {
		t.Fatalf("tombstones before = %d, want 2", got)
	}
	d := &daemon{db: db, log: slog.New(slog.DiscardHandler),
		clock: &clockSource{build: now.Add(-time.Hour), tolerance: time.Minute, nowFunc: time.Now}}

	// An untrusted clock purges nothing: it may be years ahead.
	d.clock.nowFunc = func() time.Time { return now.Add(-365 * 24 * time.Hour) }
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	d.maintain(ctx, time.Hour)
	if got := tomb(); got != 2 {
		t.Fatalf("tombstones after a pass on an untrusted clock = %d, want 2", got)
	}
	d.clock.nowFunc = time.Now
	d.maintain(ctx, time.Hour)
	if got := tomb(); got != 1 {
		t.Errorf("tombstones after a pass = %d, want 1 (the one within the grace)", got)
	}
	if _, _, err := db.Visit("recent"); err != nil {
		t.Errorf("recent tombstone gone: %v", err)
	}
}

// TestMaintainHourlyInFakeTime runs the maintenance loop for eight days of
// synctest time: a tombstone deleted at the start survives the 7-day grace
// and is purged by the first hourly pass after it.
func TestMaintainHourlyInFakeTime(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		db, err := store.Open(filepath.Join(dir, "h.db"), store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		start := time.Now() // the bubble's fake clock
		v := access.Visit{ID: "v", Version: 1, Start: start.Add(-2 * time.Hour), End: start.Add(-time.Hour)}
		if _, err := db.Apply(store.Batch{Revision: 1, Upserts: []store.Upsert{{Visit: v}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Apply(store.Batch{Revision: 2, Deletes: []store.Delete{{ID: "v", Version: 2}}}); err != nil {
			t.Fatal(err)
		}
		d := &daemon{db: db, log: slog.New(slog.DiscardHandler),
			clock: &clockSource{build: start.Add(-time.Hour), tolerance: time.Minute, nowFunc: time.Now}}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- d.maintain(ctx, time.Hour) }()
		present := func() bool {
			_, _, err := db.Visit("v")
			return err == nil
		}
		time.Sleep(tombstoneGrace - time.Minute)
		synctest.Wait()
		if !present() {
			t.Fatal("tombstone purged before the grace ran out")
		}
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if present() {
			t.Error("tombstone still there an hour after the grace ran out")
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("maintain returned %v on cancel", err)
		}
	})
}
