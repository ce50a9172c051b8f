package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/register"
)

// The digest and /metrics count this database's register: an alert nobody
// acknowledged, a review past due, consent expiring within the week.
func TestDigestCountsAndGauges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	now := time.Date(2026, 6, 10, 8, 0, 0, 0, time.UTC)

	red := referPerson(t, s, now.Add(-72*time.Hour), register.ReferrerProfessional, date(2000, 1, 1))
	red.sn.ConsentExpiresAt = now.Add(3 * 24 * time.Hour)
	red.consent(now.Add(-71 * time.Hour))
	red.rate(now.Add(-2*time.Hour), "", register.Red)
	red.escalate(1, now.Add(-2*time.Hour), time.Time{})
	red.openCTR(now.Add(-time.Hour), register.TaskReviewDue, now.Add(-time.Minute)) // a review task past due
	acked := referPerson(t, s, now.Add(-72*time.Hour), register.ReferrerSelf, date(2000, 1, 1))
	acked.consent(now.Add(-71 * time.Hour))
	acked.rate(now.Add(-48*time.Hour), "", register.Red)
	acked.escalate(1, now.Add(-48*time.Hour), now.Add(-47*time.Hour))

	c, err := s.DigestCounts(ctx, now.Add(-24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if c.NewReds != 1 || c.UnacknowledgedAlerts != 1 || c.OverdueReviews != 1 || c.OverdueActions != 0 || c.ConsentLapsingThisWeek != 1 {
		t.Errorf("digest counts %+v", c)
	}

	g, err := s.Gauges(ctx, now, []time.Duration{30 * time.Minute, 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	people := map[string]int{}
	for _, p := range g.People {
		people[p.Stage+"/"+p.Rating] = p.People
	}
	if people["active/red"] != 2 || g.UnacknowledgedAlerts != 1 {
		t.Errorf("gauges: people %v, unacknowledged %d", people, g.UnacknowledgedAlerts)
	}
	if a := g.AckTimes; a.Count != 1 || a.Within[0] != 0 || a.Within[1] != 1 || a.Sum != time.Hour {
		t.Errorf("acknowledgement times %+v", a)
	}
}
