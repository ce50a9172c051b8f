// Package activities does what the workflows decide: it records changes in
// PostgreSQL, together with what they tell coordinators (the notification
// outbox delivers that). Every activity is idempotent, because
// Temporal may run it more than once.
package activities

import (
	"context"
	"fmt"

	"github.com/dsr-register/dsr/internal/register"
)

// Recorder is the part of the store the activities write through.
type Recorder interface {
	// RecordChange applies a change once, keyed by (PersonID, Seq), queues
	// what it tells coordinators in the same transaction, and returns the
	// IDs of the tasks the change names.
	RecordChange(ctx context.Context, c register.Change) (map[string]int64, error)
	// LastRecorded is the person's last recorded change number and
	// escalation number.
	LastRecorded(ctx context.Context, personID int64) (seq int64, escalations int, err error)
}

// Activities holds the activities' dependencies.
type Activities struct {
	Store Recorder
	// Policy returns the policy in force now. It is read on every call so a
	// restarted service with new settings reaches running workflows.
	Policy func() register.Policy
	// Digest, if set, is the managers' digest's activities (digest.go),
	// registered beside these.
	Digest *Digests
	// Meetings, if set, is the meeting and feedback workflows' activities
	// (meetings.go), registered beside these.
	Meetings *Meetings
}

// CurrentPolicyInput asks for the timings in force.
type CurrentPolicyInput struct{}

// CurrentPolicyResult carries the timings in force.
type CurrentPolicyResult struct {
	Policy register.Policy
}

// CurrentPolicy returns the policy from configuration. Workflows call it as a
// local activity whenever they set a timer.
func (a *Activities) CurrentPolicy(ctx context.Context, _ CurrentPolicyInput) (CurrentPolicyResult, error) {
	return CurrentPolicyResult{Policy: a.Policy()}, nil
}

// RecordChangeInput is one change decided by a person workflow.
type RecordChangeInput struct {
	Change register.Change
}

// RecordChangeResult gives the IDs of the task rows the change opened.
type RecordChangeResult struct {
	TaskIDs map[string]int64
}

// RecordChange writes the change (audit, projection, tasks) and queues what
// it tells coordinators, in one transaction. On a retry the write is a
// no-op and the notifications' keys are already queued.
func (a *Activities) RecordChange(ctx context.Context, in RecordChangeInput) (RecordChangeResult, error) {
	c := in.Change
	ids, err := a.Store.RecordChange(ctx, c)
	if err != nil {
		return RecordChangeResult{}, fmt.Errorf("record change %d for person %d: %w", c.Seq, c.PersonID, err)
	}
	return RecordChangeResult{TaskIDs: ids}, nil
}

// LastRecordedInput asks how far a person's record has been numbered.
type LastRecordedInput struct {
	PersonID int64
}

// LastRecordedResult is the person's last recorded change and escalation
// numbers.
type LastRecordedResult struct {
	Seq         int64
	Escalations int
}

// LastRecorded reads how far the person's record has been numbered. A new
// spell's workflow numbers on from it, rather than from what the referral
// saw when it was recorded: a removal recorded in between (the old spell
// ending as the referral arrived) would otherwise share its numbers.
func (a *Activities) LastRecorded(ctx context.Context, in LastRecordedInput) (LastRecordedResult, error) {
	seq, escalations, err := a.Store.LastRecorded(ctx, in.PersonID)
	if err != nil {
		return LastRecordedResult{}, fmt.Errorf("last recorded for person %d: %w", in.PersonID, err)
	}
	return LastRecordedResult{Seq: seq, Escalations: escalations}, nil
}
