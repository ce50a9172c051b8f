package workflows

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/register"
)

// Meetings run as real child workflows of the person's workflow in the test
// environment, over the in-memory record, with time skipping. Closing a
// required action goes through casework in production (an Update on the
// escalation's workflow, which the e2e test exercises); here the activity's
// far side is a fake that records what it was asked.

type fakeMeetingSide struct {
	mu     sync.Mutex
	closes []activities.CloseRequiredActionInput
	// closes answers with the first kind asked for.
	last int
}

func (f *fakeMeetingSide) LastMeetingNumber(context.Context, int64) (int, error) { return f.last, nil }

func (f *fakeMeetingSide) ChaseFeedback(context.Context, int64, int, time.Time) (bool, error) {
	return false, nil
}

func (f *fakeMeetingSide) FeedbackUnanswered(context.Context, int64, time.Time) (bool, error) {
	return false, nil
}

func (f *fakeMeetingSide) CloseRequiredAction(_ context.Context, personID int64, kinds []register.TaskKind, doneOn time.Time, notes, actor, actionID string) (register.TaskKind, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes = append(f.closes, activities.CloseRequiredActionInput{PersonID: personID, Kinds: kinds, HeldOn: doneOn, Notes: notes, Actor: actor, ActionID: actionID})
	return kinds[0], nil
}

func newMeetingHarness(t *testing.T) (*redHarness, *fakeMeetingSide) {
	h := newRedHarness(t, start)
	side := &fakeMeetingSide{}
	h.env.RegisterWorkflow(MeetingWorkflow)
	h.env.RegisterActivity(&activities.Meetings{Store: side, Actions: side})
	return h, side
}

func plan(kind register.MeetingKind, startsAt time.Time) register.MeetingPlan {
	return register.MeetingPlan{Kind: kind, Purpose: "agree the crisis plan", StartsAt: startsAt, Duration: time.Hour,
		Location: "Room 2, Civic Centre", Invitees: []register.Invitee{
			{Name: "Pat Bloggs", Role: "parent", Email: "pat@example.org"},
			{Name: "Dr Sam Lee", Role: "psychiatrist", Email: "sam.lee@nhs.example"},
		}}
}

// meetAt sends an Update to the person's nth meeting at t0+d, by ID.
func (h *redHarness) meetAt(d time.Duration, n int, name string, arg any) *upd {
	r := &upd{name: fmt.Sprintf("%s on meeting %d", name, n)}
	h.at(d, func() {
		h.updateIDs++
		if err := h.env.UpdateWorkflowByID(MeetingWorkflowID(testPerson, n), name, fmt.Sprintf("test-meeting-update-%d", h.updateIDs), r.callbacks(), arg); err != nil {
			r.done, r.err = true, err
		}
	})
	return r
}

// meetingChanges lists meeting n's recorded changes with the action (all
// when "").
func (m *memRecord) meetingChanges(n int, action string) []register.Change {
	return m.changesWhere(func(c register.Change) bool {
		return c.Meeting != nil && c.Meeting.Number == n && (action == "" || c.Action == action)
	})
}

// TestMeetingRemindedBeforeTheDayThenChangedAndCancelled: convening records
// the invitations and starts the meeting's workflow; a reminder goes
// DSR_MEETING_REMINDER_BEFORE ahead, not before; moving the meeting sends an
// update (SEQUENCE 1) and re-arms the reminder; cancelling sends a CANCEL
// (SEQUENCE 2) and ends the workflow, refusing anything after.
func TestMeetingRemindedBeforeTheDayThenChangedAndCancelled(t *testing.T) {
	h, _ := newMeetingHarness(t)
	h.activate(born(30, start))
	meetsAt := start.Add(3 * day) // Thu 8 Jan 10:00
	convened := h.sendAt(5*time.Minute, UpdateConveneMeeting, ConveneMeetingInput{Plan: plan(register.MeetingMDT, meetsAt), Actor: "alice"})
	h.at(2*day-time.Hour, func() {
		if got := h.rec.meetingChanges(1, "meeting_reminder_sent"); len(got) != 0 {
			t.Errorf("reminder sent early: %+v", got)
		}
	})
	h.at(2*day+time.Minute, func() {
		got := h.rec.meetingChanges(1, "meeting_reminder_sent")
		if len(got) != 1 || got[0].Meeting.Email != register.EmailReminder || !got[0].At.Equal(meetsAt.Add(-day)) {
			t.Errorf("want one reminder a day before, got %+v", got)
		}
	})
	moved := h.meetAt(2*day+time.Hour, 1, UpdateChangeMeeting, ChangeMeetingInput{StartsAt: meetsAt.Add(7 * day),
		Location: "https://meet.example/abc", Purpose: "agree the crisis plan", Invitees: plan("", time.Time{}).Invitees, Actor: "alice"})
	h.at(9*day+time.Minute, func() {
		if got := h.rec.meetingChanges(1, "meeting_reminder_sent"); len(got) != 2 {
			t.Errorf("the moved meeting should be reminded again a day before: %d reminders", len(got))
		}
	})
	cancelled := h.meetAt(9*day+time.Hour, 1, UpdateCancelMeeting, CancelMeetingInput{Reason: "family unwell", Actor: "bob"})
	late := h.meetAt(9*day+2*time.Hour, 1, UpdateCancelMeeting, CancelMeetingInput{Reason: "again", Actor: "bob"})
	pastStart := h.sendAt(9*day+3*time.Hour, UpdateConveneMeeting, ConveneMeetingInput{Plan: plan(register.MeetingMDT, start), Actor: "alice"})
	badEmail := plan(register.MeetingMDT, start.Add(30*day))
	badEmail.Invitees[1].Email = "Sam <sam@nhs.example>"
	badEmail.Kind = "coffee"
	invalid := h.sendAt(9*day+4*time.Hour, UpdateConveneMeeting, ConveneMeetingInput{Plan: badEmail, Actor: "alice"})
	h.removeAt(10 * day)
	h.runPerson()
	h.ok(convened)
	h.ok(moved)
	h.ok(cancelled)
	// The cancelled meeting's workflow has ended: a late Update finds none
	// (casework answers 409, "no longer applies").
	if !late.done || late.err == nil {
		t.Errorf("cancelling a cancelled meeting: %+v", late)
	}
	h.fails(pastStart, ErrInvalidInput, "starts_at", "in the past")
	h.fails(invalid, ErrInvalidInput, "invitees[1].email", "not a valid email")
	h.fails(invalid, ErrInvalidInput, "kind", "must be one of")

	first := h.rec.meetingChanges(1, "meeting_convened")
	if len(first) != 1 || first[0].Meeting.Email != register.EmailInvitation || first[0].Meeting.Sequence != 0 ||
		first[0].Meeting.Plan == nil || len(first[0].Meeting.Plan.Invitees) != 2 {
		t.Fatalf("convening: %+v", first)
	}
	if change := h.rec.meetingChanges(1, "meeting_changed"); len(change) != 1 || change[0].Meeting.Sequence != 1 ||
		change[0].Meeting.Email != register.EmailUpdate || !change[0].Meeting.StartsAt.Equal(meetsAt.Add(7*day)) {
		t.Errorf("change: %+v", change)
	}
	if c := h.rec.meetingChanges(1, "meeting_cancelled"); len(c) != 1 || c[0].Meeting.Sequence != 2 ||
		c[0].Meeting.Email != register.EmailCancellation || c[0].Meeting.Status != register.MeetingCancelled {
		t.Errorf("cancellation: %+v", c)
	}
	// Nothing personal in the audit detail the meeting's steps carry.
	for _, c := range h.rec.meetingChanges(1, "") {
		for k, v := range c.Detail {
			if k != "notes" && (slices.Contains([]string{"Pat Bloggs", "pat@example.org", "Room 2, Civic Centre"}, v)) {
				t.Errorf("%s detail %s holds %q", c.Action, k, v)
			}
		}
	}
}

// TestMeetingOutcomeDueActionsChasedManagersTold: a meeting past its end
// with no outcome opens meeting_outcome_due; recording it closes that and
// opens a meeting_action task per action; each is chased every
// DSR_CHASE_EVERY from the end of its due day until done, and the managers
// are told once when one is overdue past DSR_MEETING_ACTION_ESCALATE_AFTER.
// An MDT held asks to close the multi-agency (or amber) meeting action.
func TestMeetingOutcomeDueActionsChasedManagersTold(t *testing.T) {
	h, side := newMeetingHarness(t)
	h.activate(born(30, start))
	meetsAt := start.Add(day) // Tue 6 Jan 10:00
	h.want(h.sendAt(5*time.Minute, UpdateConveneMeeting, ConveneMeetingInput{Plan: plan(register.MeetingMDT, meetsAt), Actor: "alice"}))
	early := h.meetAt(day-time.Hour, 1, UpdateRecordMeetingOutcome, RecordMeetingOutcomeInput{
		Outcome: register.MeetingOutcome{Held: true, HeldOn: register.CalendarDate(meetsAt)}, Actor: "alice"})
	h.at(day+time.Hour+time.Minute, func() {
		if due := h.rec.openTasks(register.TaskMeetingOutcomeDue); len(due) != 1 {
			t.Errorf("want a meeting_outcome_due task once the meeting is over, got %+v", due)
		}
	})
	dueOn := time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)
	outcome := h.meetAt(day+3*time.Hour, 1, UpdateRecordMeetingOutcome, RecordMeetingOutcomeInput{Actor: "alice", Outcome: register.MeetingOutcome{
		Held: true, HeldOn: register.CalendarDate(meetsAt), Notes: "crisis plan agreed",
		Actions: []register.MeetingAction{
			{Description: "share the crisis plan", Owner: "Dr Lee", DueOn: dueOn},
			{Description: "refer to the keyworker service", Owner: "Pat", DueOn: dueOn},
		}}})
	var actionIDs []int64
	h.at(day+4*time.Hour, func() {
		if due := h.rec.openTasks(register.TaskMeetingOutcomeDue); len(due) != 0 {
			t.Errorf("the outcome should close meeting_outcome_due: %+v", due)
		}
		acts := h.rec.openTasks(register.TaskMeetingAction)
		if len(acts) != 2 || !acts[0].DueAt.Equal(dueOn) {
			t.Fatalf("want two meeting_action tasks due %v, got %+v", dueOn, acts)
		}
		for _, a := range acts {
			actionIDs = append(actionIDs, a.ID)
		}
	})
	// 8 Jan ends at midnight (London = UTC in winter): chased then.
	h.at(4*day-10*time.Hour-time.Minute, func() {
		if acts := h.rec.openTasks(register.TaskMeetingAction); acts[0].Reminders != 0 {
			t.Errorf("chased before the end of its due day: %+v", acts)
		}
	})
	h.at(4*day-10*time.Hour+time.Minute, func() {
		for _, a := range h.rec.openTasks(register.TaskMeetingAction) {
			if a.Reminders != 1 {
				t.Errorf("want each action chased once at the end of its due day, got %+v", a)
			}
		}
	})
	var firstDone *upd
	h.at(5*day, func() {
		firstDone = &upd{name: "first action done"}
		h.updateIDs++
		_ = h.env.UpdateWorkflowByID(MeetingWorkflowID(testPerson, 1), UpdateMeetingActionDone, "done-1", firstDone.callbacks(),
			MeetingActionDoneInput{TaskID: actionIDs[0], Notes: "sent", Actor: "bob"})
	})
	// Chased again a chase interval later (11 Jan 00:00 + 3d = 12 Jan 00:00 — the second only).
	h.at(7*day-10*time.Hour+time.Minute, func() {
		acts := h.rec.openTasks(register.TaskMeetingAction)
		if len(acts) != 1 || acts[0].Reminders != 2 {
			t.Errorf("want the open action chased again after DSR_CHASE_EVERY, got %+v", acts)
		}
	})
	// Overdue from 9 Jan 00:00; 14 days later the managers hear, once.
	h.at(18*day-10*time.Hour+time.Minute, func() {
		var told []string
		for _, c := range h.rec.meetingChanges(1, "meeting_chased") {
			told = append(told, c.Managers...)
		}
		if len(told) != 1 {
			t.Errorf("want the managers told once about the long-overdue action, got %v", told)
		}
	})
	var secondDone *upd
	h.at(30*day, func() {
		secondDone = &upd{name: "second action done"}
		_ = h.env.UpdateWorkflowByID(MeetingWorkflowID(testPerson, 1), UpdateMeetingActionDone, "done-2", secondDone.callbacks(),
			MeetingActionDoneInput{TaskID: actionIDs[1], Actor: "bob"})
	})
	h.at(30*day+time.Minute, func() {
		var told []string
		for _, c := range h.rec.meetingChanges(1, "meeting_chased") {
			told = append(told, c.Managers...)
		}
		if len(told) != 1 {
			t.Errorf("the managers should be told once only, got %v", told)
		}
		if _, err := h.env.QueryWorkflowByID(MeetingWorkflowID(testPerson, 1), QueryStatus); err == nil {
			// The test environment keeps a finished child queryable; its
			// record says it is done.
			if open := h.rec.openTasks(register.TaskMeetingAction); len(open) != 0 {
				t.Errorf("actions still open: %+v", open)
			}
		}
	})
	h.removeAt(31 * day)
	h.runPerson()
	h.fails(early, ErrInvalidInput, "held", "not started yet")
	h.ok(outcome)
	h.ok(firstDone)
	h.ok(secondDone)
	if len(side.closes) != 1 {
		t.Fatalf("want one required action closed, got %+v", side.closes)
	}
	c := side.closes[0]
	if !slices.Equal(c.Kinds, []register.TaskKind{register.TaskMultiAgencyMeeting, register.TaskAmberMeeting}) ||
		!c.HeldOn.Equal(register.CalendarDate(meetsAt)) || c.ActionID != "meeting-1001-1-held" || c.Actor != "alice" {
		t.Errorf("close required action: %+v", c)
	}
}

// TestCTRMeetingClosesTheEscalationsCTR: a community C(E)TR held while the
// person is red asks casework to close the escalation's community_ctr
// action first, with the date it was held.
func TestCTRMeetingClosesTheEscalationsCTR(t *testing.T) {
	h, side := newMeetingHarness(t)
	h.activate(born(30, start))
	h.want(h.rateAt(redAfter, register.Red))
	meetsAt := start.Add(2 * day)
	h.want(h.sendAt(time.Hour, UpdateConveneMeeting, ConveneMeetingInput{Plan: plan(register.MeetingCommunityCTR, meetsAt), Actor: "alice"}))
	held := h.meetAt(2*day+2*time.Hour, 1, UpdateRecordMeetingOutcome, RecordMeetingOutcomeInput{Actor: "carol",
		Outcome: register.MeetingOutcome{Held: true, HeldOn: register.CalendarDate(meetsAt), Notes: "C(E)TR held"}})
	h.removeAt(3 * day)
	h.runPerson()
	h.ok(held)
	if held.err == nil && len(side.closes) == 1 {
		c := side.closes[0]
		if c.Kinds[0] != register.TaskCommunityCTR || !c.HeldOn.Equal(register.CalendarDate(meetsAt)) {
			t.Errorf("want the community C(E)TR closed with its date, got %+v", c)
		}
	} else {
		t.Errorf("closes: %+v", side.closes)
	}
	if got := h.rec.meetingChanges(1, "meeting_held"); len(got) != 1 || got[0].Meeting.Status != register.MeetingHeld {
		t.Errorf("meeting_held: %+v", got)
	}
}

// TestMeetingContinueAsNew: a meeting whose actions are chased for months
// carries its state into a new run: nothing is chased twice, the managers
// are not told again, and the action can still be marked done.
func TestMeetingContinueAsNew(t *testing.T) {
	rec := newMemRecord()
	side := &fakeMeetingSide{}
	newEnv := func(at time.Time) *harness {
		h := newHarnessWith(t, rec)
		h.env.SetStartTime(at)
		h.env.RegisterWorkflow(MeetingWorkflow)
		h.env.RegisterActivity(&activities.Meetings{Store: side, Actions: side})
		return h
	}
	m := &meeting{in: MeetingInput{PersonID: testPerson, Number: 2}}
	m.Policy = register.DefaultPolicy()
	first := m.convening(start, "alice", plan(register.MeetingLAEP, start.Add(day)))
	if _, err := rec.RecordChange(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	in := MeetingInput{PersonID: testPerson, Number: 2, State: m.MeetingState, ContinueAsNewAfterEvents: 500}

	h := newEnv(start)
	var outcome *upd
	h.at(day+2*time.Hour, func() {
		outcome = &upd{name: "outcome"}
		h.env.UpdateWorkflow(UpdateRecordMeetingOutcome, "o", outcome.callbacks(), RecordMeetingOutcomeInput{Actor: "alice",
			Outcome: register.MeetingOutcome{Held: true, HeldOn: register.CalendarDate(start.Add(day)),
				Actions: []register.MeetingAction{{Description: "write to the GP", Owner: "Sam", DueOn: register.CalendarDate(start.Add(2 * day))}}}})
	})
	h.at(20*day, func() { h.env.SetCurrentHistoryLength(1000) })
	h.env.ExecuteWorkflow(MeetingWorkflow, in)
	var next MeetingInput
	continuedAsNew(t, h.env, &next)
	if outcome == nil || outcome.err != nil {
		t.Fatalf("outcome: %+v", outcome)
	}
	if len(next.State.Tasks) != 1 || next.State.Tasks[0].Reminders == 0 || len(next.State.ManagersTold) != 1 || next.State.OutcomeAt.IsZero() {
		t.Fatalf("carried state %+v", next.State)
	}
	chasedBefore := len(rec.meetingChanges(2, "meeting_chased"))
	seqBefore := next.State.Seq

	h2 := newEnv(start.Add(20 * day))
	var done *upd
	h2.at(time.Hour, func() {
		done = &upd{name: "done"}
		h2.env.UpdateWorkflow(UpdateMeetingActionDone, "d", done.callbacks(), MeetingActionDoneInput{TaskID: next.State.Tasks[0].ID, Actor: "bob"})
	})
	next.ContinueAsNewAfterEvents = 0
	h2.env.ExecuteWorkflow(MeetingWorkflow, next)
	if err := h2.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res MeetingResult
	if err := h2.env.GetWorkflowResult(&res); err != nil || res.Status != register.MeetingHeld {
		t.Fatalf("result %+v %v", res, err)
	}
	if done == nil || done.err != nil {
		t.Fatalf("done: %+v", done)
	}
	after := rec.meetingChanges(2, "")
	for _, c := range after {
		if c.Seq <= seqBefore && c.At.After(start.Add(20*day)) {
			t.Errorf("the new run reused step %d", c.Seq)
		}
	}
	var told int
	for _, c := range rec.meetingChanges(2, "meeting_chased") {
		told += len(c.Managers)
	}
	if told != 1 || len(rec.meetingChanges(2, "meeting_chased")) < chasedBefore {
		t.Errorf("managers told %d times across the runs, want 1", told)
	}
}
