package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/dsr-register/dsr/internal/register"
)

// MeetingRecorder is the part of the store the meeting and feedback
// activities read and write.
type MeetingRecorder interface {
	// LastMeetingNumber is the highest meeting number the person has had
	// (0 for none), so a new spell on the register numbers on from it.
	LastMeetingNumber(ctx context.Context, personID int64) (int, error)
	// ChaseFeedback records the nth chase of an unanswered feedback
	// request and queues its email, once; it answers whether the request
	// has been answered (then nothing is chased).
	ChaseFeedback(ctx context.Context, requestID int64, chase int, at time.Time) (answered bool, err error)
	// FeedbackUnanswered records that the request was given up on.
	FeedbackUnanswered(ctx context.Context, requestID int64, at time.Time) (answered bool, err error)
}

// RequiredActionCloser records a required action (a C(E)TR, the amber
// meeting, a multi-agency meeting) as done because a meeting of its kind
// was held: casework's CompleteAction path, so the task's own workflow (the
// person's or the escalation's) records it, with actionID as the Update ID.
type RequiredActionCloser interface {
	// CloseRequiredAction closes the first open task of the kinds given
	// and says which kind it closed ("" when none was open).
	CloseRequiredAction(ctx context.Context, personID int64, kinds []register.TaskKind, doneOn time.Time, notes, actor, actionID string) (register.TaskKind, error)
}

// Meetings holds the meeting and feedback workflows' activities. The
// workflows call them by name, so a worker without them fails those
// workflows' tasks loudly rather than silently doing nothing.
type Meetings struct {
	Store   MeetingRecorder
	Actions RequiredActionCloser
}

// LastMeetingInput asks for a person's last meeting number.
type LastMeetingInput struct{ PersonID int64 }

// LastMeetingResult is the person's last meeting number.
type LastMeetingResult struct{ Number int }

// LastMeetingNumber reads the person's last meeting number.
func (m *Meetings) LastMeetingNumber(ctx context.Context, in LastMeetingInput) (LastMeetingResult, error) {
	n, err := m.Store.LastMeetingNumber(ctx, in.PersonID)
	if err != nil {
		return LastMeetingResult{}, fmt.Errorf("last meeting of person %d: %w", in.PersonID, err)
	}
	return LastMeetingResult{Number: n}, nil
}

// CloseRequiredActionInput names the meeting held and what it may close.
type CloseRequiredActionInput struct {
	PersonID int64
	Kinds    []register.TaskKind
	HeldOn   time.Time
	Notes    string
	Actor    string
	// ActionID is the meeting's idempotency ID for this closing: a retry
	// is the same Update, recorded once.
	ActionID string
}

// CloseRequiredActionResult says which action was closed, if any.
type CloseRequiredActionResult struct {
	Closed register.TaskKind
}

// CloseRequiredAction closes the required action a held meeting stands for.
func (m *Meetings) CloseRequiredAction(ctx context.Context, in CloseRequiredActionInput) (CloseRequiredActionResult, error) {
	kind, err := m.Actions.CloseRequiredAction(ctx, in.PersonID, in.Kinds, in.HeldOn, in.Notes, in.Actor, in.ActionID)
	if err != nil {
		return CloseRequiredActionResult{}, fmt.Errorf("close a required action of person %d: %w", in.PersonID, err)
	}
	return CloseRequiredActionResult{Closed: kind}, nil
}

// ChaseFeedbackInput is one chase of a feedback request (Chase from 1), or,
// with GiveUp, the end of chasing.
type ChaseFeedbackInput struct {
	RequestID int64
	Chase     int
	GiveUp    bool
	At        time.Time
}

// ChaseFeedbackResult says whether the request had been answered.
type ChaseFeedbackResult struct{ Answered bool }

// ChaseFeedback chases an unanswered feedback request, or records that it
// went unanswered; an answered request is left alone.
func (m *Meetings) ChaseFeedback(ctx context.Context, in ChaseFeedbackInput) (ChaseFeedbackResult, error) {
	var answered bool
	var err error
	if in.GiveUp {
		answered, err = m.Store.FeedbackUnanswered(ctx, in.RequestID, in.At)
	} else {
		answered, err = m.Store.ChaseFeedback(ctx, in.RequestID, in.Chase, in.At)
	}
	if err != nil {
		return ChaseFeedbackResult{}, fmt.Errorf("feedback request %d: %w", in.RequestID, err)
	}
	return ChaseFeedbackResult{Answered: answered}, nil
}
