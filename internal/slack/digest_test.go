package slack

import (
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/store/storetest"

	"github.com/dsr-register/dsr/internal/notify"
)

// The digest goes to the managers' channel once, however often it is
// delivered, as counts and a link: no names, no references.
func TestDigestPostsCountsToTheManagersChannelOnce(t *testing.T) {
	st, _ := storetest.WithOneReferral(t, t0)
	srv, _, paced := fakeSlack(t)
	n := &Notifier{Records: st, Poster: paced, Channel: "C-COORD", ManagersChannel: "C-MGR", Managers: map[string]string{"U-BOSS": "pat"},
		PublicURL: "https://dsr.example.nhs.uk", Now: time.Now}

	at := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	counts := notify.DigestCounts{Since: at.Add(-72 * time.Hour), NewReds: 2, UnacknowledgedAlerts: 1, OverdueReviews: 3, ConsentLapsingThisWeek: 1}
	note := notify.ForDigest(counts, at, at, time.UTC)
	deliverTwice(t, n, note)
	post := onlyPost(t, srv, "C-MGR", "the managers' channel (not a DM)")
	want := "*DSR digest for Mon 30 Nov 2026*\n" +
		"• 2 people turned red since Fri 27 Nov 2026 08:00\n" +
		"• 1 red alert not acknowledged\n" +
		"• 3 reviews overdue\n" +
		"• 1 consent lapsing in the next 7 days\n" +
		"<https://dsr.example.nhs.uk/|Open the dashboard>"
	if post.Text != want {
		t.Errorf("digest text:\n got %q\nwant %q", post.Text, want)
	}
	for _, secret := range []string{"Ada", "Lovelace", "9434765919", "DSR-"} {
		if strings.Contains(post.Text, secret) {
			t.Errorf("digest names someone (%q): %s", secret, post.Text)
		}
	}
}
