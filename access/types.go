package access

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
)

// Kind is the kind of a presented credential.
type Kind uint8

// Credential kinds. The numeric values are stored on disk: never renumber.
const (
	KindUnknown Kind = iota
	KindQR
	KindPIN
	KindCard
	KindWeb
	KindPlate
	KindFace
)

var kindNames = [...]string{"unknown", "qr", "pin", "card", "web", "plate", "face"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MarshalText encodes the kind by its wire name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes a wire name such as "pin".
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// ParseKind returns the kind named s ("qr", "pin", "card", "web", "plate", "face").
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if i > 0 && n == s {
			return Kind(i), nil
		}
	}
	return KindUnknown, fmt.Errorf("access: unknown credential kind %q", s)
}

// Credential is one presented credential, whatever its source. Value is a
// secret: it is never logged, stored or put in an event.
type Credential struct {
	Kind   Kind
	Value  string    // raw value as read; normalised by Normalize
	Reader string    // reader id, e.g. "keypad0", "wiegand0", "camera0", "mqtt"
	At     time.Time // when it was read
	// VisitID is set by sources that name the visit they claim (web unlock).
	// The credential must then belong to that visit.
	VisitID string
}

// ErrInvalid reports a credential value that cannot be normalised.
var ErrInvalid = errors.New("access: invalid credential value")

// Normalize returns the canonical form of a credential value, the form that is
// hashed. The cloud applies the same rules before hashing:
//   - pin: 4 to 12 ASCII digits.
//   - qr: the visit-key token, 16 to 64 lowercase hex digits (input is lowercased).
//   - card: "FACILITY:NUMBER" in decimal without leading zeros, or "raw:HEXBITS".
//   - web: the token, 16 to 128 printable ASCII characters, no spaces.
//   - plate: uppercase letters and digits, with spaces, dashes and dots removed; 1 to 16 characters.
//   - face: the recogniser's subject id, 1 to 128 printable ASCII characters.
func Normalize(k Kind, v string) (string, error) {
	switch k {
	case KindPIN:
		if len(v) < 4 || len(v) > 12 || !allDigits(v) {
			return "", fmt.Errorf("%w: pin must be 4-12 digits", ErrInvalid)
		}
		return v, nil
	case KindQR:
		v = strings.ToLower(v)
		if len(v) < 16 || len(v) > 64 || !allHex(v) {
			return "", fmt.Errorf("%w: qr token must be 16-64 hex digits", ErrInvalid)
		}
		return v, nil
	case KindCard:
		return normalizeCard(v)
	case KindWeb:
		if len(v) < 16 || len(v) > 128 || !printable(v) {
			return "", fmt.Errorf("%w: web token must be 16-128 printable characters", ErrInvalid)
		}
		return v, nil
	case KindPlate:
		var b strings.Builder
		for _, r := range strings.ToUpper(v) {
			switch {
			case r == ' ' || r == '-' || r == '.' || r == '\t':
			case (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'):
				b.WriteRune(r)
			default:
				return "", fmt.Errorf("%w: plate has character %q", ErrInvalid, r)
			}
		}
		if b.Len() < 1 || b.Len() > 16 {
			return "", fmt.Errorf("%w: plate must be 1-16 characters", ErrInvalid)
		}
		return b.String(), nil
	case KindFace:
		if len(v) < 1 || len(v) > 128 || !printable(v) {
			return "", fmt.Errorf("%w: face subject must be 1-128 printable characters", ErrInvalid)
		}
		return v, nil
	}
	return "", fmt.Errorf("%w: kind %v", ErrInvalid, k)
}

func normalizeCard(v string) (string, error) {
	if rest, ok := strings.CutPrefix(v, "raw:"); ok {
		rest = strings.ToLower(rest)
		if len(rest) < 1 || len(rest) > 64 || !allHex(rest) {
			return "", fmt.Errorf("%w: raw card must be hex", ErrInvalid)
		}
		return "raw:" + rest, nil
	}
	fc, cn, ok := strings.Cut(v, ":")
	if !ok || !allDigits(fc) || !allDigits(cn) || len(fc) < 1 || len(cn) < 1 || len(fc) > 10 || len(cn) > 20 {
		return "", fmt.Errorf("%w: card must be FACILITY:NUMBER", ErrInvalid)
	}
	return trimZeros(fc) + ":" + trimZeros(cn), nil
}

func trimZeros(s string) string {
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return "0"
	}
	return s
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// Hash is the keyed hash under which a credential is stored:
// HMAC-SHA256(siteKey, kind-name || 0x00 || normalised value).
type Hash [32]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Hasher computes credential hashes with the per-site key. It is safe for
// concurrent use.
type Hasher struct {
	key []byte
	// macs recycles HMAC states and their input buffers: a decision then
	// hashes without allocating.
	macs sync.Pool
}

type macState struct {
	mac hash.Hash
	buf []byte
}

// NewHasher returns a Hasher for the site key, which must be at least 16 bytes.
func NewHasher(siteKey []byte) (*Hasher, error) {
	if len(siteKey) < 16 {
		return nil, errors.New("access: site key shorter than 16 bytes")
	}
	return &Hasher{key: append([]byte(nil), siteKey...)}, nil
}

// Hash normalises v for kind k and returns its keyed hash.
func (h *Hasher) Hash(k Kind, v string) (Hash, error) {
	n, err := Normalize(k, v)
	if err != nil {
		return Hash{}, err
	}
	st, _ := h.macs.Get().(*macState)
	if st == nil {
		st = &macState{mac: hmac.New(sha256.New, h.key), buf: make([]byte, 0, 256)}
	}
	st.mac.Reset()
	st.buf = append(append(append(st.buf[:0], k.String()...), 0), n...)
	st.mac.Write(st.buf)
	var out Hash
	st.buf = st.mac.Sum(st.buf[:0])
	copy(out[:], st.buf)
	clear(st.buf[:cap(st.buf)]) // the buffer held the normalised secret
	h.macs.Put(st)
	return out, nil
}

// Weekdays is a set of weekdays, bit i for time.Weekday(i). Zero means every day.
type Weekdays uint8

// Has reports whether d is in the set; the empty set holds every day.
func (w Weekdays) Has(d time.Weekday) bool { return w == 0 || w&(1<<d) != 0 }

// Visit is a visit as cached on the device. Times are absolute instants; the
// daily window is minutes after local midnight in the site's time zone.
type Visit struct {
	ID      string
	Version uint64 // per-visit version from the cloud; higher wins
	Start   time.Time
	End     time.Time // exclusive
	// Restrictions; they apply only when Start and End fall on different
	// calendar days in the site's time zone.
	Days      Weekdays
	DailyFrom int // minutes after midnight, 0..1439
	DailyTo   int // minutes after midnight, 0..1440; DailyFrom == DailyTo means no daily window
	Intercoms []string
	SingleUse bool
	Deleted   bool // tombstone: every credential of the visit is refused
}

// Lookup finds the visit that holds a credential hash. It is implemented by
// the store and must be safe for concurrent use.
type Lookup interface {
	// Find returns the visit owning h and the time of its first accepted use
	// (zero if none). It returns ErrNotFound if no visit holds h.
	Find(h Hash) (v Visit, firstUse time.Time, err error)
}

// ErrNotFound is returned by Lookup.Find for an unknown credential.
var ErrNotFound = errors.New("access: credential not found")

// Reason is a stable reason code. Its string form is part of the wire
// protocol and never changes meaning.
type Reason string

// Reason codes for decisions.
const (
	ReasonGranted            Reason = "granted"
	ReasonVisitKeysDisabled  Reason = "visit_keys_disabled"
	ReasonThirdPartyDoorMode Reason = "third_party_door_mode"
	ReasonIntercomNotOnVisit Reason = "intercom_not_on_visit"
	ReasonNotYetValid        Reason = "visit_not_started"
	ReasonExpired            Reason = "visit_ended"
	ReasonWeekday            Reason = "outside_weekdays"
	ReasonDailyWindow        Reason = "outside_daily_window"
	ReasonSingleUseSpent     Reason = "single_use_spent"
	ReasonVisitDeleted       Reason = "visit_deleted"
	ReasonLockdown           Reason = "lockdown"
	ReasonClockUntrusted     Reason = "clock_untrusted"
	ReasonKeypadLockedOut    Reason = "keypad_locked_out"
	ReasonUnknownCredential  Reason = "unknown_credential"
	ReasonInvalidCredential  Reason = "invalid_credential"
	ReasonVisitMismatch      Reason = "visit_mismatch"
	ReasonLookupFailed       Reason = "lookup_failed"
	// ReasonCommitFailed is not the engine's: the daemon withdraws a grant
	// whose event could not be made durable (no audit record, no open door).
	ReasonCommitFailed Reason = "commit_failed"
)

// EventType names an event on the wire.
type EventType string

// Event types.
const (
	EventAccessGranted  EventType = "access.granted"
	EventAccessDenied   EventType = "access.denied"
	EventVisitStarted   EventType = "visit.started"
	EventKeypadLockout  EventType = "keypad.lockout"
	EventDoorForced     EventType = "door.forced"
	EventDoorHeld       EventType = "door.held"
	EventDoorClosed     EventType = "door.closed"
	EventDoorOpened     EventType = "door.opened"
	EventREX            EventType = "door.rex"
	EventRelay          EventType = "relay.changed"
	EventReaderOffline  EventType = "reader.offline"
	EventReaderOnline   EventType = "reader.online"
	EventReaderError    EventType = "reader.error"
	EventBadInput       EventType = "input.rejected"
	EventCommand        EventType = "command.result"
	EventAudit          EventType = "audit.control"
	EventClockUntrusted EventType = "clock.untrusted"
	EventSync           EventType = "sync.error"
	EventDaemon         EventType = "daemon"
)

// Event is one entry of the audit trail; its JSON form is the event payload
// of the wire protocol (docs/protocol.md). It never carries a credential value.
type Event struct {
	ID      string    `json:"id"` // 32 hex digits, unique
	Type    EventType `json:"type"`
	At      time.Time `json:"at"`
	Reason  Reason    `json:"reason,omitempty"`
	VisitID string    `json:"visit_id,omitempty"`
	Kind    string    `json:"kind,omitempty"`   // credential kind
	Reader  string    `json:"reader,omitempty"` // reader or input id
	TookUS  int64     `json:"took_us,omitempty"`
	UID     *int      `json:"uid,omitempty"` // caller of an audited control action
	Detail  string    `json:"detail,omitempty"`
}

// NewEventID returns a random 128-bit id in hex.
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
