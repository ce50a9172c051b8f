package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/register"
)

// Retention is a durable timer per removed person, RetentionWorkflow,
// dsr-retention-<id>: started by the person's workflow when they are
// removed, it waits out DSR_RETENTION_AFTER_REMOVAL (and, for someone
// removed as a child, the Code's children's period) and then erases their
// identifying details.
//
// A workflow of its own, rather than the person's workflow waiting before
// it completes: a removed person's workflow ends, so a re-referral starts a
// new spell on the same workflow ID exactly as before, and nothing about
// spells, Updates or continue-as-new had to change. The timer reads the
// record each time it wakes (at least every DSR_POLICY_RECHECK), so it ends
// by itself when the person is referred again, follows a later removal,
// picks up a new retention setting, and ends if they were erased on
// request.

// retentionVersion names the workflow.GetVersion change that starts the
// retention timer at removal. Histories from before it remove without one.
const retentionVersion = "retention-timer-at-removal"

// RetentionInput starts (or continues) a person's retention timer.
type RetentionInput struct {
	PersonID int64
	// ContinueAsNewAfterEvents: as PersonWorkflowInput's (tests only).
	ContinueAsNewAfterEvents int
}

// RetentionResult says how the timer ended.
type RetentionResult struct {
	Erased bool
	// Outcome: "erased", "already erased", "on the register again".
	Outcome string
}

// RetentionWorkflow waits until a removed person's retention period has
// passed and erases their identifying details.
func RetentionWorkflow(ctx workflow.Context, in RetentionInput) (RetentionResult, error) {
	for {
		policy, err := readPolicy(ctx)
		if err != nil {
			return RetentionResult{}, err
		}
		st, err := retentionOf(ctx, in.PersonID)
		if err != nil {
			return RetentionResult{}, err
		}
		switch {
		case st.Erased:
			return RetentionResult{Outcome: "already erased"}, nil
		case !st.Removed:
			return RetentionResult{Outcome: "on the register again"}, nil
		}
		now := workflow.Now(ctx)
		due := register.ErasureDue(st.RemovedAt, st.ChildRecordsUntil, policy.RetentionAfterRemoval)
		wait := min(due.Sub(now), policy.Recheck)
		if !now.Before(due) {
			erased, err := eraseAfterRetention(ctx, in.PersonID, st.RemovedAt)
			if err != nil {
				return RetentionResult{}, err
			}
			if erased {
				return RetentionResult{Erased: true, Outcome: "erased"}, nil
			}
			// Not erased: a referral is waiting to be taken in, or the
			// person was removed again. Look again later.
			wait = policy.Recheck
		}
		if shouldContinueAsNew(ctx, in.ContinueAsNewAfterEvents) {
			return RetentionResult{}, workflow.NewContinueAsNewError(ctx, RetentionWorkflow, in)
		}
		if err := workflow.Sleep(ctx, wait); err != nil {
			return RetentionResult{}, err
		}
	}
}

// startRetention starts the person's retention timer as they are removed.
// It outlives the person's workflow (abandoned when it ends). One already
// running, from an earlier removal, reads the record and so serves this
// removal too.
func (p *person) startRetention(ctx workflow.Context) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            RetentionWorkflowID(p.PersonID),
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	})
	err := workflow.ExecuteChildWorkflow(cctx, RetentionWorkflow, RetentionInput{PersonID: p.PersonID}).
		GetChildWorkflowExecution().Get(ctx, nil)
	var running *temporal.ChildWorkflowExecutionAlreadyStartedError
	if err != nil && !errors.As(err, &running) {
		// The removal stands; only the timer is missing. Opaque IDs only.
		workflow.GetLogger(ctx).Warn("retention timer did not start", "person_id", p.PersonID, "error", err)
	}
}

// retentionOf reads where the person stands.
func retentionOf(ctx workflow.Context, personID int64) (activities.RetentionStanding, error) {
	return readLocally[activities.RetentionStanding](ctx, "RetentionOf", activities.RetentionOfInput{PersonID: personID}, "retention standing")
}

// eraseAfterRetention runs the erasure; like recordChange it is retried
// until it reaches the record.
func eraseAfterRetention(ctx workflow.Context, personID int64, removedAt time.Time) (bool, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         retryDoubling(time.Minute),
	})
	var a *activities.Activities
	var res activities.EraseAfterRetentionResult
	if err := workflow.ExecuteActivity(ctx, a.EraseAfterRetention, activities.EraseAfterRetentionInput{PersonID: personID, RemovedAt: removedAt}).Get(ctx, &res); err != nil {
		return false, fmt.Errorf("erase after retention: %w", err)
	}
	return res.Erased, nil
}
