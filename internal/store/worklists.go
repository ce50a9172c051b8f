package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/internal/register"
)

// RegisterQuery asks for one page of the register. Empty fields match
// everything.
type RegisterQuery struct {
	Rating register.Rating
	Stage  register.Stage
	// ReviewOverdue keeps active people whose review was due before Now.
	ReviewOverdue bool
	// ConsentLapsingBy, when set, keeps active people whose consent expires
	// between Now and then.
	ConsentLapsingBy time.Time
	// PersonID keeps one person (a search by reference).
	PersonID int64
	// Name keeps people whose given or family name contains it (any case).
	// Only coordinators may search by name; the caller decides.
	Name   string
	Now    time.Time
	Limit  int
	Offset int
}

// RegisterRow is one person on a page of the register. The names are for
// the web layer to show or not by role.
type RegisterRow struct {
	PersonSummary
	GivenName  string
	FamilyName string
	AssignedTo string
}

// RegisterPage is a page of the register and how many match in all.
type RegisterPage struct {
	People []RegisterRow
	Total  int
}

// Register returns a page of the register, by ID.
func (s *Store) Register(ctx context.Context, q RegisterQuery) (RegisterPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	name := ""
	if n := strings.TrimSpace(q.Name); n != "" {
		name = "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(n) + "%"
	}
	// The page is chosen first and its open tasks counted after, so a late
	// page never counts tasks for the people before it.
	rows, err := s.pool.Query(ctx, `
		with page as (
			select p.id, p.given_name, p.family_name, p.stage, coalesce(p.rating, '') as rating, p.next_review_due,
			       coalesce(p.stage = 'active' and p.next_review_due < $1, false) as review_overdue,
			       p.consent_expires_at, coalesce(p.assigned_to, '') as assigned_to,
			       count(*) over () as total
			from people p
			where ($2 = '' or p.rating = $2) and ($3 = '' or p.stage = $3)
			  and (not $4 or (p.stage = 'active' and p.next_review_due < $1))
			  and ($5::timestamptz is null or (p.stage = 'active' and p.consent_expires_at >= $1 and p.consent_expires_at < $5))
			  and ($6 = 0 or p.id = $6)
			  and ($7 = '' or p.given_name ilike $7 or p.family_name ilike $7)
			order by p.id limit $8 offset $9)
		select id, given_name, family_name, stage, rating, next_review_due, review_overdue, consent_expires_at, assigned_to,
		       (select count(*) from tasks t where t.person_id = page.id and t.status = 'open'), total
		from page order by id`,
		q.Now, string(q.Rating), string(q.Stage), q.ReviewOverdue, nullTime(q.ConsentLapsingBy), q.PersonID, name, q.Limit, q.Offset)
	if err != nil {
		return RegisterPage{}, fmt.Errorf("store: register page: %w", err)
	}
	var page RegisterPage
	page.People, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (RegisterRow, error) {
		var r RegisterRow
		var stage, rating string
		err := row.Scan(&r.ID, &r.GivenName, &r.FamilyName, &stage, &rating, &r.NextReviewDue, &r.ReviewOverdue,
			&r.ConsentExpiresAt, &r.AssignedTo, &r.OpenTasks, &page.Total)
		r.Initials = register.Person{GivenName: r.GivenName, FamilyName: r.FamilyName}.Initials()
		r.Stage, r.Rating = register.Stage(stage), register.Rating(rating)
		r.NextReviewDue, r.ConsentExpiresAt = utc(r.NextReviewDue), utc(r.ConsentExpiresAt)
		return r, err
	})
	if err != nil {
		return RegisterPage{}, fmt.Errorf("store: register page: %w", err)
	}
	if len(page.People) == 0 && q.Offset > 0 {
		// Past the last page: count what matches so the page can say so.
		total, err := s.Register(ctx, RegisterQuery{Rating: q.Rating, Stage: q.Stage, ReviewOverdue: q.ReviewOverdue,
			ConsentLapsingBy: q.ConsentLapsingBy, PersonID: q.PersonID, Name: q.Name, Now: q.Now, Limit: 1})
		return RegisterPage{Total: total.Total}, err
	}
	return page, nil
}

// InboxQuery asks for one page of open tasks. Empty fields match everything.
type InboxQuery struct {
	Kind register.TaskKind
	// AssignedTo, when set, keeps tasks for people assigned to that
	// coordinator; a pointer to "" keeps tasks for unassigned people.
	AssignedTo *string
	// Overdue keeps tasks due before Now.
	Overdue bool
	Now     time.Time
	Limit   int
	Offset  int
}

// InboxTask is an open task with what the inbox shows of its person.
type InboxTask struct {
	Task
	Initials   string
	Rating     register.Rating
	Stage      register.Stage
	AssignedTo string
}

// InboxPage is a page of open tasks and how many match in all.
type InboxPage struct {
	Tasks []InboxTask
	Total int
}

// Inbox returns a page of open tasks, soonest due first (no due date last).
func (s *Store) Inbox(ctx context.Context, q InboxQuery) (InboxPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	rows, err := s.pool.Query(ctx, `select t.id, t.task_key, t.person_id, t.kind, t.status, t.actions, t.opened_at, t.due_at, t.closed_at,
		       coalesce(t.closed_by, ''), coalesce(t.outcome, ''), t.reminders, t.last_reminded_at, coalesce(t.escalation, 0),
		       coalesce(t.due_at < $1, false),
		       p.given_name, p.family_name, coalesce(p.rating, ''), p.stage, coalesce(p.assigned_to, ''),
		       count(*) over ()
		from tasks t join people p on p.id = t.person_id
		where t.status = 'open' and ($2 = '' or t.kind = $2)
		  and ($3::text is null or coalesce(p.assigned_to, '') = $3)
		  and (not $4 or t.due_at < $1)
		order by t.due_at nulls last, t.id limit $5 offset $6`,
		q.Now, string(q.Kind), q.AssignedTo, q.Overdue, q.Limit, q.Offset)
	if err != nil {
		return InboxPage{}, fmt.Errorf("store: inbox: %w", err)
	}
	var page InboxPage
	page.Tasks, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (InboxTask, error) {
		var it InboxTask
		var kind, status, given, family, rating, stage string
		var actions []string
		err := row.Scan(&it.ID, &it.Key, &it.PersonID, &kind, &status, &actions, &it.OpenedAt, &it.DueAt, &it.ClosedAt,
			&it.ClosedBy, &it.Outcome, &it.Reminders, &it.LastRemindedAt, &it.Escalation, &it.Overdue,
			&given, &family, &rating, &stage, &it.AssignedTo, &page.Total)
		it.Kind, it.Status, it.Actions = register.TaskKind(kind), register.TaskStatus(status), typed[register.Action](actions)
		it.OpenedAt = it.OpenedAt.UTC()
		it.DueAt, it.ClosedAt, it.LastRemindedAt = utc(it.DueAt), utc(it.ClosedAt), utc(it.LastRemindedAt)
		it.Initials = register.Person{GivenName: given, FamilyName: family}.Initials()
		it.Rating, it.Stage = register.Rating(rating), register.Stage(stage)
		return it, err
	})
	if err != nil {
		return InboxPage{}, fmt.Errorf("store: inbox: %w", err)
	}
	return page, nil
}
