package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
)

// requiredActionKinds are the task kinds counted as required actions
// (C(E)TRs, keyworker referrals, meetings), as strings for SQL.
func requiredActionKinds() []string {
	out := make([]string, len(register.RequiredActions))
	for i, k := range register.RequiredActions {
		out[i] = string(k)
	}
	return out
}

// DigestCounts counts, as of at, what a manager must act on: red alerts
// started after since, alerts open and unacknowledged, reviews and
// required actions open past due, and people on the register whose
// consent expires within 7 days of at. Everything is this database's: one
// team's register.
func (s *Store) DigestCounts(ctx context.Context, since, at time.Time) (notify.DigestCounts, error) {
	c := notify.DigestCounts{Since: since}
	err := s.pool.QueryRow(ctx, `select
			(select count(*) from escalations where started_at > $1 and started_at <= $2),
			(select count(*) from escalations where ended_at is null and acknowledged_at is null and started_at <= $2),
			(select count(*) from tasks where status = 'open' and kind = 'review_due' and due_at < $2),
			(select count(*) from tasks where status = 'open' and kind = any($3) and due_at < $2),
			(select count(*) from people where stage = 'active' and consent_expires_at > $2 and consent_expires_at <= $2 + interval '7 days')`,
		since, at, requiredActionKinds()).Scan(&c.NewReds, &c.UnacknowledgedAlerts, &c.OverdueReviews, &c.OverdueActions, &c.ConsentLapsingThisWeek)
	if err != nil {
		return notify.DigestCounts{}, fmt.Errorf("store: digest counts: %w", err)
	}
	return c, nil
}

// PeopleCount is how many people stand at one stage and rating ("" for
// people not yet rated).
type PeopleCount struct {
	Stage  string
	Rating string
	People int
}

// TaskCount is how many open tasks of a kind there are, and how many of
// them are past due.
type TaskCount struct {
	Kind    string
	Open    int
	Overdue int
}

// AckTimes summarises how long red alerts took to acknowledge, as a
// cumulative histogram: Within[i] counts acknowledgements within
// Bounds[i].
type AckTimes struct {
	Bounds []time.Duration
	Within []uint64
	Count  uint64
	Sum    time.Duration
}

// OversightGauges is what /metrics reads from the register at a scrape.
type OversightGauges struct {
	People               []PeopleCount
	Tasks                []TaskCount
	UnacknowledgedAlerts int
	Notifications        OutboxBacklog
	AckTimes             AckTimes
}

// Gauges reads the register's figures for /metrics at now: counts by
// stage, rating and task kind, never anything about a person.
func (s *Store) Gauges(ctx context.Context, now time.Time, ackBounds []time.Duration) (OversightGauges, error) {
	var g OversightGauges
	var err error
	g.People, err = queryAll(ctx, s.pool, "gauges: people", pgx.RowToStructByPos[PeopleCount],
		`select stage, coalesce(rating, ''), count(*) from people group by 1, 2 order by 1, 2`)
	if err != nil {
		return g, err
	}
	g.Tasks, err = queryAll(ctx, s.pool, "gauges: tasks", pgx.RowToStructByPos[TaskCount], `select kind, count(*), count(*) filter (where due_at < $1)
		from tasks where status = 'open' group by kind order by kind`, now)
	if err != nil {
		return g, err
	}
	if err := s.pool.QueryRow(ctx, `select count(*) from escalations where ended_at is null and acknowledged_at is null`).
		Scan(&g.UnacknowledgedAlerts); err != nil {
		return g, fmt.Errorf("store: gauges: alerts: %w", err)
	}
	if g.Notifications, err = s.NotificationBacklog(ctx, now); err != nil {
		return g, err
	}
	g.AckTimes, err = s.ackTimes(ctx, ackBounds)
	return g, err
}

// ackTimes buckets every acknowledged red alert by how long it took.
func (s *Store) ackTimes(ctx context.Context, bounds []time.Duration) (AckTimes, error) {
	secs := make([]float64, len(bounds))
	for i, b := range bounds {
		secs[i] = b.Seconds()
	}
	a := AckTimes{Bounds: bounds, Within: make([]uint64, len(bounds))}
	const acked = `select extract(epoch from acknowledged_at - started_at)::float8 as s from escalations where acknowledged_at is not null`
	var sum float64
	if err := s.pool.QueryRow(ctx, `select count(*), coalesce(sum(s), 0) from (`+acked+`) t`).Scan(&a.Count, &sum); err != nil {
		return a, fmt.Errorf("store: gauges: acknowledgement times: %w", err)
	}
	a.Sum = time.Duration(sum * float64(time.Second))
	var i, n int64
	err := queryEach(ctx, s.pool, "gauges: acknowledgement times", []any{&i, &n}, func() error {
		if i >= 1 && int(i) <= len(a.Within) {
			a.Within[i-1] = uint64(n)
		}
		return nil
	}, `select b.i, count(t.s) from unnest($1::float8[]) with ordinality as b(bound, i)
		left join (`+acked+`) t on t.s <= b.bound group by b.i order by b.i`, secs)
	return a, err
}
