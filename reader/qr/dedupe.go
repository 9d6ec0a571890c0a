package qr

import (
	"sync"
	"time"
)

// DefaultHoldOff is how long a token is not decided again after it was last
// seen.
const DefaultHoldOff = 3 * time.Second

// Dedupe suppresses a token seen again within the hold-off. A phone held in
// front of the camera yields the same code on every frame; only the first one
// becomes a credential. The hold-off restarts on every sighting, so a code
// held still for a minute is decided once, and presented again after a pause
// is decided again. It is safe for concurrent use.
type Dedupe struct {
	HoldOff time.Duration // zero means DefaultHoldOff

	mu   sync.Mutex
	seen map[string]time.Time // token -> last sighting
}

// Fresh records a sighting of token at now and reports whether it should be
// decided: false when the same token was seen less than the hold-off ago.
func (d *Dedupe) Fresh(token string, now time.Time) bool {
	hold := d.HoldOff
	if hold <= 0 {
		hold = DefaultHoldOff
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil {
		d.seen = make(map[string]time.Time)
	}
	// Expire old entries so that the map stays small.
	if len(d.seen) > 64 {
		for k, at := range d.seen {
			if now.Sub(at) >= hold {
				delete(d.seen, k)
			}
		}
	}
	last, ok := d.seen[token]
	d.seen[token] = now
	return !ok || now.Sub(last) >= hold || now.Before(last)
}
