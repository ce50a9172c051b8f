// Package casework is what the team can do to a person on the register:
// refer, record consent, rate, confirm a review, withdraw, remove. Each
// operation checks its input, then becomes the person workflow's Update.
// The HTTP API calls it today; Slack and the web inbox call the same
// functions, so a click and an API call can never disagree.
package casework

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/urgent"
	"github.com/dsr-register/dsr/workflows"
)

// Casework holds what the operations need.
type Casework struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	Logger    *slog.Logger
	Now       func() time.Time
	// Policy gives the team's time zone: "today" is the team's calendar
	// date, not UTC's (a decision made at 00:30 in a London summer is made
	// that day). The zero Policy works in Europe/London.
	Policy register.Policy
	// DeliverWithin bounds each referral delivered in the background
	// (Receive); zero means 10s. The service sets DSR_API_TIMEOUT.
	DeliverWithin time.Duration
	// ReferralsAtOnce bounds the referrals taken in at once (intake.go);
	// zero means DefaultReferralsAtOnce.
	ReferralsAtOnce int

	background sync.WaitGroup
	intakeOnce sync.Once
	intake     chan struct{}   // the referral intake's places
	redFirst   urgent.InFlight // red ratings being recorded: the intake lets them by (intake.go)
}

// Today is the team's calendar date now, as midnight UTC like every date in
// the register.
func (c *Casework) Today() time.Time { return c.Policy.LocalDate(c.Now()) }

// Action is who does something, and which attempt of it this is.
type Action struct {
	// By is the actor the audit trail records.
	By string
	// ID names the action across retries. It becomes the Temporal
	// UpdateID: a retry with the same ID is recorded once and answered with
	// the first outcome. For a referral it is the store's idempotency key
	// (empty: none). Build it with ActionID; it must hold nothing personal,
	// as Temporal keeps it in the clear.
	ID string
}

// ActionID namespaces a caller's key by surface ("api", "slack") and actor,
// so two callers' keys never collide, and hashes it to a fixed length, so
// no name or free text reaches Temporal's history.
func ActionID(surface, actor, key string) string {
	sum := sha256.Sum256([]byte(surface + "\x00" + actor + "\x00" + key))
	return surface + "-" + hex.EncodeToString(sum[:16])
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
	// Unavailable: Temporal or the database did not answer before anything
	// was recorded (or, for a referral, after it was safely recorded); try
	// again.
	Unavailable
	// OutcomeUnknown: the action was sent to the workflow but no answer came
	// back in time. It may have been recorded: a retry with the same Action
	// ID is safe (it is recorded at most once); a new action is not.
	OutcomeUnknown
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

// InvalidInput refuses an operation for the fields named ("invalid input").
// The API refuses a request it cannot read with the same words.
func InvalidInput(fields register.FieldErrors) error {
	return &Error{Kind: Invalid, Message: "invalid input", Fields: fields}
}

// InvalidReferral refuses a referral for the fields named.
func InvalidReferral(fields register.FieldErrors) error {
	return &Error{Kind: Invalid, Message: "the referral has invalid fields", Fields: fields}
}

// PersonNotFound: the register holds no person by that number.
func PersonNotFound(id int64) *Error {
	return &Error{Kind: NotFound, Message: fmt.Sprintf("no person %s on the register", register.Reference(id))}
}

// FormUnanswered is what a form (a web page's or a Slack modal's) says when
// the register did not answer in time. The action may have been recorded;
// a form is one action, under one idempotency key, so sending it again
// cannot record it twice.
const FormUnanswered = "The register did not answer in time: this may have been recorded. " +
	"Submitting the form again is safe: it will not be recorded twice."

// ReferResult says what became of a referral.
type ReferResult struct {
	PersonID   int64          `json:"person_id,omitempty"`
	Reference  string         `json:"reference,omitempty"`
	ReferralID int64          `json:"referral_id,omitempty"`
	Stage      register.Stage `json:"stage,omitempty"`
	// Existing is true when the person was already known (re-referral).
	Existing bool `json:"existing"`
	// Receipt is the referral's opaque reference.
	Receipt string `json:"receipt"`
	// IdentityCheck, when set, holds the referral: it may be about someone
	// already on the register and a coordinator must say who (no person,
	// stage or workflow yet).
	IdentityCheck *store.IdentityCheckRef `json:"identity_check,omitempty"`
}

// Refer records a referral and hands it to the person's workflow, starting
// the workflow for someone new. The record is written first: if Temporal is
// down the referral is kept and redelivered (RedeliverPending), never lost.
// A referral held for an identity check goes to no workflow until a
// coordinator resolves the check.
//
// by.ID, when set, is the referral's idempotency key: a retry records
// nothing more and answers with the first referral's IDs.
func (c *Casework) Refer(ctx context.Context, r register.Referral, by Action) (ReferResult, error) {
	receipt, release, err := c.record(ctx, r, by)
	if err != nil {
		return ReferResult{}, err
	}
	defer release() // the referral holds its place until it is delivered
	res := ReferResult{ReferralID: receipt.ReferralID, Receipt: receipt.Receipt, IdentityCheck: receipt.IdentityCheck}
	if receipt.Held() {
		return res, nil
	}
	status, err := c.deliver(ctx, store.PendingReferral{
		PersonID: receipt.PersonID, ReferralID: receipt.ReferralID, DateOfBirth: receipt.DateOfBirth,
		ProjectionSeq: receipt.ProjectionSeq, ReceivedBy: by.By,
	})
	if err != nil {
		return ReferResult{}, err
	}
	res.PersonID, res.Reference, res.Stage, res.Existing = receipt.PersonID, register.Reference(receipt.PersonID), status.Stage, receipt.Existing
	return res, nil
}

// record validates a referral and, once it has a place in the referral
// intake (intake.go), records it (store.CreateReferral). The caller gives
// the place back with release when it has done with the referral; on an
// error there is nothing to give back.
func (c *Casework) record(ctx context.Context, r register.Referral, by Action) (receipt store.ReferralReceipt, release func(), err error) {
	now := c.Now()
	r, errs := register.ValidateReferral(r, c.Today())
	if errs != nil {
		return receipt, nil, InvalidReferral(errs)
	}
	if release, err = c.takeInReferral(ctx); err != nil {
		return receipt, nil, err
	}
	receipt, err = c.Store.CreateReferral(ctx, store.NewReferral{
		Referral: r, Actor: by.By, IdempotencyKey: by.ID, ReceivedAt: now,
	})
	if err != nil {
		release()
	}
	if errors.Is(err, store.ErrIdempotencyKeyReused) {
		return receipt, nil, &Error{Kind: Conflict, Message: "this idempotency key was already used for a referral about a different person; use a new key", Err: err}
	}
	if err != nil {
		return receipt, nil, &Error{Kind: Unavailable, Message: "could not record the referral: nothing was recorded", Err: err}
	}
	return receipt, release, nil
}

// deliver sends a recorded referral to the person's workflow with
// Update-with-Start: one workflow per person, started if not running.
func (c *Casework) deliver(ctx context.Context, p store.PendingReferral) (workflows.PersonStatus, error) {
	escalations, err := c.Store.LastEscalationNumber(ctx, p.PersonID)
	if err != nil {
		return workflows.PersonStatus{}, &Error{Kind: Unavailable, Message: referralRecorded, Err: err}
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
		// Whether or not the workflow took it in, the referral is recorded
		// and redelivered until one does (UpdateID referral-<id> makes that
		// once): known, so not OutcomeUnknown.
		return status, c.workflowError(p.PersonID, err, Unavailable, referralRecorded)
	}
	return status, nil
}

const referralRecorded = "the register's workflow service did not answer: the referral is recorded and will be delivered again shortly"

// RedeliverPending hands referrals that were recorded but never taken in by
// a workflow (Temporal was down, the process died) to their workflows. The
// service runs it at start and then every minute. Each person gets at most
// each to answer, so one stuck delivery never holds up the others; the
// list itself is read within each too.
func (c *Casework) RedeliverPending(ctx context.Context, olderThan, each time.Duration) (int, error) {
	listCtx, cancel := context.WithTimeout(ctx, each)
	pending, err := c.Store.PendingReferrals(listCtx, c.Now().Add(-olderThan), 100)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("list pending referrals: %w", err)
	}
	done := 0
	for _, p := range pending {
		if ctx.Err() != nil {
			break
		}
		if err := c.redeliver(ctx, p, each); err != nil {
			// Opaque IDs only: the error is Temporal's or the database's,
			// never the person's details.
			c.Logger.WarnContext(ctx, "redeliver referral failed", "person_id", p.PersonID, "referral_id", p.ReferralID, "error", err)
			continue
		}
		done++
	}
	return done, nil
}

func (c *Casework) redeliver(ctx context.Context, p store.PendingReferral, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	_, err := c.deliver(ctx, p)
	return err
}

// ConsentRequest is a consent decision as entered by a coordinator.
type ConsentRequest struct {
	Basis     register.ConsentBasis
	GivenBy   string
	DecidedOn time.Time
	Notes     string
}

// RecordConsent records first consent or a renewal.
func (c *Casework) RecordConsent(ctx context.Context, personID int64, req ConsentRequest, by Action) (workflows.PersonStatus, error) {
	person, err := c.person(ctx, personID)
	if err != nil {
		return workflows.PersonStatus{}, err
	}
	if err := c.checkConsent(person, req); err != nil {
		return workflows.PersonStatus{}, err
	}
	return c.update(ctx, personID, workflows.UpdateRecordConsent, workflows.RecordConsentInput{
		Basis: req.Basis, GivenBy: req.GivenBy, DecidedOn: req.DecidedOn, Notes: req.Notes, Actor: by.By,
	}, by)
}

// checkConsent checks the basis against the person's age here too, so a
// mistake is answered field by field before it reaches the workflow. The
// decision date may be today in the team's time zone.
func (c *Casework) checkConsent(person store.PersonRecord, req ConsentRequest) error {
	if errs := register.ValidateConsent(register.Consent{Basis: req.Basis, GivenBy: req.GivenBy, DecidedOn: req.DecidedOn},
		person.DateOfBirth, c.Today()); errs != nil {
		return InvalidInput(errs)
	}
	return nil
}

// WithdrawConsent records a withdrawal: the person leaves the register now.
func (c *Casework) WithdrawConsent(ctx context.Context, personID int64, reason string, by Action) (workflows.PersonStatus, error) {
	if _, err := c.person(ctx, personID); err != nil {
		return workflows.PersonStatus{}, err
	}
	return c.update(ctx, personID, workflows.UpdateWithdrawConsent, workflows.WithdrawConsentInput{Reason: reason, Actor: by.By}, by)
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
func (c *Casework) Rate(ctx context.Context, personID int64, req RateRequest, by Action) (workflows.PersonStatus, error) {
	if _, err := c.person(ctx, personID); err != nil {
		return workflows.PersonStatus{}, err
	}
	if errs := register.ValidateRating(req.Rating, req.Rationale, req.SecurePlacement); errs != nil {
		return workflows.PersonStatus{}, InvalidInput(errs)
	}
	if req.Rating == register.Red {
		// Its alert goes first: no new referral is taken in meanwhile.
		c.redFirst.Add()
		defer c.redFirst.Done()
	}
	return c.update(ctx, personID, workflows.UpdateRate, workflows.RateInput{
		Rating: req.Rating, Rationale: req.Rationale, SecurePlacement: req.SecurePlacement, Actor: by.By,
	}, by)
}

// ConfirmReview confirms the rating at review without changing it.
func (c *Casework) ConfirmReview(ctx context.Context, personID int64, notes string, by Action) (workflows.PersonStatus, error) {
	if _, err := c.person(ctx, personID); err != nil {
		return workflows.PersonStatus{}, err
	}
	return c.update(ctx, personID, workflows.UpdateConfirmReview, workflows.ConfirmReviewInput{Notes: notes, Actor: by.By}, by)
}

// Remove takes the person off the register.
func (c *Casework) Remove(ctx context.Context, personID int64, reason register.RemovalReason, notes string, by Action) (workflows.PersonStatus, error) {
	if _, err := c.person(ctx, personID); err != nil {
		return workflows.PersonStatus{}, err
	}
	if _, err := register.ParseRemovalReason(string(reason)); err != nil {
		return workflows.PersonStatus{}, InvalidInput(register.FieldErrors{"reason": err.Error()})
	}
	return c.update(ctx, personID, workflows.UpdateRemove, workflows.RemoveInput{Reason: reason, Notes: notes, Actor: by.By}, by)
}

// Assign assigns the person to a coordinator (by name).
func (c *Casework) Assign(ctx context.Context, personID int64, coordinator string, by Action) (workflows.PersonStatus, error) {
	if _, err := c.person(ctx, personID); err != nil {
		return workflows.PersonStatus{}, err
	}
	if errs := register.ValidateAssignment(coordinator); errs != nil {
		return workflows.PersonStatus{}, InvalidInput(errs)
	}
	return c.update(ctx, personID, workflows.UpdateAssign, workflows.AssignInput{Coordinator: coordinator, Actor: by.By}, by)
}

func (c *Casework) person(ctx context.Context, id int64) (store.PersonRecord, error) {
	p, err := c.Store.Person(ctx, id)
	return found(p, err, PersonNotFound(id).Message)
}

// found answers a read of the record an operation acts on: a missing record
// is NotFound in the words of missing, any other failure Unavailable.
func found[T any](record T, err error, missing string) (T, error) {
	if errors.Is(err, store.ErrNotFound) {
		return record, &Error{Kind: NotFound, Message: missing}
	}
	if err != nil {
		return record, &Error{Kind: Unavailable, Message: notRead, Err: err}
	}
	return record, nil
}

// notRead answers a failed read before anything was sent: known to have
// changed nothing.
const notRead = "could not read the register: nothing was changed"

// update sends a coordinator action to the person's workflow and waits for
// its answer.
func (c *Casework) update(ctx context.Context, personID int64, name string, arg any, by Action) (workflows.PersonStatus, error) {
	var status workflows.PersonStatus
	err := c.updateWorkflow(ctx, workflows.PersonWorkflowID(personID), name, arg, by, &status)
	if err != nil {
		return status, c.workflowError(personID, err, OutcomeUnknown, mayHaveBeenRecorded)
	}
	return status, nil
}

// mayHaveBeenRecorded answers an Update sent without an answer back: the
// workflow may have taken it in. Never "nothing was changed" here.
const mayHaveBeenRecorded = "the register's workflow service did not answer in time: the action may have been recorded"

// updateWorkflow sends an Update and waits for its result. The action's ID
// is the UpdateID: Temporal answers a repeat with the first outcome instead
// of running it again.
func (c *Casework) updateWorkflow(ctx context.Context, workflowID, name string, arg any, by Action, result any) error {
	handle, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		UpdateName:   name,
		UpdateID:     by.ID,
		WaitForStage: client.WorkflowUpdateStageCompleted,
		Args:         []any{arg},
	})
	if err != nil {
		return err
	}
	return handle.Get(ctx, result)
}

// workflowError turns what Temporal answered into an Error for the caller:
// a validator's refusal as Invalid or Conflict (nothing was changed), an
// ended workflow as Conflict, anything else as kind with message.
func (c *Casework) workflowError(personID int64, err error, kind Kind, message string) error {
	if r, ok := workflows.Refused(err); ok {
		switch {
		case r.Type == workflows.ErrNoLongerApplies:
			return &Error{Kind: Conflict, Message: r.Message}
		case r.Fields != nil:
			return InvalidInput(r.Fields)
		}
		return &Error{Kind: Invalid, Message: r.Message}
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// The record exists but its workflow has ended: the person was
		// removed, so the action no longer applies.
		return &Error{Kind: Conflict, Message: fmt.Sprintf("%s is no longer on the register; refer them again to act", register.Reference(personID))}
	}
	// Opaque IDs only: the error is Temporal's, never the person's details.
	c.Logger.Error("workflow call failed", "person_id", personID, "error", err)
	return &Error{Kind: kind, Message: message, Err: err}
}
