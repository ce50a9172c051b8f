package notify

import (
	"fmt"
	"time"
)

// Digest is the managers' daily digest: counts only, about no one, posted
// to the managers' channel. Its key names the scheduled time it is for, so
// a retried activity never queues, and a notifier never posts, it twice.
const Digest Event = "digest"

// DigestCounts is what a manager must act on today, counted across this
// deployment's register (one team's database) and nothing else. Counts
// only: no person is named, referenced or linked.
type DigestCounts struct {
	// Since is when the previous digest was sent (or the digest began):
	// NewReds counts people turned red after it.
	Since time.Time
	// NewReds is red alerts started since Since.
	NewReds int
	// UnacknowledgedAlerts is red alerts still open that nobody has
	// acknowledged.
	UnacknowledgedAlerts int
	// OverdueReviews is review tasks open past their due date.
	OverdueReviews int
	// OverdueActions is required actions (C(E)TRs, keyworker referrals,
	// meetings) open past their due date.
	OverdueActions int
	// ConsentLapsingThisWeek is people on the register whose consent
	// expires within the next 7 days.
	ConsentLapsingThisWeek int
}

// Empty reports whether there is nothing to say: no digest is posted then.
func (c DigestCounts) Empty() bool {
	return c.NewReds == 0 && c.UnacknowledgedAlerts == 0 && c.OverdueReviews == 0 &&
		c.OverdueActions == 0 && c.ConsentLapsingThisWeek == 0
}

// DigestKey is the digest's notification key for its scheduled time, in
// the team's zone: "digest-2026-03-30T08:00".
func DigestKey(scheduled time.Time, loc *time.Location) string {
	return fmt.Sprintf("digest-%s", scheduled.In(loc).Format("2006-01-02T15:04:05"))
}

// ForDigest is the one notification a digest queues.
func ForDigest(counts DigestCounts, scheduled, at time.Time, loc *time.Location) Notification {
	c := counts
	return Notification{Key: DigestKey(scheduled, loc), Event: Digest, At: at, Digest: &c}
}
