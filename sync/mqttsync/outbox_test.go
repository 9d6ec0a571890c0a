package mqttsync

import (
	"strings"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
)

// TestOutboxQuarantine: entries that can never be sent (larger than a
// message, or not a valid event) are quarantined with their reason and do
// not block the ones behind them, which arrive in order.
func TestOutboxQuarantine(t *testing.T) {
	r := newRig(t, mqtttestOptions(), nil)
	at := time.Now().UTC()
	good1 := access.Event{ID: access.NewEventID(), Type: access.EventDoorOpened, At: at, Detail: "first"}
	huge := access.Event{ID: access.NewEventID(), Type: access.EventReaderError, At: at, Detail: strings.Repeat("x", 200*1024)}
	badID := access.Event{ID: "not-an-id", Type: access.EventDoorClosed, At: at}
	good2 := access.Event{ID: access.NewEventID(), Type: access.EventDoorClosed, At: at, Detail: "second"}
	if err := r.db.Append(t.Context(), good1, huge, badID, good2); err != nil {
		t.Fatal(err)
	}
	r.client.Kick()
	waitFor(t, 15*time.Second, "both good events at the cloud", func() bool {
		return r.events.find(access.EventDoorOpened, "first") && r.events.find(access.EventDoorClosed, "second")
	})
	waitFor(t, 15*time.Second, "the quarantine reported as a sync.error event", func() bool {
		return r.events.find(access.EventSync, "quarantined: wire: message too large")
	})
	if s := r.client.Stats(); s.Quarantined != 2 {
		t.Errorf("Quarantined = %d, want 2", s.Quarantined)
	}
	q, err := r.db.Quarantined(10)
	if err != nil || len(q) != 2 || !strings.Contains(q[0].Why, "too large") || !strings.Contains(q[1].Why, "not-an-id") {
		t.Fatalf("quarantine = %+v, %v", q, err)
	}
	r.events.mu.Lock()
	defer r.events.mu.Unlock()
	var order []string
	for _, e := range r.events.order {
		if e.ID == good1.ID || e.ID == good2.ID {
			order = append(order, e.Detail)
		}
		if e.ID == huge.ID || e.ID == badID.ID {
			t.Errorf("quarantined event %s reached the cloud", e.ID)
		}
	}
	if strings.Join(order, ",") != "first,second" {
		t.Errorf("order at the cloud: %v", order)
	}
	waitFor(t, 15*time.Second, "an empty outbox", func() bool { n, _ := r.db.OutboxLen(); return n == 0 })
}
