// Package notify tells coordinators that something needs them. A Notification
// carries opaque IDs and kinds only: whoever renders it (the log, Slack, the
// web inbox) looks up what it may show.
package notify

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/dsr-register/dsr/internal/register"
)

// Event is what happened.
type Event string

const (
	TaskOpened   Event = "task_opened"
	TaskReminder Event = "task_reminder"
	TaskClosed   Event = "task_closed"
	// StageChanged: the person moved stage (consent lapsed, removed, …).
	StageChanged Event = "stage_changed"
	// ManagersAlerted: a task is escalated to managers — a red alert not
	// acknowledged in time, or a required action overdue.
	ManagersAlerted Event = "managers_alerted"
)

// Notification is one thing to tell coordinators.
type Notification struct {
	// Key is unique per notification; a notifier that posts somewhere must
	// not post the same key twice (activities retry).
	Key      string
	Event    Event
	PersonID int64
	TaskID   int64
	TaskKind register.TaskKind
	DueAt    time.Time
	Stage    register.Stage
	Outcome  string
	Actor    string
	At       time.Time
	// Alerts, on a red alert's re-alert and on the managers' message about
	// it, is how many alerts had gone out when it was decided, so a
	// message delivered late still says which alert it is.
	Alerts int
}

// Refused marks a delivery error that sending again will not mend until
// someone changes something (the bot is not in the channel, a manager's
// Slack ID is wrong): the outbox tries it again later but lets the
// person's other notifications go first.
func Refused(err error) error { return refusedError{err} }

// IsRefused reports whether err is, or wraps, a Refused error.
func IsRefused(err error) bool {
	_, ok := errors.AsType[refusedError](err)
	return ok
}

type refusedError struct{ err error }

func (e refusedError) Error() string { return "refused: " + e.err.Error() }
func (e refusedError) Unwrap() error { return e.err }

// Notifier delivers notifications.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// Log writes notifications as structured log lines. It is always on, so
// prompts are visible even where no chat tool is configured.
type Log struct {
	Logger *slog.Logger
}

// Notify logs n. There is no personal data in a Notification to leak.
func (l Log) Notify(ctx context.Context, n Notification) error {
	attrs := []any{
		slog.String("key", n.Key),
		slog.String("event", string(n.Event)),
		slog.Int64("person_id", n.PersonID),
	}
	if n.TaskID != 0 {
		attrs = append(attrs, slog.Int64("task_id", n.TaskID), slog.String("task_kind", string(n.TaskKind)))
	}
	if !n.DueAt.IsZero() {
		attrs = append(attrs, slog.Time("due_at", n.DueAt))
	}
	if n.Stage != "" {
		attrs = append(attrs, slog.String("stage", string(n.Stage)))
	}
	if n.Outcome != "" {
		attrs = append(attrs, slog.String("outcome", n.Outcome))
	}
	if n.Actor != "" {
		attrs = append(attrs, slog.String("actor", n.Actor))
	}
	l.Logger.InfoContext(ctx, "notification", attrs...)
	return nil
}

// Fanout sends each notification to every notifier in turn and stops at the
// first failure, so the activity retries and the notifiers' keys dedupe.
type Fanout []Notifier

// Notify delivers n to every notifier.
func (f Fanout) Notify(ctx context.Context, n Notification) error {
	for _, nt := range f {
		if err := nt.Notify(ctx, n); err != nil {
			return err
		}
	}
	return nil
}
