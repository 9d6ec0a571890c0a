package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
)

func TestApplyVersionsAndTombstones(t *testing.T) {
	db, _ := openTest(t, Options{NoSync: true, Now: func() time.Time { return t0 }})
	v1 := testVisit(1, 1)
	v2 := testVisit(1, 2)
	v2.Visit.End = t0.Add(72 * time.Hour)
	v2.Creds = []access.Hash{testHash(1, 0), testHash(1, 9)} // drops 1 and 2, adds 9
	older := testVisit(1, 1)
	older.Visit.End = t0.Add(time.Hour)

	steps := []struct {
		name string
		b    Batch
		want Result
		// after the step: the owner of each hash ("" = unknown), and visit 1's state
		owners  map[access.Hash]string
		version uint64
		deleted bool
		end     time.Time
	}{
		{"insert", Batch{Revision: 1, Upserts: []Upsert{v1}}, Result{Upserted: 1, Revision: 1},
			map[access.Hash]string{testHash(1, 0): "v0000001", testHash(1, 2): "v0000001"}, 1, false, v1.Visit.End},
		{"newer replaces creds", Batch{Revision: 2, Upserts: []Upsert{v2}}, Result{Upserted: 1, Revision: 2},
			map[access.Hash]string{testHash(1, 0): "v0000001", testHash(1, 1): "", testHash(1, 2): "", testHash(1, 9): "v0000001"}, 2, false, v2.Visit.End},
		{"older is stale", Batch{Revision: 3, Upserts: []Upsert{older}}, Result{Stale: 1, Revision: 3},
			map[access.Hash]string{testHash(1, 9): "v0000001"}, 2, false, v2.Visit.End},
		{"equal is stale", Batch{Revision: 4, Upserts: []Upsert{v2}}, Result{Stale: 1, Revision: 4}, nil, 2, false, v2.Visit.End},
		{"revision never goes back", Batch{Revision: 1}, Result{Revision: 4}, nil, 2, false, v2.Visit.End},
		{"delete with an old version still deletes", Batch{Revision: 5, Deletes: []Delete{{"v0000001", 1}}}, Result{Deleted: 1, Revision: 5},
			map[access.Hash]string{testHash(1, 0): "v0000001", testHash(1, 9): "v0000001"}, 2, true, v2.Visit.End},
		{"upsert of a tombstone is stale", Batch{Revision: 6, Upserts: []Upsert{testVisit(1, 99)}}, Result{Stale: 1, Revision: 6},
			map[access.Hash]string{testHash(1, 1): ""}, 2, true, v2.Visit.End},
		{"second delete is stale", Batch{Revision: 7, Deletes: []Delete{{"v0000001", 100}}}, Result{Stale: 1, Revision: 7}, nil, 2, true, v2.Visit.End},
	}
	for _, s := range steps {
		got := mustApply(t, db, s.b)
		if got != s.want {
			t.Fatalf("%s: result %+v, want %+v", s.name, got, s.want)
		}
		for h, want := range s.owners {
			v, _, err := db.Find(h)
			switch {
			case want == "" && !errors.Is(err, access.ErrNotFound):
				t.Errorf("%s: Find(%s) = %v, %v; want ErrNotFound", s.name, h.String()[:8], v.ID, err)
			case want != "" && (err != nil || v.ID != want):
				t.Errorf("%s: Find(%s) = %q, %v; want %q", s.name, h.String()[:8], v.ID, err, want)
			}
		}
		v, _, err := db.Visit("v0000001")
		if err != nil {
			t.Fatalf("%s: Visit: %v", s.name, err)
		}
		if v.Version != s.version || v.Deleted != s.deleted || !v.End.Equal(s.end) {
			t.Errorf("%s: visit = version %d deleted %v end %v; want %d %v %v", s.name, v.Version, v.Deleted, v.End, s.version, s.deleted, s.end)
		}
	}
	st, _ := db.Stats()
	if st.Visits != 0 || st.Tombstones != 1 || st.Creds != 2 || st.Revision != 7 {
		t.Errorf("stats = %+v, want 0 live, 1 tombstone, 2 creds, revision 7", st)
	}
}

func TestApplyDeleteUnknownBlocksLateUpsert(t *testing.T) {
	db, _ := openTest(t, Options{NoSync: true})
	mustApply(t, db, Batch{Deletes: []Delete{{"v0000005", 3}}})
	res := mustApply(t, db, Batch{Upserts: []Upsert{testVisit(5, 2)}})
	if res.Stale != 1 || res.Upserted != 0 {
		t.Errorf("late upsert after delete: %+v, want stale", res)
	}
	if _, _, err := db.Find(testHash(5, 0)); !errors.Is(err, access.ErrNotFound) {
		t.Errorf("credential of a deleted visit came back: %v", err)
	}
}

func TestApplyRetargetsSharedHash(t *testing.T) {
	db, _ := openTest(t, Options{NoSync: true})
	a, b := testVisit(1, 1), testVisit(2, 1)
	shared := testHash(1, 0)
	b.Creds = append(b.Creds, shared)
	res := mustApply(t, db, Batch{Upserts: []Upsert{a}})
	res = mustApply(t, db, Batch{Upserts: []Upsert{b}})
	if res.Retargeted != 1 {
		t.Errorf("Retargeted = %d, want 1", res.Retargeted)
	}
	if v, _, err := db.Find(shared); err != nil || v.ID != b.Visit.ID {
		t.Errorf("shared hash owned by %q (%v), want %q", v.ID, err, b.Visit.ID)
	}
	// The loser no longer lists it: re-upserting a without it must not
	// remove b's hash.
	a2 := testVisit(1, 2)
	a2.Creds = []access.Hash{testHash(1, 1)}
	mustApply(t, db, Batch{Upserts: []Upsert{a2}})
	if v, _, err := db.Find(shared); err != nil || v.ID != b.Visit.ID {
		t.Errorf("after a re-upsert, shared hash owned by %q (%v), want %q", v.ID, err, b.Visit.ID)
	}
	if st, _ := db.Stats(); st.Creds != 5 {
		t.Errorf("creds = %d, want 5 (b's 4 and a2's 1)", st.Creds)
	}
}

func TestApplyInvalidItemsCounted(t *testing.T) {
	db, _ := openTest(t, Options{NoSync: true})
	bad := testVisit(2, 1)
	bad.Visit.DailyTo = 2000
	noID := testVisit(3, 1)
	noID.Visit.ID = ""
	res := mustApply(t, db, Batch{Upserts: []Upsert{testVisit(1, 1), bad, noID}, Deletes: []Delete{{"", 1}}})
	if res.Invalid != 3 || res.Upserted != 1 {
		t.Errorf("result %+v, want 3 invalid, 1 upserted", res)
	}
}

func TestApplyIsAtomic(t *testing.T) {
	db, _ := openTest(t, Options{})
	mustApply(t, db, Batch{Revision: 1, Upserts: []Upsert{testVisit(1, 1)}})
	before, _ := db.Stats()
	boom := errors.New("boom")
	applyHook = func(i int) error {
		if i == 500 {
			return boom
		}
		return nil
	}
	defer func() { applyHook = nil }()
	var ups []Upsert
	for i := range 1000 {
		ups = append(ups, testVisit(1000+i, 1))
	}
	ups = append(ups, testVisit(1, 2))
	if _, err := db.Apply(Batch{Revision: 2, Upserts: ups, Deletes: []Delete{{"v0000001", 5}}}); !errors.Is(err, boom) {
		t.Fatalf("Apply err = %v, want boom", err)
	}
	applyHook = nil
	after, _ := db.Stats()
	after.FileSize, before.FileSize = 0, 0
	if after != before {
		t.Errorf("stats after a failed batch %+v, want %+v", after, before)
	}
	if v, _, err := db.Visit("v0000001"); err != nil || v.Version != 1 || v.Deleted {
		t.Errorf("visit 1 after failed batch: %+v %v", v, err)
	}
	if _, _, err := db.Find(testHash(1000, 0)); !errors.Is(err, access.ErrNotFound) {
		t.Errorf("an item before the failure was written: %v", err)
	}
}

func TestSnapshot(t *testing.T) {
	db, _ := openTest(t, Options{NoSync: true})
	// Live: 1 (v1), 2 (v3), 3 (v1); tombstone: 4.
	mustApply(t, db, Batch{Revision: 10, Upserts: []Upsert{testVisit(1, 1), testVisit(2, 3), testVisit(3, 1)},
		Deletes: []Delete{{"v0000004", 1}}})
	// The snapshot: 1 at v2, 2 at v2 (older than stored), 4 at v5 (tombstoned),
	// 5 new. 3 is absent.
	chunks := [][]Upsert{{testVisit(1, 2), testVisit(2, 2)}, {testVisit(4, 5)}, {testVisit(5, 1)}}
	for _, seq := range []int{0, 2} {
		if err := db.StageSnapshot("snap-a", seq, chunks[seq]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.CommitSnapshot("snap-a", 20, 3); !errors.Is(err, ErrSnapshotIncomplete) {
		t.Fatalf("commit with a missing chunk: err = %v, want ErrSnapshotIncomplete", err)
	}
	if v, _, _ := db.Visit("v0000003"); v.Deleted {
		t.Fatal("a failed snapshot commit changed the store")
	}
	if got, _ := db.StagedChunks("snap-a"); len(got) != 2 || got[0] != 0 || got[1] != 2 {
		t.Errorf("StagedChunks = %v, want [0 2]", got)
	}
	if err := db.StageSnapshot("snap-a", 1, chunks[1]); err != nil {
		t.Fatal(err)
	}
	res, err := db.CommitSnapshot("snap-a", 20, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Upserted: 2, Stale: 2, Deleted: 1, Revision: 20}
	if res != want {
		t.Errorf("result %+v, want %+v", res, want)
	}
	checks := []struct {
		id      string
		version uint64
		deleted bool
	}{{"v0000001", 2, false}, {"v0000002", 3, false}, {"v0000003", 1, true}, {"v0000004", 1, true}, {"v0000005", 1, false}}
	for _, c := range checks {
		v, _, err := db.Visit(c.id)
		if err != nil || v.Version != c.version || v.Deleted != c.deleted {
			t.Errorf("%s: version %d deleted %v (%v), want %d %v", c.id, v.Version, v.Deleted, err, c.version, c.deleted)
		}
	}
	if got, _ := db.StagedChunks("snap-a"); len(got) != 0 {
		t.Errorf("staged chunks left after commit: %v", got)
	}
	st, _ := db.Stats()
	if st.Visits != 3 || st.Tombstones != 2 || st.Revision != 20 {
		t.Errorf("stats %+v, want 3 live, 2 tombstones, revision 20", st)
	}
	// Abort discards.
	db.StageSnapshot("snap-b", 0, chunks[0])
	if err := db.AbortSnapshot("snap-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CommitSnapshot("snap-b", 30, 1); !errors.Is(err, ErrSnapshotIncomplete) {
		t.Errorf("commit after abort: %v, want ErrSnapshotIncomplete", err)
	}
}

func TestVisitsListingAndPurge(t *testing.T) {
	now := t0.Add(100 * 24 * time.Hour)
	db, path := openTest(t, Options{NoSync: true, Now: func() time.Time { return now }})
	var ups []Upsert
	for i := range 2500 {
		ups = append(ups, testVisit(i, 1))
	}
	mustApply(t, db, Batch{Upserts: ups, Deletes: []Delete{{"v0000007", 2}, {"v0000008", 2}}})
	n, dead := 0, 0
	prev := ""
	if err := db.Visits(func(v access.Visit, _ time.Time) bool {
		if v.ID <= prev {
			t.Fatalf("Visits out of order: %q after %q", v.ID, prev)
		}
		prev = v.ID
		n++
		if v.Deleted {
			dead++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if n != 2500 || dead != 2 {
		t.Errorf("Visits saw %d (%d deleted), want 2500 (2)", n, dead)
	}
	// Deleted "now": not purged with a 30-day grace; purged 31 days later.
	if got, _ := db.PurgeTombstones(now, 30*24*time.Hour); got != 0 {
		t.Errorf("purged %d fresh tombstones", got)
	}
	got, err := db.PurgeTombstones(now.Add(31*24*time.Hour), 30*24*time.Hour)
	if err != nil || got != 2 {
		t.Fatalf("purged %d (%v), want 2", got, err)
	}
	if _, _, err := db.Find(testHash(7, 0)); !errors.Is(err, access.ErrNotFound) {
		t.Errorf("purged visit's credential still found: %v", err)
	}
	st, _ := db.Stats()
	if st.Tombstones != 0 || st.Creds != 2498*3 {
		t.Errorf("stats after purge %+v", st)
	}
	// Compaction keeps everything.
	dst := t.TempDir() + "/compact.db"
	if err := db.Compact(dst); err != nil {
		t.Fatal(err)
	}
	db.Close()
	c, err := Open(dst, Options{})
	if err != nil {
		t.Fatalf("open compacted: %v", err)
	}
	defer c.Close()
	cst, _ := c.Stats()
	cst.FileSize, st.FileSize = 0, 0
	if cst != st {
		t.Errorf("compacted stats %+v, want %+v", cst, st)
	}
	if v, _, err := c.Find(testHash(100, 1)); err != nil || v.ID != "v0000100" {
		t.Errorf("compacted Find = %q, %v", v.ID, err)
	}
	_ = path
}

func TestMeta(t *testing.T) {
	db, path := openTest(t, Options{})
	for _, c := range []struct {
		t    time.Time
		grew bool
	}{{t0, true}, {t0.Add(-time.Hour), false}, {t0, false}, {t0.Add(time.Second), true}} {
		grew, err := db.ObserveServerTime(c.t)
		if err != nil || grew != c.grew {
			t.Errorf("ObserveServerTime(%v) = %v, %v; want %v", c.t, grew, err, c.grew)
		}
	}
	if err := db.SetDeviceConfig([]byte(`{"unlock_s": 10`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid config accepted: %v", err)
	}
	if err := db.SetDeviceConfig([]byte(`{"unlock_s":10}`)); err != nil {
		t.Fatal(err)
	}
	db2 := reopen(t, db, path, Options{})
	if got, _ := db2.NewestServerTime(); !got.Equal(t0.Add(time.Second)) {
		t.Errorf("NewestServerTime = %v, want %v", got, t0.Add(time.Second))
	}
	if got, _ := db2.DeviceConfig(); string(got) != `{"unlock_s":10}` {
		t.Errorf("DeviceConfig = %s", got)
	}
}

// Readers never see half a batch: while a batch moves visit 1 from its old
// credentials to new ones, each Find sees the old or the new state.
func TestFindDuringApply(t *testing.T) {
	db, _ := openTest(t, Options{NoSync: true})
	mustApply(t, db, Batch{Upserts: []Upsert{testVisit(1, 1)}})
	oldH, newH := testHash(1, 0), testHash(1, 7)
	stop := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-stop:
				return
			default:
			}
			vo, _, erro := db.Find(oldH)
			vn, _, errn := db.Find(newH)
			// Two views, so a batch may land between them; but each view
			// alone must be a whole version.
			if erro == nil && vo.Version != 1 && vo.Version%2 == 0 {
				errs <- fmt.Errorf("old hash found on version %d, which dropped it", vo.Version)
				return
			}
			if errn == nil && vn.Version%2 == 1 {
				errs <- fmt.Errorf("new hash found on version %d, which lacks it", vn.Version)
				return
			}
		}
	}()
	for v := uint64(2); v < 60; v++ {
		u := testVisit(1, v)
		if v%2 == 0 {
			u.Creds = []access.Hash{newH}
		}
		var filler []Upsert
		for i := range 50 {
			filler = append(filler, testVisit(int(v)*100+i, 1))
		}
		mustApply(t, db, Batch{Upserts: append(filler, u)})
	}
	close(stop)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}
