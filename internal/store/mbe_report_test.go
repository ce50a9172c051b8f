package store_test

import (
	"context"
	"testing"
	"time"
)

// TestMbEReport counts requests by where they stand and the days from
// request to decision, over the period asked for only.
func TestMbEReport(t *testing.T) {
	s, conn := newStore(t)
	ctx := context.Background()
	day := 24 * time.Hour
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	insert := func(status, decision string, received time.Time, decidedAfter time.Duration) {
		t.Helper()
		var decidedAt any
		var dec any
		if decision != "" {
			decidedAt, dec = received.Add(decidedAfter), decision
		}
		if _, err := conn.Exec(ctx, `insert into mbe_requests (status, requester, subject, message_id, received_at, decision, decided_at, reason)
			values ($1, 'r@example.org', 'MbE request', $2, $3, $4, $5, 'x')`, status, received.String()+status, received, dec, decidedAt); err != nil {
			t.Fatal(err)
		}
	}
	insert("held", "hold", t0, 2*day)
	insert("declined", "decline", t0.Add(day), 4*day)
	insert("held", "hold", t0.Add(2*day), 6*day)
	insert("incomplete", "", t0.Add(3*day), 0)
	insert("awaiting_decision", "", t0.Add(4*day), 0)
	insert("held", "hold", t0.AddDate(0, 2, 0), day) // outside the period

	rep, err := s.MbEReport(ctx, t0.Truncate(day), t0.AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Received != 5 || rep.Held != 2 || rep.Declined != 1 || rep.Incomplete != 1 || rep.AwaitingDecision != 1 {
		t.Errorf("counts %+v", rep)
	}
	if rep.DecisionDaysMedian == nil || *rep.DecisionDaysMedian != 4 || *rep.DecisionDaysMean != 4 || *rep.DecisionDaysMax != 6 {
		t.Errorf("decision days: median %v mean %v max %v, want 4, 4, 6", deref(rep.DecisionDaysMedian), deref(rep.DecisionDaysMean), deref(rep.DecisionDaysMax))
	}
	empty, err := s.MbEReport(ctx, t0.AddDate(1, 0, 0), t0.AddDate(2, 0, 0))
	if err != nil || empty.Received != 0 || empty.DecisionDaysMedian != nil {
		t.Errorf("an empty period: %+v %v", empty, err)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
