package access_test

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/intercomd/intercomd/access"
)

// TestLockoutProperties runs random PIN sequences on two keypads and checks:
//   - a daemon that restarts before every attempt, restoring the persisted
//     Decision.Lockout states, decides exactly like one that never restarts;
//   - while a block is on, every PIN on that keypad is refused unlooked;
//   - blocks last LockoutBase doubled per strike, capped at LockoutMax;
//   - no block begins before LockoutFailures counted wrong PINs.
func TestLockoutProperties(t *testing.T) {
	f := newFixture(t)
	v := f.m.Visits["multi"]
	v.Start, v.End = now.Add(-time.Hour), now.Add(48*time.Hour)
	f.m.Visits["multi"] = v
	cfg := baseConfig()
	rapid.Check(t, func(rt *rapid.T) {
		steady := access.New(cfg, f.m, f.h)
		persisted := map[string]access.LockoutState{}
		until := map[string]time.Time{}
		wrongSince := map[string]int{} // counted wrong PINs since the last block or grant
		at := now
		steps := rapid.IntRange(1, 120).Draw(rt, "steps")
		for i := range steps {
			at = at.Add(time.Duration(rapid.IntRange(0, 200).Draw(rt, "gap-s")) * time.Second)
			reader := rapid.SampledFrom([]string{"keypad0", "wiegand0"}).Draw(rt, "reader")
			value := rapid.SampledFrom([]string{good, wrong, wrong, wrong, invalid, expired}).Draw(rt, "pin")
			c := access.Credential{Kind: access.KindPIN, Value: value, Reader: reader}

			restarted := access.New(cfg, f.m, f.h)
			states := make([]access.LockoutState, 0, len(persisted))
			for _, s := range persisted {
				states = append(states, s)
			}
			restarted.RestoreLockout(states)

			calls := f.m.Calls
			a := steady.Decide(c, trusted(at))
			lookedUp := f.m.Calls != calls
			b := restarted.Decide(c, trusted(at))
			if b.Lockout != nil {
				persisted[reader] = *b.Lockout
			}
			if a.Reason != b.Reason || (a.Lockout == nil) != (b.Lockout == nil) ||
				a.Lockout != nil && (!a.Lockout.Until.Equal(b.Lockout.Until) || a.Lockout.Strikes != b.Lockout.Strikes) {
				rt.Fatalf("step %d: restart changed the decision: steady %s %+v, restarted %s %+v", i, a.Reason, a.Lockout, b.Reason, b.Lockout)
			}
			if at.Before(until[reader]) {
				if a.Reason != access.ReasonKeypadLockedOut || lookedUp {
					rt.Fatalf("step %d: during a block got %s (looked up %v)", i, a.Reason, lookedUp)
				}
				continue
			}
			if a.Reason == access.ReasonKeypadLockedOut {
				rt.Fatalf("step %d: refused as locked out with no block on", i)
			}
			switch a.Reason {
			case access.ReasonUnknownCredential, access.ReasonInvalidCredential:
				wrongSince[reader]++
			case access.ReasonGranted:
				wrongSince[reader] = 0
			}
			for _, ev := range a.Events {
				if ev.Type != access.EventKeypadLockout {
					continue
				}
				if wrongSince[reader] < 5 {
					rt.Fatalf("step %d: block after %d wrong PINs", i, wrongSince[reader])
				}
				wrongSince[reader] = 0
				s := a.Lockout.Strikes
				want := min(30*time.Second<<min(s-1, 20), 15*time.Minute)
				if got := a.Lockout.Until.Sub(at); got != want {
					rt.Fatalf("step %d: strike %d blocks %v, want %v", i, s, got, want)
				}
				until[reader] = a.Lockout.Until
			}
		}
	})
}
