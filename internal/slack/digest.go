package slack

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/slack/pacer"
)

// DigestText is the managers' digest: counts and a link to the dashboard,
// never a name, a reference or anything about one person. Dates are read
// in zone, the team's (nil: the default).
func DigestText(c notify.DigestCounts, at time.Time, publicURL string, zone *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*DSR digest for %s*\n", dayOnly(zone, at))
	line := func(n int, one, many string) {
		if n == 0 {
			return
		}
		word := many
		if n == 1 {
			word = one
		}
		fmt.Fprintf(&b, "• %d %s\n", n, word)
	}
	since := ""
	if !c.Since.IsZero() {
		since = " since " + DayAndTime(zone, c.Since)
	}
	line(c.NewReds, "person turned red"+since, "people turned red"+since)
	line(c.UnacknowledgedAlerts, "red alert not acknowledged", "red alerts not acknowledged")
	line(c.OverdueReviews, "review overdue", "reviews overdue")
	line(c.OverdueActions, "required action overdue (C(E)TR, keyworker referral or meeting)", "required actions overdue (C(E)TRs, keyworker referrals or meetings)")
	line(c.ConsentLapsingThisWeek, "consent lapsing in the next 7 days", "consents lapsing in the next 7 days")
	if publicURL != "" {
		fmt.Fprintf(&b, "<%s/|Open the dashboard>", strings.TrimSuffix(publicURL, "/"))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// postDigest posts the digest to the managers' channel once: the reply key
// is the notification's key there, so a redelivery posts nothing more.
// Without a managers' channel the digest stays in the log.
func (n *Notifier) postDigest(ctx context.Context, note notify.Notification) error {
	if n.ManagersChannel == "" || note.Digest == nil {
		return nil
	}
	err := n.postMessageOnce(ctx, note.Key+"@"+n.ManagersChannel, n.ManagersChannel, pacer.PriorityRoutine, 0, func() string {
		return DigestText(*note.Digest, note.At, n.PublicURL, n.Zone)
	})
	if err != nil {
		return fmt.Errorf("slack: post the digest: %w", err)
	}
	return nil
}
