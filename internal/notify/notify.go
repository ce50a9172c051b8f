// Package notify tells coordinators that something needs them. A Notification
// carries opaque IDs and kinds only: whoever renders it (the log, Slack, the
// web inbox) looks up what it may show.
package notify

import (
	"context"
	"errors"
	"fmt"
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
	// NeedsAttention: another notification could not be delivered and has
	// been set aside (Slack refused it for good, or it could not be read);
	// the managers are told once, so someone looks.
	NeedsAttention Event = "needs_attention"
	// MbEMissingFields: an MbE request from the mailbox lacks some of what
	// the team asks for; the requester is emailed naming it (internal/mail/mbereply).
	MbEMissingFields Event = "mbe_missing_fields"
	// MbEDecision: the team held or declined an MbE request; the requester
	// is emailed.
	MbEDecision Event = "mbe_decision"
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
	// Urgent is set on everything about a red alert — its message, its
	// re-alerts, its edits — and on what the managers are told: urgent
	// notifications are delivered ahead of any routine one waiting, in the
	// outbox, the dispatcher and the Slack pacer.
	Urgent bool `json:",omitempty"`
	// About, on a NeedsAttention notification, is the key of the
	// notification that was set aside, and Problem what went wrong with it
	// (the destination's error code, never message text).
	About   string `json:",omitempty"`
	Problem string `json:",omitempty"`
	// Digest, on a Digest notification, is what the managers' digest
	// counts (digest.go).
	Digest *DigestCounts `json:",omitempty"`
	// Import, on an ImportSummary notification, is what the import
	// brought onto the register (import.go).
	Import *ImportCounts `json:",omitempty"`
	// Meeting, on a MeetingEmailed notification, and Feedback, on a
	// feedback email, name what to send (meeting.go).
	Meeting  *MeetingNote  `json:",omitempty"`
	Feedback *FeedbackNote `json:",omitempty"`
	// MbERequest, on the MbE events, is the request's ID: the mail
	// notifier reads what to say from it.
	MbERequest int64 `json:",omitempty"`
	// ReplyTo, on a request's missing-fields email, is the Message-ID of the
	// email it answers. It is kept here, not in the key: keys reach the
	// logs, and a Message-ID can carry a sender's address.
	ReplyTo string `json:",omitempty"`
}

// Line names the notifications that must be delivered in the order they
// were queued: those about one task (its message before the edits and
// thread replies to it). Different lines go side by side, so nothing
// routine stands in front of an alert.
func (n Notification) Line() string {
	if n.MbERequest != 0 {
		return fmt.Sprintf("mbe-%d", n.MbERequest)
	}
	if n.TaskID != 0 {
		return fmt.Sprintf("task-%d", n.TaskID)
	}
	if n.Meeting != nil {
		// A meeting's emails in order (an invitation before its update or
		// cancellation), beside everything else.
		return fmt.Sprintf("meeting-%d", n.Meeting.MeetingID)
	}
	if n.Feedback != nil {
		return fmt.Sprintf("feedback-%d", n.Feedback.RequestID)
	}
	return fmt.Sprintf("person-%d", n.PersonID)
}

// RefusedBecause marks a delivery error that sending again will not mend
// until someone changes something (the bot is not in the channel, a
// manager's Slack ID is wrong): the outbox tries it again later but lets the
// person's other notifications go first. code is the destination's own
// error code ("channel_not_found"), which is what the managers are told if
// it is set aside for good.
func RefusedBecause(code string, err error) error { return refusedError{err: err, code: code} }

// IsRefused reports whether err is, or wraps, a RefusedBecause error.
func IsRefused(err error) bool {
	_, ok := errors.AsType[refusedError](err)
	return ok
}

type refusedError struct {
	err  error
	code string
}

// Code is the destination's error code, if it gave one.
func (e refusedError) Code() string { return e.code }

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

// ForChange is what a recorded change tells coordinators: tasks closed first
// (so a channel reads in order), then stage moves, chasers, what managers
// are told, and new tasks. ids and kinds are the task IDs and kinds of every
// task the change names, by key. The store queues these in the transaction
// that records the change, so a change and what it tells are one fact.
func ForChange(c register.Change, ids map[string]int64, kinds map[string]register.TaskKind) []Notification {
	var out []Notification
	base := Notification{PersonID: c.PersonID, Actor: c.Actor, At: c.At}
	if c.Escalation != nil {
		base.Alerts = c.Escalation.Alerts
	}
	// Everything about a red alert is urgent, and so is everything the
	// managers are told.
	urgent := func(key string) bool { return kinds[key] == register.TaskEscalationAlert }
	for _, t := range c.Close {
		n := base
		n.Key, n.Event, n.TaskID, n.TaskKind, n.Outcome = t.Key+":closed", TaskClosed, ids[t.Key], t.Kind, t.Outcome
		n.Urgent = urgent(t.Key)
		out = append(out, n)
	}
	if c.Detail["stage_from"] != "" {
		n := base
		n.Key, n.Event, n.Stage = fmt.Sprintf("%d-%d:stage", c.PersonID, c.Seq), StageChanged, c.Snapshot.Stage
		n.Outcome = c.Action
		out = append(out, n)
	}
	for _, key := range c.Remind {
		n := base
		n.Key, n.Event, n.TaskID, n.TaskKind = fmt.Sprintf("%s:reminder:%d", key, c.Seq), TaskReminder, ids[key], kinds[key]
		n.Urgent = urgent(key)
		out = append(out, n)
	}
	for _, key := range c.Managers {
		n := base
		n.Key, n.Event, n.TaskID, n.TaskKind = fmt.Sprintf("%s:managers:%d", key, c.Seq), ManagersAlerted, ids[key], kinds[key]
		n.Urgent = true
		out = append(out, n)
	}
	for _, t := range c.Open {
		if c.Quiet && !urgent(t.Key) {
			// An imported person's routine prompts are summarised once
			// per import (ImportSummary), not posted one by one.
			continue
		}
		n := base
		n.Key, n.Event, n.TaskID, n.TaskKind, n.DueAt = t.Key+":opened", TaskOpened, ids[t.Key], t.Kind, t.DueAt
		n.Urgent = urgent(t.Key)
		out = append(out, n)
	}
	return out
}
