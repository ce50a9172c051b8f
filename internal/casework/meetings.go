package casework

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/workflows"
)

// ConveneMeeting convenes a meeting about the person: the person's workflow
// records it (with an invitation queued for each invitee) and starts the
// meeting's workflow. It answers with the meeting as recorded.
func (c *Casework) ConveneMeeting(ctx context.Context, personID int64, plan register.MeetingPlan, by Action) (store.Meeting, error) {
	if _, err := c.person(ctx, personID); err != nil {
		return store.Meeting{}, err
	}
	plan = tidyPlan(plan)
	if errs := register.ValidateMeetingPlan(plan, c.Now()); errs != nil {
		return store.Meeting{}, InvalidInput(errs)
	}
	var convened workflows.MeetingConvened
	if err := c.updateWorkflow(ctx, workflows.PersonWorkflowID(personID), workflows.UpdateConveneMeeting,
		workflows.ConveneMeetingInput{Plan: plan, Actor: by.By}, by, &convened); err != nil {
		return store.Meeting{}, c.workflowError(personID, err, OutcomeUnknown, mayHaveBeenRecorded)
	}
	m, err := c.Store.MeetingByNumber(ctx, personID, convened.Number)
	if err != nil {
		return store.Meeting{}, &Error{Kind: Unavailable, Message: "the meeting is convened, but could not be read back", Err: err}
	}
	return m, nil
}

func tidyPlan(p register.MeetingPlan) register.MeetingPlan {
	p.Purpose, p.Location = strings.TrimSpace(p.Purpose), strings.TrimSpace(p.Location)
	invitees := make([]register.Invitee, len(p.Invitees))
	for i, inv := range p.Invitees {
		invitees[i] = register.Invitee{Name: strings.TrimSpace(inv.Name), Role: strings.TrimSpace(inv.Role), Email: strings.TrimSpace(inv.Email)}
	}
	if p.Invitees != nil {
		p.Invitees = invitees
	}
	return p
}

// ChangeMeeting moves a meeting or changes who is invited: every invitee
// (as now listed) gets an update with the next SEQUENCE.
func (c *Casework) ChangeMeeting(ctx context.Context, meetingID int64, ch register.MeetingChange, by Action) (store.Meeting, error) {
	m, err := c.meeting(ctx, meetingID)
	if err != nil {
		return store.Meeting{}, err
	}
	ch.Purpose, ch.Location = strings.TrimSpace(ch.Purpose), strings.TrimSpace(ch.Location)
	in := workflows.ChangeMeetingInput{StartsAt: ch.StartsAt, Duration: ch.Duration, Location: ch.Location, Purpose: ch.Purpose,
		Invitees: tidyPlan(register.MeetingPlan{Invitees: ch.Invitees}).Invitees, Actor: by.By}
	if errs := register.ValidateMeetingChange(ch, c.Now()); errs != nil {
		return store.Meeting{}, InvalidInput(errs)
	}
	// The record keeps the whole plan at each sequence: what is not
	// changed is carried over.
	if in.Location == "" {
		in.Location = m.Location
	}
	if in.Purpose == "" {
		in.Purpose = m.Purpose
	}
	if in.Invitees == nil {
		for _, inv := range m.Invitees {
			in.Invitees = append(in.Invitees, inv.Invitee)
		}
	}
	return c.updateMeeting(ctx, m, workflows.UpdateChangeMeeting, in, by)
}

// CancelMeeting cancels a meeting: every invitee gets a CANCEL.
func (c *Casework) CancelMeeting(ctx context.Context, meetingID int64, reason string, by Action) (store.Meeting, error) {
	m, err := c.meeting(ctx, meetingID)
	if err != nil {
		return store.Meeting{}, err
	}
	if errs := register.ValidateMeetingCancellation(reason); errs != nil {
		return store.Meeting{}, InvalidInput(errs)
	}
	return c.updateMeeting(ctx, m, workflows.UpdateCancelMeeting,
		workflows.CancelMeetingInput{Reason: strings.TrimSpace(reason), Actor: by.By}, by)
}

// RecordMeetingOutcome records whether the meeting was held, its notes and
// the actions agreed (each a meeting_action task). A held meeting of the
// kind a required action asks for closes that action (see
// CloseRequiredAction).
func (c *Casework) RecordMeetingOutcome(ctx context.Context, meetingID int64, o register.MeetingOutcome, by Action) (store.Meeting, error) {
	m, err := c.meeting(ctx, meetingID)
	if err != nil {
		return store.Meeting{}, err
	}
	o.Notes = strings.TrimSpace(o.Notes)
	for i := range o.Actions {
		o.Actions[i].Description, o.Actions[i].Owner = strings.TrimSpace(o.Actions[i].Description), strings.TrimSpace(o.Actions[i].Owner)
	}
	if errs := register.ValidateMeetingOutcome(o, c.Policy.LocalDate(m.StartsAt), c.Today()); errs != nil {
		return store.Meeting{}, InvalidInput(errs)
	}
	return c.updateMeeting(ctx, m, workflows.UpdateRecordMeetingOutcome,
		workflows.RecordMeetingOutcomeInput{Outcome: o, Actor: by.By, ActionID: by.ID}, by)
}

// MeetingActionDone records an action agreed at a meeting as done (the API,
// or Slack's "Mark done" through CompleteTask).
func (c *Casework) MeetingActionDone(ctx context.Context, taskID int64, notes string, by Action) (store.Task, error) {
	task, err := c.task(ctx, taskID)
	if err != nil {
		return store.Task{}, err
	}
	if task.Kind != register.TaskMeetingAction || task.Meeting == 0 {
		return store.Task{}, &Error{Kind: NotFound, Message: fmt.Sprintf("no meeting action %d", taskID)}
	}
	return c.meetingActionDone(ctx, task, notes, by)
}

func (c *Casework) meetingActionDone(ctx context.Context, task store.Task, notes string, by Action) (store.Task, error) {
	var st workflows.MeetingStatus
	err := c.updateWorkflow(ctx, workflows.MeetingWorkflowID(task.PersonID, task.Meeting), workflows.UpdateMeetingActionDone,
		workflows.MeetingActionDoneInput{TaskID: task.ID, Notes: strings.TrimSpace(notes), Actor: by.By}, by, &st)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return store.Task{}, &Error{Kind: Conflict, Message: fmt.Sprintf("meeting %d of %s has ended: the action is closed", task.Meeting, register.Reference(task.PersonID))}
		}
		return store.Task{}, c.workflowError(task.PersonID, err, OutcomeUnknown, mayHaveBeenRecorded)
	}
	closed, err := c.Store.Task(ctx, task.ID)
	if err != nil {
		return store.Task{}, &Error{Kind: Unavailable, Message: "recorded, but could not read the task back", Err: err}
	}
	return closed, nil
}

// CloseRequiredAction closes the first open required action of the kinds
// given (a held meeting's), through the same path as a coordinator's "Mark
// done": the task's own workflow (the person's or the escalation's)
// records it, with actionID as the Update ID. None open, or refused as no
// longer applying (closed meanwhile, the date before it was asked for),
// closes nothing: the meeting's outcome stands either way. It is the
// meeting workflow's activities.RequiredActionCloser.
func (c *Casework) CloseRequiredAction(ctx context.Context, personID int64, kinds []register.TaskKind, doneOn time.Time, notes, actor, actionID string) (register.TaskKind, error) {
	open, err := c.Store.ListTasks(ctx, store.TaskFilter{Status: string(register.TaskStatusOpen), PersonID: personID})
	if err != nil {
		return "", err
	}
	for _, kind := range kinds {
		for _, t := range open {
			if t.Kind != kind {
				continue
			}
			_, err := c.completeTask(ctx, t, CompleteActionRequest{Kind: kind, DoneOn: doneOn, Notes: notes},
				Action{By: actor, ID: actionID + "-" + string(kind)})
			var ce *Error
			if errors.As(err, &ce) && (ce.Kind == Conflict || ce.Kind == Invalid) {
				c.Logger.WarnContext(ctx, "a held meeting did not close its required action", "person_id", personID, "task_id", t.ID, "kind", kind, "why", ce.Message)
				return "", nil
			}
			if err != nil {
				return "", err
			}
			return kind, nil
		}
	}
	return "", nil
}

func (c *Casework) meeting(ctx context.Context, id int64) (store.Meeting, error) {
	m, err := c.Store.Meeting(ctx, id)
	return found(m, err, fmt.Sprintf("no meeting %d", id))
}

// updateMeeting sends an Update to the meeting's workflow and answers with
// the meeting as recorded after it.
func (c *Casework) updateMeeting(ctx context.Context, m store.Meeting, name string, arg any, by Action) (store.Meeting, error) {
	var st workflows.MeetingStatus
	if err := c.updateWorkflow(ctx, workflows.MeetingWorkflowID(m.PersonID, m.Number), name, arg, by, &st); err != nil {
		return store.Meeting{}, c.meetingError(m, err)
	}
	after, err := c.Store.Meeting(ctx, m.ID)
	if err != nil {
		return after, &Error{Kind: Unavailable, Message: "recorded, but could not read the meeting back", Err: err}
	}
	return after, nil
}

// meetingError is workflowError for a meeting, whose workflow has ended
// once it was cancelled or followed through.
func (c *Casework) meetingError(m store.Meeting, err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return &Error{Kind: Conflict, Message: fmt.Sprintf("meeting %d of %s is over (%s): it can no longer be changed", m.Number, register.Reference(m.PersonID), m.Status)}
	}
	return c.workflowError(m.PersonID, err, OutcomeUnknown, mayHaveBeenRecorded)
}

// FeedbackQuestion is what a coordinator asks a service.
type FeedbackQuestion struct {
	Service  string
	Email    string
	Question string
}

// RequestFeedback asks a service for feedback about a person: the request
// is recorded with its link and its email queued (one transaction), then
// its chasing workflow (dsr-feedback-<id>) starts. by.ID names the request:
// a retry returns the same request and starts nothing more.
func (c *Casework) RequestFeedback(ctx context.Context, personID int64, q FeedbackQuestion, by Action) (store.FeedbackRequest, error) {
	p, err := c.person(ctx, personID)
	if err != nil {
		return store.FeedbackRequest{}, err
	}
	if p.Stage == register.Removed {
		return store.FeedbackRequest{}, &Error{Kind: Conflict, Message: fmt.Sprintf("%s is no longer on the register", register.Reference(personID))}
	}
	q.Service, q.Email, q.Question = strings.TrimSpace(q.Service), strings.TrimSpace(q.Email), strings.TrimSpace(q.Question)
	errs := register.FieldErrors{}
	if q.Service == "" {
		errs.Add("service", "is required: the service asked, e.g. \"Community learning disability team\"")
	}
	if msg := register.CheckEmail(q.Email); msg != "" {
		errs.Add("email", msg)
	}
	if q.Question == "" {
		errs.Add("question", "is required: what the service is asked")
	}
	if len(errs) > 0 {
		return store.FeedbackRequest{}, InvalidInput(errs)
	}
	key := by.ID
	if key == "" {
		key = fmt.Sprintf("feedback-%s-%d", by.By, c.Now().UnixNano())
	}
	f, err := c.Store.CreateFeedbackRequest(ctx, store.NewFeedbackRequest{PersonID: personID, Service: q.Service, Email: q.Email,
		Question: q.Question, Actor: by.By, Key: key, At: c.Now()})
	if errors.Is(err, store.ErrIdempotencyKeyReused) {
		return f, &Error{Kind: Conflict, Message: "this idempotency key was already used for another person's request; use a new key", Err: err}
	}
	if err != nil {
		return f, &Error{Kind: Unavailable, Message: "could not record the request: nothing was sent", Err: err}
	}
	_, err = c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.FeedbackWorkflowID(f.ID),
		TaskQueue:                c.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflows.FeedbackWorkflow, workflows.FeedbackInput{RequestID: f.ID, PersonID: personID})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		c.Logger.ErrorContext(ctx, "feedback request recorded, its chasing did not start", "person_id", personID, "request", f.ID, "error", err)
		return f, &Error{Kind: OutcomeUnknown, Message: "the request is recorded and its email queued, but its chasing did not start: send it again with the same Idempotency-Key", Err: err}
	}
	return f, nil
}

// AnswerFeedback files a service's answer against the request its link
// names, and stops the chasing.
func (c *Casework) AnswerFeedback(ctx context.Context, token, answer string) (store.FeedbackRequest, error) {
	answer = strings.TrimSpace(answer)
	if answer == "" {
		return store.FeedbackRequest{}, InvalidInput(register.FieldErrors{"answer": "is required: write your answer"})
	}
	if len(answer) > 20000 {
		return store.FeedbackRequest{}, InvalidInput(register.FieldErrors{"answer": "is too long: at most 20,000 characters"})
	}
	f, err := c.Store.AnswerFeedback(ctx, token, answer, c.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return f, &Error{Kind: NotFound, Message: "this link is not one the register sent"}
	case errors.Is(err, store.ErrAlreadyAnswered):
		return f, &Error{Kind: Conflict, Message: "this request has already been answered: thank you"}
	case err != nil:
		return f, &Error{Kind: Unavailable, Message: "could not save your answer: nothing was saved, please try again", Err: err}
	}
	if err := c.Temporal.SignalWorkflow(ctx, workflows.FeedbackWorkflowID(f.ID), "", workflows.SignalFeedbackAnswered, nil); err != nil {
		// The workflow checks the record before each chase: a lost signal
		// costs nothing but promptness.
		c.Logger.WarnContext(ctx, "feedback answered; its workflow was not told", "request", f.ID, "error", err)
	}
	return f, nil
}
