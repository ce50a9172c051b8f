package casework

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/workflows"
)

// Acknowledge acknowledges the person's open red alert.
func (c *Casework) Acknowledge(ctx context.Context, personID int64, notes string, by Action) (workflows.EscalationStatus, error) {
	if _, err := c.person(ctx, personID); err != nil {
		return workflows.EscalationStatus{}, err
	}
	esc, err := c.Store.OpenEscalation(ctx, personID)
	if errors.Is(err, store.ErrNotFound) {
		return workflows.EscalationStatus{}, &Error{Kind: Conflict,
			Message: fmt.Sprintf("%s has no open escalation: there is nothing to acknowledge", register.Reference(personID))}
	}
	if err != nil {
		return workflows.EscalationStatus{}, &Error{Kind: Unavailable, Message: notRead, Err: err}
	}
	return c.acknowledge(ctx, personID, esc.Number, notes, by)
}

// AcknowledgeTask acknowledges the alert a task (a Slack button) stands for.
func (c *Casework) AcknowledgeTask(ctx context.Context, taskID int64, notes string, by Action) (workflows.EscalationStatus, error) {
	task, err := c.task(ctx, taskID)
	if err != nil {
		return workflows.EscalationStatus{}, err
	}
	if task.Kind != register.TaskEscalationAlert || task.Escalation == 0 {
		return workflows.EscalationStatus{}, InvalidInput(register.FieldErrors{"task": "is not a red alert"})
	}
	return c.acknowledge(ctx, task.PersonID, task.Escalation, notes, by)
}

func (c *Casework) acknowledge(ctx context.Context, personID int64, number int, notes string, by Action) (workflows.EscalationStatus, error) {
	var status workflows.EscalationStatus
	err := c.updateWorkflow(ctx, workflows.EscalationWorkflowID(personID, number), workflows.UpdateAcknowledge,
		workflows.AcknowledgeInput{Notes: strings.TrimSpace(notes), Actor: by.By}, by, &status)
	if err != nil {
		return status, c.escalationError(personID, number, err)
	}
	return status, nil
}

// CompleteActionRequest records a required action done.
type CompleteActionRequest struct {
	Kind register.TaskKind
	// DoneOn is the date it happened; zero means today.
	DoneOn    time.Time
	NotNeeded bool
	Notes     string
}

// CompleteAction records one of the person's required actions (a C(E)TR
// held, a keyworker referral made, a meeting held) and returns its task as
// closed. The open task says which workflow owns it: the person's, or the
// escalation's.
func (c *Casework) CompleteAction(ctx context.Context, personID int64, req CompleteActionRequest, by Action) (store.Task, error) {
	if _, err := c.person(ctx, personID); err != nil {
		return store.Task{}, err
	}
	if !req.Kind.Completable() {
		return store.Task{}, InvalidInput(register.FieldErrors{"kind": "must be one of " + register.RequiredActionNames()})
	}
	open, err := c.Store.ListTasks(ctx, store.TaskFilter{Status: string(register.TaskStatusOpen), PersonID: personID})
	if err != nil {
		return store.Task{}, &Error{Kind: Unavailable, Message: notRead, Err: err}
	}
	for _, t := range open {
		if t.Kind == req.Kind {
			return c.completeTask(ctx, t, req, by)
		}
	}
	noTask := &Error{Kind: Conflict, Message: fmt.Sprintf("%s has no open %s task", register.Reference(personID), req.Kind)}
	return c.completeClosed(ctx, personID, req, by, noTask)
}

// completeClosed handles a completion whose task is no longer open. It may
// be a retry whose first attempt closed it but whose answer was lost: sent
// again to the task's workflow with the same UpdateID, Temporal answers with
// that first outcome. Anything else (closed by someone else, or never
// opened) is noTask.
func (c *Casework) completeClosed(ctx context.Context, personID int64, req CompleteActionRequest, by Action, noTask error) (store.Task, error) {
	if by.ID == "" {
		return store.Task{}, noTask
	}
	done, err := c.Store.ListTasks(ctx, store.TaskFilter{Status: string(register.TaskStatusDone), PersonID: personID})
	if err != nil {
		return store.Task{}, &Error{Kind: Unavailable, Message: notRead, Err: err}
	}
	cancelled, err := c.Store.ListTasks(ctx, store.TaskFilter{Status: string(register.TaskStatusCancelled), PersonID: personID})
	if err != nil {
		return store.Task{}, &Error{Kind: Unavailable, Message: notRead, Err: err}
	}
	var last *store.Task
	for _, t := range append(done, cancelled...) {
		if t.Kind == req.Kind && t.ClosedAt != nil && (last == nil || t.ClosedAt.After(*last.ClosedAt)) {
			last = &t
		}
	}
	if last == nil {
		return store.Task{}, noTask
	}
	closed, err := c.completeTask(ctx, *last, req, by)
	var ce *Error
	if errors.As(err, &ce) && (ce.Kind == Conflict || ce.Kind == Invalid) {
		// Not a retry of ours: the workflow refused it as already done.
		return store.Task{}, noTask
	}
	return closed, err
}

// CompleteTask records the action a task (a Slack button) stands for.
func (c *Casework) CompleteTask(ctx context.Context, taskID int64, req CompleteActionRequest, by Action) (store.Task, error) {
	task, err := c.task(ctx, taskID)
	if err != nil {
		return store.Task{}, err
	}
	req.Kind = task.Kind
	return c.completeTask(ctx, task, req, by)
}

func (c *Casework) completeTask(ctx context.Context, task store.Task, req CompleteActionRequest, by Action) (store.Task, error) {
	if task.Meeting != 0 && task.Kind == register.TaskMeetingAction {
		// An action agreed at a meeting: its meeting's workflow chases it.
		return c.meetingActionDone(ctx, task, req.Notes, by)
	}
	in := workflows.CompleteActionInput{Kind: task.Kind, DoneOn: req.DoneOn, NotNeeded: req.NotNeeded, Notes: strings.TrimSpace(req.Notes), Actor: by.By}
	var err error
	if task.Escalation != 0 {
		var status workflows.EscalationStatus
		if err = c.updateWorkflow(ctx, workflows.EscalationWorkflowID(task.PersonID, task.Escalation), workflows.UpdateCompleteAction, in, by, &status); err != nil {
			return store.Task{}, c.escalationError(task.PersonID, task.Escalation, err)
		}
	} else if _, err = c.update(ctx, task.PersonID, workflows.UpdateCompleteAction, in, by); err != nil {
		return store.Task{}, err
	}
	closed, err := c.Store.Task(ctx, task.ID)
	if err != nil {
		return store.Task{}, &Error{Kind: Unavailable, Message: "recorded, but could not read the task back", Err: err}
	}
	return closed, nil
}

func (c *Casework) task(ctx context.Context, id int64) (store.Task, error) {
	t, err := c.Store.Task(ctx, id)
	return found(t, err, fmt.Sprintf("no task %d", id))
}

// escalationError is workflowError for an escalation, whose workflow has
// ended when the person's rating came down (or they were removed).
func (c *Casework) escalationError(personID int64, number int, err error) error {
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return &Error{Kind: Conflict, Message: fmt.Sprintf("escalation %d of %s has ended", number, register.Reference(personID))}
	}
	return c.workflowError(personID, err, OutcomeUnknown, mayHaveBeenRecorded)
}
