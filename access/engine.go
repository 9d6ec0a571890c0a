package access

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultSingleUseWindow = 5 * time.Minute
	DefaultLockoutFailures = 5
	DefaultLockoutWindow   = 60 * time.Second
	DefaultLockoutBase     = 30 * time.Second
	DefaultLockoutMax      = 15 * time.Minute
)

// Rule names as they appear in Verdict.Rule, in evaluation order. They are
// stable: intercomctl explain and the docs show them.
const (
	RuleKeypadLockout    = "keypad_lockout"
	RuleNormalise        = "normalise"
	RuleLockdown         = "lockdown"
	RuleClock            = "clock"
	RuleVisitKeysEnabled = "visit_keys_enabled"
	RuleDoorMode         = "door_mode"
	RuleLookup           = "lookup"
	RuleDeleted          = "deleted"
	RuleVisitMatch       = "visit_match"
	RuleIntercom         = "intercom"
	RuleWindow           = "window"
	RuleWeekday          = "weekday"
	RuleDailyWindow      = "daily_window"
	RuleUse              = "use"
)

// Engine decides credentials. It holds the configuration (replaceable at
// runtime) and the per-keypad PIN brute-force state. Its methods are safe for
// concurrent use.
type Engine struct {
	cfg    atomic.Pointer[Config]
	lookup Lookup
	hasher *Hasher

	mu      sync.Mutex
	keypads map[string]*LockoutState // by reader; only non-idle keypads
}

// New returns an engine that finds visits through lookup and hashes
// credentials with hasher. Zero Config fields take the documented defaults.
// New does no I/O.
func New(cfg Config, lookup Lookup, hasher *Hasher) *Engine {
	e := &Engine{lookup: lookup, hasher: hasher, keypads: make(map[string]*LockoutState)}
	e.SetConfig(cfg)
	return e
}

// SetConfig replaces the configuration; decisions already running finish
// with the old one. Zero fields take the defaults.
func (e *Engine) SetConfig(cfg Config) {
	c := withDefaults(cfg)
	e.cfg.Store(&c)
}

// Config returns the configuration in effect, with defaults filled in.
func (e *Engine) Config() Config { return *e.cfg.Load() }

func withDefaults(c Config) Config {
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.SingleUseWindow <= 0 {
		c.SingleUseWindow = DefaultSingleUseWindow
	}
	if c.LockoutFailures <= 0 {
		c.LockoutFailures = DefaultLockoutFailures
	}
	if c.LockoutWindow <= 0 {
		c.LockoutWindow = DefaultLockoutWindow
	}
	if c.LockoutBase <= 0 {
		c.LockoutBase = DefaultLockoutBase
	}
	if c.LockoutMax <= 0 {
		c.LockoutMax = DefaultLockoutMax
	}
	if c.LockoutMax < c.LockoutBase {
		c.LockoutMax = c.LockoutBase
	}
	return c
}

// Decide decides one credential at clk.Now and returns the decision with the
// events that must be committed durably before its effect. It may change the
// keypad's brute-force state (then Decision.Lockout is set). The decision
// time is clk.Now, or c.At when clk.Now is zero. It is safe for concurrent
// use.
func (e *Engine) Decide(c Credential, clk Clock) Decision {
	return e.decide(c, clk, false)
}

// Explain evaluates c exactly like Decide but changes nothing: it is a dry run
// for technicians. The result has DryRun set, no Events, no Lockout and no
// first-use mark, and its Trace carries a detail for every rule. The daemon
// must never act on it (the store refuses to commit a dry run).
func (e *Engine) Explain(c Credential, clk Clock) Decision {
	return e.decide(c, clk, true)
}

// decision accumulates one decision's verdicts.
type decision struct {
	Decision
	explain bool
}

// pass records a passing rule. The detail, the concatenation of parts, is
// built only by Explain, to keep the grant path free of allocations.
func (d *decision) pass(rule string, parts ...string) {
	var detail string
	if d.explain {
		detail = strings.Join(parts, "")
	}
	d.Trace = append(d.Trace, Verdict{Rule: rule, Pass: true, Detail: detail})
}

// fail records the failing rule and the decision's reason.
func (d *decision) fail(rule string, r Reason, detail string) {
	d.Trace = append(d.Trace, Verdict{Rule: rule, Pass: false, Detail: detail})
	d.Reason = r
	d.Grant = false
}

func (e *Engine) decide(c Credential, clk Clock, dry bool) Decision {
	start := time.Now()
	cfg := e.cfg.Load()
	now := clk.Now
	if now.IsZero() {
		now = c.At
	}
	d := &decision{explain: dry}
	d.Kind, d.Reader, d.At, d.DryRun = c.Kind, c.Reader, now, dry
	d.Trace = make([]Verdict, 0, 16)
	if !dry {
		// Slot 0 is the access event, filled in last; visit.started or
		// keypad.lockout may follow.
		d.Events = make([]Event, 1, 2)
	}

	e.rules(d, c, clk, now, cfg)

	if dry {
		d.Events, d.Lockout, d.FirstUse, d.UseAt = nil, nil, false, time.Time{}
		d.Took = time.Since(start)
		return d.Decision
	}
	d.Took = time.Since(start)
	typ := EventAccessDenied
	if d.Grant {
		typ = EventAccessGranted
	}
	d.Events[0] = Event{ID: NewEventID(), Type: typ, At: now, Reason: d.Reason, VisitID: d.VisitID,
		Kind: c.Kind.String(), Reader: c.Reader, TookUS: d.Took.Microseconds()}
	return d.Decision
}

// rules applies the rules in order, stopping at the first refusal. The order
// is documented in docs/decisions.md.
func (e *Engine) rules(d *decision, c Credential, clk Clock, now time.Time, cfg *Config) {
	isPIN := c.Kind == KindPIN
	// A blocked keypad answers every PIN alike, before anything else: no
	// validation, no lookup, and the attempt neither counts nor extends the block.
	if isPIN {
		if until, blocked := e.blocked(c.Reader, now); blocked {
			d.fail(RuleKeypadLockout, ReasonKeypadLockedOut, "keypad blocked until "+until.UTC().Format(time.RFC3339))
			return
		}
		d.pass(RuleKeypadLockout, "keypad ", c.Reader, " not blocked")
	}

	if _, err := Normalize(c.Kind, c.Value); err != nil {
		// Never the error text: it may quote part of the value.
		d.fail(RuleNormalise, ReasonInvalidCredential, "not a valid "+c.Kind.String())
		if isPIN {
			e.wrongPIN(d, c.Reader, now, cfg)
		}
		return
	}
	d.pass(RuleNormalise, "valid ", c.Kind.String())

	if cfg.Lockdown {
		d.fail(RuleLockdown, ReasonLockdown, "intercom in lockdown")
		return
	}
	d.pass(RuleLockdown, "no lockdown")

	if !clk.Trusted {
		why := clk.Why
		if why == "" {
			why = "clock not trusted"
		}
		d.fail(RuleClock, ReasonClockUntrusted, why)
		return
	}
	d.pass(RuleClock, "clock trusted")

	if !cfg.VisitKeysEnabled {
		d.fail(RuleVisitKeysEnabled, ReasonVisitKeysDisabled, "visit keys disabled on this intercom")
		return
	}
	d.pass(RuleVisitKeysEnabled, "visit keys enabled")

	if cfg.DoorMode != DoorModeNormal { // an unknown mode fails secure too
		d.fail(RuleDoorMode, ReasonThirdPartyDoorMode, "door in "+cfg.DoorMode.String()+" mode")
		return
	}
	d.pass(RuleDoorMode, "door mode ", cfg.DoorMode.String())

	v, firstUse, err := e.find(c)
	switch {
	case errors.Is(err, ErrNotFound):
		d.fail(RuleLookup, ReasonUnknownCredential, "no visit holds this "+c.Kind.String())
		if isPIN {
			e.wrongPIN(d, c.Reader, now, cfg)
		}
		return
	case err != nil:
		// Fail secure: a store that cannot answer opens nothing, and the
		// keypad is not blamed for it.
		d.fail(RuleLookup, ReasonLookupFailed, err.Error())
		return
	}
	d.VisitID = v.ID
	d.SingleUse = v.SingleUse
	d.UseWindow = cfg.SingleUseWindow
	d.pass(RuleLookup, "visit ", v.ID)

	if v.Deleted {
		d.fail(RuleDeleted, ReasonVisitDeleted, "visit deleted")
		return
	}
	d.pass(RuleDeleted, "visit not deleted")

	if c.Kind == KindWeb || c.VisitID != "" {
		if c.VisitID != v.ID {
			d.fail(RuleVisitMatch, ReasonVisitMismatch, "credential claims another visit")
			return
		}
		d.pass(RuleVisitMatch, "claimed visit matches")
	}

	if !slices.Contains(v.Intercoms, cfg.Intercom) {
		d.fail(RuleIntercom, ReasonIntercomNotOnVisit, "intercom "+cfg.Intercom+" not on visit")
		return
	}
	d.pass(RuleIntercom, "intercom ", cfg.Intercom, " on visit")

	switch {
	case now.Before(v.Start):
		d.fail(RuleWindow, ReasonNotYetValid, "visit starts "+v.Start.In(cfg.Location).Format(time.RFC3339))
		return
	case !now.Before(v.End):
		d.fail(RuleWindow, ReasonExpired, "visit ended "+v.End.In(cfg.Location).Format(time.RFC3339))
		return
	}
	d.pass(RuleWindow, "inside visit window")

	if spansDays(v, cfg.Location) {
		r, rule, detail := restrict(v, now, cfg.Location, d.explain)
		if r != "" {
			d.fail(rule, r, detail)
			return
		}
		d.pass(RuleWeekday, detail)
		d.pass(RuleDailyWindow, detail)
	} else if d.explain {
		d.pass(RuleWeekday, "visit within one day: restrictions do not apply")
	}

	if !firstUse.IsZero() {
		if v.SingleUse && !now.Before(firstUse.Add(cfg.SingleUseWindow)) {
			d.fail(RuleUse, ReasonSingleUseSpent, fmt.Sprintf("single use: first used %s, window %s", firstUse.UTC().Format(time.RFC3339), cfg.SingleUseWindow))
			return
		}
		d.pass(RuleUse, "used before, still valid")
	} else {
		d.FirstUse, d.UseAt = true, now
		d.pass(RuleUse, "first use")
	}

	if isPIN && !e.goodPIN(d, c.Reader, now, cfg) {
		return
	}
	d.Grant, d.Reason = true, ReasonGranted
	if d.FirstUse && !d.explain {
		d.Events = append(d.Events, Event{ID: NewEventID(), Type: EventVisitStarted, At: now,
			VisitID: v.ID, Kind: c.Kind.String(), Reader: c.Reader})
	}
}

func (e *Engine) find(c Credential) (Visit, time.Time, error) {
	if e.hasher == nil || e.lookup == nil {
		return Visit{}, time.Time{}, errors.New("access: engine has no hasher or lookup")
	}
	h, err := e.hasher.Hash(c.Kind, c.Value)
	if err != nil {
		return Visit{}, time.Time{}, fmt.Errorf("access: hash: %w", err)
	}
	return e.lookup.Find(h)
}
