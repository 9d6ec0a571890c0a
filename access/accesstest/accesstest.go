package accesstest

import (
	"fmt"
	"sync"
	"time"

	"github.com/intercomd/intercomd/access"
)

// SiteKey is a fixed site key for tests.
var SiteKey = []byte("intercomd-test-site-key-32-bytes")

// Hasher returns a Hasher for SiteKey.
func Hasher() *access.Hasher {
	h, err := access.NewHasher(SiteKey)
	if err != nil {
		panic(err) // SiteKey is long enough
	}
	return h
}

// Cred is a credential of a visit, in clear, as a test writes it.
type Cred struct {
	Kind  access.Kind
	Value string
}

// MapLookup is an in-memory access.Lookup. It is safe for concurrent use;
// set the exported fields before sharing it, or go through its methods.
type MapLookup struct {
	mu       sync.RWMutex
	Visits   map[string]access.Visit // by visit id
	Creds    map[access.Hash]string  // credential hash → visit id
	FirstUse map[string]time.Time    // visit id → first accepted use
	Err      error                   // when set, Find returns it
	Calls    int                     // Find calls, to check that a rule refused before the lookup
}

var _ access.Lookup = (*MapLookup)(nil)

// NewMapLookup returns an empty MapLookup.
func NewMapLookup() *MapLookup {
	return &MapLookup{Visits: map[string]access.Visit{}, Creds: map[access.Hash]string{}, FirstUse: map[string]time.Time{}}
}

// Put stores v with its credentials, hashed with h.
func (m *MapLookup) Put(h *access.Hasher, v access.Visit, creds ...Cred) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Visits[v.ID] = v
	for _, c := range creds {
		k, err := h.Hash(c.Kind, c.Value)
		if err != nil {
			return fmt.Errorf("accesstest: put %s credential of %s: %w", c.Kind, v.ID, err)
		}
		m.Creds[k] = v.ID
	}
	return nil
}

// Find implements access.Lookup.
func (m *MapLookup) Find(h access.Hash) (access.Visit, time.Time, error) {
	m.mu.Lock()
	m.Calls++
	defer m.mu.Unlock()
	if m.Err != nil {
		return access.Visit{}, time.Time{}, m.Err
	}
	id, ok := m.Creds[h]
	if !ok {
		return access.Visit{}, time.Time{}, access.ErrNotFound
	}
	v, ok := m.Visits[id]
	if !ok {
		return access.Visit{}, time.Time{}, access.ErrNotFound
	}
	return v, m.FirstUse[id], nil
}

// Commit records a decision's first-use mark, as the store does before the
// effect. Dry runs are ignored.
func (m *MapLookup) Commit(d access.Decision) {
	if d.DryRun || !d.Grant || !d.FirstUse {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.FirstUse[d.VisitID]; !ok {
		m.FirstUse[d.VisitID] = d.UseAt
	}
}
