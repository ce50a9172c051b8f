package store

import (
	"context"
	"fmt"
	"time"
)

// MbEReport is the managers' count of MbE requests (issue 13): how many
// came in, how many were held or declined, and how long the team took from
// the request to its decision. Counts only: nothing about anyone.
type MbEReport struct {
	From             time.Time `json:"from"`
	To               time.Time `json:"to"`
	Received         int       `json:"received"`
	Incomplete       int       `json:"incomplete"`
	AwaitingDecision int       `json:"awaiting_decision"`
	Held             int       `json:"held"`
	Declined         int       `json:"declined"`
	// Days from the request's first email to the decision, over the
	// requests decided: median, mean and the longest.
	DecisionDaysMedian *float64 `json:"decision_days_median"`
	DecisionDaysMean   *float64 `json:"decision_days_mean"`
	DecisionDaysMax    *float64 `json:"decision_days_max"`
	// MeetingsHeld counts MbE meetings recorded as held in the period.
	MeetingsHeld int `json:"mbe_meetings_held"`
}

// MbEReport counts the MbE requests received in [from, to).
func (s *Store) MbEReport(ctx context.Context, from, to time.Time) (MbEReport, error) {
	r := MbEReport{From: from, To: to}
	err := s.pool.QueryRow(ctx, `select count(*),
			count(*) filter (where status = 'incomplete'),
			count(*) filter (where status = 'awaiting_decision'),
			count(*) filter (where status = 'held'),
			count(*) filter (where status = 'declined'),
			percentile_cont(0.5) within group (order by extract(epoch from decided_at - received_at) / 86400)
				filter (where decided_at is not null),
			avg(extract(epoch from decided_at - received_at) / 86400) filter (where decided_at is not null),
			max(extract(epoch from decided_at - received_at) / 86400) filter (where decided_at is not null)
		from mbe_requests where received_at >= $1 and received_at < $2`, from, to).
		Scan(&r.Received, &r.Incomplete, &r.AwaitingDecision, &r.Held, &r.Declined,
			&r.DecisionDaysMedian, &r.DecisionDaysMean, &r.DecisionDaysMax)
	if err != nil {
		return r, fmt.Errorf("store: MbE report: %w", err)
	}
	if err := s.pool.QueryRow(ctx, `select count(*) from meetings where kind = 'mbe' and status = 'held'
		and held_on >= $1::date and held_on < $2::date`, from, to).Scan(&r.MeetingsHeld); err != nil {
		return r, fmt.Errorf("store: MbE report: %w", err)
	}
	for _, p := range []**float64{&r.DecisionDaysMedian, &r.DecisionDaysMean, &r.DecisionDaysMax} {
		if *p != nil {
			v := float64(int(**p*10+0.5)) / 10
			*p = &v
		}
	}
	return r, nil
}
