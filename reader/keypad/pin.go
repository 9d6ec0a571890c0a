package keypad

import (
	"fmt"
	"time"
)

// PIN-entry defaults.
const (
	DefaultDigitTimeout = 5 * time.Second
	DefaultMaxDigits    = 12
)

// Outcome is what one key did to a PIN entry.
type Outcome uint8

// Outcomes of Entry.Key.
const (
	OutcomeNone       Outcome = iota // the key was absorbed: a digit collected, or ignored
	OutcomeSubmit                    // '#' with digits: the PIN is in Result.PIN
	OutcomeCleared                   // '*' discarded the digits
	OutcomeTooLong                   // a digit beyond the maximum: the entry was discarded
	OutcomeInvalidKey                // a key code that is not 0-9, '*' or '#'
)

func (o Outcome) String() string {
	switch o {
	case OutcomeNone:
		return "none"
	case OutcomeSubmit:
		return "submit"
	case OutcomeCleared:
		return "cleared"
	case OutcomeTooLong:
		return "too_long"
	case OutcomeInvalidKey:
		return "invalid_key"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Result is the effect of one key.
type Result struct {
	Outcome Outcome
	PIN     string // on OutcomeSubmit only; a secret: never log it
	// Expired reports that a pending entry was discarded because the key came
	// more than the digit timeout after the previous one. The key itself was
	// then applied to a fresh entry.
	Expired bool
}

// Entry is the PIN-entry state machine: a pure function of (key, time), so
// that its timeout rules are tested without I/O. Digits are collected; '#'
// submits them; '*' clears them; a gap of DigitTimeout or more between two
// keys discards them; a digit beyond MaxDigits discards the entry and the
// rest of the keys up to the next '#' or '*' are ignored.
type Entry struct {
	DigitTimeout time.Duration // zero means DefaultDigitTimeout
	MaxDigits    int           // zero means DefaultMaxDigits

	digits   [64]byte
	n        int
	overflow bool // too long: ignore digits until '#', '*' or timeout
	last     time.Time
}

func (e *Entry) timeout() time.Duration {
	if e.DigitTimeout <= 0 {
		return DefaultDigitTimeout
	}
	return e.DigitTimeout
}

func (e *Entry) max() int {
	if e.MaxDigits <= 0 || e.MaxDigits > len(e.digits) {
		return DefaultMaxDigits
	}
	return e.MaxDigits
}

// Pending reports whether digits (or an overflowed entry) are waiting.
func (e *Entry) Pending() bool { return e.n > 0 || e.overflow }

// Len returns the number of digits collected.
func (e *Entry) Len() int { return e.n }

// Deadline returns when the pending entry expires, if one is pending.
func (e *Entry) Deadline() (time.Time, bool) {
	if !e.Pending() {
		return time.Time{}, false
	}
	return e.last.Add(e.timeout()), true
}

// Expire discards the pending entry if its deadline has passed at now and
// reports whether it did.
func (e *Entry) Expire(now time.Time) bool {
	if d, ok := e.Deadline(); ok && !now.Before(d) {
		e.reset()
		return true
	}
	return false
}

func (e *Entry) reset() {
	clear(e.digits[:])
	e.n = 0
	e.overflow = false
}

// Key applies one key pressed at at.
func (e *Entry) Key(key byte, at time.Time) Result {
	var r Result
	r.Expired = e.Expire(at)
	switch {
	case key >= '0' && key <= '9':
		e.last = at
		if e.overflow {
			return r
		}
		if e.n == e.max() {
			e.reset()
			e.overflow = true
			r.Outcome = OutcomeTooLong
			return r
		}
		e.digits[e.n] = key
		e.n++
	case key == '#':
		if e.n > 0 {
			r.Outcome = OutcomeSubmit
			r.PIN = string(e.digits[:e.n])
		}
		e.reset()
	case key == '*':
		if e.n > 0 {
			r.Outcome = OutcomeCleared
		}
		e.reset()
	default:
		r.Outcome = OutcomeInvalidKey
	}
	return r
}
