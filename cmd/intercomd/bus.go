package main

import (
	"context"
	"sync"

	"github.com/intercomd/intercomd/access"
)

// bus fans committed events out to live subscribers (intercomctl events -f,
// the demo) and keeps a short history. A slow subscriber loses events rather
// than stalling the door: the durable record is the outbox, not the bus.
type bus struct {
	mu      sync.Mutex
	subs    map[chan access.Event]struct{}
	history []access.Event // ring, newest last
	max     int
	dropped uint64
}

func newBus(history int) *bus {
	return &bus{subs: make(map[chan access.Event]struct{}), max: history}
}

func (b *bus) publish(evs ...access.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range evs {
		if len(b.history) == b.max {
			copy(b.history, b.history[1:])
			b.history = b.history[:b.max-1]
		}
		b.history = append(b.history, e)
		for ch := range b.subs {
			select {
			case ch <- e:
			default:
				b.dropped++
			}
		}
	}
}

// recent returns up to n of the newest events, oldest first.
func (b *bus) recent(n int) []access.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n <= 0 || n > len(b.history) {
		n = len(b.history)
	}
	return append([]access.Event(nil), b.history[len(b.history)-n:]...)
}

// subscribe returns a channel of new events, closed when ctx ends.
func (b *bus) subscribe(ctx context.Context) <-chan access.Event {
	ch := make(chan access.Event, 256)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		delete(b.subs, ch)
		close(ch)
		b.mu.Unlock()
	})
	return ch
}
