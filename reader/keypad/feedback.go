package keypad

import (
	"time"

	"github.com/intercomd/intercomd/access"
)

// Feedback is what the keypad shows and sounds after a PIN: one LED command
// and one buzzer command, sent together.
type Feedback struct {
	LED    LED
	Buzzer Buzzer
}

// The feedback patterns (docs/td63.md, "Feedback").
var (
	// FeedbackGrant: green for 3 s, one 150 ms beep.
	FeedbackGrant = Feedback{LED{Green, Solid, 3 * time.Second}, Buzzer{1, 150 * time.Millisecond, 0}}
	// FeedbackDeny: red for 2 s, three 100 ms beeps 100 ms apart.
	FeedbackDeny = Feedback{LED{Red, Solid, 2 * time.Second}, Buzzer{3, 100 * time.Millisecond, 100 * time.Millisecond}}
	// FeedbackLockout: red fast blink for the rest of the block (at least
	// 5 s), one long 1 s beep, so that it cannot be mistaken for a deny.
	FeedbackLockout = Feedback{LED{Red, BlinkFast, 5 * time.Second}, Buzzer{1, time.Second, 0}}
	// FeedbackDiscard: amber for 1 s, two 50 ms chirps, when an entry is
	// thrown away (too many digits, or the inter-digit timeout).
	FeedbackDiscard = Feedback{LED{Amber, Solid, time.Second}, Buzzer{2, 50 * time.Millisecond, 50 * time.Millisecond}}
)

// FeedbackFor returns the feedback for a decision: grant; lockout when the
// keypad is blocked (reason keypad_locked_out) or this wrong PIN has just
// blocked it (its Lockout state ends after its At), lasting until the block
// ends when the decision says; otherwise deny.
func FeedbackFor(d access.Decision) Feedback {
	switch {
	case d.Grant:
		return FeedbackGrant
	case isLockout(d):
		f := FeedbackLockout
		if d.Lockout != nil && !d.At.IsZero() {
			if left := d.Lockout.Until.Sub(d.At); left > f.LED.Duration {
				f.LED.Duration = min(left, maxMS)
			}
		}
		return f
	}
	return FeedbackDeny
}

func isLockout(d access.Decision) bool {
	return !d.Grant && (d.Reason == access.ReasonKeypadLockedOut ||
		d.Lockout != nil && !d.At.IsZero() && d.Lockout.Until.After(d.At))
}

// Append appends the two command frames, numbered seq and seq+1.
func (f Feedback) Append(dst []byte, seq uint8) []byte {
	dst, _ = f.LED.Frame(seq).Append(dst) // fixed-size payloads: cannot fail
	dst, _ = f.Buzzer.Frame(seq + 1).Append(dst)
	return dst
}
