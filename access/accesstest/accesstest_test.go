package accesstest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
)

func TestMapLookup(t *testing.T) {
	h := accesstest.Hasher()
	m := accesstest.NewMapLookup()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := access.Visit{ID: "v1", Start: at, End: at.Add(time.Hour)}
	if err := m.Put(h, v, accesstest.Cred{Kind: access.KindPIN, Value: "1234"}, accesstest.Cred{Kind: access.KindPIN, Value: "12"}); err == nil {
		t.Error("put of an invalid pin: got nil error")
	}
	key, _ := h.Hash(access.KindPIN, "1234")
	got, first, err := m.Find(key)
	if err != nil || got.ID != "v1" || !first.IsZero() {
		t.Fatalf("find: got %+v %v %v, want v1 unused", got, first, err)
	}
	other, _ := h.Hash(access.KindCard, "1:234")
	if _, _, err := m.Find(other); !errors.Is(err, access.ErrNotFound) {
		t.Errorf("find unknown: got %v, want ErrNotFound", err)
	}

	m.Commit(access.Decision{Grant: true, FirstUse: true, VisitID: "v1", UseAt: at, DryRun: true})
	m.Commit(access.Decision{Grant: false, FirstUse: true, VisitID: "v1", UseAt: at})
	if _, first, _ := m.Find(key); !first.IsZero() {
		t.Errorf("a dry run or a refusal set the first use: %v", first)
	}
	m.Commit(access.Decision{Grant: true, FirstUse: true, VisitID: "v1", UseAt: at})
	m.Commit(access.Decision{Grant: true, FirstUse: true, VisitID: "v1", UseAt: at.Add(time.Minute)})
	if _, first, _ := m.Find(key); !first.Equal(at) {
		t.Errorf("first use: got %v, want the earliest commit %v", first, at)
	}

	m.Err = errors.New("disk gone")
	if _, _, err := m.Find(key); err != m.Err {
		t.Errorf("injected error: got %v", err)
	}
	if m.Calls != 5 {
		t.Errorf("calls: got %d, want 5", m.Calls)
	}
}
