package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
	"github.com/intercomd/intercomd/store"
)

type recordingDoor struct{ grants []string }

func (r *recordingDoor) Grant(visitID string) error {
	r.grants = append(r.grants, visitID)
	return nil
}

// TestGrantNeedsDurableEvent: a grant whose event cannot be committed is
// withdrawn (commit_failed) and never reaches the door; with a working
// store the same credential opens it.
func TestGrantNeedsDurableEvent(t *testing.T) {
	now := time.Now()
	lookup := accesstest.NewMapLookup()
	h := accesstest.Hasher()
	v := access.Visit{ID: "v1", Version: 1, Start: now.Add(-time.Hour), End: now.Add(time.Hour), Intercoms: []string{"door-01"}}
	if err := lookup.Put(h, v, accesstest.Cred{Kind: access.KindPIN, Value: "246813"}); err != nil {
		t.Fatal(err)
	}
	eng := access.New(access.Config{Intercom: "door-01", VisitKeysEnabled: true}, lookup, h)
	db, err := store.Open(filepath.Join(t.TempDir(), "p.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	door := &recordingDoor{}
	p := &pipeline{engine: eng, db: db, door: door, bus: newBus(8), log: slog.New(slog.DiscardHandler),
		clock: &clockSource{build: now.Add(-time.Hour), tolerance: time.Minute, nowFunc: time.Now}}
	cred := access.Credential{Kind: access.KindPIN, Value: "246813", Reader: "keypad0", At: now}

	if d := p.decide(t.Context(), cred); !d.Grant || len(door.grants) != 1 {
		t.Fatalf("with a working store: grant=%v reason=%s door grants=%d, want a grant that opens", d.Grant, d.Reason, len(door.grants))
	}
	db.Close() // every commit now fails
	d := p.decide(context.Background(), cred)
	if d.Grant || d.Reason != access.ReasonCommitFailed {
		t.Errorf("with a failed commit: grant=%v reason=%s, want deny commit_failed", d.Grant, d.Reason)
	}
	if len(door.grants) != 1 {
		t.Errorf("door opened %d times, want once (only the durable grant)", len(door.grants))
	}
	for _, e := range d.Events {
		if e.Type == access.EventAccessGranted {
			t.Errorf("withdrawn grant still carries an access.granted event")
		}
	}
}
