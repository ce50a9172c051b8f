package workflows

import (
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/internal/register"
)

// What national policy attaches to each colour, as the person's workflow
// carries it out (rules version 1 onwards):
//
//   - red: an EscalationWorkflow (a child) alerts, waits for acknowledgement
//     and tracks the C(E)TR, keyworker referral and multi-agency meeting;
//   - amber: a multi-agency meeting and/or C(E)TR within the amber window,
//     and a keyworker referral for people aged 0–25;
//   - blue (admitted): a post-admission C(E)TR (adult or child window by age
//     at admission), then recurring inpatient C(E)TRs whose cadence follows
//     the age at the last one held and whether the placement is secure, and
//     a keyworker referral for people aged 0–25;
//   - leaving blue (discharge): held at red for the discharge hold before a
//     lower rating is accepted.

// rulesVersion names the workflow.GetVersion change that brought these
// rules in. Histories recorded before it replay without them; a running
// workflow picks them up at its next continue-as-new.
//
// Version 2 brings nothing new of its own: it settles, once at the start of
// a run, that a red rating records its alert with it (alertWithRating). A
// version decided at the moment of turning red instead costs the workflow
// task the alert waits on a marker and Temporal's upsert of its
// TemporalChangeVersion search attribute, about a millisecond and a half of
// the alert's time on the local stack.
const rulesVersion = "colour-actions-and-escalation"

// alertWithRatingVersion names the workflow.GetVersion change that records
// a red rating and its escalation's alert in one change (one transaction),
// instead of leaving the alert to the escalation workflow once started: the
// alert no longer waits for a child workflow's start and first activity.
// Histories from before it replay the old way (startEscalation). Runs from
// rulesVersion 2 record the alert with the rating without asking.
const alertWithRatingVersion = "alert-recorded-with-red-rating"

// alertWithRating says whether a red rating records its escalation's alert
// in the rating's own change: always in runs from rulesVersion 2; in runs
// from version 1, as alertWithRatingVersion was decided at their first red.
func (p *person) alertWithRating(ctx workflow.Context) bool {
	return p.rules >= 2 || workflow.GetVersion(ctx, alertWithRatingVersion, workflow.DefaultVersion, 1) == 1
}

// newSpellNumberingVersion names the change that numbers a new spell on
// from the record (lastRecorded) rather than from the referral's reading.
const newSpellNumberingVersion = "new-spell-numbers-from-record"

// drainSignalsVersion names the change that drains pending signals before
// continuing as new, so an "escalation ended" or "action done" arriving at
// that moment is not lost.
const drainSignalsVersion = "drain-signals-before-continue-as-new"

// colourActions opens and closes the tasks a change of rating brings, in the
// same recorded change as the rating. It runs with the state already at the
// new rating.
func (p *person) colourActions(c *register.Change, now time.Time, from, to register.Rating, secure bool) {
	if p.rules < 1 {
		return
	}
	if from == to {
		if to == register.Blue && secure != p.SecurePlacement {
			p.SecurePlacement = secure
			c.Detail["secure_placement"] = boolWord(secure)
			// The cadence changed: an open inpatient C(E)TR moves with it.
			p.rescheduleInpatientCTR(c, now)
		}
		return
	}
	age := register.AgeOn(p.DateOfBirth, now)
	changed := "rating changed to " + string(to)
	switch from {
	case register.Blue:
		p.DischargedAt = now
		p.LastInpatientCTROn = time.Time{}
		p.closeTasks(c, register.TaskStatusCancelled, "discharged from hospital ("+changed+")",
			register.TaskPostAdmissionCTR, register.TaskInpatientCTR)
	case register.Amber:
		p.closeTasks(c, register.TaskStatusCancelled, changed, register.TaskAmberMeeting)
	}
	switch to {
	case register.Green:
		p.closeTasks(c, register.TaskStatusCancelled, changed+": a keyworker referral is for red, amber and blue", register.TaskKeyworkerReferral)
	case register.Red:
		// The escalation asks for the keyworker referral now.
		p.closeTasks(c, register.TaskStatusCancelled, changed+": the escalation tracks it", register.TaskKeyworkerReferral)
	case register.Amber:
		p.openTask(c, now, register.TaskAmberMeeting, now.Add(p.Policy.AmberMeetingWithin), register.ActionMarkDone)
		p.openKeyworkerReferral(c, now, age)
	case register.Blue:
		p.AdmittedAt = now
		p.DischargedAt = time.Time{}
		p.SecurePlacement = secure
		p.LastInpatientCTROn = time.Time{}
		c.Detail["secure_placement"] = boolWord(secure)
		p.openTask(c, now, register.TaskPostAdmissionCTR, now.Add(p.Policy.PostAdmissionCTRWithin(age)), register.ActionMarkDone)
		p.openKeyworkerReferral(c, now, age)
	}
}

// rescheduleInpatientCTR moves an open inpatient C(E)TR task to the due
// date the corrected cadence gives (the secure placement was just
// corrected): the task is cancelled and, when the new date is within the
// notice, opened again in the same change; otherwise the main loop opens it
// when the notice begins.
func (p *person) rescheduleInpatientCTR(c *register.Change, now time.Time) {
	t, open := p.Tasks.find(register.TaskInpatientCTR)
	due := p.nextInpatientCTRDue()
	if !open || due.IsZero() || t.DueAt.Equal(due) {
		return
	}
	// The due date is a date (from the day the last C(E)TR was held).
	p.closeTasks(c, register.TaskStatusCancelled, "secure placement corrected: the next C(E)TR is due "+due.Format("Mon 2 Jan 2006"),
		register.TaskInpatientCTR)
	if !now.Before(due.Add(-p.Policy.CTRNotice)) {
		p.openTask(c, now, register.TaskInpatientCTR, due, register.ActionMarkDone)
	}
}

// openKeyworkerReferral asks for a keyworker referral for a person aged
// 0–25, unless one was made this spell or is already asked for.
func (p *person) openKeyworkerReferral(c *register.Change, now time.Time, age int) {
	if !p.Policy.KeyworkerEligible(age) || !p.KeyworkerReferredOn.IsZero() {
		return
	}
	if _, open := p.Tasks.find(register.TaskKeyworkerReferral); open {
		return
	}
	p.openTask(c, now, register.TaskKeyworkerReferral, now.Add(p.Policy.AmberKeyworkerWithin), register.ActionMarkDone)
}

// heldAtRedUntil is the end of the discharge hold, or zero when none runs.
func (p *person) heldAtRedUntil() time.Time {
	if p.rules < 1 || p.Policy.DischargeHold <= 0 || p.DischargedAt.IsZero() {
		return time.Time{}
	}
	return p.DischargedAt.Add(p.Policy.DischargeHold)
}

// checkDischargeHold refuses a rating below red while the person is held at
// red after discharge, giving the date it becomes allowed.
func (p *person) checkDischargeHold(now time.Time, to register.Rating) string {
	if p.rules < 1 || p.Policy.DischargeHold <= 0 || (to != register.Amber && to != register.Green) {
		return ""
	}
	if p.Rating == register.Blue {
		return "after discharge from hospital the person is held at red for " + days(p.Policy.DischargeHold) +
			" (DSR_DISCHARGE_HOLD): rate red now; " + string(to) + " is accepted from " + p.localTime(now.Add(p.Policy.DischargeHold))
	}
	if until := p.heldAtRedUntil(); now.Before(until) {
		return "the person is held at red after discharge from hospital on " + p.localTime(p.DischargedAt) +
			": " + string(to) + " is accepted from " + p.localTime(until)
	}
	return ""
}

// nextInpatientCTRDue is when the next recurring inpatient C(E)TR falls
// due: from the last one held, at the cadence for the person's age on that
// day (so turning 18 switches cadence at the next review).
func (p *person) nextInpatientCTRDue() time.Time {
	if p.rules < 1 || p.Rating != register.Blue || p.LastInpatientCTROn.IsZero() {
		return time.Time{}
	}
	age := register.AgeOn(p.DateOfBirth, p.LastInpatientCTROn)
	return p.LastInpatientCTROn.Add(p.Policy.InpatientCTREvery(age, p.SecurePlacement))
}

// openInpatientCTR opens the recurring inpatient C(E)TR task its notice
// ahead of the due date.
func (p *person) openInpatientCTR(ctx workflow.Context, now time.Time) (bool, error) {
	due := p.nextInpatientCTRDue()
	if due.IsZero() || !p.opensAhead(now, register.TaskInpatientCTR, due, p.Policy.CTRNotice) {
		return false, nil
	}
	if _, open := p.Tasks.find(register.TaskPostAdmissionCTR); open {
		return false, nil
	}
	age := register.AgeOn(p.DateOfBirth, p.LastInpatientCTROn)
	return true, p.record(ctx, TimerActor, "inpatient_ctr_due",
		map[string]string{"due_at": due.Format(time.RFC3339), "cadence": days(p.Policy.InpatientCTREvery(age, p.SecurePlacement)),
			"secure_placement": boolWord(p.SecurePlacement)},
		func(c *register.Change) {
			p.openTask(c, now, register.TaskInpatientCTR, due, register.ActionMarkDone)
		})
}

// --- escalation --------------------------------------------------------------

// startEscalation starts the person's next EscalationWorkflow, which
// alerts. The caller waits for it to have started after recording the
// rating, so the alert's round trips overlap the rating's. It is how red
// ratings were handled before the alert moved into the rating's change
// (alertWithRatingVersion); histories from then replay through it.
func (p *person) startEscalation(ctx workflow.Context, now time.Time, actor string) workflow.ChildWorkflowFuture {
	return p.startEscalationWorkflow(ctx, p.nextEscalation(now, actor))
}

// nextEscalation numbers the person's next escalation and says what it
// starts from.
func (p *person) nextEscalation(now time.Time, actor string) EscalationInput {
	p.Escalations++
	p.OpenEscalation = p.Escalations
	return EscalationInput{
		PersonID:            p.PersonID,
		Number:              p.OpenEscalation,
		RedAt:               now,
		Actor:               actor,
		AgeAtRed:            register.AgeOn(p.DateOfBirth, now),
		KeyworkerReferredOn: p.KeyworkerReferredOn,
		Policy:              p.Policy,
	}
}

// openedEscalation is an escalation whose first step (its alert and the
// actions policy expects) is recorded with the change that turns the person
// red, in one transaction: the rating and its alert are one fact.
type openedEscalation struct {
	input EscalationInput
	first register.Change
}

// openEscalation decides the next escalation's first step. The caller
// records it with its change (recordWith), then starts the workflow that
// takes the escalation on (startOpened).
func (p *person) openEscalation(now time.Time, actor string) *openedEscalation {
	in := p.nextEscalation(now, actor)
	e := &escalation{in: in}
	e.Policy = p.Policy
	first := e.opening(now)
	in.State = &e.EscalationState
	return &openedEscalation{input: in, first: first}
}

// recordWith adds the escalation's first step to c; none opened adds
// nothing.
func (o *openedEscalation) recordWith(c *register.Change) {
	if o != nil {
		c.Also = &o.first
	}
}

// startOpened starts the workflow of an escalation recorded with a change,
// once the change's task IDs (ids) are known.
func (p *person) startOpened(ctx workflow.Context, o *openedEscalation, ids map[string]int64) workflow.ChildWorkflowFuture {
	o.input.State.Tasks.setIDs(ids)
	return p.startEscalationWorkflow(ctx, o.input)
}

// startEscalationWorkflow starts an escalation as a child that outlives
// this workflow's continue-as-new.
func (p *person) startEscalationWorkflow(ctx workflow.Context, in EscalationInput) workflow.ChildWorkflowFuture {
	ctx = workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: EscalationWorkflowID(p.PersonID, in.Number),
		// The escalation outlives a continue-as-new of this workflow; it
		// is ended by signal, never by its parent closing.
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	return workflow.ExecuteChildWorkflow(ctx, EscalationWorkflow, in)
}

// endEscalation tells the running escalation to end and record its outcome.
// An escalation already gone (ended by an operator) is logged, not fatal:
// the person's record must move on regardless.
func (p *person) endEscalation(ctx workflow.Context, reason, actor string) {
	if p.OpenEscalation == 0 {
		return
	}
	id := EscalationWorkflowID(p.PersonID, p.OpenEscalation)
	p.OpenEscalation = 0
	err := workflow.SignalExternalWorkflow(ctx, id, "", SignalEndEscalation,
		EndEscalationSignal{Reason: reason, Actor: actor, At: workflow.Now(ctx)}).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("escalation already gone", "workflow_id", id, "error", err)
	}
}

// receiveActionsDone keeps what an escalation reports done that outlasts it.
func (p *person) receiveActionsDone(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, SignalActionDone)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var d ActionDone
			ch.Receive(ctx, &d)
			p.actionDone(d)
		}
	})
}

// drainActionsDone takes in every "action done" signal already delivered,
// before continuing as new: the goroutine above may not have run since it
// arrived, and a signal left unread would not follow into the new run.
func (p *person) drainActionsDone(ctx workflow.Context) {
	if workflow.GetVersion(ctx, drainSignalsVersion, workflow.DefaultVersion, 1) < 1 {
		return
	}
	ch := workflow.GetSignalChannel(ctx, SignalActionDone)
	for {
		var d ActionDone
		if !ch.ReceiveAsync(&d) {
			return
		}
		p.actionDone(d)
	}
}

func (p *person) actionDone(d ActionDone) {
	if d.Kind == register.TaskKeyworkerReferral && !d.NotNeeded {
		p.KeyworkerReferredOn = d.On
	}
}

// --- completing the person's own required actions ---------------------------

func (p *person) validateCompleteAction(ctx workflow.Context, in CompleteActionInput) error {
	if err := p.mustBeOnRegister(); err != nil {
		return err
	}
	if p.OpenEscalation != 0 && (in.Kind == register.TaskCommunityCTR || in.Kind == register.TaskMultiAgencyMeeting ||
		(in.Kind == register.TaskKeyworkerReferral && !p.hasTask(in.Kind))) {
		return noLongerApplies("%s belongs to the open escalation: record it there", in.Kind)
	}
	return validateCompletion(in, p.Tasks, nil, p.Policy, workflow.Now(ctx))
}

func (p *person) completeAction(ctx workflow.Context, in CompleteActionInput) (PersonStatus, error) {
	return p.locked(ctx, func() error { return p.validateCompleteAction(ctx, in) }, func(now time.Time) error {
		done := completion(in, p.Policy, now)
		switch in.Kind {
		case register.TaskKeyworkerReferral:
			p.KeyworkerReferredOn = done.On
		case register.TaskPostAdmissionCTR, register.TaskInpatientCTR:
			p.LastInpatientCTROn = done.On
		}
		detail := map[string]string{"kind": string(in.Kind), "on": done.On.Format("2006-01-02"), "notes": in.Notes}
		return p.record(ctx, in.Actor, "action_done", detail, func(c *register.Change) {
			p.closeTasks(c, register.TaskStatusDone, completionOutcome(done), in.Kind)
		})
	})
}

func (p *person) hasTask(kind register.TaskKind) bool {
	_, ok := p.Tasks.find(kind)
	return ok
}

// localTime formats an instant in the team's time zone for messages.
func (p *person) localTime(t time.Time) string {
	if cal, err := p.Policy.Calendar(); err == nil {
		t = t.In(cal.Location())
	}
	return t.Format("Mon 2 Jan 2006 15:04")
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return strconv.Itoa(n) + " days"
	}
	return d.String()
}

func boolWord(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
