package cloudsim

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/sync/wire"
)

func hasher(t *testing.T) *access.Hasher {
	h, err := access.NewHasher([]byte("cloudsim-test-site-key"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func spec(devs ...string) Spec {
	now := time.Now()
	return Spec{Intercoms: devs, Start: now, End: now.Add(time.Hour), GenPIN: true}
}

func TestRevisionsAndDeltas(t *testing.T) {
	h := hasher(t)
	st := NewState()
	v, deltas, err := st.Create(h, spec("a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if len(deltas) != 2 || deltas["a"].Rev != 1 || deltas["a"].PrevRev != 0 || len(deltas["b"].Upserts) != 1 {
		t.Fatalf("create deltas %+v", deltas)
	}
	if _, _, err := st.Create(h, spec("a")); err != nil {
		t.Fatal(err)
	}
	d, err := st.Update(h, v.ID, func(v *Visit) { v.Secrets.PIN = "97531"; v.Intercoms = []string{"c"} })
	if err != nil {
		t.Fatal(err)
	}
	if d["a"].Rev != 3 || d["a"].PrevRev != 2 || d["b"].Rev != 2 || d["a"].Upserts[0].Version != 2 || d["c"].Rev != 0 {
		t.Fatalf("update deltas %+v (intercoms must not change)", d)
	}
	pin, _ := h.Hash(access.KindPIN, "97531")
	if d["a"].Upserts[0].Creds[0].Hash != pin.String() {
		t.Error("update did not rehash the new PIN")
	}
	d, err = st.Delete(v.ID)
	if err != nil || d["b"].Deletes[0].ID != v.ID || d["b"].Deletes[0].Version != 3 {
		t.Fatalf("delete deltas %+v %v", d, err)
	}
	if _, err := st.Delete(v.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if n := len(st.Live("a")); n != 1 {
		t.Errorf("live a = %d, want 1", n)
	}
	for dev, dl := range d {
		if err := dl.Validate(); err != nil {
			t.Errorf("delta for %s: %v", dev, err)
		}
	}
}

func TestSnapshotPayloads(t *testing.T) {
	h := hasher(t)
	st := NewState()
	for range 2000 {
		s := spec("a")
		s.GenQR, s.GenWeb, s.Days, s.Daily = true, true, []string{"mon"}, "08:00-09:30"
		if _, _, err := st.Create(h, s); err != nil {
			t.Fatal(err)
		}
	}
	chunks, err := st.SnapshotPayloads("a", "req-12345678")
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 2 {
		t.Fatalf("%d chunks for 2000 visits", len(chunks))
	}
	seen := map[string]bool{}
	var id string
	for i, b := range chunks {
		var c wire.SnapshotChunk
		if err := wire.Decode(b, &c); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if id == "" {
			id = c.SnapshotID
		}
		if c.Seq != i || c.Total != len(chunks) || c.Rev != 2000 || c.RequestID != "req-12345678" || c.SnapshotID != id {
			t.Fatalf("chunk %d header %+v", i, c)
		}
		for _, v := range c.Visits {
			seen[v.ID] = true
		}
	}
	if len(seen) != 2000 {
		t.Errorf("snapshot holds %d visits, want 2000", len(seen))
	}
	empty, _ := st.SnapshotPayloads("nobody", "")
	var c wire.SnapshotChunk
	if len(empty) != 1 || wire.Decode(empty[0], &c) != nil || len(c.Visits) != 0 {
		t.Errorf("empty snapshot: %d chunks, %+v", len(empty), c)
	}
}

func TestFileLocking(t *testing.T) {
	h := hasher(t)
	f := File{Path: filepath.Join(t.TempDir(), "state.json")}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				if err := f.Update(func(st *State) error { _, _, err := st.Create(h, spec("a")); return err }); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	_ = f.View(func(st *State) error {
		if st.NextID != 80 || st.Revisions["a"] != 80 || len(st.Visits) != 80 {
			t.Errorf("after 80 concurrent creates: next %d rev %d visits %d", st.NextID, st.Revisions["a"], len(st.Visits))
		}
		return nil
	})
}
