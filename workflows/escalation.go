// The escalation workflow's map. A spell at red, in this file: its state
// and main loop (EscalationWorkflow), the alert and re-alerts counted in
// working time, acknowledgement and the required actions' completion
// (Updates with validators), and its end when the person leaves red. It is
// a child of the person's workflow (person_colours.go starts it, and
// signals it to end). Shared with the person's workflow: completing a
// required action (its input, check and outcome) in required_actions.go,
// and how an Update is registered and run under the lock in handlers.go.
// Its rules are the person's: change the state, then record(); open tasks
// only inside nextChange's build closure, keyed from the step's change
// (taskKey, one past its number); every step under e.lock.

package workflows

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/internal/register"
)

// EscalationWorkflow is one spell at red. The person's workflow starts it as
// a child the moment the rating becomes red, and it:
//
//  1. alerts at once: an alert task in the alerts channel listing what
//     national policy expects, and one task per required action;
//  2. waits for a coordinator to acknowledge, within the acknowledgement
//     window counted in working hours;
//  3. while nobody has, re-alerts and tells the managers, every re-alert
//     interval (working time);
//  4. chases each required action once it is overdue, telling the managers
//     each time;
//  5. ends when the person's workflow says so (rating below red, admitted,
//     removed), recording the outcome: what was done and when.
//
// It outlives a continue-as-new of its parent (ParentClosePolicy ABANDON):
// the person's workflow reaches it by ID.
func EscalationWorkflow(ctx workflow.Context, in EscalationInput) (EscalationResult, error) {
	e := &escalation{in: in, lock: workflow.NewMutex(ctx)}
	e.Policy = in.Policy
	if in.State != nil {
		e.EscalationState = *in.State
	}
	if err := e.registerHandlers(ctx); err != nil {
		return EscalationResult{}, err
	}

	// Alert first, before anything else costs a round trip: this is the
	// latency a coordinator sees.
	if in.State == nil {
		if err := e.alert(ctx); err != nil {
			return EscalationResult{}, err
		}
	}

	for e.End == nil {
		if shouldContinueAsNew(ctx, in.ContinueAsNewAfterEvents) {
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return EscalationResult{}, err
			}
			e.drainEnd(ctx)
			if e.End == nil {
				next := in
				next.State = &e.EscalationState
				return EscalationResult{}, workflow.NewContinueAsNewError(ctx, EscalationWorkflow, next)
			}
			break
		}
		if err := refreshPolicy(ctx, &e.Policy); err != nil {
			return EscalationResult{}, err
		}
		if err := e.actOnWhatIsDue(ctx); err != nil {
			return EscalationResult{}, err
		}
		e.changed = false
		now := workflow.Now(ctx)
		wait := e.nextDeadline(now).Sub(now)
		if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return e.changed || e.End != nil }); err != nil {
			return EscalationResult{}, err
		}
	}

	if err := e.end(ctx); err != nil {
		return EscalationResult{}, err
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return EscalationResult{}, err
	}
	return e.result(), nil
}

// EscalationInput starts an escalation.
type EscalationInput struct {
	PersonID int64
	// Number counts the person's escalations from 1; with PersonID it
	// names the workflow and keys what it records.
	Number int
	// RedAt is when the red rating was recorded, and Actor who recorded it.
	RedAt time.Time
	Actor string
	// AgeAtRed is the person's age in whole years when they turned red:
	// it decides the keyworker referral (0–25).
	AgeAtRed int
	// KeyworkerReferredOn is set when a keyworker referral was already made
	// during this spell on the register, so it is not asked for again.
	KeyworkerReferredOn time.Time
	// Policy is the policy the person's workflow had just read; passing it
	// saves a round trip before the first alert.
	Policy register.Policy
	// State is carried across continue-as-new; nil on the first start.
	State *EscalationState
	// ContinueAsNewAfterEvents: as for PersonWorkflowInput (tests only).
	ContinueAsNewAfterEvents int
}

// EscalationResult is how an escalation ended.
type EscalationResult struct {
	Outcome        string
	StartedAt      time.Time
	AcknowledgedAt time.Time
	AcknowledgedBy string
	Alerts         int
	Done           []ActionDone
	EndedAt        time.Time
}

// EndEscalationSignal tells an escalation to end, and why.
type EndEscalationSignal struct {
	// Reason is what happened, in words: "rating lowered to amber",
	// "admitted to hospital (blue)", "removed from the register: …".
	Reason string
	Actor  string
	At     time.Time
}

// AcknowledgeInput acknowledges a red alert.
type AcknowledgeInput struct {
	Notes string
	Actor string
}

// EscalationStatus is what the status query and the Updates answer with:
// where the escalation stands (its number, times, who acknowledged it,
// alerts sent, outcome) and what is still to do.
type EscalationStatus struct {
	PersonID int64
	register.Escalation
	OpenTasks []TaskRef
	Done      []ActionDone
	Ended     bool
}

// EscalationState is everything the escalation knows, carried across
// continue-as-new (an alert nobody acknowledges re-alerts for as long as it
// takes, so the history must not grow without bound).
type EscalationState struct {
	Policy register.Policy
	// Seq numbers the escalation's recorded steps.
	Seq    int64
	Record register.Escalation
	Tasks  TaskList
	// LastAlertAt is when the last alert (first or re-alert) went out.
	LastAlertAt time.Time
	Done        []ActionDone
}

// escalation is the running workflow: state plus what it needs to act.
type escalation struct {
	in EscalationInput
	EscalationState
	End *EndEscalationSignal

	lock    workflow.Mutex
	changed bool
}

func (e *escalation) registerHandlers(ctx workflow.Context) error {
	if err := registerHandlers(ctx, e.status, []update{
		{UpdateAcknowledge, e.acknowledge, e.validateAcknowledge},
		{UpdateCompleteAction, e.completeAction, e.validateCompleteAction},
	}); err != nil {
		return err
	}
	ends := workflow.GetSignalChannel(ctx, SignalEndEscalation)
	workflow.Go(ctx, func(ctx workflow.Context) {
		var s EndEscalationSignal
		ends.Receive(ctx, &s)
		if e.End == nil {
			e.End = &s
		}
	})
	return nil
}

// drainEnd takes in an "escalation ended" signal already delivered, before
// continuing as new: the goroutine above may not have run since it
// arrived, and the new run would never hear it.
func (e *escalation) drainEnd(ctx workflow.Context) {
	if workflow.GetVersion(ctx, drainSignalsVersion, workflow.DefaultVersion, 1) < 1 {
		return
	}
	var s EndEscalationSignal
	if workflow.GetSignalChannel(ctx, SignalEndEscalation).ReceiveAsync(&s) && e.End == nil {
		e.End = &s
	}
}

// addWorking adds working time by the policy's calendar. The calendar was
// validated when the configuration loaded; should it ever fail here, the
// deadline falls back to plain time, which is sooner, never later.
func (e *escalation) addWorking(from time.Time, d time.Duration) time.Time {
	cal, err := e.Policy.Calendar()
	if err == nil {
		if t, err := cal.AddWorking(from, d); err == nil {
			return t
		}
	}
	return from.Add(d)
}

// taskKey names an escalation's task: person, escalation, one past the
// number of the step that opens it (see nextChange), and kind. It is read
// from the step's change, so it cannot be taken before the step is numbered.
func (e *escalation) taskKey(c *register.Change, kind register.TaskKind) string {
	return fmt.Sprintf("%d-e%d-%d-%s", e.in.PersonID, e.in.Number, c.Seq+1, kind)
}

// record writes one step of the escalation through the RecordChange
// activity. Callers hold the lock and have updated the state.
func (e *escalation) record(ctx workflow.Context, actor, action string, detail map[string]string, build func(*register.Change)) error {
	return e.write(ctx, e.nextChange(workflow.Now(ctx), actor, action, detail, build))
}

// write records a step already built and takes in its tasks' IDs.
func (e *escalation) write(ctx workflow.Context, c register.Change) error {
	if _, err := e.Tasks.record(ctx, c); err != nil {
		return err
	}
	e.changed = true
	return nil
}

// nextChange numbers and builds the escalation's next step. The number is
// taken before build runs, and a step's tasks are keyed one past the step's
// own number (taskKey): that is how every recorded key was made, so it
// stays.
func (e *escalation) nextChange(now time.Time, actor, action string, detail map[string]string, build func(*register.Change)) register.Change {
	if detail == nil {
		detail = map[string]string{}
	}
	detail["escalation"] = strconv.Itoa(e.in.Number)
	e.Seq++
	rec := e.Record
	c := register.Change{
		PersonID:   e.in.PersonID,
		Seq:        e.Seq,
		At:         now,
		Actor:      actor,
		Action:     action,
		Detail:     detail,
		Escalation: &rec,
	}
	if build != nil {
		build(&c)
	}
	return c
}

// alert opens the escalation when its workflow was started without it (a
// red rating recorded before the alert moved into the rating's change).
func (e *escalation) alert(ctx workflow.Context) error {
	return underLock(ctx, e.lock, func() error {
		return e.write(ctx, e.opening(workflow.Now(ctx)))
	})
}

// opening decides the escalation's first step: the alert to acknowledge and
// the actions national policy expects for red, each with its deadline. It
// sets the state and returns the change to record. The person's workflow
// records it with the red rating, in one transaction (so there is no moment
// when someone is red and no alert exists), then starts the escalation
// workflow with the state, to take it on from there.
func (e *escalation) opening(now time.Time) register.Change {
	red := e.in.RedAt
	if red.IsZero() {
		red = now
	}
	e.Record = register.Escalation{
		Number:    e.in.Number,
		StartedAt: red,
		AckDueAt:  e.addWorking(red, e.Policy.EscalationAckWithin),
		Alerts:    1,
	}
	e.LastAlertAt = now
	keyworker := e.Policy.KeyworkerEligible(e.in.AgeAtRed) && e.in.KeyworkerReferredOn.IsZero()
	detail := map[string]string{
		"ack_due_at":         e.Record.AckDueAt.Format(time.RFC3339),
		"keyworker_referral": strconv.FormatBool(keyworker),
	}
	return e.nextChange(now, TimerActor, "escalation_started", detail, func(c *register.Change) {
		e.Tasks.open(c, e.taskKey(c, register.TaskEscalationAlert), now, register.TaskEscalationAlert,
			e.Record.AckDueAt, register.ActionAcknowledge)
		e.Tasks.open(c, e.taskKey(c, register.TaskCommunityCTR), now, register.TaskCommunityCTR,
			red.Add(e.Policy.RedCTRWithin), register.ActionMarkDone)
		if keyworker {
			e.Tasks.open(c, e.taskKey(c, register.TaskKeyworkerReferral), now, register.TaskKeyworkerReferral,
				red.Add(e.Policy.RedKeyworkerWithin), register.ActionMarkDone)
		}
		e.Tasks.open(c, e.taskKey(c, register.TaskMultiAgencyMeeting), now, register.TaskMultiAgencyMeeting,
			red.Add(e.Policy.RedMeetingWithin), register.ActionMarkDone, register.ActionNotNeeded)
	})
}

// nextAlertAt is when the next re-alert goes out while nobody has
// acknowledged: at the acknowledgement deadline, then every re-alert
// interval of working time after the last alert.
func (e *escalation) nextAlertAt() time.Time {
	if e.Record.Alerts <= 1 {
		return e.Record.AckDueAt
	}
	return e.addWorking(e.LastAlertAt, e.Policy.EscalationRealertEvery)
}

// nextChaseAt is when an overdue required action is next chased (and the
// managers told): at its due date, then every chase interval.
func (e *escalation) nextChaseAt(t OpenTask) time.Time {
	if t.LastRemindedAt.IsZero() {
		return t.DueAt
	}
	return t.LastRemindedAt.Add(e.Policy.ChaseEvery)
}

func (e *escalation) nextDeadline(now time.Time) time.Time {
	wake := wakeUpBy(now, e.Policy.Recheck)
	for _, t := range e.Tasks {
		if t.Kind == register.TaskEscalationAlert {
			wake.consider(e.nextAlertAt())
			continue
		}
		wake.consider(e.nextChaseAt(t))
	}
	return wake.at
}

// actOnWhatIsDue re-alerts an unacknowledged alert and chases overdue
// actions, each a recorded step that also tells the managers.
func (e *escalation) actOnWhatIsDue(ctx workflow.Context) error {
	return underLock(ctx, e.lock, func() error {
		if e.End != nil {
			return nil
		}
		now := workflow.Now(ctx)
		if alert, open := e.Tasks.find(register.TaskEscalationAlert); open && !now.Before(e.nextAlertAt()) {
			e.Record.Alerts++
			e.LastAlertAt = now
			detail := map[string]string{"alerts": strconv.Itoa(e.Record.Alerts), "ack_due_at": e.Record.AckDueAt.Format(time.RFC3339)}
			if err := e.record(ctx, TimerActor, "escalation_unacknowledged", detail, func(c *register.Change) {
				c.Remind = []string{alert.Key}
				c.Managers = []string{alert.Key}
			}); err != nil {
				return err
			}
		}
		var overdue []string
		var kinds []string
		for i := range e.Tasks {
			t := &e.Tasks[i]
			if t.Kind == register.TaskEscalationAlert || now.Before(e.nextChaseAt(*t)) {
				continue
			}
			t.LastRemindedAt = now
			t.Reminders++
			overdue = append(overdue, t.Key)
			kinds = append(kinds, string(t.Kind))
		}
		if len(overdue) == 0 {
			return nil
		}
		return e.record(ctx, TimerActor, "escalation_action_overdue", map[string]string{"actions": strings.Join(kinds, ",")},
			func(c *register.Change) {
				c.Remind = overdue
				c.Managers = overdue
			})
	})
}

// --- acknowledgement -------------------------------------------------------

func (e *escalation) validateAcknowledge(ctx workflow.Context, in AcknowledgeInput) error {
	if e.End != nil || e.Record.Outcome != "" {
		return noLongerApplies("this escalation has ended (%s)", e.endReason())
	}
	if !e.Record.AcknowledgedAt.IsZero() {
		return noLongerApplies("already acknowledged by %s at %s", e.Record.AcknowledgedBy, e.Record.AcknowledgedAt.Format(time.RFC3339))
	}
	return requireActor(in.Actor)
}

func (e *escalation) acknowledge(ctx workflow.Context, in AcknowledgeInput) (EscalationStatus, error) {
	return e.locked(ctx, func() error { return e.validateAcknowledge(ctx, in) }, func(now time.Time) error {
		e.Record.AcknowledgedAt = now
		e.Record.AcknowledgedBy = in.Actor
		working := ""
		if cal, err := e.Policy.Calendar(); err == nil {
			working = cal.Between(e.Record.StartedAt, now).Round(time.Minute).String()
		}
		detail := map[string]string{"notes": in.Notes, "working_time_to_ack": working,
			"in_time": strconv.FormatBool(!now.After(e.Record.AckDueAt))}
		return e.record(ctx, in.Actor, "escalation_acknowledged", detail, func(c *register.Change) {
			e.Tasks.close(c, register.TaskStatusDone, "acknowledged", register.TaskEscalationAlert)
		})
	})
}

// --- required actions ------------------------------------------------------

func (e *escalation) validateCompleteAction(ctx workflow.Context, in CompleteActionInput) error {
	if e.End != nil || e.Record.Outcome != "" {
		return noLongerApplies("this escalation has ended (%s)", e.endReason())
	}
	return validateCompletion(in, e.Tasks, e.Done, e.Policy, workflow.Now(ctx))
}

func (e *escalation) completeAction(ctx workflow.Context, in CompleteActionInput) (EscalationStatus, error) {
	return e.locked(ctx, func() error { return e.validateCompleteAction(ctx, in) }, func(now time.Time) error {
		done := completion(in, e.Policy, now)
		e.Done = append(e.Done, done)
		action, status := "escalation_action_done", register.TaskStatusDone
		if in.NotNeeded {
			action, status = "escalation_action_not_needed", register.TaskStatusCancelled
		}
		detail := map[string]string{"kind": string(in.Kind), "on": done.On.Format("2006-01-02"), "notes": in.Notes}
		if err := e.record(ctx, in.Actor, action, detail, func(c *register.Change) {
			e.Tasks.close(c, status, completionOutcome(done), in.Kind)
		}); err != nil {
			return err
		}
		// The person's workflow keeps what outlasts the escalation (a
		// keyworker referral is not asked for again when amber); it has it
		// before this Update answers.
		return workflow.SignalExternalWorkflow(ctx, PersonWorkflowID(e.in.PersonID), "", SignalActionDone, done).Get(ctx, nil)
	})
}

// --- ending ----------------------------------------------------------------

// end records the outcome: why it ended, whether and when it was
// acknowledged, and what was done; every open task closes.
func (e *escalation) end(ctx workflow.Context) error {
	return underLock(ctx, e.lock, func() error {
		now := workflow.Now(ctx)
		e.Record.EndedAt = now
		e.Record.Outcome = e.outcome()
		return e.record(ctx, e.End.Actor, "escalation_ended", map[string]string{"reason": e.End.Reason, "outcome": e.Record.Outcome},
			func(c *register.Change) {
				e.Tasks.close(c, register.TaskStatusCancelled, "escalation ended: "+e.End.Reason)
			})
	})
}

// outcome summarises the escalation in one line for the record.
func (e *escalation) outcome() string {
	parts := []string{"ended: " + e.End.Reason}
	if e.Record.AcknowledgedAt.IsZero() {
		alerts := "1 alert"
		if e.Record.Alerts != 1 {
			alerts = fmt.Sprintf("%d alerts", e.Record.Alerts)
		}
		parts = append(parts, "never acknowledged ("+alerts+")")
	} else {
		parts = append(parts, "acknowledged by "+e.Record.AcknowledgedBy+" at "+e.Record.AcknowledgedAt.Format(time.RFC3339))
	}
	for _, d := range e.Done {
		parts = append(parts, string(d.Kind)+": "+completionOutcome(d)+" ("+d.By+")")
	}
	for _, t := range e.Tasks {
		if t.Kind != register.TaskEscalationAlert {
			parts = append(parts, string(t.Kind)+": not done")
		}
	}
	return strings.Join(parts, "; ")
}

func (e *escalation) endReason() string {
	if e.End != nil {
		return e.End.Reason
	}
	return e.Record.Outcome
}

// --- plumbing --------------------------------------------------------------

func (e *escalation) locked(ctx workflow.Context, validate func() error, step func(now time.Time) error) (EscalationStatus, error) {
	return runLocked(ctx, e.lock, validate, step, e.status)
}

func (e *escalation) status(now time.Time) EscalationStatus {
	stands := e.Record
	stands.Number = e.in.Number
	return EscalationStatus{
		PersonID:   e.in.PersonID,
		Escalation: stands,
		OpenTasks:  e.Tasks.refs(now),
		Done:       e.Done,
		Ended:      e.Record.Outcome != "",
	}
}

func (e *escalation) result() EscalationResult {
	return EscalationResult{
		Outcome:        e.Record.Outcome,
		StartedAt:      e.Record.StartedAt,
		AcknowledgedAt: e.Record.AcknowledgedAt,
		AcknowledgedBy: e.Record.AcknowledgedBy,
		Alerts:         e.Record.Alerts,
		Done:           e.Done,
		EndedAt:        e.Record.EndedAt,
	}
}
