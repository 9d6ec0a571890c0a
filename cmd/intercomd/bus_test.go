package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/intercomd/intercomd/access"
)

func TestBus(t *testing.T) {
	b := newBus(3)
	ctx, cancel := context.WithCancel(t.Context())
	ch := b.subscribe(ctx)
	for i := range 5 {
		b.publish(access.Event{ID: fmt.Sprint(i)})
	}
	for i := range 5 {
		if e := <-ch; e.ID != fmt.Sprint(i) {
			t.Fatalf("event %d: got id %q", i, e.ID)
		}
	}
	r := b.recent(10)
	if len(r) != 3 || r[0].ID != "2" || r[2].ID != "4" {
		t.Errorf("recent = %v, want ids 2,3,4", r)
	}
	cancel()
	if _, ok := <-ch; ok {
		t.Error("channel not closed after cancel")
	}
	b.publish(access.Event{ID: "after"}) // must not panic on a closed subscriber
}
