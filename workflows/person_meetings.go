package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/register"
)

// The person's side of a meeting (see the map in meeting.go): convening it
// records its first step and starts its MeetingWorkflow.

// meetingsVersion names the workflow.GetVersion change that brought
// meetings to the person's workflow.
const meetingsVersion = "meetings"

// ConveneMeetingInput convenes a meeting.
type ConveneMeetingInput struct {
	Plan  register.MeetingPlan
	Actor string
}

// MeetingConvened answers UpdateConveneMeeting.
type MeetingConvened struct {
	Number int
}

func (p *person) validateConveneMeeting(ctx workflow.Context, in ConveneMeetingInput) error {
	if err := p.mustBeOnRegister(); err != nil {
		return err
	}
	errs := register.FieldErrors{}
	errs.Merge(register.ValidateMeetingPlan(in.Plan, workflow.Now(ctx)))
	errs.Merge(actorErrors(in.Actor))
	return refuseBadFields(errs)
}

// conveneMeeting numbers the person's next meeting, records its convening
// (and the invitations) as the meeting's first step, and starts its
// workflow. Meetings are numbered on from the record in a new spell.
func (p *person) conveneMeeting(ctx workflow.Context, in ConveneMeetingInput) (MeetingConvened, error) {
	var out MeetingConvened
	_, err := p.locked(ctx, func() error { return p.validateConveneMeeting(ctx, in) }, func(now time.Time) error {
		if workflow.GetVersion(ctx, meetingsVersion, workflow.DefaultVersion, 1) < 1 {
			return noLongerApplies("meetings are not available to this workflow yet")
		}
		if p.Meetings == 0 {
			last, err := readLocally[activities.LastMeetingResult](ctx, "LastMeetingNumber",
				activities.LastMeetingInput{PersonID: p.PersonID}, "the last meeting number")
			if err != nil {
				return err
			}
			p.Meetings = last.Number
		}
		p.Meetings++
		mi := MeetingInput{PersonID: p.PersonID, Number: p.Meetings}
		m := &meeting{in: mi}
		m.Policy = p.Policy
		first := m.convening(now, in.Actor, in.Plan)
		if _, err := m.Tasks.record(ctx, first); err != nil {
			return err
		}
		mi.State = m.MeetingState
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: MeetingWorkflowID(p.PersonID, mi.Number),
			// A meeting outlives a continue-as-new of the person's workflow.
			ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		})
		child := workflow.ExecuteChildWorkflow(cctx, MeetingWorkflow, mi)
		if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			return fmt.Errorf("meeting recorded, but its workflow did not start: %w", err)
		}
		out.Number = mi.Number
		p.changed = true
		return nil
	})
	return out, err
}
