package localapi

import (
	"fmt"
	"strings"
	"time"

	"github.com/intercomd/intercomd/access"
)

// Endpoint paths. Read-only calls are GET, control calls POST.
const (
	PathStatus   = "/v1/status"
	PathKeys     = "/v1/keys"    // GET ?limit=N&after=ID&deleted=1; /v1/keys/{id} shows one
	PathEvents   = "/v1/events"  // GET ?n=N&follow=1
	PathExplain  = "/v1/explain" // POST ExplainRequest
	PathRelay    = "/v1/relay"   // POST RelayRequest
	PathWiegand  = "/v1/wiegand" // GET ?n=N
	PathKeypad   = "/v1/keypad"  // GET
	PathSnapshot = "/v1/camera/snapshot"
	PathResync   = "/v1/resync"    // POST
	PathLogLevel = "/v1/log-level" // POST LogLevelRequest
	PathLockdown = "/v1/lockdown"  // POST LockdownRequest
	PathSim      = "/v1/sim"       // POST SimRequest
)

// Duration is a time.Duration that travels as text ("5s").
type Duration time.Duration

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText encodes d as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText decodes a Go duration such as "5s" or "1500ms".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("localapi: bad duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Status is the daemon's health at a glance (intercomctl status).
type Status struct {
	Now      time.Time      `json:"now"` // the daemon's clock, for ages
	Started  time.Time      `json:"started"`
	MQTT     MQTTStatus     `json:"mqtt"`
	Sync     SyncStatus     `json:"sync"`
	Cache    CacheStatus    `json:"cache"`
	Outbox   OutboxStatus   `json:"outbox"`
	Readers  []ReaderHealth `json:"readers"`
	Door     DoorStatus     `json:"door"`
	Lockdown bool           `json:"lockdown"`
	Clock    ClockStatus    `json:"clock"`
	Versions Versions       `json:"versions"`
	Sim      bool           `json:"sim"` // simulation mode: sim inputs are accepted
	LogLevel string         `json:"log_level"`
}

// MQTTStatus is the cloud link.
type MQTTStatus struct {
	State  string    `json:"state"` // "connected", "connecting", "disconnected"
	Broker string    `json:"broker,omitempty"`
	Since  time.Time `json:"since,omitzero"` // last state change
}

// SyncStatus is the key cache's position in the cloud's history.
type SyncStatus struct {
	Revision   uint64    `json:"revision"`
	LastSync   time.Time `json:"last_sync,omitzero"`   // last batch applied
	ServerTime time.Time `json:"server_time,omitzero"` // newest server time seen
	Error      string    `json:"error,omitempty"`      // last sync error, if any
}

// CacheStatus is the size of the key cache.
type CacheStatus struct {
	Visits      int `json:"visits"`
	Credentials int `json:"credentials"`
	Tombstones  int `json:"tombstones"`
}

// OutboxStatus is the queue of events waiting for the cloud.
type OutboxStatus struct {
	Depth       int    `json:"depth"`
	Dropped     uint64 `json:"dropped"` // dropped oldest because the outbox was full
	Quarantined int    `json:"quarantined"`
}

// ReaderHealth is one credential reader's health.
type ReaderHealth struct {
	ID           string    `json:"id"`   // e.g. "keypad0"
	Kind         string    `json:"kind"` // "keypad", "wiegand", "camera", "mqtt"
	Online       bool      `json:"online"`
	LastActivity time.Time `json:"last_activity,omitzero"`
	Errors       uint64    `json:"errors"`
	Detail       string    `json:"detail,omitempty"` // e.g. the last error
}

// DoorStatus is the relay and the door position.
type DoorStatus struct {
	Relay       string    `json:"relay"`                 // "locked" or "unlocked"
	UnlockUntil time.Time `json:"unlock_until,omitzero"` // when unlocked by a pulse
	Door        string    `json:"door"`                  // "closed", "open" or "unknown"
}

// ClockStatus is whether time-bound keys can be trusted.
type ClockStatus struct {
	Trusted bool   `json:"trusted"`
	Why     string `json:"why,omitempty"`
}

// Versions identifies the running daemon.
type Versions struct {
	Daemon string `json:"daemon"`
	Schema int    `json:"schema"`
	Go     string `json:"go"`
}

// KeyFilter selects keys for listing. The zero value lists the first
// DefaultKeyLimit live keys in id order.
type KeyFilter struct {
	ID      string // exactly this visit (keys show)
	After   string // list ids after this one, for paging
	Limit   int    // 0 means DefaultKeyLimit; at most MaxKeyLimit
	Deleted bool   // include tombstones
}

// Key limits.
const (
	DefaultKeyLimit = 50
	MaxKeyLimit     = 1000
)

// Key is a visit as cached on the device, without its secrets.
type Key struct {
	ID          string          `json:"id"`
	Version     uint64          `json:"version"`
	Start       time.Time       `json:"start"`
	End         time.Time       `json:"end"`
	Days        string          `json:"days,omitempty"`  // e.g. "mon,tue"; empty = every day
	Daily       string          `json:"daily,omitempty"` // e.g. "08:00-18:00"; empty = all day
	Intercoms   []string        `json:"intercoms,omitempty"`
	SingleUse   bool            `json:"single_use"`
	FirstUse    time.Time       `json:"first_use,omitzero"`
	Deleted     bool            `json:"deleted"`
	Credentials []KeyCredential `json:"credentials,omitempty"`
}

// KeyCredential is one credential of a visit: its kind and the first hex
// digits of its keyed hash, never its value.
type KeyCredential struct {
	Kind       string `json:"kind"`
	HashPrefix string `json:"hash_prefix"` // at most 8 hex digits
}

// ExplainRequest asks for a dry-run decision. Value is a secret.
type ExplainRequest struct {
	Kind    access.Kind `json:"kind"`
	Value   string      `json:"value"`
	Reader  string      `json:"reader,omitempty"`
	VisitID string      `json:"visit_id,omitempty"` // for web credentials
}

// Explanation is a dry-run decision: what would happen, rule by rule.
type Explanation struct {
	Grant   bool             `json:"grant"`
	Reason  access.Reason    `json:"reason"`
	VisitID string           `json:"visit_id,omitempty"`
	Kind    string           `json:"kind"`
	Reader  string           `json:"reader,omitempty"`
	At      time.Time        `json:"at"`
	TookUS  int64            `json:"took_us"`
	Trace   []access.Verdict `json:"trace"`
}

// ExplanationOf converts an engine decision to its wire form. It drops the
// decision's events: they are not committed in a dry run.
func ExplanationOf(d access.Decision) Explanation {
	return Explanation{
		Grant: d.Grant, Reason: d.Reason, VisitID: d.VisitID, Kind: d.Kind.String(),
		Reader: d.Reader, At: d.At, TookUS: d.Took.Microseconds(), Trace: d.Trace,
	}
}

// RelayAction is a technician's relay command.
type RelayAction uint8

// Relay actions.
const (
	RelayPulse RelayAction = iota + 1 // unlock for a time, then lock
	RelayLock
	RelayUnlock // until locked again
)

var relayActionNames = []string{"", "pulse", "lock", "unlock"}

func (a RelayAction) String() string { return enumName(relayActionNames, uint8(a), "relayaction") }

// MarshalText encodes the action by name.
func (a RelayAction) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText decodes "pulse", "lock" or "unlock".
func (a *RelayAction) UnmarshalText(b []byte) error {
	v, err := ParseRelayAction(string(b))
	*a = v
	return err
}

// ParseRelayAction returns the action named s.
func ParseRelayAction(s string) (RelayAction, error) {
	v, err := enumParse(relayActionNames, s, "relay action")
	return RelayAction(v), err
}

// enumName and enumParse serve the package's enums, whose names are listed
// by value with "" for the invalid zero.
func enumName(names []string, v uint8, typ string) string {
	if v > 0 && int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, v)
}

func enumParse(names []string, s, what string) (uint8, error) {
	for i, n := range names {
		if i > 0 && n == s {
			return uint8(i), nil
		}
	}
	return 0, fmt.Errorf("localapi: unknown %s %q (want %s)", what, clip(s), strings.Join(names[1:], ", "))
}

// Pulse limits, matching the door's unlock time range.
const (
	MinPulse = time.Second
	MaxPulse = 60 * time.Second
)

// RelayRequest drives the relay. For is the pulse length; zero means the
// daemon's configured unlock time.
type RelayRequest struct {
	Action RelayAction `json:"action"`
	For    Duration    `json:"for,omitempty"`
}

// WiegandFrame is one raw Wiegand frame as received.
type WiegandFrame struct {
	At     time.Time `json:"at"`
	Reader string    `json:"reader"`
	Bits   string    `json:"bits"`             // "0110…", first bit first
	Format string    `json:"format,omitempty"` // decoded format, e.g. "h10301"; empty if none
	Error  string    `json:"error,omitempty"`  // why it did not decode (parity, length…)
}

// Wiegand frame limits for wiegand last.
const (
	DefaultWiegandFrames = 10
	MaxWiegandFrames     = 256
)

// KeypadStats is the serial link to one TD63 keypad.
type KeypadStats struct {
	Reader        string    `json:"reader"`
	Port          string    `json:"port"`
	Online        bool      `json:"online"`
	Frames        uint64    `json:"frames"`
	BadCRC        uint64    `json:"bad_crc"`
	Resyncs       uint64    `json:"resyncs"`
	Timeouts      uint64    `json:"timeouts"` // PIN entries discarded by the digit timeout
	Reconnects    uint64    `json:"reconnects"`
	LastHeartbeat time.Time `json:"last_heartbeat,omitzero"`
}

// LogLevelRequest sets the daemon's log level ("debug", "info", "warn", "error").
type LogLevelRequest struct {
	Level string `json:"level"`
}

// LockdownRequest turns lockdown on or off.
type LockdownRequest struct {
	On bool `json:"on"`
}

// SimKind is a simulated input.
type SimKind uint8

// Simulated inputs; each goes through the real reader code path.
const (
	SimCard SimKind = iota + 1 // Wiegand edges on the fake pins
	SimPIN                     // TD63 key frames through the pty
	SimQR                      // a frame into the camera source
	SimREX                     // request-to-exit input
	SimDoor                    // door position input
)

var simKindNames = []string{"", "card", "pin", "qr", "rex", "door"}

func (k SimKind) String() string { return enumName(simKindNames, uint8(k), "simkind") }

// MarshalText encodes the kind by name.
func (k SimKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes "card", "pin", "qr", "rex" or "door".
func (k *SimKind) UnmarshalText(b []byte) error {
	v, err := enumParse(simKindNames, string(b), "sim input")
	*k = SimKind(v)
	return err
}

// SimRequest injects one simulated input. Card, PIN, QR and Image are secrets.
type SimRequest struct {
	Kind   SimKind `json:"kind"`
	Card   string  `json:"card,omitempty"`   // card: "FACILITY:NUMBER"
	Format string  `json:"format,omitempty"` // card: Wiegand format, default "h10301"; pin: "td63" (default) or "wiegand" (4-bit key bursts)
	PIN    string  `json:"pin,omitempty"`    // pin: digits, sent as key presses then '#'
	QR     string  `json:"qr,omitempty"`     // qr: the payload to encode into a frame
	Image  []byte  `json:"image,omitempty"`  // qr: or an image file to show the camera
	Door   string  `json:"door,omitempty"`   // door: "open" or "close"
}

// DefaultWiegandFormat is the format of a simulated card when none is given.
const DefaultWiegandFormat = "h10301"

// Error is the body of every non-2xx response.
type Error struct {
	Error string `json:"error"`
}

// clip shortens untrusted text before it goes into an error message.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
