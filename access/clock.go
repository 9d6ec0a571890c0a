package access

import "time"

// DefaultClockTolerance is how far the local clock may lag behind the newest
// server time seen before it is distrusted. It absorbs message latency and
// RTC drift between syncs while still catching a board that rebooted with a
// stale clock.
const DefaultClockTolerance = 5 * time.Minute

// ClockTrust judges the local clock. It is untrusted when now is before the
// build time (boards boot at 1970 or at an old RTC value: the software cannot
// run before it was built) or behind the newest server time seen by more than
// tolerance (zero or negative means DefaultClockTolerance). A zero buildTime
// or newestServer skips that check. The Why of an untrusted clock says which
// check failed; it becomes the detail of clock_untrusted refusals.
func ClockTrust(now, buildTime, newestServer time.Time, tolerance time.Duration) Clock {
	if tolerance <= 0 {
		tolerance = DefaultClockTolerance
	}
	c := Clock{Now: now, Trusted: true}
	switch {
	case now.IsZero():
		c.Trusted, c.Why = false, "clock not set"
	case !buildTime.IsZero() && now.Before(buildTime):
		c.Trusted, c.Why = false, "before build time"
	case !newestServer.IsZero() && now.Before(newestServer.Add(-tolerance)):
		c.Trusted, c.Why = false, "behind newest server time by "+newestServer.Sub(now).Round(time.Second).String()
	}
	return c
}
