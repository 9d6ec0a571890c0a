package store

import (
	"errors"
	"fmt"
	"testing"

	"github.com/intercomd/intercomd/access"
)

func testEvents(from, n int) []access.Event {
	var out []access.Event
	for i := from; i < from+n; i++ {
		out = append(out, access.Event{ID: fmt.Sprintf("e%03d", i), Type: access.EventDoorOpened, At: t0})
	}
	return out
}

func TestOutboxBoundDropsOldest(t *testing.T) {
	db, path := openTest(t, Options{OutboxMax: 10})
	for _, b := range [][2]int{{0, 4}, {4, 13}, {17, 8}} {
		if err := db.Append(t.Context(), testEvents(b[0], b[1])...); err != nil {
			t.Fatal(err)
		}
	}
	events := outboxEvents(t, db)
	if len(events) != 10 || events[0].ID != "e015" || events[9].ID != "e024" {
		t.Fatalf("outbox = %d events %v…, want e015..e024", len(events), events)
	}
	db2 := reopen(t, db, path, Options{OutboxMax: 10})
	st, _ := db2.Stats()
	if st.Dropped != 15 || st.OutboxDepth != 10 {
		t.Errorf("after reopen: dropped %d depth %d, want 15 and 10", st.Dropped, st.OutboxDepth)
	}
}

func TestOutboxAckAndQuarantine(t *testing.T) {
	db, _ := openTest(t, Options{QuarantineMax: 2})
	if err := db.Append(t.Context(), testEvents(0, 6)...); err != nil {
		t.Fatal(err)
	}
	first, err := db.Peek(2)
	if err != nil || len(first) != 2 {
		t.Fatalf("Peek(2) = %v, %v", first, err)
	}
	if again, _ := db.Peek(2); again[0].Seq != first[0].Seq {
		t.Error("Peek removed entries")
	}
	if err := db.Ack(first[0].Seq, 9999); err != nil {
		t.Fatal(err)
	}
	if err := db.Ack(first[0].Seq); err != nil {
		t.Errorf("second ack of the same entry: %v", err)
	}
	if err := db.Quarantine(first[1].Seq, "broker rejects payload"); err != nil {
		t.Fatal(err)
	}
	if err := db.Quarantine(first[1].Seq, "again"); !errors.Is(err, ErrNotFound) {
		t.Errorf("quarantine of a missing entry: %v, want ErrNotFound", err)
	}
	rest := outboxEvents(t, db)
	if len(rest) != 4 || rest[0].ID != "e002" {
		t.Errorf("outbox after ack and quarantine: %v", rest)
	}
	if n, _ := db.OutboxLen(); n != 4 {
		t.Errorf("OutboxLen = %d, want 4", n)
	}
	after, _ := db.PeekAfter(first[1].Seq+1, 10)
	if len(after) != 3 || after[0].Seq != first[1].Seq+2 {
		t.Errorf("PeekAfter = %v", after)
	}
	q, _ := db.Quarantined(10)
	if len(q) != 1 || q[0].Why != "broker rejects payload" || q[0].Seq != first[1].Seq || string(q[0].Data) != string(first[1].Data) {
		t.Errorf("Quarantined = %+v", q)
	}
	// The quarantine is bounded too.
	all, _ := db.Peek(10)
	for _, e := range all[:3] {
		if err := db.Quarantine(e.Seq, "x"); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := db.Stats()
	if st.Quarantined != 2 || st.OutboxDepth != 1 {
		t.Errorf("stats %+v, want 2 quarantined, depth 1", st)
	}
}
