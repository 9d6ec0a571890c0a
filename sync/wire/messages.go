package wire

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/intercomd/intercomd/access"
)

// Per-message list limits, inside MaxPayload.
const (
	MaxItems          = 5000 // visits, tombstones or events in one message
	MaxCredsPerVisit  = 16
	MaxIntercoms      = 64
	MaxChunks         = 100000
	MaxCommandLife    = 10 * time.Minute // expires_at - issued_at
	maxIDLen          = 128
	minRequestIDLen   = 8
	maxRequestIDLen   = 64
	maxDetailLen      = 1024
	maxTimeZoneLength = 64
)

// Visit is one visit on the wire. Times are absolute (RFC 3339); the daily
// window is local time in the site's time zone.
type Visit struct {
	ID        string    `json:"id"`
	Version   uint64    `json:"version"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Days      []string  `json:"days,omitempty"`  // "mon".."sun"; empty means every day
	Daily     string    `json:"daily,omitempty"` // "HH:MM-HH:MM"; empty means all day
	Intercoms []string  `json:"intercoms"`
	SingleUse bool      `json:"single_use,omitempty"`
	Creds     []Cred    `json:"creds"`
}

// Cred is a credential of a visit: its kind and keyed hash (64 hex digits,
// HMAC-SHA256 with the site key over kind name || 0x00 || normalised value).
type Cred struct {
	Kind access.Kind `json:"kind"`
	Hash string      `json:"hash"`
}

// Tombstone deletes a visit at a version. A later upsert with a version not
// above it is stale and ignored.
type Tombstone struct {
	ID      string `json:"id"`
	Version uint64 `json:"version"`
}

// Record is a validated visit in the device's form.
type Record struct {
	access.Visit
	Creds []access.Hash
	Kinds []access.Kind // Kinds[i] is the kind of Creds[i]
}

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseDays parses weekday names ("mon".."sun") into a set.
func ParseDays(names []string) (access.Weekdays, error) {
	var w access.Weekdays
	for _, n := range names {
		i := dayIndex(n)
		if i < 0 {
			return 0, invalid("days", "unknown weekday %q", n)
		}
		w |= 1 << i
	}
	return w, nil
}

func dayIndex(n string) int {
	for i, d := range dayNames {
		if d == n {
			return i
		}
	}
	return -1
}

// DayNames is the inverse of ParseDays; the empty set gives nil.
func DayNames(w access.Weekdays) []string {
	if w == 0 {
		return nil
	}
	var out []string
	for i := range 7 {
		if w&(1<<i) != 0 {
			out = append(out, dayNames[i])
		}
	}
	return sortDays(out)
}

// sortDays orders names Monday first, as people write them.
func sortDays(in []string) []string {
	out := make([]string, 0, len(in))
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		for _, n := range in {
			if n == d {
				out = append(out, d)
			}
		}
	}
	return out
}

// ParseDaily parses "HH:MM-HH:MM" into minutes after midnight. The end may be
// "24:00"; an end before the start crosses midnight.
func ParseDaily(s string) (from, to int, err error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, invalid("daily", "%q is not HH:MM-HH:MM", s)
	}
	if from, err = parseClock(a, false); err != nil {
		return 0, 0, err
	}
	if to, err = parseClock(b, true); err != nil {
		return 0, 0, err
	}
	if from == to {
		return 0, 0, invalid("daily", "%q is an empty window", s)
	}
	return from, to, nil
}

func parseClock(s string, end bool) (int, error) {
	if len(s) != 5 || s[2] != ':' || !digits(s[:2]) || !digits(s[3:]) {
		return 0, invalid("daily", "%q is not HH:MM", s)
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && (m != 0 || !end)) {
		return 0, invalid("daily", "%q is not a time of day", s)
	}
	return h*60 + m, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatDaily is the inverse of ParseDaily; from == to gives "".
func FormatDaily(from, to int) string {
	if from == to {
		return ""
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", from/60, from%60, to/60, to%60)
}

func validID(what, id string) error {
	if len(id) < 1 || len(id) > maxIDLen || !printableNoSpace(id) {
		return invalid(what, "id must be 1-%d printable characters without spaces", maxIDLen)
	}
	return nil
}

func printableNoSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// ParseHash decodes 64 lowercase hex digits.
func ParseHash(s string) (access.Hash, error) {
	var h access.Hash
	if len(s) != 64 || strings.ToLower(s) != s {
		return h, invalid("hash", "must be 64 lowercase hex digits")
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, invalid("hash", "must be 64 lowercase hex digits")
	}
	return h, nil
}

// Record validates v and returns it in the device's form.
func (v *Visit) Record() (Record, error) {
	var r Record
	if err := validID("visit", v.ID); err != nil {
		return r, err
	}
	what := "visit " + v.ID
	if v.Version == 0 {
		return r, invalid(what, "version must be at least 1")
	}
	if v.Start.IsZero() || v.End.IsZero() || !v.Start.Before(v.End) {
		return r, invalid(what, "start must be before end")
	}
	days, err := ParseDays(v.Days)
	if err != nil {
		return r, within(what, err)
	}
	from, to, err := ParseDaily(v.Daily)
	if err != nil {
		return r, within(what, err)
	}
	if len(v.Intercoms) < 1 || len(v.Intercoms) > MaxIntercoms {
		return r, invalid(what, "needs 1-%d intercoms", MaxIntercoms)
	}
	for _, ic := range v.Intercoms {
		if err := validID("intercom", ic); err != nil {
			return r, within(what, err)
		}
	}
	if len(v.Creds) < 1 || len(v.Creds) > MaxCredsPerVisit {
		return r, invalid(what, "needs 1-%d credentials", MaxCredsPerVisit)
	}
	r.Creds = make([]access.Hash, len(v.Creds))
	r.Kinds = make([]access.Kind, len(v.Creds))
	for i, c := range v.Creds {
		if c.Kind == access.KindUnknown {
			return r, invalid(what, "credential %d has no kind", i)
		}
		if r.Creds[i], err = ParseHash(c.Hash); err != nil {
			return r, within(fmt.Sprintf("%s: credential %d", what, i), err)
		}
		r.Kinds[i] = c.Kind
	}
	r.Visit = access.Visit{
		ID: v.ID, Version: v.Version, Start: v.Start, End: v.End,
		Days: days, DailyFrom: from, DailyTo: to,
		Intercoms: append([]string(nil), v.Intercoms...), SingleUse: v.SingleUse,
	}
	return r, nil
}

// FromRecord is the inverse of Visit.Record.
func FromRecord(r Record) Visit {
	v := Visit{
		ID: r.ID, Version: r.Version, Start: r.Start, End: r.End,
		Days: DayNames(r.Days), Daily: FormatDaily(r.DailyFrom, r.DailyTo),
		Intercoms: r.Intercoms, SingleUse: r.SingleUse,
	}
	for i, h := range r.Creds {
		k := access.KindUnknown
		if i < len(r.Kinds) {
			k = r.Kinds[i]
		}
		v.Creds = append(v.Creds, Cred{Kind: k, Hash: h.String()})
	}
	return v
}

func (t Tombstone) validate() error {
	if err := validID("tombstone", t.ID); err != nil {
		return err
	}
	if t.Version == 0 {
		return invalid("tombstone "+t.ID, "version must be at least 1")
	}
	return nil
}

// validateSet checks visits and tombstones, and that no id appears twice.
func validateSet(visits []Visit, tombs []Tombstone) ([]Record, error) {
	if len(visits)+len(tombs) > MaxItems {
		return nil, fmt.Errorf("%w: %d items (max %d)", ErrTooLarge, len(visits)+len(tombs), MaxItems)
	}
	seen := make(map[string]bool, len(visits)+len(tombs))
	recs := make([]Record, len(visits))
	for i := range visits {
		r, err := visits[i].Record()
		if err != nil {
			return nil, err
		}
		if seen[r.ID] {
			return nil, invalid("visit "+r.ID, "appears twice")
		}
		seen[r.ID] = true
		recs[i] = r
	}
	for _, t := range tombs {
		if err := t.validate(); err != nil {
			return nil, err
		}
		if seen[t.ID] {
			return nil, invalid("visit "+t.ID, "appears twice")
		}
		seen[t.ID] = true
	}
	return recs, nil
}

// Delta is one change of a device's key set: visits to insert or replace,
// and visits to delete. It moves the device from PrevRev to Rev.
type Delta struct {
	V       int         `json:"v"`
	Rev     uint64      `json:"rev"`
	PrevRev uint64      `json:"prev_rev"`
	SentAt  time.Time   `json:"sent_at"`
	Upserts []Visit     `json:"upserts,omitempty"`
	Deletes []Tombstone `json:"deletes,omitempty"`

	records []Record
}

// Records returns the validated upserts (filled by DecodeDelta and Validate).
func (d *Delta) Records() []Record { return d.records }

// Validate checks the delta and fills Records.
func (d *Delta) Validate() error {
	if d.Rev == 0 || d.PrevRev >= d.Rev {
		return invalid("delta", "revision goes backwards (prev_rev %d, rev %d)", d.PrevRev, d.Rev)
	}
	if d.SentAt.IsZero() {
		return invalid("delta", "sent_at missing")
	}
	recs, err := validateSet(d.Upserts, d.Deletes)
	if err != nil {
		return within(fmt.Sprintf("delta rev %d", d.Rev), err)
	}
	d.records = recs
	return nil
}

// Head is the cloud's current revision for a device, published retained so
// that a device sees it on every (re)subscription and can detect deltas it
// missed.
type Head struct {
	V      int       `json:"v"`
	Rev    uint64    `json:"rev"`
	SentAt time.Time `json:"sent_at"`
}

// Validate checks the head.
func (h *Head) Validate() error {
	if h.SentAt.IsZero() {
		return invalid("head", "sent_at missing")
	}
	return nil
}

// SnapshotChunk is one chunk of a complete key set at revision Rev. A
// snapshot is complete when chunks 0..Total-1 of one SnapshotID have arrived;
// visits absent from a complete snapshot are deleted.
type SnapshotChunk struct {
	V          int         `json:"v"`
	SnapshotID string      `json:"snapshot_id"`
	RequestID  string      `json:"request_id,omitempty"` // the request it answers
	Rev        uint64      `json:"rev"`
	Seq        int         `json:"seq"` // 0..Total-1
	Total      int         `json:"total"`
	SentAt     time.Time   `json:"sent_at"`
	Visits     []Visit     `json:"visits"`
	Tombstones []Tombstone `json:"tombstones,omitempty"`

	records []Record
}

// Records returns the validated visits (filled by Validate).
func (c *SnapshotChunk) Records() []Record { return c.records }

// Validate checks the chunk and fills Records.
func (c *SnapshotChunk) Validate() error {
	if err := validID("snapshot", c.SnapshotID); err != nil {
		return err
	}
	if c.Total < 1 || c.Total > MaxChunks || c.Seq < 0 || c.Seq >= c.Total {
		return invalid("snapshot "+c.SnapshotID, "chunk %d of %d out of range", c.Seq, c.Total)
	}
	if c.SentAt.IsZero() {
		return invalid("snapshot "+c.SnapshotID, "sent_at missing")
	}
	recs, err := validateSet(c.Visits, c.Tombstones)
	if err != nil {
		return within(fmt.Sprintf("snapshot %s chunk %d", c.SnapshotID, c.Seq), err)
	}
	c.records = recs
	return nil
}

// SnapshotReason says why a device asks for a snapshot.
type SnapshotReason string

// Snapshot reasons.
const (
	SnapStart       SnapshotReason = "start"        // the daemon started
	SnapGap         SnapshotReason = "gap"          // a delta or the head skipped revisions
	SnapResync      SnapshotReason = "resync"       // a resync command or a technician
	SnapTimeout     SnapshotReason = "timeout"      // chunks stopped arriving
	SnapRejected    SnapshotReason = "rejected"     // a chunk was invalid
	SnapSessionLost SnapshotReason = "session_lost" // the broker lost the session
)

// SnapshotRequest asks the cloud for a complete snapshot.
type SnapshotRequest struct {
	V         int            `json:"v"`
	RequestID string         `json:"request_id"`
	Reason    SnapshotReason `json:"reason"`
	HaveRev   uint64         `json:"have_rev"`
	At        time.Time      `json:"at"`
}

// Validate checks the request.
func (r *SnapshotRequest) Validate() error {
	if err := validRequestID(r.RequestID); err != nil {
		return err
	}
	switch r.Reason {
	case SnapStart, SnapGap, SnapResync, SnapTimeout, SnapRejected, SnapSessionLost:
	default:
		return invalid("snapshot request", "unknown reason %q", r.Reason)
	}
	return nil
}

func validRequestID(id string) error {
	if len(id) < minRequestIDLen || len(id) > maxRequestIDLen || !idChars(id) {
		return invalid("request_id", "must be %d-%d characters of [A-Za-z0-9_-]", minRequestIDLen, maxRequestIDLen)
	}
	return nil
}

// CommandType names a command.
type CommandType string

// Commands.
const (
	CmdWebUnlock    CommandType = "web_unlock"
	CmdRemoteUnlock CommandType = "remote_unlock"
	CmdLockdown     CommandType = "lockdown"
	CmdResync       CommandType = "resync"
	CmdConfig       CommandType = "config"
)

func (t CommandType) String() string { return string(t) }

// Command is a command from the cloud. It is refused when it arrives after
// ExpiresAt, and when its RequestID was seen before.
type Command struct {
	V         int         `json:"v"`
	Type      CommandType `json:"type"`
	RequestID string      `json:"request_id"`
	IssuedAt  time.Time   `json:"issued_at"`
	ExpiresAt time.Time   `json:"expires_at"`
	// web_unlock: the visit and the visitor's web token (a secret: never
	// logged; LogValue leaves it out).
	VisitID string `json:"visit_id,omitempty"`
	Token   string `json:"token,omitempty"`
	// remote_unlock: who asked, for the audit trail.
	Operator string `json:"operator,omitempty"`
	// lockdown: on or off.
	On *bool `json:"on,omitempty"`
	// config: the settings to change.
	Config *ConfigChange `json:"config,omitempty"`
}

// LogValue keeps the web token out of logs.
func (c *Command) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", string(c.Type)), slog.String("request_id", c.RequestID),
		slog.String("visit_id", c.VisitID), slog.Time("expires_at", c.ExpiresAt))
}

// ConfigChange is the config command's payload; absent fields are left
// unchanged.
type ConfigChange struct {
	UnlockSeconds          *int   `json:"unlock_seconds,omitempty"` // 1..60
	VisitKeysEnabled       *bool  `json:"visit_keys_enabled,omitempty"`
	DoorMode               string `json:"door_mode,omitempty"` // "normal" or "third_party"
	TimeZone               string `json:"time_zone,omitempty"` // IANA name, e.g. "Europe/Berlin"
	SingleUseWindowSeconds *int   `json:"single_use_window_seconds,omitempty"`
}

// ParseDoorMode parses a door mode's wire name.
func ParseDoorMode(s string) (access.DoorMode, error) {
	for _, m := range []access.DoorMode{access.DoorModeNormal, access.DoorModeThirdParty} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, invalid("door_mode", "unknown door mode %q", s)
}

func (c *ConfigChange) validate() error {
	if c.UnlockSeconds == nil && c.VisitKeysEnabled == nil && c.DoorMode == "" && c.TimeZone == "" && c.SingleUseWindowSeconds == nil {
		return invalid("config", "changes nothing")
	}
	if c.UnlockSeconds != nil && (*c.UnlockSeconds < 1 || *c.UnlockSeconds > 60) {
		return invalid("config", "unlock_seconds must be 1-60")
	}
	if c.DoorMode != "" {
		if _, err := ParseDoorMode(c.DoorMode); err != nil {
			return err
		}
	}
	if c.TimeZone != "" && (len(c.TimeZone) > maxTimeZoneLength || !tzChars(c.TimeZone)) {
		return invalid("config", "time_zone %q is not an IANA name", c.TimeZone)
	}
	if c.SingleUseWindowSeconds != nil && (*c.SingleUseWindowSeconds < 10 || *c.SingleUseWindowSeconds > 86400) {
		return invalid("config", "single_use_window_seconds must be 10-86400")
	}
	return nil
}

func tzChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '+' || c == '/') {
			return false
		}
	}
	return !strings.Contains(s, "..") && !strings.HasPrefix(s, "/")
}

// Validate checks the command's form; expiry and replay are the receiver's
// checks, since they need its clock and memory.
func (c *Command) Validate() error {
	if err := validRequestID(c.RequestID); err != nil {
		return err
	}
	what := "command " + c.RequestID
	if c.IssuedAt.IsZero() || c.ExpiresAt.IsZero() || !c.IssuedAt.Before(c.ExpiresAt) {
		return invalid(what, "issued_at must be before expires_at")
	}
	if c.ExpiresAt.Sub(c.IssuedAt) > MaxCommandLife {
		return invalid(what, "lives longer than %v", MaxCommandLife)
	}
	switch c.Type {
	case CmdWebUnlock:
		if err := validID("visit", c.VisitID); err != nil {
			return within(what, err)
		}
		if _, err := access.Normalize(access.KindWeb, c.Token); err != nil {
			return invalid(what, "token is not a valid web token")
		}
	case CmdRemoteUnlock:
		if len(c.Operator) > maxIDLen {
			return invalid(what, "operator longer than %d", maxIDLen)
		}
	case CmdLockdown:
		if c.On == nil {
			return invalid(what, "lockdown needs \"on\"")
		}
	case CmdResync:
	case CmdConfig:
		if c.Config == nil {
			return invalid(what, "config needs \"config\"")
		}
		if err := c.Config.validate(); err != nil {
			return within(what, err)
		}
	default:
		return invalid(what, "unknown type %q", c.Type)
	}
	return nil
}

// ResultStatus is a command's outcome.
type ResultStatus string

// Result statuses.
const (
	StatusOK      ResultStatus = "ok"      // done; for web_unlock, granted
	StatusDenied  ResultStatus = "denied"  // web_unlock decided and denied; Reason is the access reason
	StatusRefused ResultStatus = "refused" // not carried out; Reason is a refusal below
	StatusError   ResultStatus = "error"   // carrying it out failed; Detail says why
)

// Refusal reasons in results (access reasons are used for denials).
const (
	RefusedExpired  = "expired"  // arrived after expires_at
	RefusedReplayed = "replayed" // request id seen before, or issued before the device's replay horizon
	RefusedInvalid  = "invalid"  // the command did not validate
)

// Result answers a command, echoing its request id.
type Result struct {
	V         int          `json:"v"`
	RequestID string       `json:"request_id"`
	Type      CommandType  `json:"type,omitempty"`
	Status    ResultStatus `json:"status"`
	Reason    string       `json:"reason,omitempty"`
	VisitID   string       `json:"visit_id,omitempty"`
	At        time.Time    `json:"at"`
	Detail    string       `json:"detail,omitempty"`
}

// Validate checks the result.
func (r *Result) Validate() error {
	switch r.Status {
	case StatusOK, StatusDenied, StatusRefused, StatusError:
	default:
		return invalid("result", "unknown status %q", r.Status)
	}
	if r.RequestID == "" || len(r.RequestID) > maxRequestIDLen {
		return invalid("result", "request_id missing or too long")
	}
	if len(r.Detail) > maxDetailLen {
		return invalid("result", "detail longer than %d", maxDetailLen)
	}
	return nil
}

// EventBatch carries events from the device's outbox, oldest first.
type EventBatch struct {
	V      int            `json:"v"`
	Device string         `json:"device"`
	Events []access.Event `json:"events"`
}

// Validate checks the batch.
func (b *EventBatch) Validate() error {
	if err := ValidDevice(b.Device); err != nil {
		return err
	}
	if len(b.Events) < 1 || len(b.Events) > MaxItems {
		return invalid("events", "batch needs 1-%d events", MaxItems)
	}
	for i := range b.Events {
		if err := ValidEvent(&b.Events[i]); err != nil {
			return err
		}
	}
	return nil
}

// ValidEvent checks one event: a 32-hex-digit id, a type and a time.
func ValidEvent(e *access.Event) error {
	if len(e.ID) != 32 || !lowerHex(e.ID) {
		return invalid("event", "id %q is not 32 lowercase hex digits", e.ID)
	}
	if e.Type == "" || e.At.IsZero() {
		return invalid("event "+e.ID, "type and at are required")
	}
	return nil
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Status is the device's retained status. The last will is the same message
// with State "offline".
type Status struct {
	V             int               `json:"v"`
	Device        string            `json:"device"`
	State         string            `json:"state"` // "online" or "offline"
	At            time.Time         `json:"at,omitzero"`
	Revision      uint64            `json:"revision"`
	CacheSize     int               `json:"cache_size"`
	OutboxDepth   int               `json:"outbox_depth"`
	OutboxDropped uint64            `json:"outbox_dropped,omitempty"` // dropped because the outbox was full
	Quarantined   uint64            `json:"quarantined,omitempty"`    // events that could never be sent
	ClockTrusted  bool              `json:"clock_trusted"`
	ClockWhy      string            `json:"clock_why,omitempty"`
	Lockdown      bool              `json:"lockdown"`
	Readers       map[string]string `json:"readers,omitempty"` // reader id → "ok", "offline", "error: ..."
	Version       string            `json:"version,omitempty"`
}

// Status states.
const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// Validate checks the status.
func (s *Status) Validate() error {
	if err := ValidDevice(s.Device); err != nil {
		return err
	}
	if s.State != StateOnline && s.State != StateOffline {
		return invalid("status", "state must be online or offline")
	}
	return nil
}

// PlateRead is a licence plate read by an LPR camera.
type PlateRead struct {
	V          int       `json:"v"`
	Camera     string    `json:"camera"`
	Plate      string    `json:"plate"`
	Confidence float64   `json:"confidence"` // 0..1
	At         time.Time `json:"at"`
}

// Validate checks the read; the plate must normalise.
func (p *PlateRead) Validate() error {
	return validRead("plate read", p.Camera, access.KindPlate, "plate", p.Plate, "confidence", p.Confidence, p.At)
}

// validRead checks what plate and face reads have in common.
func validRead(what, camera string, k access.Kind, valueName, value, scoreName string, score float64, at time.Time) error {
	if err := validID("camera", camera); err != nil {
		return err
	}
	if _, err := access.Normalize(k, value); err != nil {
		return invalid(what, "%s does not normalise as a %s credential", valueName, k)
	}
	if !(score >= 0 && score <= 1) {
		return invalid(what, "%s must be 0-1", scoreName)
	}
	if at.IsZero() {
		return invalid(what, "at missing")
	}
	return nil
}

// FaceRead is a face match by an upstream recogniser: the matched subject
// id, never a template.
type FaceRead struct {
	V       int       `json:"v"`
	Camera  string    `json:"camera"`
	Subject string    `json:"subject"`
	Score   float64   `json:"score"` // 0..1
	At      time.Time `json:"at"`
}

// Validate checks the read.
func (f *FaceRead) Validate() error {
	return validRead("face read", f.Camera, access.KindFace, "subject", f.Subject, "score", f.Score, f.At)
}

// Message is any message of the protocol.
type Message interface {
	Validate() error
	version() *int
}

func (d *Delta) version() *int           { return &d.V }
func (h *Head) version() *int            { return &h.V }
func (c *SnapshotChunk) version() *int   { return &c.V }
func (r *SnapshotRequest) version() *int { return &r.V }
func (c *Command) version() *int         { return &c.V }
func (r *Result) version() *int          { return &r.V }
func (b *EventBatch) version() *int      { return &b.V }
func (s *Status) version() *int          { return &s.V }
func (p *PlateRead) version() *int       { return &p.V }
func (f *FaceRead) version() *int        { return &f.V }

// Decode decodes and validates payload b into m: the size, JSON, version and
// content checks, in that order.
func Decode(b []byte, m Message) error {
	if len(b) > MaxPayload {
		return fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(b), MaxPayload)
	}
	if err := json.Unmarshal(b, m); err != nil {
		// A message of another version may well fail to decode: say so.
		var probe struct {
			V json.RawMessage `json:"v"`
		}
		if json.Unmarshal(b, &probe) == nil && len(probe.V) > 0 && string(probe.V) != "1" {
			return fmt.Errorf("%w: v=%.16s", ErrVersion, probe.V)
		}
		return fmt.Errorf("%w: %w", ErrMalformed, jsonError(err))
	}
	if v := *m.version(); v != Version {
		return fmt.Errorf("%w: v=%d", ErrVersion, v)
	}
	return m.Validate()
}

// jsonError shortens encoding/json's errors and never echoes payload bytes
// beyond the offending field name, since commands may carry a token.
func jsonError(err error) error {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Errorf("field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Errorf("syntax error at offset %d", se.Offset)
	}
	return errors.New(strings.ReplaceAll(err.Error(), "json: ", ""))
}

// Encode sets the version, validates m and marshals it, refusing a result
// over MaxPayload.
func Encode(m Message) ([]byte, error) {
	*m.version() = Version
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wire: encode: %w", err)
	}
	if len(b) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(b), MaxPayload)
	}
	return b, nil
}

// PeekRequestID extracts a command's request id from a payload that failed
// to decode, so that a refusal can still be answered; "" if there is none.
func PeekRequestID(b []byte) string {
	if len(b) > MaxPayload {
		return ""
	}
	var p struct {
		RequestID string `json:"request_id"`
	}
	if json.Unmarshal(b, &p) != nil || validRequestID(p.RequestID) != nil {
		return ""
	}
	return p.RequestID
}
