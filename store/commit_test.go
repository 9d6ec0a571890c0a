package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
)

func grantDecision(visit string, at time.Time) access.Decision {
	return access.Decision{Grant: true, Reason: access.ReasonGranted, VisitID: visit, Kind: access.KindQR,
		Reader: "camera0", At: at, Events: []access.Event{{ID: access.NewEventID(), Type: access.EventAccessGranted,
			At: at, Reason: access.ReasonGranted, VisitID: visit, Kind: "qr", Reader: "camera0"}}}
}

func outboxEvents(t *testing.T, db *DB) []access.Event {
	t.Helper()
	entries, err := db.Peek(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	var out []access.Event
	var last uint64
	for _, e := range entries {
		if e.Seq <= last {
			t.Fatalf("outbox out of order: seq %d after %d", e.Seq, last)
		}
		last = e.Seq
		var ev access.Event
		if err := json.Unmarshal(e.Data, &ev); err != nil {
			t.Fatalf("outbox entry %d: %v", e.Seq, err)
		}
		out = append(out, ev)
	}
	return out
}

func TestCommitGroupsConcurrentCallers(t *testing.T) {
	db, path := openTest(t, Options{}) // real fsync: groups form while one syncs
	const workers, each = 8, 40
	var mu sync.Mutex
	ids := map[string]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				d := grantDecision(fmt.Sprintf("v%d-%d", w, i), t0.Add(time.Duration(i)*time.Second))
				if i%10 == 0 {
					if err := db.Append(t.Context(), access.Event{ID: access.NewEventID(), Type: access.EventDoorOpened, At: t0}); err != nil {
						t.Error(err)
					}
				}
				if err := db.Commit(t.Context(), &d); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ids[d.Events[0].ID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	events := outboxEvents(t, db)
	if want := workers*each + workers*each/10; len(events) != want {
		t.Fatalf("outbox holds %d events, want %d", len(events), want)
	}
	found := 0
	for _, e := range events {
		if ids[e.ID] {
			found++
		}
	}
	if found != workers*each {
		t.Errorf("%d of %d committed grants are in the outbox", found, workers*each)
	}
	groups := db.groups.Load()
	if groups >= workers*each {
		t.Errorf("%d transactions for %d concurrent commits: no group commit", groups, workers*each+workers*each/10)
	}
	t.Logf("%d commits in %d transactions", workers*each+workers*each/10, groups)
	db2 := reopen(t, db, path, Options{})
	if n, _ := db2.OutboxLen(); n != len(events) {
		t.Errorf("after reopen OutboxLen = %d, want %d", n, len(events))
	}
}

// singleUseFixture stores one single-use visit with a QR credential and
// returns an engine deciding on the store.
func singleUseFixture(t *testing.T) (*DB, *access.Engine, access.Credential) {
	db, _ := openTest(t, Options{})
	h := accesstest.Hasher()
	const token = "00112233445566778899aabbccddeeff"
	hash, err := h.Hash(access.KindQR, token)
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, db, Batch{Upserts: []Upsert{{Visit: access.Visit{ID: "visit-1", Version: 1, Start: t0,
		End: t0.Add(4 * time.Hour), Intercoms: []string{"ic-1"}, SingleUse: true}, Creds: []access.Hash{hash}}}})
	e := access.New(access.Config{Intercom: "ic-1", VisitKeysEnabled: true, SingleUseWindow: 5 * time.Minute}, db, h)
	return db, e, access.Credential{Kind: access.KindQR, Value: token, Reader: "camera0"}
}

func countType(events []access.Event, typ access.EventType) int {
	n := 0
	for _, e := range events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestCommitSingleUseRace(t *testing.T) {
	db, e, cred := singleUseFixture(t)
	at := func(d time.Duration) access.Clock { return access.Clock{Now: t0.Add(time.Hour + d), Trusted: true} }
	// Both decided before either committed: both think they are the first use.
	d1 := e.Decide(cred, at(0))
	d2 := e.Decide(cred, at(6*time.Minute))
	if !d1.Grant || !d1.FirstUse || !d2.Grant || !d2.FirstUse {
		t.Fatalf("engine: d1 %v/%v d2 %v/%v, want both granted first uses", d1.Grant, d1.FirstUse, d2.Grant, d2.FirstUse)
	}
	if err := db.Commit(t.Context(), &d1); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(t.Context(), &d2); err != nil {
		t.Fatal(err)
	}
	if !d1.Grant || !d1.FirstUse {
		t.Errorf("d1 after commit: grant %v first %v, want a granted first use", d1.Grant, d1.FirstUse)
	}
	if d2.Grant || d2.Reason != access.ReasonSingleUseSpent || d2.FirstUse {
		t.Errorf("d2 after commit: grant %v reason %s first %v, want denied single_use_spent", d2.Grant, d2.Reason, d2.FirstUse)
	}
	if countType(d2.Events, access.EventAccessGranted) != 0 || countType(d2.Events, access.EventVisitStarted) != 0 ||
		countType(d2.Events, access.EventAccessDenied) != 1 {
		t.Errorf("d2 events not rewritten: %+v", d2.Events)
	}
	out := outboxEvents(t, db)
	if countType(out, access.EventVisitStarted) != 1 || countType(out, access.EventAccessGranted) != 1 || countType(out, access.EventAccessDenied) != 1 {
		t.Errorf("outbox: %+v, want one started, one granted, one denied", out)
	}
	if _, first, _ := db.Find(mustHash(t, cred)); !first.Equal(t0.Add(time.Hour)) {
		t.Errorf("first use = %v, want %v", first, t0.Add(time.Hour))
	}
	// The engine now sees the mark and refuses by itself.
	if d3 := e.Decide(cred, at(7*time.Minute)); d3.Grant || d3.Reason != access.ReasonSingleUseSpent {
		t.Errorf("later decision: grant %v reason %s", d3.Grant, d3.Reason)
	}
}

func mustHash(t *testing.T, c access.Credential) access.Hash {
	h, err := accesstest.Hasher().Hash(c.Kind, c.Value)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCommitSingleUseRaceConcurrent(t *testing.T) {
	for trial := range 10 {
		db, e, cred := singleUseFixture(t)
		clk := func(d time.Duration) access.Clock { return access.Clock{Now: t0.Add(time.Hour + d), Trusted: true} }
		ds := []access.Decision{e.Decide(cred, clk(0)), e.Decide(cred, clk(6*time.Minute))}
		var wg sync.WaitGroup
		for i := range ds {
			wg.Go(func() {
				if err := db.Commit(t.Context(), &ds[i]); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		first := 0
		for _, d := range ds {
			if d.FirstUse {
				first++
			}
		}
		if first != 1 {
			t.Fatalf("trial %d: %d decisions kept FirstUse, want 1", trial, first)
		}
		// If the earlier one was the first use, the later one is out of the window.
		if ds[0].FirstUse && ds[1].Grant {
			t.Fatalf("trial %d: both granted although the second is past the window of the first", trial)
		}
		if n := countType(outboxEvents(t, db), access.EventVisitStarted); n != 1 {
			t.Fatalf("trial %d: %d visit.started events", trial, n)
		}
		db.Close()
	}
}

func TestCommitPersistsLockout(t *testing.T) {
	db, path := openTest(t, Options{})
	for i, s := range []access.LockoutState{
		{Reader: "keypad0", Failures: []time.Time{t0}},
		{Reader: "keypad1", Until: t0.Add(30 * time.Second), Strikes: 1},
		{Reader: "keypad0", Failures: []time.Time{t0, t0.Add(time.Second)}},
	} {
		d := access.Decision{Reason: access.ReasonUnknownCredential, At: t0, Lockout: &s,
			Events: []access.Event{{ID: fmt.Sprint(i), Type: access.EventAccessDenied, At: t0}}}
		if err := db.Commit(t.Context(), &d); err != nil {
			t.Fatal(err)
		}
	}
	db2 := reopen(t, db, path, Options{})
	got, err := db2.LockoutStates()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Reader != "keypad0" || len(got[0].Failures) != 2 || got[1].Strikes != 1 {
		t.Errorf("lockout states %+v", got)
	}
}

func TestCloseFlushesPendingCommits(t *testing.T) {
	db, path := openTest(t, Options{})
	var mu sync.Mutex
	var ok []string
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			d := grantDecision(fmt.Sprint("v", i), t0)
			err := db.Commit(context.Background(), &d)
			switch {
			case err == nil:
				mu.Lock()
				ok = append(ok, d.Events[0].ID)
				mu.Unlock()
			case !errors.Is(err, ErrClosed):
				t.Errorf("commit: %v", err)
			}
		})
	}
	time.Sleep(time.Millisecond) // let some of them queue; the rest race Close
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	db2 := reopen(t, db, path, Options{})
	have := map[string]bool{}
	for _, e := range outboxEvents(t, db2) {
		have[e.ID] = true
	}
	for _, id := range ok {
		if !have[id] {
			t.Errorf("commit of event %s returned nil but it is not on disk", id)
		}
	}
	if len(ok) == 0 {
		t.Error("no commit succeeded before Close")
	}
	d := grantDecision("late", t0)
	if err := db.Commit(t.Context(), &d); !errors.Is(err, ErrClosed) {
		t.Errorf("commit after close: %v, want ErrClosed", err)
	}
	d.DryRun = true
	if err := db2.Commit(t.Context(), &d); !errors.Is(err, ErrInvalid) {
		t.Errorf("commit of a dry run: %v, want ErrInvalid", err)
	}
}

func TestCommitRefusesGrantOfVisitDeletedMeanwhile(t *testing.T) {
	db, e, cred := singleUseFixture(t)
	d := e.Decide(cred, access.Clock{Now: t0.Add(time.Hour), Trusted: true})
	if !d.Grant {
		t.Fatalf("decision: %s", d.Reason)
	}
	mustApply(t, db, Batch{Deletes: []Delete{{"visit-1", 2}}})
	if err := db.Commit(t.Context(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Grant || d.Reason != access.ReasonVisitDeleted || d.FirstUse {
		t.Errorf("after commit: grant %v reason %s first %v, want denied visit_deleted", d.Grant, d.Reason, d.FirstUse)
	}
	out := outboxEvents(t, db)
	if len(out) != 1 || out[0].Type != access.EventAccessDenied || out[0].Reason != access.ReasonVisitDeleted {
		t.Errorf("outbox %+v, want one access.denied visit_deleted", out)
	}
	if _, first, _ := db.Find(mustHash(t, cred)); !first.IsZero() {
		t.Errorf("a refused decision set the first use: %v", first)
	}
}
