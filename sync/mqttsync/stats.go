package mqttsync

import (
	"maps"
	"math/rand/v2"
	"sync"
	"time"
)

// Stats are the client's counters since New.
type Stats struct {
	Connected        bool
	Connects         uint64 // successful connections
	ConnectFailures  uint64
	Revision         uint64 // the cache's revision as the client last saw it
	DeltasApplied    uint64
	Stale            uint64 // deltas and chunks that were old or duplicated, dropped
	SnapshotRequests uint64
	SnapshotsApplied uint64
	SnapshotTimeouts uint64 // snapshots abandoned because chunks stopped arriving
	ChunksStaged     uint64
	EventsSent       uint64 // events acknowledged by the broker
	EventBatches     uint64
	Quarantined      uint64 // outbox entries that could never be sent
	Commands         uint64
	CommandsRefused  uint64 // expired, replayed or invalid
	Reads            uint64 // plate and face reads decided
	// Rejected counts bad input by "topic:class", e.g. "keys/delta:malformed",
	// "cmd:invalid", "lpr:stale", "face:low_confidence".
	Rejected map[string]uint64
	Errors   uint64 // store or handler failures
}

type stats struct {
	mu sync.Mutex
	s  Stats
}

func (s *stats) add(f func(*Stats)) {
	s.mu.Lock()
	f(&s.s)
	s.mu.Unlock()
}

func (s *stats) reject(key string) {
	s.add(func(st *Stats) {
		if st.Rejected == nil {
			st.Rejected = map[string]uint64{}
		}
		st.Rejected[key]++
	})
}

func (s *stats) get() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.s
	out.Rejected = maps.Clone(s.s.Rejected)
	return out
}

// Backoff is the wait before reconnect attempt n (0-based): min doubled n
// times, capped at max, then jittered uniformly into [d/2, d] with r in
// [0, 1) so that a fleet does not reconnect in lockstep.
func Backoff(n int, min, max time.Duration, r float64) time.Duration {
	d := max
	if n < 32 && min<<n > 0 && min<<n < max {
		d = min << n
	}
	return d/2 + time.Duration(r*float64(d/2))
}

func jitter() float64 { return rand.Float64() }
