package casework

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/workflows"
)

// defaultDeliverWithin bounds a referral's delivery in the background when
// Casework.DeliverWithin is not set.
const defaultDeliverWithin = 10 * time.Second

// Receive records a referral from outside the team (the referrer role: a
// portal, a GP system) and answers with its receipt only. Whoever it is
// about — someone new, someone known, someone removed, someone whose
// identity must be checked — the answer is the same and comes as soon as
// the referral is recorded: delivery to the person's workflow happens in
// the background (and, should that fail, by RedeliverPending), so neither
// the answer nor its timing says whether the person was known.
func (c *Casework) Receive(ctx context.Context, r register.Referral, by Action) (ReferResult, error) {
	receipt, release, err := c.record(ctx, r, by)
	if err != nil {
		return ReferResult{}, err
	}
	release() // delivered in the background, which takes a place of its own
	if !receipt.Held() && receipt.AcceptedAt == nil {
		c.deliverInBackground(store.PendingReferral{
			PersonID: receipt.PersonID, ReferralID: receipt.ReferralID, DateOfBirth: receipt.DateOfBirth,
			ProjectionSeq: receipt.ProjectionSeq, ReceivedBy: by.By,
		})
	}
	return ReferResult{Receipt: receipt.Receipt}, nil
}

// deliverInBackground hands a recorded referral to its workflow without
// anyone waiting, bounded like every delivery. A failure is logged with
// opaque IDs only and left to RedeliverPending.
func (c *Casework) deliverInBackground(p store.PendingReferral) {
	within := c.DeliverWithin
	if within <= 0 {
		within = defaultDeliverWithin
	}
	c.background.Add(1)
	go func() {
		defer c.background.Done()
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		release, err := c.takeInReferral(ctx)
		if err == nil {
			defer release()
			_, err = c.deliver(ctx, p)
		} else {
			// Not takeInReferral's words ("nothing was recorded"): this
			// referral is recorded, and waits for RedeliverPending.
			err = fmt.Errorf("no place in the referral intake within %s: %w", within, ctx.Err())
		}
		if err != nil {
			c.Logger.Warn("referral delivery in the background failed; it will be delivered again",
				"person_id", p.PersonID, "referral_id", p.ReferralID, "error", err)
		}
	}()
}

// WaitForDeliveries waits until the background deliveries under way have
// finished (each is bounded), for a clean shutdown and for tests.
func (c *Casework) WaitForDeliveries() { c.background.Wait() }

// IdentityCheckResult is an identity check as resolved, with the standing
// of the person the referral went to.
type IdentityCheckResult struct {
	store.IdentityCheck
	Reference string         `json:"reference"`
	Stage     register.Stage `json:"stage"`
}

// ResolveIdentityCheck applies a coordinator's decision (store.ResolveIdentityCheck
// says what each does) and delivers the referral to the person it is now
// filed against. Resolving again with the same decision (a retry, a second
// click) answers with the first outcome; the other decision is refused.
func (c *Casework) ResolveIdentityCheck(ctx context.Context, id int64, decision register.IdentityDecision, notes string, by Action) (IdentityCheckResult, error) {
	if _, err := register.ParseIdentityDecision(string(decision)); err != nil {
		return IdentityCheckResult{}, InvalidInput(register.FieldErrors{"decision": err.Error()})
	}
	check, pending, err := c.Store.ResolveIdentityCheck(ctx, store.IdentityResolution{
		CheckID: id, Decision: decision, Notes: notes, Actor: by.By, At: c.Now(),
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return IdentityCheckResult{}, &Error{Kind: NotFound, Message: fmt.Sprintf("no identity check %d", id)}
	case errors.Is(err, store.ErrIdentityCheckResolved):
		return IdentityCheckResult{}, &Error{Kind: Conflict, Message: fmt.Sprintf("identity check %d was already resolved the other way", id), Err: err}
	case err != nil:
		return IdentityCheckResult{}, &Error{Kind: Unavailable, Message: "could not record the decision: nothing was changed", Err: err}
	}
	res := IdentityCheckResult{IdentityCheck: check, Reference: register.Reference(pending.PersonID)}
	status, err := c.deliver(ctx, pending)
	if err != nil {
		return res, err
	}
	res.Stage = status.Stage
	return res, nil
}

// MergeResult says what a merge did.
type MergeResult struct {
	From          int64  `json:"from_person_id"`
	Into          int64  `json:"into_person_id"`
	FromReference string `json:"from_reference"`
	IntoReference string `json:"into_reference"`
	// FromRemoved: the merged record's workflow ended (removed, merged);
	// false when it had already ended.
	FromRemoved bool `json:"from_removed"`
}

// Merge records that two records are one person and ends the merged one's
// workflow: its referrals move to the survivor, and it is removed with the
// reason merged (its open tasks close, an escalation ends), audited on
// both records. The record is merged first and the workflow told second,
// so a retry with the same action ID finishes a merge cut short and does
// nothing twice.
func (c *Casework) Merge(ctx context.Context, from, into int64, reason string, by Action) (MergeResult, error) {
	errs := register.FieldErrors{}
	if into == 0 {
		errs.Add("into", "is required: the record that stays")
	}
	if strings.TrimSpace(reason) == "" {
		errs.Add("reason", "is required: why these are one person")
	}
	if into == from {
		errs.Add("into", "must be another record")
	}
	if len(errs) > 0 {
		return MergeResult{}, InvalidInput(errs)
	}
	for _, id := range []int64{from, into} {
		if _, err := c.person(ctx, id); err != nil {
			return MergeResult{}, err
		}
	}
	err := c.Store.MergePeople(ctx, store.Merge{From: from, Into: into, Reason: strings.TrimSpace(reason), Actor: by.By, At: c.Now()})
	switch {
	case errors.Is(err, store.ErrMergeRefused):
		_, why, _ := strings.Cut(err.Error(), store.ErrMergeRefused.Error()+": ")
		return MergeResult{}, &Error{Kind: Conflict, Message: "cannot merge: " + why, Err: err}
	case err != nil:
		return MergeResult{}, &Error{Kind: Unavailable, Message: "could not merge the records: nothing was changed", Err: err}
	}
	res := MergeResult{From: from, Into: into, FromReference: register.Reference(from), IntoReference: register.Reference(into)}
	var status workflows.PersonStatus
	err = c.updateWorkflow(ctx, workflows.PersonWorkflowID(from), workflows.UpdateRemove,
		workflows.RemoveInput{Reason: register.RemovedMerged, Notes: "merged into " + register.Reference(into), Actor: by.By}, by, &status)
	if err == nil {
		res.FromRemoved = true
		return res, nil
	}
	werr := c.workflowError(from, err, OutcomeUnknown, "the records are merged, but the register's workflow service did not answer in time: the merged record's workflow may not have ended yet")
	var ce *Error
	if errors.As(werr, &ce) && ce.Kind == Conflict {
		// Already removed or never started: nothing left to end.
		return res, nil
	}
	return res, werr
}
