package access

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// PIN brute-force protection, per keypad reader (Credential.Reader):
//
//   - A wrong PIN is a PIN credential that is invalid or unknown. PINs that
//     belong to a visit but are refused for another reason (ended, other
//     intercom, ...) are not guesses and do not count.
//   - LockoutFailures wrong PINs within LockoutWindow block the keypad for
//     LockoutBase; each further block (strike) doubles, up to LockoutMax.
//   - During a block every PIN is refused with keypad_locked_out without
//     validation or lookup, even a correct one, and it does not count.
//   - A granted PIN clears the wrong-PIN list, but not the strikes.
//   - Strikes decay to zero once the keypad has been quiet for LockoutMax
//     after its last block ended. Waiting for the decay therefore never lets
//     an attacker guess faster than the LockoutMax block allows.
//
// The state transitions are pure functions on LockoutState so that Explain
// can show them without applying them.

// blocked reports whether reader is blocked at now.
func (e *Engine) blocked(reader string, now time.Time) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if st := e.keypads[reader]; st != nil && now.Before(st.Until) {
		return st.Until, true
	}
	return time.Time{}, false
}

// wrongPIN counts a wrong PIN on reader, possibly starting a block.
func (e *Engine) wrongPIN(d *decision, reader string, now time.Time, cfg *Config) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.state(reader)
	if now.Before(old.Until) {
		// A concurrent wrong PIN started a block after this one passed the
		// check: the block is already there, do not extend it.
		return
	}
	st, began := failPIN(old, now, cfg)
	if d.explain {
		last := &d.Trace[len(d.Trace)-1]
		if began {
			last.Detail += fmt.Sprintf("; wrong PIN would block keypad %s until %s (strike %d)", reader, st.Until.UTC().Format(time.RFC3339), st.Strikes)
		} else {
			last.Detail += fmt.Sprintf("; wrong PIN %d of %d on keypad %s", len(st.Failures), cfg.LockoutFailures, reader)
		}
		return
	}
	e.put(st, now)
	d.Lockout = &st
	if began {
		d.Events = append(d.Events, Event{ID: NewEventID(), Type: EventKeypadLockout, At: now,
			Reason: ReasonKeypadLockedOut, Kind: KindPIN.String(), Reader: reader,
			Detail: fmt.Sprintf("%d wrong PINs: blocked for %s (strike %d)", cfg.LockoutFailures, st.Until.Sub(now), st.Strikes)})
	}
}

// goodPIN is called when a PIN would be granted. It refuses it if a block
// began meanwhile (a concurrent wrong PIN on the same keypad) and otherwise
// clears the wrong-PIN list.
func (e *Engine) goodPIN(d *decision, reader string, now time.Time, cfg *Config) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.state(reader)
	if now.Before(old.Until) {
		d.fail(RuleKeypadLockout, ReasonKeypadLockedOut, "keypad blocked until "+old.Until.UTC().Format(time.RFC3339))
		return false
	}
	st := decay(old, now, cfg)
	st.Failures = nil
	if d.explain || lockoutEqual(old, st) {
		return true
	}
	e.put(st, now)
	d.Lockout = &st
	return true
}

// state returns a copy of reader's state; e.mu is held.
func (e *Engine) state(reader string) LockoutState {
	st := e.keypads[reader]
	if st == nil {
		return LockoutState{Reader: reader}
	}
	c := *st
	c.Failures = slices.Clone(st.Failures)
	return c
}

// put stores st, forgetting idle keypads; e.mu is held.
func (e *Engine) put(st LockoutState, now time.Time) {
	if len(st.Failures) == 0 && st.Strikes == 0 && !now.Before(st.Until) {
		delete(e.keypads, st.Reader)
		return
	}
	c := st
	c.Failures = slices.Clone(st.Failures)
	e.keypads[st.Reader] = &c
}

// failPIN returns the state after a wrong PIN at now and whether it began a block.
func failPIN(st LockoutState, now time.Time, cfg *Config) (LockoutState, bool) {
	st = decay(st, now, cfg)
	st.Failures = append(prune(st.Failures, now, cfg.LockoutWindow), now)
	if len(st.Failures) < cfg.LockoutFailures {
		return st, false
	}
	st.Strikes++
	st.Until = now.Add(blockFor(st.Strikes, cfg))
	st.LastAt = now
	st.Failures = nil
	return st, true
}

// decay clears the strikes once the keypad has been quiet for LockoutMax
// after its last block ended, and drops stale failures.
func decay(st LockoutState, now time.Time, cfg *Config) LockoutState {
	if st.Strikes > 0 && !now.Before(st.Until.Add(cfg.LockoutMax)) {
		st.Strikes = 0
	}
	if st.Strikes == 0 && !now.Before(st.Until) {
		// Nothing left to remember about past blocks: keep the state
		// canonical so a persisted and a live engine agree.
		st.Until, st.LastAt = time.Time{}, time.Time{}
	}
	st.Failures = prune(st.Failures, now, cfg.LockoutWindow)
	return st
}

// prune keeps the failures younger than window. Failures "in the future"
// (the clock was set back) are kept: forgetting them would help an attacker.
func prune(f []time.Time, now time.Time, window time.Duration) []time.Time {
	cut := now.Add(-window)
	out := f[:0:0]
	for _, t := range f {
		if t.After(cut) {
			out = append(out, t)
		}
	}
	return out
}

// blockFor is LockoutBase doubled for each strike after the first, capped at
// LockoutMax.
func blockFor(strikes int, cfg *Config) time.Duration {
	b := cfg.LockoutBase
	for i := 1; i < strikes && b < cfg.LockoutMax; i++ {
		b *= 2
	}
	return min(b, cfg.LockoutMax)
}

func lockoutEqual(a, b LockoutState) bool {
	return a.Reader == b.Reader && a.Until.Equal(b.Until) && a.Strikes == b.Strikes &&
		a.LastAt.Equal(b.LastAt) && slices.EqualFunc(a.Failures, b.Failures, time.Time.Equal)
}

// RestoreLockout loads persisted keypad states, e.g. at start, so that a
// restart neither lifts a block nor forgets strikes. It replaces the state
// of each reader named; other readers keep theirs.
func (e *Engine) RestoreLockout(states []LockoutState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range states {
		c := s
		c.Failures = slices.Clone(s.Failures)
		slices.SortFunc(c.Failures, time.Time.Compare)
		if c.Strikes < 0 {
			c.Strikes = 0
		}
		if len(c.Failures) == 0 && c.Strikes == 0 && c.Until.IsZero() {
			delete(e.keypads, c.Reader)
			continue
		}
		e.keypads[c.Reader] = &c
	}
}

// Lockouts returns a copy of every keypad state the engine holds, sorted by
// reader, for status displays and persistence.
func (e *Engine) Lockouts() []LockoutState {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]LockoutState, 0, len(e.keypads))
	for r := range e.keypads {
		out = append(out, e.state(r))
	}
	slices.SortFunc(out, func(a, b LockoutState) int { return strings.Compare(a.Reader, b.Reader) })
	return out
}
