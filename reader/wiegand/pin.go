package wiegand

import "time"

// PIN entry limits.
const (
	DefaultPINTimeout = 5 * time.Second
	MaxPINDigits      = 12
)

// PINOutcome is what one key did to a PIN entry.
type PINOutcome uint8

// PIN outcomes.
const (
	PINCollecting PINOutcome = iota // a digit was added
	PINSubmitted                    // '#' with digits: the PIN is returned
	PINCleared                      // '*' cleared the entry
	PINEmpty                        // '#' with nothing entered
	PINOverflow                     // a digit beyond MaxPINDigits discarded the entry
	PINExpired                      // the pause before this key exceeded the timeout; the old digits were discarded
)

var pinOutcomeNames = [...]string{"collecting", "submitted", "cleared", "empty", "overflow", "expired"}

func (o PINOutcome) String() string {
	if int(o) < len(pinOutcomeNames) {
		return pinOutcomeNames[o]
	}
	return "pin_outcome(?)"
}

// PINCollector gathers keypad keys into a PIN: digits are collected, '#'
// submits, '*' clears, a pause longer than Timeout between keys discards the
// entry, and an entry longer than MaxPINDigits is discarded. It is pure (the
// caller passes the time) and not safe for concurrent use. Digits are wiped
// from memory when an entry ends.
type PINCollector struct {
	Timeout time.Duration // zero means DefaultPINTimeout

	buf  [MaxPINDigits]byte
	n    int
	last time.Time
}

func (p *PINCollector) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultPINTimeout
}

func (p *PINCollector) reset() {
	clear(p.buf[:])
	p.n = 0
}

// Pending reports how many digits are held.
func (p *PINCollector) Pending() int { return p.n }

// Expire discards a pending entry whose last key is older than the timeout;
// it reports whether it did.
func (p *PINCollector) Expire(now time.Time) bool {
	if p.n > 0 && now.Sub(p.last) > p.timeout() {
		p.reset()
		return true
	}
	return false
}

// Key applies one key at time at. When the outcome is PINSubmitted, pin holds
// the digits. A digit that follows an expired entry starts a new entry and
// reports PINExpired.
func (p *PINCollector) Key(key uint8, at time.Time) (pin string, out PINOutcome) {
	expired := p.Expire(at)
	p.last = at
	switch {
	case key <= 9:
		if p.n == MaxPINDigits {
			p.reset()
			return "", PINOverflow
		}
		p.buf[p.n] = '0' + key
		p.n++
		if expired {
			return "", PINExpired
		}
		return "", PINCollecting
	case key == KeyStar:
		p.reset()
		return "", PINCleared
	case key == KeyHash:
		if p.n == 0 {
			if expired {
				return "", PINExpired
			}
			return "", PINEmpty
		}
		pin = string(p.buf[:p.n])
		p.reset()
		return pin, PINSubmitted
	}
	return "", PINCollecting
}
