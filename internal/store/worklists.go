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
	// Only the filters asked for go into the query, so each shape gets a
	// plan that uses its index (a catch-all "$2 = '' or …" plan cannot).
	w := &where{}
	now := w.arg(q.Now)
	if q.Rating != "" {
		w.add("p.rating = " + w.arg(string(q.Rating)))
	}
	if q.Stage != "" {
		w.add("p.stage = " + w.arg(string(q.Stage)))
	}
	if q.ReviewOverdue {
		w.add("p.stage = 'active' and p.next_review_due < " + now)
	}
	if !q.ConsentLapsingBy.IsZero() {
		w.add("p.stage = 'active' and p.consent_expires_at >= " + now + " and p.consent_expires_at < " + w.arg(q.ConsentLapsingBy))
	}
	if q.PersonID != 0 {
		w.add("p.id = " + w.arg(q.PersonID))
	}
	if n := strings.TrimSpace(q.Name); n != "" {
		like := w.arg("%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(n) + "%")
		w.add("(p.given_name ilike " + like + " or p.family_name ilike " + like + ")")
	}
	total, err := s.total(ctx, "register", "people p", w, now)
	if err != nil {
		return RegisterPage{}, err
	}
	// The page is chosen first and its open tasks counted after, so a late
	// page never counts tasks for the people before it.
	query := `
		with page as (
			select p.id, p.given_name, p.family_name, p.stage, coalesce(p.rating, '') as rating, p.next_review_due,
			       coalesce(p.stage = 'active' and p.next_review_due < ` + now + `, false) as review_overdue,
			       p.consent_expires_at, coalesce(p.assigned_to, '') as assigned_to
			from people p` + w.sql() + `
			order by p.id` + w.page(q.Limit, q.Offset) + `)
		select id, given_name, family_name, stage, rating, next_review_due, review_overdue, consent_expires_at, assigned_to,
		       (select count(*) from tasks t where t.person_id = page.id and t.status = 'open')
		from page order by id`
	people, err := queryAll(ctx, s.pool, "register page", scanRegisterRow, query, w.args...)
	if err != nil {
		return RegisterPage{}, err
	}
	return RegisterPage{People: people, Total: total}, nil
}

func scanRegisterRow(row pgx.CollectableRow) (RegisterRow, error) {
	var r RegisterRow
	var stage, rating string
	err := row.Scan(&r.ID, &r.GivenName, &r.FamilyName, &stage, &rating, &r.NextReviewDue, &r.ReviewOverdue,
		&r.ConsentExpiresAt, &r.AssignedTo, &r.OpenTasks)
	r.Initials = register.Person{GivenName: r.GivenName, FamilyName: r.FamilyName}.Initials()
	r.Stage, r.Rating = register.Stage(stage), register.Rating(rating)
	r.NextReviewDue, r.ConsentExpiresAt = utc(r.NextReviewDue), utc(r.ConsentExpiresAt)
	return r, err
}

// where builds a WHERE clause from the filters asked for, numbering their
// arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return fmt.Sprintf("$%d", len(w.args))
}

func (w *where) add(cond string) { w.conds = append(w.conds, cond) }

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return " where true"
	}
	return " where " + strings.Join(w.conds, " and ")
}

// pageSize is how many rows a page holds when the caller does not say.
const pageSize = 50

// page is the LIMIT and OFFSET clause of one page.
func (w *where) page(limit, offset int) string {
	if limit <= 0 {
		limit = pageSize
	}
	return " limit " + w.arg(limit) + " offset " + w.arg(offset)
}

// total counts the rows of from (a table and its joins) that w keeps: a
// page's "n in all". now is the placeholder of the time the page is judged
// at. The count names it even when no filter does, because the count is
// sent all of w's arguments and PostgreSQL refuses one it cannot type.
func (s *Store) total(ctx context.Context, what, from string, w *where, now string) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `select count(*) from `+from+w.sql()+` and `+now+`::timestamptz is not null`, w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: %s count: %w", what, err)
	}
	return n, nil
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
	w := &where{}
	now := w.arg(q.Now)
	w.add("t.status = 'open'")
	if q.Kind != "" {
		w.add("t.kind = " + w.arg(string(q.Kind)))
	}
	if q.Overdue {
		w.add("t.due_at < " + now)
	}
	join := ""
	if q.AssignedTo != nil {
		// Only this filter needs the person: the count joins for it alone.
		join = " join people p on p.id = t.person_id"
		w.add("coalesce(p.assigned_to, '') = " + w.arg(*q.AssignedTo))
	}
	total, err := s.total(ctx, "inbox", "tasks t"+join, w, now)
	if err != nil {
		return InboxPage{}, err
	}
	query := `
		with page as (
			select t.* from tasks t` + join + w.sql() + `
			order by t.due_at nulls last, t.id` + w.page(q.Limit, q.Offset) + `)
		select t.id, t.task_key, t.person_id, t.kind, t.status, t.actions, t.opened_at, t.due_at, t.closed_at,
		       coalesce(t.closed_by, ''), coalesce(t.outcome, ''), t.reminders, t.last_reminded_at, coalesce(t.escalation, 0),
		       coalesce(t.due_at < ` + now + `, false),
		       p.given_name, p.family_name, coalesce(p.rating, ''), p.stage, coalesce(p.assigned_to, '')
		from page t join people p on p.id = t.person_id
		order by t.due_at nulls last, t.id`
	tasks, err := queryAll(ctx, s.pool, "inbox", scanInboxTask, query, w.args...)
	if err != nil {
		return InboxPage{}, err
	}
	return InboxPage{Tasks: tasks, Total: total}, nil
}

func scanInboxTask(row pgx.CollectableRow) (InboxTask, error) {
	var it InboxTask
	var kind, status, given, family, rating, stage string
	var actions []string
	err := row.Scan(&it.ID, &it.Key, &it.PersonID, &kind, &status, &actions, &it.OpenedAt, &it.DueAt, &it.ClosedAt,
		&it.ClosedBy, &it.Outcome, &it.Reminders, &it.LastRemindedAt, &it.Escalation, &it.Overdue,
		&given, &family, &rating, &stage, &it.AssignedTo)
	it.Kind, it.Status, it.Actions = register.TaskKind(kind), register.TaskStatus(status), typed[register.Action](actions)
	it.OpenedAt = it.OpenedAt.UTC()
	it.DueAt, it.ClosedAt, it.LastRemindedAt = utc(it.DueAt), utc(it.ClosedAt), utc(it.LastRemindedAt)
	it.Initials = register.Person{GivenName: given, FamilyName: family}.Initials()
	it.Rating, it.Stage = register.Rating(rating), register.Stage(stage)
	return it, err
}
