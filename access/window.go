package access

import (
	"fmt"
	"time"
)

// Restrictions (weekdays and a daily window) are wall-clock rules in the
// site's time zone. The window of day D opens at the first instant the local
// clock reads D+DailyFrom and closes at the first instant it reads DailyTo
// (on D, or on D+1 when the window crosses midnight: it belongs to the day it
// starts). Around DST changes this means:
//
//   - Spring forward: a bound inside the skipped hour takes effect when the
//     clock jumps past it (a 02:30 opening on a 02:00→03:00 night opens at 03:00).
//   - Fall back: the repeated hour counts once, at its first pass. While the
//     clock repeats it, rules see the clock as stopped just before the change
//     (01:59:59 in New York), so a window never closes and reopens, nor
//     opens twice, because the clock went back.
//   - A 09:00–17:00 window is 09:00–17:00 local time every day, whatever the
//     UTC offset; the window is 1 h shorter or longer only if it contains
//     the change.

// spansDays reports whether the visit's first and last instants fall on
// different calendar days in loc. End is exclusive.
func spansDays(v Visit, loc *time.Location) bool {
	if !v.End.After(v.Start) {
		return false
	}
	y1, m1, d1 := v.Start.In(loc).Date()
	y2, m2, d2 := v.End.Add(-time.Nanosecond).In(loc).Date()
	return y1 != y2 || m1 != m2 || d1 != d2
}

// ruleClock is the local wall clock that rules use at t: the local time,
// except during a repeated (fall-back) period, where it is the last instant
// before the clock went back.
func ruleClock(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	start, _ := lt.ZoneBounds()
	if start.IsZero() {
		return lt
	}
	prev := start.Add(-time.Nanosecond).In(loc)
	_, offPrev := prev.Zone()
	_, offNow := lt.Zone()
	if offPrev > offNow && t.Before(start.Add(time.Duration(offPrev-offNow)*time.Second)) {
		return prev
	}
	return lt
}

// restrict applies the weekday and daily-window restrictions at now. It
// returns the refusal reason and rule, or "" when allowed, and a detail
// (built for an allowed time only when explain is set).
func restrict(v Visit, now time.Time, loc *time.Location, explain bool) (Reason, string, string) {
	from, to := v.DailyFrom, v.DailyTo
	if from < 0 || from > 1439 || to < 0 || to > 1440 {
		// Fail secure on a corrupt record.
		return ReasonDailyWindow, RuleDailyWindow, fmt.Sprintf("invalid daily window %d-%d", from, to)
	}
	lt := ruleClock(now, loc)
	m := lt.Hour()*60 + lt.Minute()
	day := lt.Weekday()
	inWindow := true
	switch {
	case from == to: // no daily window: the whole day
	case from < to:
		inWindow = from <= m && m < to
	case m >= from: // crosses midnight, evening part of today's window
	case m < to: // crosses midnight, morning part: yesterday's window
		day = (day + 6) % 7
	default:
		inWindow = false
	}
	if !v.Days.Has(day) {
		return ReasonWeekday, RuleWeekday, fmt.Sprintf("%s not allowed (local %s)", day, lt.Format("Mon 15:04 MST"))
	}
	if !inWindow {
		return ReasonDailyWindow, RuleDailyWindow, fmt.Sprintf("local %s outside %s-%s", lt.Format("15:04 MST"), hhmm(from), hhmm(to))
	}
	if !explain {
		return "", "", ""
	}
	return "", "", fmt.Sprintf("%s window %s-%s, local %s", day, hhmm(from), hhmm(to), lt.Format("Mon 15:04 MST"))
}

func hhmm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
