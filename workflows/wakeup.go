package workflows

import "time"

// The person, escalation and meeting workflows each sleep until the next
// moment something of theirs falls due (nextDeadline), and never longer
// than the policy's recheck, so a long sleeper sees a new policy.

// wakeUp is when a sleeping workflow wakes: the soonest time considered
// that is after now, or now plus the recheck if none is sooner.
type wakeUp struct {
	now, at time.Time
}

func wakeUpBy(now time.Time, recheck time.Duration) *wakeUp {
	return &wakeUp{now: now, at: now.Add(recheck)}
}

// consider wakes the workflow at t instead, if t is after now and sooner.
// A zero t (nothing scheduled) is never after now.
func (w *wakeUp) consider(t time.Time) {
	if t.After(w.now) && t.Before(w.at) {
		w.at = t
	}
}
