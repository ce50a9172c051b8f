package workflows

// MeetingWorkflow is one meeting about a person, from convening to the last
// action agreed at it. The map:
//
//	person's workflow ── UpdateConveneMeeting ──▶ records step 1 (meeting_convened,
//	                                             invitations queued), starts:
//	MeetingWorkflow  dsr-meeting-<person>-<n>  (child, ParentClosePolicy ABANDON)
//	  scheduled ── UpdateChangeMeeting ──▶ SEQUENCE+1, an update to every invitee
//	            ── UpdateCancelMeeting ──▶ a CANCEL to every invitee; ends
//	            ── timer: reminder before the day (DSR_MEETING_REMINDER_BEFORE)
//	            ── timer: past its end, no outcome ▶ meeting_outcome_due task
//	            ── UpdateRecordMeetingOutcome ──▶ held / not held, notes, actions:
//	               each action a meeting_action task; held, of a kind a required
//	               action asks for (a C(E)TR, the amber meeting, the multi-agency
//	               meeting) ▶ that action closed through casework (its own
//	               workflow records it), keyed by the meeting
//	  actions ── chased every DSR_CHASE_EVERY once overdue; the managers told
//	             once past DSR_MEETING_ACTION_ESCALATE_AFTER; UpdateMeetingActionDone
//	  ends when cancelled, or the outcome is in and every action is done.
//
// Its steps are numbered within the meeting and recorded with
// register.Change.Meeting. Names, addresses, the purpose, the place and the
// notes reach the record in the (sealed) payloads and are kept in
// PostgreSQL; the workflow ID, its failures and its logs carry numbers only.

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/register"
)

// ChangeMeetingInput moves a meeting or changes who is invited. Zero fields
// keep what was there.
type ChangeMeetingInput struct {
	StartsAt time.Time
	Duration time.Duration
	Location string
	Purpose  string
	Invitees []register.Invitee
	Actor    string
}

// CancelMeetingInput cancels a meeting.
type CancelMeetingInput struct {
	Reason string
	Actor  string
}

// RecordMeetingOutcomeInput records what became of a meeting.
type RecordMeetingOutcomeInput struct {
	Outcome register.MeetingOutcome
	Actor   string
	// ActionID is the coordinator's action ID (the Update ID); closing a
	// required action is keyed by it, so a retry closes nothing twice.
	ActionID string
}

// MeetingActionDoneInput records an action agreed at the meeting as done.
type MeetingActionDoneInput struct {
	TaskID int64
	Notes  string
	Actor  string
}

// MeetingInput starts (or continues) a meeting's workflow.
type MeetingInput struct {
	PersonID int64
	Number   int
	// State is where the meeting stands: the convening step already
	// recorded by the person's workflow, or what continue-as-new carries.
	State MeetingState
	// ContinueAsNewAfterEvents: as for PersonWorkflowInput (tests only).
	ContinueAsNewAfterEvents int
}

// MeetingResult is how a meeting ended.
type MeetingResult struct {
	Status register.MeetingStatus
	// ClosedAction is the required action its holding closed, if any.
	ClosedAction register.TaskKind
}

// MeetingState is everything the meeting's workflow knows.
type MeetingState struct {
	Policy   register.Policy
	Seq      int64
	Kind     register.MeetingKind
	Status   register.MeetingStatus
	Sequence int
	StartsAt time.Time
	Duration time.Duration
	// ReminderDone is set once the reminder for the current time has gone
	// (or was not needed: convened inside the reminder window).
	ReminderDone bool
	// OutcomeAt is when the outcome was recorded.
	OutcomeAt    time.Time
	HeldOn       time.Time
	ClosedAction register.TaskKind
	Tasks        TaskList
	// ManagersTold lists the action tasks the managers have heard about.
	ManagersTold []string
}

// MeetingStatus is what the meeting's query and Updates answer with.
type MeetingStatus struct {
	PersonID     int64
	Number       int
	Kind         register.MeetingKind
	Status       register.MeetingStatus
	Sequence     int
	StartsAt     time.Time
	OpenTasks    []TaskRef
	ClosedAction register.TaskKind
}

type meeting struct {
	in MeetingInput
	MeetingState
	lock    workflow.Mutex
	changed bool
}

// MeetingWorkflow runs one meeting (see the map at the top of the file).
func MeetingWorkflow(ctx workflow.Context, in MeetingInput) (MeetingResult, error) {
	m := &meeting{in: in, MeetingState: in.State, lock: workflow.NewMutex(ctx)}
	if err := m.registerHandlers(ctx); err != nil {
		return MeetingResult{}, err
	}
	for !m.finished() {
		if shouldContinueAsNew(ctx, in.ContinueAsNewAfterEvents) {
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return MeetingResult{}, err
			}
			next := in
			next.State = m.MeetingState
			return MeetingResult{}, workflow.NewContinueAsNewError(ctx, MeetingWorkflow, next)
		}
		if err := refreshPolicy(ctx, &m.Policy); err != nil {
			return MeetingResult{}, err
		}
		if err := m.actOnWhatIsDue(ctx); err != nil {
			return MeetingResult{}, err
		}
		if m.finished() {
			break
		}
		m.changed = false
		now := workflow.Now(ctx)
		if _, err := workflow.AwaitWithTimeout(ctx, m.nextDeadline(now).Sub(now), func() bool { return m.changed }); err != nil {
			return MeetingResult{}, err
		}
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return MeetingResult{}, err
	}
	return MeetingResult{Status: m.Status, ClosedAction: m.ClosedAction}, nil
}

// finished: cancelled, or the outcome is in and nothing agreed is left open.
func (m *meeting) finished() bool {
	return m.Status == register.MeetingCancelled || (!m.OutcomeAt.IsZero() && len(m.Tasks) == 0)
}

func (m *meeting) registerHandlers(ctx workflow.Context) error {
	return registerHandlers(ctx, m.status, []update{
		{UpdateChangeMeeting, m.change, m.validateChange},
		{UpdateCancelMeeting, m.cancel, m.validateCancel},
		{UpdateRecordMeetingOutcome, m.recordOutcome, m.validateOutcome},
		{UpdateMeetingActionDone, m.actionDone, m.validateActionDone},
	})
}

// --- timings ---------------------------------------------------------------

func (m *meeting) endsAt() time.Time { return m.StartsAt.Add(m.Duration) }

func (m *meeting) reminderAt() time.Time {
	before, _, _ := m.Policy.MeetingTimings()
	return m.StartsAt.Add(-before)
}

// actionOverdueFrom is when an action due on a date is overdue: the end of
// that day in the team's time zone.
func (m *meeting) actionOverdueFrom(t OpenTask) time.Time {
	return m.endOfDay(t.DueAt)
}

func (m *meeting) endOfDay(date time.Time) time.Time {
	d := register.CalendarDate(date)
	if cal, err := m.Policy.Calendar(); err == nil {
		loc := cal.Location()
		return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, 1)
	}
	return d.AddDate(0, 0, 1)
}

func (m *meeting) nextChaseAt(t OpenTask) time.Time {
	if t.LastRemindedAt.IsZero() {
		if t.Kind == register.TaskMeetingOutcomeDue {
			return t.DueAt
		}
		return m.actionOverdueFrom(t)
	}
	return t.LastRemindedAt.Add(m.Policy.ChaseEvery)
}

func (m *meeting) managersAt(t OpenTask) time.Time {
	_, after, _ := m.Policy.MeetingTimings()
	return m.actionOverdueFrom(t).Add(after)
}

func (m *meeting) told(key string) bool {
	for _, k := range m.ManagersTold {
		if k == key {
			return true
		}
	}
	return false
}

func (m *meeting) nextDeadline(now time.Time) time.Time {
	wake := wakeUpBy(now, m.Policy.Recheck)
	if m.Status == register.MeetingScheduled {
		if !m.ReminderDone {
			wake.consider(m.reminderAt())
		}
		if m.OutcomeAt.IsZero() {
			wake.consider(m.endsAt())
		}
	}
	for _, t := range m.Tasks {
		wake.consider(m.nextChaseAt(t))
		if t.Kind == register.TaskMeetingAction && !m.told(t.Key) {
			wake.consider(m.managersAt(t))
		}
	}
	return wake.at
}

// --- recording -------------------------------------------------------------

// step is the meeting as it stands, for a change.
func (m *meeting) step() register.MeetingStep {
	return register.MeetingStep{
		Number: m.in.Number, Kind: m.Kind, Status: m.Status, Sequence: m.Sequence,
		StartsAt: m.StartsAt, Duration: m.Duration,
	}
}

// taskKey names a meeting's task: person, meeting, the number of the step
// that opens it (unlike the person's and the escalation's, not one past:
// that is how its recorded keys were made), kind, and which one. It is read
// from the step's change, so it cannot be taken before the step is numbered.
func (m *meeting) taskKey(c *register.Change, kind register.TaskKind, i int) string {
	return fmt.Sprintf("%d-m%d-%d-%s-%d", m.in.PersonID, m.in.Number, c.Seq, kind, i)
}

// nextChange numbers and builds the meeting's next step: numbered before
// build runs, so the tasks build opens are keyed by it (taskKey).
func (m *meeting) nextChange(now time.Time, actor, action string, detail map[string]string, build func(*register.Change)) register.Change {
	if detail == nil {
		detail = map[string]string{}
	}
	detail["meeting"] = strconv.Itoa(m.in.Number)
	detail["kind"] = string(m.Kind)
	step := m.step()
	m.Seq++
	c := register.Change{PersonID: m.in.PersonID, Seq: m.Seq, At: now, Actor: actor, Action: action, Detail: detail, Meeting: &step}
	if build != nil {
		build(&c)
	}
	return c
}

func (m *meeting) record(ctx workflow.Context, actor, action string, detail map[string]string, build func(*register.Change)) error {
	c := m.nextChange(workflow.Now(ctx), actor, action, detail, build)
	if _, err := m.Tasks.record(ctx, c); err != nil {
		return err
	}
	m.changed = true
	return nil
}

// convening decides the meeting's first step: recorded by the person's
// workflow before it starts this one, with the invitations.
func (m *meeting) convening(now time.Time, actor string, plan register.MeetingPlan) register.Change {
	m.Kind, m.Status, m.Sequence = plan.Kind, register.MeetingScheduled, 0
	m.StartsAt, m.Duration = plan.StartsAt.UTC(), plan.Duration
	m.ReminderDone = !now.Before(m.reminderAt())
	return m.nextChange(now, actor, "meeting_convened",
		map[string]string{"starts_at": m.StartsAt.Format(time.RFC3339), "duration": m.Duration.String(), "invitees": strconv.Itoa(len(plan.Invitees))},
		func(c *register.Change) {
			p := plan
			p.StartsAt = m.StartsAt
			c.Meeting.Plan = &p
			c.Meeting.Email = register.EmailInvitation
		})
}

// actOnWhatIsDue sends the reminder, asks for an outcome once the meeting
// is over, and chases overdue actions (telling the managers when long
// overdue).
func (m *meeting) actOnWhatIsDue(ctx workflow.Context) error {
	return underLock(ctx, m.lock, func() error {
		now := workflow.Now(ctx)
		if m.Status == register.MeetingScheduled && !m.ReminderDone && !now.Before(m.reminderAt()) {
			m.ReminderDone = true
			if now.Before(m.StartsAt) {
				if err := m.record(ctx, TimerActor, "meeting_reminder_sent", map[string]string{"sequence": strconv.Itoa(m.Sequence)},
					func(c *register.Change) { c.Meeting.Email = register.EmailReminder }); err != nil {
					return err
				}
			}
		}
		if m.Status == register.MeetingScheduled && m.OutcomeAt.IsZero() && !now.Before(m.endsAt()) {
			if _, open := m.Tasks.find(register.TaskMeetingOutcomeDue); !open {
				if err := m.record(ctx, TimerActor, "meeting_outcome_due", nil, func(c *register.Change) {
					m.Tasks.open(c, m.taskKey(c, register.TaskMeetingOutcomeDue, 0), now, register.TaskMeetingOutcomeDue,
						now.Add(m.Policy.ChaseEvery))
				}); err != nil {
					return err
				}
			}
		}
		var remind, managers, kinds []string
		for i := range m.Tasks {
			t := &m.Tasks[i]
			if !now.Before(m.nextChaseAt(*t)) {
				t.LastRemindedAt = now
				t.Reminders++
				remind = append(remind, t.Key)
				kinds = append(kinds, string(t.Kind))
			}
			if t.Kind == register.TaskMeetingAction && !m.told(t.Key) && !now.Before(m.managersAt(*t)) {
				m.ManagersTold = append(m.ManagersTold, t.Key)
				managers = append(managers, t.Key)
			}
		}
		if len(remind) == 0 && len(managers) == 0 {
			return nil
		}
		return m.record(ctx, TimerActor, "meeting_chased", map[string]string{"tasks": strings.Join(kinds, ",")}, func(c *register.Change) {
			c.Remind, c.Managers = remind, managers
		})
	})
}

// --- changes and cancellation ---------------------------------------------

func (m *meeting) mustBeScheduled() error {
	switch {
	case m.Status == register.MeetingCancelled:
		return noLongerApplies("meeting %d was cancelled", m.in.Number)
	case !m.OutcomeAt.IsZero():
		return noLongerApplies("meeting %d's outcome has been recorded (%s)", m.in.Number, m.Status)
	}
	return nil
}

func (m *meeting) validateChange(ctx workflow.Context, in ChangeMeetingInput) error {
	if err := m.mustBeScheduled(); err != nil {
		return err
	}
	errs := register.FieldErrors{}
	errs.Merge(register.ValidateMeetingChange(register.MeetingChange{StartsAt: in.StartsAt, Duration: in.Duration,
		Location: in.Location, Purpose: in.Purpose, Invitees: in.Invitees}, workflow.Now(ctx)))
	errs.Merge(actorErrors(in.Actor))
	return refuseBadFields(errs)
}

// change moves the meeting or changes who is invited: SEQUENCE+1 and an
// update to everyone now invited. The plan is written whole (a change
// replaces the invitee list), so the caller passes the current details for
// fields it does not change (casework reads them from the record).
func (m *meeting) change(ctx workflow.Context, in ChangeMeetingInput) (MeetingStatus, error) {
	return m.locked(ctx, func() error { return m.validateChange(ctx, in) }, func(now time.Time) error {
		if !in.StartsAt.IsZero() && !in.StartsAt.Equal(m.StartsAt) {
			m.StartsAt = in.StartsAt.UTC()
			m.ReminderDone = !now.Before(m.reminderAt())
		}
		if in.Duration > 0 {
			m.Duration = in.Duration
		}
		m.Sequence++
		plan := register.MeetingPlan{Kind: m.Kind, Purpose: in.Purpose, StartsAt: m.StartsAt, Duration: m.Duration,
			Location: in.Location, Invitees: in.Invitees}
		return m.record(ctx, in.Actor, "meeting_changed",
			map[string]string{"starts_at": m.StartsAt.Format(time.RFC3339), "duration": m.Duration.String(), "sequence": strconv.Itoa(m.Sequence)},
			func(c *register.Change) {
				c.Meeting.Plan = &plan
				c.Meeting.Email = register.EmailUpdate
			})
	})
}

func (m *meeting) validateCancel(ctx workflow.Context, in CancelMeetingInput) error {
	if err := m.mustBeScheduled(); err != nil {
		return err
	}
	errs := register.FieldErrors{}
	errs.Merge(register.ValidateMeetingCancellation(in.Reason))
	errs.Merge(actorErrors(in.Actor))
	return refuseBadFields(errs)
}

func (m *meeting) cancel(ctx workflow.Context, in CancelMeetingInput) (MeetingStatus, error) {
	return m.locked(ctx, func() error { return m.validateCancel(ctx, in) }, func(now time.Time) error {
		m.Status = register.MeetingCancelled
		m.Sequence++
		return m.record(ctx, in.Actor, "meeting_cancelled", map[string]string{"notes": in.Reason, "sequence": strconv.Itoa(m.Sequence)},
			func(c *register.Change) {
				c.Meeting.Email = register.EmailCancellation
				c.Meeting.CancelReason = strings.TrimSpace(in.Reason)
				m.Tasks.close(c, register.TaskStatusCancelled, "meeting cancelled")
			})
	})
}

// --- outcome and actions ---------------------------------------------------

func (m *meeting) validateOutcome(ctx workflow.Context, in RecordMeetingOutcomeInput) error {
	if err := m.mustBeScheduled(); err != nil {
		return err
	}
	errs := register.FieldErrors{}
	now := workflow.Now(ctx)
	if in.Outcome.Held && now.Before(m.StartsAt) {
		errs.Add("held", "the meeting has not started yet: record its outcome after it")
	}
	errs.Merge(register.ValidateMeetingOutcome(in.Outcome, m.Policy.LocalDate(m.StartsAt), m.Policy.LocalDate(now)))
	errs.Merge(actorErrors(in.Actor))
	return refuseBadFields(errs)
}

func (m *meeting) recordOutcome(ctx workflow.Context, in RecordMeetingOutcomeInput) (MeetingStatus, error) {
	return m.locked(ctx, func() error { return m.validateOutcome(ctx, in) }, func(now time.Time) error {
		o := in.Outcome
		m.OutcomeAt = now
		action := "meeting_not_held"
		m.Status = register.MeetingNotHeld
		if o.Held {
			action, m.Status, m.HeldOn = "meeting_held", register.MeetingHeld, register.CalendarDate(o.HeldOn)
		}
		detail := map[string]string{"notes": o.Notes, "actions": strconv.Itoa(len(o.Actions))}
		if o.Held {
			detail["held_on"] = m.HeldOn.Format("2006-01-02")
		}
		if err := m.record(ctx, in.Actor, action, detail, func(c *register.Change) {
			m.Tasks.close(c, register.TaskStatusDone, "outcome recorded", register.TaskMeetingOutcomeDue)
			c.Meeting.Outcome = &o
			for i, a := range o.Actions {
				key := m.taskKey(c, register.TaskMeetingAction, i)
				m.Tasks.open(c, key, now, register.TaskMeetingAction, register.CalendarDate(a.DueOn), register.ActionMarkDone)
				c.Meeting.ActionKeys = append(c.Meeting.ActionKeys, key)
			}
		}); err != nil {
			return err
		}
		if !o.Held {
			return nil
		}
		return m.closeRequiredAction(ctx, in)
	})
}

// closeRequiredAction closes the required action a held meeting of this
// kind stands for, through casework (the task's own workflow records it,
// audited there). Keyed by the meeting and the outcome's action ID, so a
// retry is the same Update. If it cannot be done, the outcome stands and
// the action stays open for a coordinator to mark done: logged, not failed.
func (m *meeting) closeRequiredAction(ctx workflow.Context, in RecordMeetingOutcomeInput) error {
	kinds := m.Kind.ClosesActions()
	if len(kinds) == 0 {
		return nil
	}
	retry := retryDoubling(30 * time.Second)
	retry.MaximumAttempts = 10
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         retry,
	})
	var res activities.CloseRequiredActionResult
	err := workflow.ExecuteActivity(actx, "CloseRequiredAction", activities.CloseRequiredActionInput{
		PersonID: m.in.PersonID, Kinds: kinds, HeldOn: m.HeldOn,
		Notes:    fmt.Sprintf("meeting %d (%s) held", m.in.Number, m.Kind),
		Actor:    in.Actor,
		ActionID: fmt.Sprintf("meeting-%d-%d-held", m.in.PersonID, m.in.Number),
	}).Get(ctx, &res)
	if err != nil {
		workflow.GetLogger(ctx).Warn("meeting held, but its required action could not be closed", "person_id", m.in.PersonID, "meeting", m.in.Number, "error", err)
		return nil
	}
	m.ClosedAction = res.Closed
	return nil
}

func (m *meeting) validateActionDone(ctx workflow.Context, in MeetingActionDoneInput) error {
	found := false
	for _, t := range m.Tasks {
		found = found || (t.ID == in.TaskID && t.Kind == register.TaskMeetingAction)
	}
	if !found {
		return noLongerApplies("task %d is not an open action of meeting %d", in.TaskID, m.in.Number)
	}
	return requireActor(in.Actor)
}

func (m *meeting) actionDone(ctx workflow.Context, in MeetingActionDoneInput) (MeetingStatus, error) {
	return m.locked(ctx, func() error { return m.validateActionDone(ctx, in) }, func(now time.Time) error {
		return m.record(ctx, in.Actor, "meeting_action_done", map[string]string{"task_id": strconv.FormatInt(in.TaskID, 10), "notes": in.Notes},
			func(c *register.Change) {
				kept := m.Tasks[:0]
				for _, t := range m.Tasks {
					if t.ID == in.TaskID {
						c.Close = append(c.Close, register.TaskClose{Key: t.Key, Kind: t.Kind, Status: register.TaskStatusDone,
							Outcome: "done on " + m.Policy.LocalDate(now).Format("2 Jan 2006")})
						continue
					}
					kept = append(kept, t)
				}
				m.Tasks = kept
			})
	})
}

// --- plumbing --------------------------------------------------------------

func (m *meeting) locked(ctx workflow.Context, validate func() error, step func(now time.Time) error) (MeetingStatus, error) {
	return runLocked(ctx, m.lock, validate, step, m.status)
}

func (m *meeting) status(now time.Time) MeetingStatus {
	return MeetingStatus{
		PersonID: m.in.PersonID, Number: m.in.Number, Kind: m.Kind, Status: m.Status, Sequence: m.Sequence,
		StartsAt: m.StartsAt, OpenTasks: m.Tasks.refs(now), ClosedAction: m.ClosedAction,
	}
}
