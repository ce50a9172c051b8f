package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/internal/register"
)

// Task is a prompt for a coordinator, opened by a person's workflow.
type Task struct {
	ID             int64               `json:"id"`
	Key            string              `json:"key"`
	PersonID       int64               `json:"person_id"`
	Kind           register.TaskKind   `json:"kind"`
	Status         register.TaskStatus `json:"status"`
	Actions        []register.Action   `json:"actions"`
	OpenedAt       time.Time           `json:"opened_at"`
	DueAt          *time.Time          `json:"due_at,omitempty"`
	ClosedAt       *time.Time          `json:"closed_at,omitempty"`
	ClosedBy       string              `json:"closed_by,omitempty"`
	Outcome        string              `json:"outcome,omitempty"`
	Reminders      int                 `json:"reminders"`
	LastRemindedAt *time.Time          `json:"last_reminded_at,omitempty"`
	// Escalation is the number of the escalation whose workflow opened the
	// task; 0 for the person workflow's own tasks.
	Escalation int `json:"escalation,omitempty"`
	// Meeting is the number of the meeting whose workflow opened the task
	// (an action agreed there, its outcome due); 0 otherwise.
	Meeting int `json:"meeting,omitempty"`
	// Overdue: still open and due before the time asked about.
	Overdue bool `json:"overdue"`
}

// TaskFilter narrows ListTasks. Empty fields match everything.
type TaskFilter struct {
	Status   string
	PersonID int64
	// AssignedTo, when set, keeps tasks for people assigned to that
	// coordinator; a pointer to "" keeps tasks for unassigned people and
	// tasks that belong to no one yet (an identity check).
	AssignedTo *string
	// Now is the time tasks are judged overdue against; zero means the
	// database's now().
	Now time.Time
}

const taskColumns = `id, task_key, coalesce(person_id, 0), kind, status, actions, opened_at, due_at, closed_at,
	coalesce(closed_by, ''), coalesce(outcome, ''), reminders, last_reminded_at, coalesce(escalation, 0),
	coalesce(meeting, 0), coalesce(status = 'open' and due_at < coalesce($1, now()), false)`

// ListTasks lists the tasks matching the filter, soonest due first (tasks
// with no due date last), then by ID. A status that is not open, done or
// cancelled is refused with register.FieldErrors naming it.
func (s *Store) ListTasks(ctx context.Context, f TaskFilter) ([]Task, error) {
	switch register.TaskStatus(f.Status) {
	case "", register.TaskStatusOpen, register.TaskStatusDone, register.TaskStatusCancelled:
	default:
		return nil, register.FieldErrors{"status": "must be open, done or cancelled"}
	}
	// Only the conditions asked for, and the status as a literal (it is
	// one of three): each shape of filter gets a plan of its own that uses
	// the indexes (a person's open tasks, tasks_open_person), which a plan
	// for "($3 = 0 or person_id = $3)" could not. A red alert's post reads
	// its person's open actions this way, whatever the size of the register.
	w := &where{}
	w.arg(nullTime(f.Now)) // $1, as taskColumns reads it
	if f.Status != "" {
		w.add("status = '" + f.Status + "'")
	}
	if f.PersonID != 0 {
		w.add("person_id = " + w.arg(f.PersonID))
	}
	if f.AssignedTo != nil {
		a := w.arg(*f.AssignedTo)
		w.add("(person_id in (select id from people where coalesce(assigned_to, '') = " + a + ") or (" + a + " = '' and person_id is null))")
	}
	return queryAll(ctx, s.pool, "list tasks", scanTask, `select `+taskColumns+` from tasks`+w.sql()+`
		order by due_at nulls last, id`, w.args...)
}

// Task returns one task, or ErrNotFound. Overdue is judged against now().
func (s *Store) Task(ctx context.Context, id int64) (Task, error) {
	return queryOne(ctx, s.pool, fmt.Sprintf("task %d", id), scanTask, `select `+taskColumns+` from tasks where id = $2`, nil, id)
}

func scanTask(row pgx.CollectableRow) (Task, error) {
	var t Task
	var kind, status string
	var actions []string
	err := row.Scan(&t.ID, &t.Key, &t.PersonID, &kind, &status, &actions, &t.OpenedAt, &t.DueAt, &t.ClosedAt,
		&t.ClosedBy, &t.Outcome, &t.Reminders, &t.LastRemindedAt, &t.Escalation, &t.Meeting, &t.Overdue)
	t.Kind, t.Status, t.Actions = register.TaskKind(kind), register.TaskStatus(status), typed[register.Action](actions)
	t.OpenedAt = t.OpenedAt.UTC()
	t.DueAt, t.ClosedAt, t.LastRemindedAt = utc(t.DueAt), utc(t.ClosedAt), utc(t.LastRemindedAt)
	return t, err
}
