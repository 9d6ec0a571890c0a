package relay_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
	"github.com/intercomd/intercomd/device/pins/pinstest"
	"github.com/intercomd/intercomd/reader/wiegand"
	"github.com/intercomd/intercomd/relay"
	"github.com/intercomd/intercomd/store"
)

// TestSwipeToRelay is the end-to-end path in real time: a simulated card
// swipe on the fake Wiegand lines, the real reader, the engine deciding
// against a real bbolt store, the decision committed durably, then the relay
// energised. An unknown card leaves it locked.
func TestSwipeToRelay(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	db, err := store.Open(filepath.Join(t.TempDir(), "cache.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := accesstest.Hasher()
	good, err := h.Hash(access.KindCard, "18:32770")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := db.Apply(store.Batch{Revision: 1, Upserts: []store.Upsert{{
		Visit: access.Visit{ID: "v1", Version: 1, Start: now.Add(-time.Hour), End: now.Add(time.Hour), Intercoms: []string{"door-1"}},
		Creds: []access.Hash{good},
	}}}); err != nil {
		t.Fatal(err)
	}
	eng := access.New(access.Config{Intercom: "door-1", VisitKeysEnabled: true}, db, h)

	changes := make(chan pinstest.Change, 8)
	out := pinstest.NewOutput("RELAY", changes)
	door, err := relay.New(relay.Config{}, out, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer door.Halt()
	<-changes // the locked level driven at construction

	edges := pinstest.NewEdges()
	creds := make(chan access.Credential, 4)
	rd := wiegand.New(wiegand.Config{}, edges, creds, nil, nil)
	done := make(chan error, 1)
	go func() { done <- rd.Run(ctx) }()
	decided := make(chan access.Decision, 4)
	go func() {
		for {
			select {
			case c := <-creds:
				d := eng.Decide(c, access.Clock{Now: time.Now(), Trusted: true})
				if err := db.Commit(ctx, &d); err != nil {
					t.Error(err)
					return
				}
				if d.Grant {
					if err := door.Unlock("grant"); err != nil {
						t.Error(err)
					}
				}
				decided <- d
			case <-ctx.Done():
				return
			}
		}
	}()
	tx := &pinstest.Transmitter{Edges: edges, Ahead: true}

	// An unknown card: denied, the relay stays locked.
	if _, err := tx.SendCard(ctx, wiegand.H10301, 18, 32771); err != nil {
		t.Fatal(err)
	}
	if d := <-decided; d.Grant || d.Reason != access.ReasonUnknownCredential {
		t.Errorf("unknown card: grant %v reason %v", d.Grant, d.Reason)
	}
	select {
	case c := <-changes:
		t.Fatalf("relay changed to %v on a denied card", c.Level)
	default:
	}

	// The visit's card: granted, committed, then the relay energised.
	if _, err := tx.SendCard(ctx, wiegand.H10301, 18, 32770); err != nil {
		t.Fatal(err)
	}
	d := <-decided
	if !d.Grant || d.VisitID != "v1" {
		t.Fatalf("card: grant %v reason %v", d.Grant, d.Reason)
	}
	select {
	case c := <-changes:
		if c.Level != gpio.High {
			t.Errorf("relay driven %v, want energised (High)", c.Level)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("relay not energised after the grant")
	}
	if n, err := db.OutboxLen(); err != nil || n < 2 {
		t.Errorf("outbox holds %d events (%v), want the two decisions", n, err)
	}
	if _, first, err := db.Visit("v1"); err != nil || first.IsZero() {
		t.Errorf("first use not recorded: %v %v", first, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}
