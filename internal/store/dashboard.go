package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/internal/register"
)

// RegisterCount is how many people stand at one stage and rating ("" for
// not yet rated), now or on a snapshot's day.
type RegisterCount struct {
	Stage  register.Stage
	Rating register.Rating
	People int
}

// RegisterCountsNow counts everyone by stage and rating, as the projection
// stands.
func (s *Store) RegisterCountsNow(ctx context.Context) ([]RegisterCount, error) {
	return queryAll(ctx, s.pool, "register counts", scanRegisterCount, `select stage, coalesce(rating, ''), count(*) from people group by 1, 2`)
}

func scanRegisterCount(row pgx.CollectableRow) (RegisterCount, error) {
	var c RegisterCount
	var stage, rating string
	err := row.Scan(&stage, &rating, &c.People)
	c.Stage, c.Rating = register.Stage(stage), register.Rating(rating)
	return c, err
}

// SnapshotRegister counts the register for day (a date, the team's) unless
// that day is already counted: the first count of a day stands, so calling
// it again (another replica, every hour) changes nothing.
func (s *Store) SnapshotRegister(ctx context.Context, day time.Time) error {
	_, err := s.pool.Exec(ctx, `insert into register_snapshots (day, stage, rating, people)
		select $1::date, stage, coalesce(rating, ''), count(*) from people
		where not exists (select 1 from register_snapshots where day = $1::date)
		group by 2, 3
		on conflict do nothing`, day.Format(time.DateOnly))
	if err != nil {
		return fmt.Errorf("store: snapshot of the register: %w", err)
	}
	return nil
}

// RegisterSnapshot is the register as counted on Day.
type RegisterSnapshot struct {
	Day    time.Time
	Counts []RegisterCount
}

// RegisterSnapshots returns every day counted from from to to (dates,
// inclusive), oldest first.
func (s *Store) RegisterSnapshots(ctx context.Context, from, to time.Time) ([]RegisterSnapshot, error) {
	var out []RegisterSnapshot
	var day time.Time
	var c RegisterCount
	var stage, rating string
	err := queryEach(ctx, s.pool, "register snapshots", []any{&day, &stage, &rating, &c.People}, func() error {
		c.Stage, c.Rating = register.Stage(stage), register.Rating(rating)
		if n := len(out); n == 0 || !out[n-1].Day.Equal(day) {
			out = append(out, RegisterSnapshot{Day: day.UTC()})
		}
		out[len(out)-1].Counts = append(out[len(out)-1].Counts, c)
		return nil
	}, `select day, stage, rating, people from register_snapshots
		where day between $1::date and $2::date order by day`, from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LateCounts is what is late on the register, each a count behind which
// there is a list.
type LateCounts struct {
	// ReviewsOverdue: active and the next review was due before now.
	ReviewsOverdue int
	// ConsentLapsingSoon: active, consent expiring between now and the
	// horizon asked about.
	ConsentLapsingSoon int
	// ConsentLapsed: at stage consent_lapsed.
	ConsentLapsed int
	// AwaitingConsent: referred, no consent yet.
	AwaitingConsent int
	// ActionsOverdue counts open required actions (C(E)TRs, keyworker
	// referrals, meetings) past their due date, by kind.
	ActionsOverdue map[register.TaskKind]int
}

// Late counts what is late at now; consent expiring before lapsingBy counts
// as lapsing soon.
func (s *Store) Late(ctx context.Context, now, lapsingBy time.Time) (LateCounts, error) {
	var l LateCounts
	err := s.pool.QueryRow(ctx, `select
		(select count(*) from people where stage = 'active' and next_review_due < $1),
		(select count(*) from people where stage = 'active' and consent_expires_at >= $1 and consent_expires_at < $2),
		(select count(*) from people where stage = 'consent_lapsed'),
		(select count(*) from people where stage = 'referred')`, now, lapsingBy,
	).Scan(&l.ReviewsOverdue, &l.ConsentLapsingSoon, &l.ConsentLapsed, &l.AwaitingConsent)
	if err != nil {
		return l, fmt.Errorf("store: late counts: %w", err)
	}
	l.ActionsOverdue = map[register.TaskKind]int{}
	var kind string
	var n int
	err = queryEach(ctx, s.pool, "overdue actions", []any{&kind, &n}, func() error {
		l.ActionsOverdue[register.TaskKind(kind)] = n
		return nil
	}, `select kind, count(*) from tasks
		where status = 'open' and kind = any($1) and due_at < $2 group by kind`, stringsOf(register.RequiredActions), now)
	return l, err
}

// Workload is a coordinator's open tasks ("" for people assigned to no one).
type Workload struct {
	Coordinator string
	OpenTasks   int
	Overdue     int
}

// WorkloadByCoordinator counts open tasks by the coordinator their person is
// assigned to, most first, the unassigned among them.
func (s *Store) WorkloadByCoordinator(ctx context.Context, now time.Time) ([]Workload, error) {
	return queryAll(ctx, s.pool, "workload", pgx.RowToStructByPos[Workload], `select coalesce(p.assigned_to, ''), count(*), count(*) filter (where t.due_at < $1)
		from tasks t join people p on p.id = t.person_id
		where t.status = 'open' group by 1 order by 2 desc, 1`, now)
}

// MonthCount is a count for one calendar month (its first day).
type MonthCount struct {
	Month time.Time
	Count int
	// Within, for C(E)TRs: how many were recorded by their due date.
	Within int
}

// AdmissionsByMonth counts ratings to blue (admissions to a mental health
// hospital) by month in the time zone named, since since.
func (s *Store) AdmissionsByMonth(ctx context.Context, since time.Time, zone string) ([]MonthCount, error) {
	return queryAll(ctx, s.pool, "admissions by month", scanMonthCount, `select date_trunc('month', at at time zone $2)::date, count(*), 0 from audit_log
		where action = 'rated' and detail->>'to' = 'blue' and at >= $1 group by 1 order by 1`, since, zone)
}

// CTRsByMonth counts C(E)TRs recorded as held, by month recorded, and how
// many of them were recorded by their task's due date.
func (s *Store) CTRsByMonth(ctx context.Context, since time.Time, zone string) ([]MonthCount, error) {
	return queryAll(ctx, s.pool, "C(E)TRs by month", scanMonthCount, `select date_trunc('month', closed_at at time zone $2)::date, count(*),
		count(*) filter (where due_at is null or closed_at <= due_at)
		from tasks where status = 'done' and kind in ('community_ctr', 'post_admission_ctr', 'inpatient_ctr')
		  and closed_at >= $1 group by 1 order by 1`, since, zone)
}

func scanMonthCount(row pgx.CollectableRow) (MonthCount, error) {
	var m MonthCount
	err := row.Scan(&m.Month, &m.Count, &m.Within)
	m.Month = m.Month.UTC()
	return m, err
}

// EscalationsSince returns every escalation started since since, oldest
// first: the trend of red alerts and how long acknowledgement took.
func (s *Store) EscalationsSince(ctx context.Context, since time.Time) ([]EscalationRecord, error) {
	return queryAll(ctx, s.pool, "escalations since", scanEscalation, `select `+escalationColumns+` from escalations
		where started_at >= $2 order by started_at, person_id, number`, nil, since)
}
