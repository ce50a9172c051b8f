// Package casework is what the team can do to a person on the register:
// refer, record consent, rate, confirm a review, withdraw, remove. Each
// operation checks its input, then becomes the person workflow's Update.
// The HTTP API calls it today; Slack and the web inbox call the same
// functions, so a click and an API call can never disagree.
package casework

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/workflows"
)

// Casework holds what the operations need.
type Casework struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	Logger    *slog.Logger
	Now       func() time.Time
}

// Kind classifies an operation's failure for the caller.
type Kind int

const (
	// Invalid: the input is wrong; Fields names each bad field.
	Invalid Kind = iota + 1
	// NotFound: no such person.
	NotFound
	// Conflict: the action no longer applies to the person as they are.
	Conflict
	// Unavailable: Temporal or the database did not answer; try again.
	Unavailable
)

// Error is an operation's failure, in words a coordinator can act on.
type Error struct {
	Kind    Kind
	Message string
	Fields  register.FieldErrors
	Err     error
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return e.Message + ": " + e.Fields.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func invalid(fields register.FieldErrors) error {
	return &Error{Kind: Invalid, Message: "invalid input", Fields: fields}
}

// ReferResult says what became of a referral.
type ReferResult struct {
	PersonID   int64          `json:"person_id"`
	Reference  string         `json:"reference"`
	ReferralID int64          `json:"referral_id"`
	Stage      register.Stage `json:"stage"`
	// Existing is true when the person was already known (re-referral).
	Existing bool `json:"existing"`
}

// Refer records a referral and hands it to the person's workflow, starting
// the workflow for someone new. The record is written first: if Temporal is
// down the referral is kept and redelivered (RedeliverPending), never lost.
func (c *Casework) Refer(ctx context.Context, r register.Referral, actor, idempotencyKey string) (ReferResult, error) {
	now := c.Now()
	r, errs := register.ValidateReferral(r, register.DateOf(now))
	if errs != nil {
		return ReferResult{}, &Error{Kind: Invalid, Message: "the referral has invalid fields", Fields: errs}
	}
	receipt, err := c.Store.CreateReferral(ctx, store.NewReferral{
		Referral: r, Actor: actor, IdempotencyKey: idempotencyKey, ReceivedAt: now,
	})
	if err != nil {
		return ReferResult{}, &Error{Kind: Unavailable, Message: "could not record the referral", Err: err}
	}
	status, err := c.deliver(ctx, store.PendingReferral{
		PersonID: receipt.PersonID, ReferralID: receipt.ReferralID, DateOfBirth: receipt.DateOfBirth,
		ProjectionSeq: receipt.ProjectionSeq, ReceivedBy: actor,
	})
	if err != nil {
		return ReferResult{}, err
	}
	return ReferResult{PersonID: receipt.PersonID, Reference: register.Reference(receipt.PersonID), ReferralID: receipt.ReferralID,
		Stage: status.Stage, Existing: receipt.Existing}, nil
}

// deliver sends a recorded referral to the person's workflow with
// Update-with-Start: one workflow per person, started if not running.
func (c *Casework) deliver(ctx context.Context, p store.PendingReferral) (workflows.PersonStatus, error) {
	escalations, err := c.Store.LastEscalationNumber(ctx, p.PersonID)
	if err != nil {
		return workflows.PersonStatus{}, &Error{Kind: Unavailable, Message: "the referral is recorded and will be delivered again shortly", Err: err}
	}
	start := c.Temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:        workflows.PersonWorkflowID(p.PersonID),
		TaskQueue: c.TaskQueue,
		// A running workflow takes the re-referral; a finished one (the
		// person was removed) is followed by a new run: a new spell.
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    temporal.NewSearchAttributes(workflows.SearchStage.ValueSet(string(register.Referred))),
	}, workflows.PersonWorkflow, workflows.PersonWorkflowInput{PersonID: p.PersonID})
	handle, err := c.Temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName:   workflows.UpdateRefer,
			UpdateID:     fmt.Sprintf("referral-%d", p.ReferralID),
			WaitForStage: client.WorkflowUpdateStageCompleted,
			Args: []any{workflows.ReferInput{
				ReferralID: p.ReferralID, DateOfBirth: p.DateOfBirth, ReceivedAt: p.ReceivedAt,
				ProjectionSeq: p.ProjectionSeq, Escalations: escalations, Actor: p.ReceivedBy,
			}},
		},
	})
	var status workflows.PersonStatus
	if err == nil {
		err = handle.Get(ctx, &status)
	}
	if err != nil {
		return status, c.workflowError(p.PersonID, err, "the referral is recorded and will be delivered again shortly")
	}
	return status, nil
}

// RedeliverPending hands referrals that were recorded but never taken in by
// a workflow (Temporal was down, the process died) to their workflows. The
// service runs it at start and then every minute.
func (c *Casework) RedeliverPending(ctx context.Context, olderThan time.Duration) (int, error) {
	pending, err := c.Store.PendingReferrals(ctx, c.Now().Add(-olderThan), 100)
	if err != nil {
		return 0, fmt.Errorf("list pending referrals: %w", err)
	}
	done := 0
	for _, p := range pending {
		if _, err := c.deliver(ctx, p); err != nil {
			c.Logger.WarnContext(ctx, "redeliver referral failed", "person_id", p.PersonID, "referral_id", p.ReferralID, "error", err)
			continue
		}
		done++
	}
	return done, nil
}

// ConsentRequest is a consent decision as entered by a coordinator.
type ConsentRequest struct {
	Basis     register.ConsentBasis
	GivenBy   string
	DecidedOn time.Time
	Notes     string
}

// RecordConsent records first consent or a renewal.
func (c *Casework) RecordConsent(ctx context.Context, personID int64, req ConsentRequest, actor string) (workflows.PersonStatus, error) {
	person, err := c.person(ctx, personID)
	if err != nil {
		return workflows.PersonStatus{}, err
	}
	// Check the basis against the person's age here too, so a mistake is
	// answered field by field before it reaches the workflow.
	if errs := register.ValidateConsent(register.Consent{Basis: req.Basis, GivenBy: req.GivenBy, DecidedOn: req.DecidedOn},
		person.DateOfBirth, register.DateOf(c.Now())); errs != nil {
		return workflows.PersonStatus{}, invalid(errs)
	}
	return c.update(ctx, personID, workflows.UpdateRecordConsent, workflows.RecordConsentInput{
		Basis: req.Basis, GivenBy: req.GivenBy, DecidedOn: req.DecidedOn, Notes: req.Notes, Actor: actor,
	})
}

// WithdrawConsent records a withdrawal: the person leaves the register now.
func (c *Casework) WithdrawConsent(ctx context.Context, personID int64, reason, actor string) (workflows.PersonStatus, error) {
	if _, err := c.person(ctx, personID); err != nil {
		return workflows.PersonStatus{}, err
	}
	return c.update(ctx, personID, workflows.UpdateWithdrawConsent, workflows.WithdrawConsentInput{Reason: reason, Actor: actor})
}

// RateRequest is a new rating and why.
type RateRequest struct {
	Rating    register.Rating
	Rationale string
	// SecurePlacement, with blue, records that the hospital placement is a
	// secure service.
	SecurePlacement bool
}

// Rate sets the person's rating. Turning red starts an escalation.
func (c *Casework) Rate(ctx context.Context, personID int64, req RateRequest, actor string) (workflows.PersonStatus, error) {
	if _, err := c.person(ctx, personID); err != nil {
		return workflows.PersonStatus{}, err
	}
	errs := register.FieldErrors{}
	if _, err := register.ParseRating(string(req.Rating)); err != nil {
		errs.Add("rating", err.Error())
	}
	if req.Rationale == "" {
		errs.Add("rationale", "is required: say why this rating")
	}
	if req.SecurePlacement && req.Rating != register.Blue {
		errs.Add("secure_placement", "applies only with blue (in hospital)")
	}
	if len(errs) > 0 {
		return workflows.PersonStatus{}, invalid(errs)
	}
	return c.update(ctx, personID, workflows.UpdateRate, workflows.RateInput{
		Rating: req.Rating, Rationale: req.Rationale, SecurePlacement: req.SecurePlacement, Actor: actor,
	})
}

// ConfirmReview confirms the rating at review without changing it.
func (c *Casework) ConfirmReview(ctx context.Context, personID int64, notes, actor string) (workflows.PersonStatus, error) {
	if _, err := c.person(ctx, personID); err != nil {
		return workflows.PersonStatus{}, err
	}
	return c.update(ctx, personID, workflows.UpdateConfirmReview, workflows.ConfirmReviewInput{Notes: notes, Actor: actor})
}

// Remove takes the person off the register.
func (c *Casework) Remove(ctx context.Context, personID int64, reason register.RemovalReason, notes, actor string) (workflows.PersonStatus, error) {
	if _, err := c.person(ctx, personID); err != nil {
		return workflows.PersonStatus{}, err
	}
	if _, err := register.ParseRemovalReason(string(reason)); err != nil {
		return workflows.PersonStatus{}, invalid(register.FieldErrors{"reason": err.Error()})
	}
	return c.update(ctx, personID, workflows.UpdateRemove, workflows.RemoveInput{Reason: reason, Notes: notes, Actor: actor})
}

// Assign assigns the person to a coordinator (by name).
func (c *Casework) Assign(ctx context.Context, personID int64, coordinator, actor string) (workflows.PersonStatus, error) {
	if _, err := c.person(ctx, personID); err != nil {
		return workflows.PersonStatus{}, err
	}
	if coordinator == "" {
		return workflows.PersonStatus{}, invalid(register.FieldErrors{"coordinator": "is required: who the person is assigned to"})
	}
	return c.update(ctx, personID, workflows.UpdateAssign, workflows.AssignInput{Coordinator: coordinator, Actor: actor})
}

func (c *Casework) person(ctx context.Context, id int64) (store.PersonRecord, error) {
	p, err := c.Store.Person(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return p, &Error{Kind: NotFound, Message: fmt.Sprintf("no person %s on the register", register.Reference(id))}
	}
	if err != nil {
		return p, &Error{Kind: Unavailable, Message: "could not read the register", Err: err}
	}
	return p, nil
}

// update sends a coordinator action to the person's workflow and waits for
// its answer.
func (c *Casework) update(ctx context.Context, personID int64, name string, arg any) (workflows.PersonStatus, error) {
	var status workflows.PersonStatus
	err := c.updateWorkflow(ctx, workflows.PersonWorkflowID(personID), name, arg, &status)
	if err != nil {
		return status, c.workflowError(personID, err, "nothing was changed; try again")
	}
	return status, nil
}

// updateWorkflow sends an Update and waits for its result.
func (c *Casework) updateWorkflow(ctx context.Context, workflowID, name string, arg, result any) error {
	handle, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		UpdateName:   name,
		WaitForStage: client.WorkflowUpdateStageCompleted,
		Args:         []any{arg},
	})
	if err != nil {
		return err
	}
	return handle.Get(ctx, result)
}

// workflowError turns what Temporal answered into an Error for the caller.
func (c *Casework) workflowError(personID int64, err error, unavailableHint string) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		switch appErr.Type() {
		case workflows.ErrInvalidInput:
			var fields map[string]string
			if appErr.HasDetails() && appErr.Details(&fields) == nil {
				return invalid(fields)
			}
			return &Error{Kind: Invalid, Message: appErr.Message()}
		case workflows.ErrNoLongerApplies:
			return &Error{Kind: Conflict, Message: appErr.Message()}
		}
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// The record exists but its workflow has ended: the person was
		// removed, so the action no longer applies.
		return &Error{Kind: Conflict, Message: fmt.Sprintf("%s is no longer on the register; refer them again to act", register.Reference(personID))}
	}
	c.Logger.Error("workflow call failed", "person_id", personID, "error", err)
	return &Error{Kind: Unavailable, Message: "the register's workflow service did not answer: " + unavailableHint, Err: err}
}
