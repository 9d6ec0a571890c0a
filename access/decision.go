package access

import (
	"strconv"
	"time"
)

// DoorMode is the intercom's door mode.
type DoorMode uint8

// Door modes. In third-party mode the door belongs to another access system
// and visit keys are refused.
const (
	DoorModeNormal DoorMode = iota
	DoorModeThirdParty
)

func (m DoorMode) String() string {
	switch m {
	case DoorModeNormal:
		return "normal"
	case DoorModeThirdParty:
		return "third_party"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// Config is the engine's configuration. Zero values mean the documented
// defaults.
type Config struct {
	Intercom         string         // this intercom's id, matched against Visit.Intercoms
	VisitKeysEnabled bool           // visit keys apply only where enabled
	DoorMode         DoorMode       //
	Location         *time.Location // site time zone; nil means UTC
	SingleUseWindow  time.Duration  // default 5 min
	Lockdown         bool           // refuse every credential
	// PIN brute force: LockoutFailures wrong PINs within LockoutWindow block
	// the keypad for LockoutBase, doubling on each repeat up to LockoutMax.
	LockoutFailures int           // default 5
	LockoutWindow   time.Duration // default 60 s
	LockoutBase     time.Duration // default 30 s
	LockoutMax      time.Duration // default 15 min
}

// Clock is the time a decision is made at, and whether it can be trusted.
type Clock struct {
	Now     time.Time
	Trusted bool
	Why     string // when untrusted: why, e.g. "before build time"
}

// Verdict is one rule's result, for explain.
type Verdict struct {
	Rule   string `json:"rule"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail,omitempty"`
}

// Decision is the outcome of one credential.
type Decision struct {
	Grant    bool
	Reason   Reason
	VisitID  string
	FirstUse bool      // this is the visit's first accepted use: record it
	UseAt    time.Time // the time recorded as first use
	// SingleUse and UseWindow let the store re-check a single-use visit when
	// it commits the first-use mark: a concurrent decision may have set it.
	SingleUse bool
	UseWindow time.Duration
	Kind      Kind
	Reader    string
	At        time.Time
	Took      time.Duration
	Events    []Event   // to commit durably before the effect
	Trace     []Verdict // every rule's verdict, in order
	// Lockout is the keypad's brute-force state after this decision, to
	// persist with the events so that a restart does not reset it. Nil when
	// the decision did not change it.
	Lockout *LockoutState
	// DryRun marks a result of Engine.Explain: it has no events, no lockout
	// and no first-use mark, and must never open the door.
	DryRun bool
}

// LockoutState is one keypad's brute-force state.
type LockoutState struct {
	Reader   string      `json:"reader"`
	Failures []time.Time `json:"failures,omitempty"` // recent wrong PINs inside the window
	Until    time.Time   `json:"until,omitzero"`     // blocked until
	Strikes  int         `json:"strikes,omitempty"`  // lockouts so far; the block doubles with each
	LastAt   time.Time   `json:"last_at,omitzero"`   // last lockout, to decay strikes
}
