package cloudsim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/sync/wire"
)

// ErrNotFound: no such visit.
var ErrNotFound = errors.New("cloudsim: visit not found")

// Secrets are a visit's credentials in clear, kept by the stand-in only.
type Secrets struct {
	PIN      string `json:"pin,omitempty"`
	QRToken  string `json:"qr_token,omitempty"`
	WebToken string `json:"web_token,omitempty"`
	Card     string `json:"card,omitempty"` // FACILITY:NUMBER
	Plate    string `json:"plate,omitempty"`
	Face     string `json:"face,omitempty"` // recogniser subject id
}

// Visit is a visit as the cloud keeps it.
type Visit struct {
	wire.Visit
	FirstName string    `json:"first_name,omitempty"`
	Email     string    `json:"email,omitempty"`
	Secrets   Secrets   `json:"secrets"`
	Deleted   bool      `json:"deleted,omitempty"`
	Created   time.Time `json:"created"`
}

// State is the cloud's data.
type State struct {
	Revisions map[string]uint64 `json:"revisions"` // per device
	Visits    map[string]*Visit `json:"visits"`
	NextID    int               `json:"next_id"`
}

// NewState returns an empty state.
func NewState() *State {
	return &State{Revisions: map[string]uint64{}, Visits: map[string]*Visit{}}
}

func (s *State) init() {
	if s.Revisions == nil {
		s.Revisions = map[string]uint64{}
	}
	if s.Visits == nil {
		s.Visits = map[string]*Visit{}
	}
}

// Spec describes a visit to create. Empty secrets are not generated unless
// their Gen flag is set.
type Spec struct {
	FirstName, Email string
	Intercoms        []string
	SingleUse        bool
	Start, End       time.Time
	Days             []string
	Daily            string
	Secrets          Secrets
	GenPIN, GenQR    bool
	GenWeb, GenCard  bool
}

// Hashes computes the wire credentials of secrets.
func Hashes(h *access.Hasher, s Secrets) ([]wire.Cred, error) {
	var out []wire.Cred
	for _, c := range []struct {
		k access.Kind
		v string
	}{{access.KindPIN, s.PIN}, {access.KindQR, s.QRToken}, {access.KindWeb, s.WebToken}, {access.KindCard, s.Card}, {access.KindPlate, s.Plate}, {access.KindFace, s.Face}} {
		if c.v == "" {
			continue
		}
		hash, err := h.Hash(c.k, c.v)
		if err != nil {
			return nil, fmt.Errorf("cloudsim: %s: %w", c.k, err)
		}
		out = append(out, wire.Cred{Kind: c.k, Hash: hash.String()})
	}
	if len(out) == 0 {
		return nil, errors.New("cloudsim: a visit needs at least one credential")
	}
	return out, nil
}

// Generate fills the requested secrets with fresh random values.
func Generate(s *Spec) {
	if s.GenPIN && s.Secrets.PIN == "" {
		s.Secrets.PIN = randDigits(6)
	}
	if s.GenQR && s.Secrets.QRToken == "" {
		s.Secrets.QRToken = randHex(16)
	}
	if s.GenWeb && s.Secrets.WebToken == "" {
		s.Secrets.WebToken = randHex(16)
	}
	if s.GenCard && s.Secrets.Card == "" {
		s.Secrets.Card = fmt.Sprintf("%d:%d", randInt(1, 255), randInt(1, 65535))
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randInt(lo, hi int64) int64 {
	n, _ := rand.Int(rand.Reader, big.NewInt(hi-lo+1))
	return lo + n.Int64()
}

func randDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + randInt(0, 9))
	}
	return string(b)
}

// Create adds a visit and returns it with the deltas for its devices.
func (s *State) Create(h *access.Hasher, spec Spec) (*Visit, map[string]wire.Delta, error) {
	s.init()
	Generate(&spec)
	creds, err := Hashes(h, spec.Secrets)
	if err != nil {
		return nil, nil, err
	}
	s.NextID++
	v := &Visit{
		Visit: wire.Visit{
			ID: fmt.Sprintf("v%06d-%s", s.NextID, randHex(3)), Version: 1,
			Start: spec.Start.UTC(), End: spec.End.UTC(), Days: spec.Days, Daily: spec.Daily,
			Intercoms: slices.Clone(spec.Intercoms), SingleUse: spec.SingleUse, Creds: creds,
		},
		FirstName: spec.FirstName, Email: spec.Email, Secrets: spec.Secrets, Created: time.Now().UTC(),
	}
	if _, err := v.Record(); err != nil {
		return nil, nil, fmt.Errorf("cloudsim: create: %w", err)
	}
	s.Visits[v.ID] = v
	return v, s.change(v), nil
}

// Update changes a live visit (not its intercoms) through fn, bumps its
// version and returns the deltas.
func (s *State) Update(h *access.Hasher, id string, fn func(v *Visit)) (map[string]wire.Delta, error) {
	s.init()
	v, ok := s.Visits[id]
	if !ok || v.Deleted {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	cp := *v
	cp.Intercoms = slices.Clone(v.Intercoms)
	fn(&cp)
	cp.Intercoms = v.Intercoms // intercoms are fixed: a device's tombstone is final
	creds, err := Hashes(h, cp.Secrets)
	if err != nil {
		return nil, err
	}
	cp.Creds = creds
	cp.Version = v.Version + 1
	if _, err := cp.Record(); err != nil {
		return nil, fmt.Errorf("cloudsim: update: %w", err)
	}
	*v = cp
	return s.change(v), nil
}

// Delete deletes a visit and returns the deltas.
func (s *State) Delete(id string) (map[string]wire.Delta, error) {
	s.init()
	v, ok := s.Visits[id]
	if !ok || v.Deleted {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	v.Deleted = true
	v.Version++
	return s.change(v), nil
}

// change bumps the revision of each device of v and builds its delta.
func (s *State) change(v *Visit) map[string]wire.Delta {
	now := time.Now().UTC()
	out := map[string]wire.Delta{}
	for _, dev := range v.Intercoms {
		prev := s.Revisions[dev]
		s.Revisions[dev] = prev + 1
		d := wire.Delta{V: wire.Version, Rev: prev + 1, PrevRev: prev, SentAt: now}
		if v.Deleted {
			d.Deletes = []wire.Tombstone{{ID: v.ID, Version: v.Version}}
		} else {
			d.Upserts = []wire.Visit{v.Visit}
		}
		out[dev] = d
	}
	return out
}

// Live returns the live visits of a device, sorted by id.
func (s *State) Live(device string) []wire.Visit {
	var out []wire.Visit
	for _, v := range s.Visits {
		if !v.Deleted && slices.Contains(v.Intercoms, device) {
			out = append(out, v.Visit)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Sorted returns every visit, deleted ones too, sorted by id.
func (s *State) Sorted() []*Visit {
	out := make([]*Visit, 0, len(s.Visits))
	for _, v := range s.Visits {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ChunkTarget is the payload size a snapshot chunk aims to stay under,
// leaving room below wire.MaxPayload.
const ChunkTarget = 100 * 1024

// SnapshotPayloads encodes the device's live set as snapshot chunks
// answering requestID, each under ChunkTarget bytes. Each visit is encoded
// once and spliced into its chunk.
func (s *State) SnapshotPayloads(device, requestID string) ([][]byte, error) {
	live := s.Live(device)
	enc := make([][]byte, len(live))
	for i := range live {
		b, err := json.Marshal(&live[i])
		if err != nil {
			return nil, fmt.Errorf("cloudsim: encode visit: %w", err)
		}
		enc[i] = b
	}
	var groups [][][]byte
	var cur [][]byte
	size := 0
	for _, b := range enc {
		if size+len(b) > ChunkTarget && len(cur) > 0 {
			groups = append(groups, cur)
			cur, size = nil, 0
		}
		cur = append(cur, b)
		size += len(b) + 1
	}
	groups = append(groups, cur)
	id := "s-" + randHex(8)
	hdr := func(seq int) string {
		h, _ := json.Marshal(struct {
			V          int       `json:"v"`
			SnapshotID string    `json:"snapshot_id"`
			RequestID  string    `json:"request_id,omitempty"`
			Rev        uint64    `json:"rev"`
			Seq        int       `json:"seq"`
			Total      int       `json:"total"`
			SentAt     time.Time `json:"sent_at"`
		}{wire.Version, id, requestID, s.Revisions[device], seq, len(groups), time.Now().UTC()})
		return string(h[:len(h)-1]) // without the closing brace
	}
	out := make([][]byte, len(groups))
	for i, g := range groups {
		b := append([]byte(hdr(i)), `,"visits":[`...)
		for j, v := range g {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, v...)
		}
		out[i] = append(b, "]}"...)
	}
	return out, nil
}
