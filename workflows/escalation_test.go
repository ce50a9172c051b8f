package workflows

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
)

// The harness start (Mon 5 Jan 2026 10:00 UTC, 10:00 in London in winter)
// is a working morning; most tests turn the person red ten minutes in, so
// the acknowledgement is due four working hours later, at 14:10.
const redAfter = 10 * time.Minute

var redAt = start.Add(redAfter)

// TestEscalationStartsWhenTurningRed: turning red, from another colour or
// as the first rating, starts escalation 1 with its alert and the actions
// national policy expects; rating red again while red starts no other.
func TestEscalationStartsWhenTurningRed(t *testing.T) {
	for name, first := range map[string]register.Rating{"from green": register.Green, "at the first rating": ""} {
		t.Run(name, func(t *testing.T) {
			h := newRedHarness(t, start)
			h.activate(born(30, start))
			if first != "" {
				h.want(h.rateAt(5*time.Minute, first))
			}
			red := h.rateAt(redAfter, register.Red)
			again := h.rateAt(20*time.Minute, register.Red)
			h.at(30*time.Minute, func() {
				started := h.rec.escChanges(1, "escalation_started")
				if len(started) != 1 {
					t.Fatalf("want one escalation_started, got %d", len(started))
				}
				e := started[0].Escalation
				if e.Number != 1 || !e.StartedAt.Equal(redAt) || !e.AckDueAt.Equal(redAt.Add(4*time.Hour)) || e.Alerts != 1 {
					t.Errorf("escalation record %+v", e)
				}
				if started[0].Detail["keyworker_referral"] != "false" {
					t.Errorf("a 30-year-old is not referred to the keyworker service: %v", started[0].Detail)
				}
				tasks := h.rec.escTasks(1)
				if len(tasks) != 3 {
					t.Errorf("want alert, C(E)TR and meeting, got %+v", tasks)
				}
				alert, ok := tasks[register.TaskEscalationAlert]
				wantDue(t, "alert", alert, ok, redAt.Add(4*time.Hour))
				ctr, ok := tasks[register.TaskCommunityCTR]
				wantDue(t, "community C(E)TR", ctr, ok, redAt.Add(14*day))
				meeting, ok := tasks[register.TaskMultiAgencyMeeting]
				wantDue(t, "multi-agency meeting", meeting, ok, redAt.Add(5*day))

				if st := h.status(); st.OpenEscalation != 1 {
					t.Errorf("person status: open escalation %d, want 1", st.OpenEscalation)
				}
				if es := h.escStatus(1); es.Number != 1 || len(es.OpenTasks) != 3 || es.Ended || !es.AckDueAt.Equal(redAt.Add(4*time.Hour)) {
					t.Errorf("escalation status %+v", es)
				} else if es.OpenTasks[0].ID == 0 {
					t.Errorf("the escalation should take on the alert with its task ID: %+v", es.OpenTasks)
				}
			})
			h.removeAt(time.Hour)
			h.runPerson()
			h.ok(red)
			h.ok(again)
			rated := h.rec.personChanges("rated")
			if got := rated[len(rated)-2].Detail["escalation"]; got != "1" {
				t.Errorf("the red rating should name escalation 1, detail %v", rated[len(rated)-2].Detail)
			}
			// The alert is recorded with the rating, in one change (one
			// transaction): no moment when someone is red and no alert
			// exists, and no child workflow start in front of the alert.
			if also := rated[len(rated)-2].Also; also == nil || also.Action != "escalation_started" ||
				len(also.Open) == 0 || also.Open[0].Kind != register.TaskEscalationAlert {
				t.Errorf("the red rating should carry its escalation's alert, got %+v", also)
			}
			if _, named := rated[len(rated)-1].Detail["escalation"]; named {
				t.Errorf("red again while red must not start an escalation: %v", rated[len(rated)-1].Detail)
			}
		})
	}
}

// TestEscalationKeyworkerReferralByAge: the escalation asks for a keyworker
// referral for people aged 0–25 only, due five days after turning red.
func TestEscalationKeyworkerReferralByAge(t *testing.T) {
	for _, tc := range []struct {
		age  int
		want bool
	}{{14, true}, {20, true}, {25, true}, {26, false}, {30, false}} {
		t.Run(fmt.Sprint(tc.age), func(t *testing.T) {
			h := newRatedHarness(t, tc.age, register.Red)
			h.removeAt(time.Hour)
			h.runPerson()
			kw, ok := h.rec.escTasks(1)[register.TaskKeyworkerReferral]
			if ok != tc.want {
				t.Fatalf("age %d: keyworker referral asked for = %v, want %v", tc.age, ok, tc.want)
			}
			if ok && !kw.DueAt.Equal(redAt.Add(5*day)) {
				t.Errorf("keyworker referral due %v, want %v", kw.DueAt, redAt.Add(5*day))
			}
			if got := h.rec.escChanges(1, "escalation_started")[0].Detail["keyworker_referral"]; got != fmt.Sprint(tc.want) {
				t.Errorf("detail keyworker_referral=%s", got)
			}
		})
	}
}

// TestEscalationAckDeadlineInWorkingHours: the acknowledgement window is four
// working hours (09:00–17:00 Mon–Fri in London, bank holidays off), so the
// deadline skips evenings, weekends and holidays; the first re-alert comes
// exactly then and not before.
func TestEscalationAckDeadlineInWorkingHours(t *testing.T) {
	// The cases rely on these 2026 bank holidays; say so plainly if the
	// holiday data ever disagrees.
	cal, err := register.DefaultPolicy().Calendar()
	if err != nil {
		t.Fatal(err)
	}
	holidays := map[string]bool{}
	for _, hol := range cal.Holidays(2026) {
		holidays[hol.Date.Format("2006-01-02")] = true
	}
	for _, d := range []string{"2026-04-03", "2026-04-06", "2026-12-25", "2026-12-26", "2026-12-28"} {
		if !holidays[d] {
			t.Fatalf("the calendar no longer has %s as a bank holiday: %v", d, holidays)
		}
	}
	for _, tc := range []struct {
		name      string
		red, want time.Time
	}{
		// 30 minutes on Friday, 3h30 on Monday from 09:00.
		{"friday afternoon", time.Date(2026, 1, 9, 16, 30, 0, 0, london), time.Date(2026, 1, 12, 12, 30, 0, 0, london)},
		// Red on Saturday: counting starts at Monday's opening.
		{"weekend", time.Date(2026, 1, 10, 11, 0, 0, 0, london), time.Date(2026, 1, 12, 13, 0, 0, 0, london)},
		// Before opening: counting starts at 09:00 that day.
		{"early morning", time.Date(2026, 1, 7, 7, 0, 0, 0, london), time.Date(2026, 1, 7, 13, 0, 0, 0, london)},
		// Summer time (BST): one hour on Thursday, Good Friday 3 April and
		// Easter Monday 6 April off, three hours on Tuesday.
		{"easter", time.Date(2026, 4, 2, 16, 0, 0, 0, london), time.Date(2026, 4, 7, 12, 0, 0, 0, london)},
		// Two hours on 23 December, two on Christmas Eve (a working day).
		{"before christmas", time.Date(2026, 12, 23, 15, 0, 0, 0, london), time.Date(2026, 12, 24, 11, 0, 0, 0, london)},
		// Two hours on Christmas Eve; Christmas Day (Fri), the weekend
		// with Boxing Day, and its substitute Monday 28 December off.
		{"across christmas", time.Date(2026, 12, 24, 15, 0, 0, 0, london), time.Date(2026, 12, 29, 11, 0, 0, 0, london)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRedHarness(t, tc.red.Add(-redAfter))
			h.activate(born(30, tc.red))
			h.want(h.rateAt(redAfter, register.Red))
			due := tc.want.Sub(tc.red) + redAfter
			h.at(redAfter+time.Minute, func() {
				alert, ok := h.rec.escTasks(1)[register.TaskEscalationAlert]
				wantDue(t, "alert", alert, ok, tc.want)
				if st := h.escStatus(1); !st.AckDueAt.Equal(tc.want) {
					t.Errorf("status ack due %v, want %v", st.AckDueAt, tc.want)
				}
			})
			h.at(due-time.Minute, func() {
				if got := h.rec.escChanges(1, "escalation_unacknowledged"); len(got) != 0 {
					t.Errorf("re-alerted before the deadline at %v", times(got))
				}
			})
			h.at(due+time.Minute, func() {
				got := h.rec.escChanges(1, "escalation_unacknowledged")
				if len(got) != 1 || !got[0].At.Equal(tc.want) {
					t.Errorf("want one re-alert at the deadline %v, got %v", tc.want, times(got))
				}
			})
			h.removeAt(due + 2*time.Minute)
			h.runPerson()
		})
	}
}

// TestEscalationRealertsEveryWorkingHourUntilAcknowledged: nobody
// acknowledges a red at 12:00 on a Friday. At the 16:00 deadline the alert
// is sent again and the managers told; again every working hour — 17:00,
// then not until Monday 10:00 and 11:00 — until someone acknowledges.
func TestEscalationRealertsEveryWorkingHourUntilAcknowledged(t *testing.T) {
	red := time.Date(2026, 1, 9, 12, 0, 0, 0, london)
	h := newRedHarness(t, red.Add(-redAfter))
	h.activate(born(30, red))
	h.want(h.rateAt(redAfter, register.Red))
	since := func(t time.Time) time.Duration { return t.Sub(red) + redAfter }
	monday := func(hour, min int) time.Time { return time.Date(2026, 1, 12, hour, min, 0, 0, london) }
	ack := h.escAt(since(monday(11, 30)), 1, UpdateAcknowledge, AcknowledgeInput{Actor: "bob"})
	h.at(since(monday(9, 59)), func() {
		// Nothing overnight or at the weekend.
		if got := h.rec.escChanges(1, "escalation_unacknowledged"); len(got) != 2 {
			t.Errorf("by Monday 09:59 want the 16:00 and 17:00 re-alerts only, got %v", times(got))
		}
	})
	h.removeAt(since(time.Date(2026, 1, 13, 12, 0, 0, 0, london)))
	h.runPerson()
	h.ok(ack)

	want := []time.Time{
		time.Date(2026, 1, 9, 16, 0, 0, 0, london),
		time.Date(2026, 1, 9, 17, 0, 0, 0, london),
		monday(10, 0),
		monday(11, 0),
	}
	realerts := h.rec.escChanges(1, "escalation_unacknowledged")
	if !sameInstants(times(realerts), want) {
		t.Fatalf("re-alerts at %v, want %v (and none after the acknowledgement)", times(realerts), want)
	}
	alert := h.rec.escTasks(1)[register.TaskEscalationAlert]
	for i, c := range realerts {
		if !slices.Equal(c.Remind, []string{alert.Key}) || !slices.Equal(c.Managers, []string{alert.Key}) {
			t.Errorf("re-alert %d: remind %v managers %v, want the alert %s", i+2, c.Remind, c.Managers, alert.Key)
		}
		if c.Detail["alerts"] != fmt.Sprint(i+2) || c.Escalation.Alerts != i+2 {
			t.Errorf("re-alert %d: detail %v record %+v", i+2, c.Detail, c.Escalation)
		}
	}
	managers := h.rec.notifiedFor(notify.ManagersAlerted, alert.ID)
	reminders := h.rec.notifiedFor(notify.TaskReminder, alert.ID)
	if len(managers) != 4 || len(reminders) != 4 {
		t.Errorf("want 4 managers' alerts and 4 reminders, got %d and %d", len(managers), len(reminders))
	}
	keys := map[string]bool{}
	for _, n := range append(managers, reminders...) {
		if keys[n.Key] {
			t.Errorf("notification key %s repeated: a notifier would drop it", n.Key)
		}
		keys[n.Key] = true
	}
	if alert.Reminders != 4 || alert.Status != register.TaskStatusDone {
		t.Errorf("alert task %+v", alert)
	}
	acked := h.rec.escChanges(1, "escalation_acknowledged")
	// 12:00–17:00 Friday and 09:00–11:30 Monday.
	if len(acked) != 1 || acked[0].Detail["in_time"] != "false" || acked[0].Detail["working_time_to_ack"] != "7h30m0s" {
		t.Errorf("late acknowledgement: %+v", acked)
	}
	if e := h.endedRecord(1); e.Alerts != 5 {
		t.Errorf("alerts %d, want the first and four re-alerts", e.Alerts)
	}
}

// TestEscalationAcknowledge: acknowledging closes the alert, records who and
// how fast, and stops the re-alerts; it needs an actor, and only the first
// acknowledgement counts.
func TestEscalationAcknowledge(t *testing.T) {
	h := newRatedHarness(t, 30, register.Red)
	noActor := h.escAt(30*time.Minute, 1, UpdateAcknowledge, AcknowledgeInput{Notes: "seen"})
	ack := h.escAt(redAfter+time.Hour, 1, UpdateAcknowledge, AcknowledgeInput{Notes: "calling the family", Actor: "bob"})
	again := h.escAt(2*time.Hour, 1, UpdateAcknowledge, AcknowledgeInput{Actor: "carol"})
	h.removeAt(2 * day)
	h.runPerson()

	h.fails(noActor, ErrInvalidInput, "actor", "required")
	h.ok(ack)
	h.fails(again, ErrNoLongerApplies, "", "already acknowledged by bob")
	if ack.esc.AcknowledgedBy != "bob" || !ack.esc.AcknowledgedAt.Equal(redAt.Add(time.Hour)) {
		t.Errorf("the Update answers with the acknowledged status: %+v", ack.esc)
	}
	alert := h.rec.escTasks(1)[register.TaskEscalationAlert]
	if alert.Status != register.TaskStatusDone || alert.Outcome != "acknowledged" || alert.ClosedBy != "bob" {
		t.Errorf("alert task %+v", alert)
	}
	acked := h.rec.escChanges(1, "escalation_acknowledged")
	if len(acked) != 1 {
		t.Fatalf("want one escalation_acknowledged, got %d", len(acked))
	}
	c := acked[0]
	if c.Actor != "bob" || c.Escalation.AcknowledgedBy != "bob" || !c.Escalation.AcknowledgedAt.Equal(redAt.Add(time.Hour)) {
		t.Errorf("acknowledgement change %+v %+v", c, c.Escalation)
	}
	if c.Detail["in_time"] != "true" || c.Detail["working_time_to_ack"] != "1h0m0s" || c.Detail["notes"] != "calling the family" {
		t.Errorf("detail %v", c.Detail)
	}
	if got := h.rec.escChanges(1, "escalation_unacknowledged"); len(got) != 0 {
		t.Errorf("acknowledged in time, yet re-alerted at %v", times(got))
	}
}

// TestEscalationCompleteAction: the escalation's required actions are
// recorded done on it (not on the person), with the date they happened.
func TestEscalationCompleteAction(t *testing.T) {
	h := newRatedHarness(t, 30, register.Red)
	today := register.CalendarDate(start)
	ctr := func(on time.Time) CompleteActionInput {
		return CompleteActionInput{Kind: register.TaskCommunityCTR, DoneOn: on, Actor: "carol"}
	}
	future := h.escAt(time.Hour, 1, UpdateCompleteAction, ctr(today.AddDate(0, 0, 1)))
	before := h.escAt(time.Hour, 1, UpdateCompleteAction, ctr(today.AddDate(0, 0, -1)))
	ctrNotNeeded := h.escAt(time.Hour, 1, UpdateCompleteAction,
		CompleteActionInput{Kind: register.TaskCommunityCTR, NotNeeded: true, Actor: "carol"})
	notAnAction := h.escAt(time.Hour, 1, UpdateCompleteAction,
		CompleteActionInput{Kind: register.TaskEscalationAlert, Actor: "carol"})
	noKeyworker := h.escAt(time.Hour, 1, UpdateCompleteAction,
		CompleteActionInput{Kind: register.TaskKeyworkerReferral, Actor: "carol"})
	noActor := h.escAt(time.Hour, 1, UpdateCompleteAction, CompleteActionInput{Kind: register.TaskCommunityCTR})
	onPerson := h.sendAt(time.Hour, UpdateCompleteAction, ctr(today))
	done := h.escAt(2*time.Hour, 1, UpdateCompleteAction, ctr(today))
	meeting := h.escAt(3*time.Hour, 1, UpdateCompleteAction,
		CompleteActionInput{Kind: register.TaskMultiAgencyMeeting, NotNeeded: true, Notes: "CTR covered it", Actor: "dave"})
	twice := h.escAt(4*time.Hour, 1, UpdateCompleteAction, ctr(today))
	h.removeAt(day)
	h.runPerson()

	h.fails(future, ErrInvalidInput, "done_on", "in the future")
	h.fails(before, ErrInvalidInput, "done_on", "before this was asked for (2026-01-05)")
	h.fails(ctrNotNeeded, ErrInvalidInput, "not_needed", "only a multi-agency meeting")
	h.fails(notAnAction, ErrInvalidInput, "kind", "must be one of the required actions")
	h.fails(noKeyworker, ErrNoLongerApplies, "", "no open keyworker_referral")
	h.fails(noActor, ErrInvalidInput, "actor", "required")
	h.fails(onPerson, ErrNoLongerApplies, "", "belongs to the open escalation")
	h.ok(done)
	h.ok(meeting)
	h.fails(twice, ErrNoLongerApplies, "", "already recorded by carol")

	tasks := h.rec.escTasks(1)
	if got := tasks[register.TaskCommunityCTR]; got.Status != register.TaskStatusDone || got.Outcome != "C(E)TR held on 5 Jan 2026" || got.ClosedBy != "carol" {
		t.Errorf("C(E)TR task %+v", got)
	}
	if got := tasks[register.TaskMultiAgencyMeeting]; got.Status != register.TaskStatusCancelled || got.Outcome != "not needed" || got.ClosedBy != "dave" {
		t.Errorf("meeting task %+v", got)
	}
	if c := h.rec.escChanges(1, "escalation_action_done"); len(c) != 1 || c[0].Detail["kind"] != "community_ctr" || c[0].Detail["on"] != "2026-01-05" {
		t.Errorf("escalation_action_done %+v", c)
	}
	if c := h.rec.escChanges(1, "escalation_action_not_needed"); len(c) != 1 || c[0].Detail["notes"] != "CTR covered it" {
		t.Errorf("escalation_action_not_needed %+v", c)
	}
	if len(done.esc.Done) != 1 || len(meeting.esc.Done) != 2 || !meeting.esc.Done[1].NotNeeded {
		t.Errorf("statuses should list what is done: %+v then %+v", done.esc.Done, meeting.esc.Done)
	}
	// Rejected Updates recorded nothing: started, two actions, ended.
	if n := len(h.rec.escChanges(1, "")) - len(h.rec.escChanges(1, "escalation_unacknowledged")); n != 4 {
		t.Errorf("want 4 escalation steps besides re-alerts, got %d", n)
	}
}

// TestEscalationKeyworkerReferralOutlastsIt: a keyworker referral recorded on
// the escalation reaches the person's workflow, so neither amber nor blue
// asks for it again for the same spell on the register.
func TestEscalationKeyworkerReferralOutlastsIt(t *testing.T) {
	h := newRatedHarness(t, 20, register.Red)
	referral := h.escAt(time.Hour, 1, UpdateCompleteAction,
		CompleteActionInput{Kind: register.TaskKeyworkerReferral, Actor: "carol"})
	h.want(h.rateAt(day, register.Amber))
	h.at(day+time.Minute, func() {
		if got := h.rec.personTasks(register.TaskAmberMeeting); len(got) != 1 {
			t.Errorf("amber asks for a meeting: %+v", got)
		}
	})
	h.want(h.rateAt(2*day, register.Blue))
	h.removeAt(3 * day)
	h.runPerson()
	h.ok(referral)

	if got := h.rec.escTasks(1)[register.TaskKeyworkerReferral]; got.Status != register.TaskStatusDone || got.Outcome != "keyworker referral made on 5 Jan 2026" {
		t.Errorf("escalation's keyworker task %+v", got)
	}
	if got := h.rec.personTasks(register.TaskKeyworkerReferral); len(got) != 0 {
		t.Errorf("the referral was made: the person's workflow must not ask again, got %+v", got)
	}
	if got := h.endedRecord(1).Outcome; !strings.Contains(got, "keyworker_referral: keyworker referral made on 5 Jan 2026 (carol)") {
		t.Errorf("outcome should say the referral was made: %s", got)
	}
}

// TestEscalationChasesOverdueActions: each required action not done by its
// deadline is chased, and the managers told, at the deadline and every
// chase interval (3 days) after, until it is done.
func TestEscalationChasesOverdueActions(t *testing.T) {
	h := newRatedHarness(t, 20, register.Red)
	h.want(h.escAt(time.Hour, 1, UpdateAcknowledge, AcknowledgeInput{Actor: "bob"}))
	overdue := func() []register.Change { return h.rec.escChanges(1, "escalation_action_overdue") }
	h.at(redAfter+5*day-time.Minute, func() {
		if got := overdue(); len(got) != 0 {
			t.Errorf("chased before the 5-day deadlines: %v", times(got))
		}
	})
	h.at(redAfter+5*day+time.Minute, func() {
		got := overdue()
		tasks := h.rec.escTasks(1)
		want := []string{tasks[register.TaskKeyworkerReferral].Key, tasks[register.TaskMultiAgencyMeeting].Key}
		if len(got) != 1 || !got[0].At.Equal(redAt.Add(5*day)) || !slices.Equal(got[0].Remind, want) || !slices.Equal(got[0].Managers, want) {
			t.Fatalf("at 5 days want the keyworker referral and meeting chased, got %+v", got)
		}
		if got[0].Detail["actions"] != "keyworker_referral,multi_agency_meeting" {
			t.Errorf("detail %v", got[0].Detail)
		}
	})
	h.want(h.escAt(6*day, 1, UpdateCompleteAction, CompleteActionInput{Kind: register.TaskKeyworkerReferral, Actor: "carol"}))
	h.want(h.escAt(6*day, 1, UpdateCompleteAction, CompleteActionInput{Kind: register.TaskMultiAgencyMeeting, Actor: "carol"}))
	h.removeAt(18 * day)
	h.runPerson()

	ctr := h.rec.escTasks(1)[register.TaskCommunityCTR]
	got := overdue()
	wantAt := []time.Time{redAt.Add(5 * day), redAt.Add(14 * day), redAt.Add(17 * day)}
	if !sameInstants(times(got), wantAt) {
		t.Fatalf("chases at %v, want %v (done actions are not chased again)", times(got), wantAt)
	}
	for _, c := range got[1:] {
		if !slices.Equal(c.Remind, []string{ctr.Key}) || !slices.Equal(c.Managers, []string{ctr.Key}) {
			t.Errorf("chase at %v: remind %v managers %v, want the C(E)TR", c.At, c.Remind, c.Managers)
		}
	}
	if ctr.Reminders != 2 || len(h.rec.notifiedFor(notify.ManagersAlerted, ctr.ID)) != 2 {
		t.Errorf("C(E)TR chased %d times, managers told %d times; want 2 each", ctr.Reminders, len(h.rec.notifiedFor(notify.ManagersAlerted, ctr.ID)))
	}
}

// TestEscalationEndsWhenRatingLowered: red → amber ends the escalation, and
// its outcome says why, who acknowledged, what was done and what was not;
// its open tasks are cancelled.
func TestEscalationEndsWhenRatingLowered(t *testing.T) {
	h := newRatedHarness(t, 30, register.Red)
	h.want(h.escAt(time.Hour, 1, UpdateAcknowledge, AcknowledgeInput{Actor: "bob"}))
	h.want(h.escAt(2*time.Hour, 1, UpdateCompleteAction, CompleteActionInput{Kind: register.TaskCommunityCTR, Actor: "carol"}))
	h.want(h.sendAt(day, UpdateRate, RateInput{Rating: register.Amber, Rationale: "settled", Actor: "dave"}))
	late := h.escAt(day+time.Minute, 1, UpdateAcknowledge, AcknowledgeInput{Actor: "erin"})
	h.at(day+time.Minute, func() {
		if st := h.status(); st.OpenEscalation != 0 {
			t.Errorf("person still shows escalation %d open", st.OpenEscalation)
		}
	})
	h.removeAt(2 * day)
	h.runPerson()

	ended := h.rec.escChanges(1, "escalation_ended")
	if len(ended) != 1 {
		t.Fatalf("want one escalation_ended, got %d", len(ended))
	}
	c := ended[0]
	outcome := c.Detail["outcome"]
	for _, want := range []string{
		"ended: rating lowered to amber",
		"acknowledged by bob at " + redAt.Add(50*time.Minute).Format(time.RFC3339),
		"community_ctr: C(E)TR held on 5 Jan 2026 (carol)",
		"multi_agency_meeting: not done",
	} {
		if !strings.Contains(outcome, want) {
			t.Errorf("outcome lacks %q: %s", want, outcome)
		}
	}
	if strings.Contains(outcome, "community_ctr: not done") || strings.Contains(outcome, "escalation_alert") {
		t.Errorf("outcome lists a closed task as not done: %s", outcome)
	}
	if c.Actor != "dave" || c.Detail["reason"] != "rating lowered to amber" || c.Escalation.Outcome != outcome || !c.Escalation.EndedAt.Equal(start.Add(day)) {
		t.Errorf("ended change %+v, record %+v", c, c.Escalation)
	}
	meeting := h.rec.escTasks(1)[register.TaskMultiAgencyMeeting]
	if meeting.Status != register.TaskStatusCancelled || meeting.Outcome != "escalation ended: rating lowered to amber" || meeting.ClosedBy != "dave" {
		t.Errorf("open escalation task should be cancelled: %+v", meeting)
	}
	if e := c.Escalation; e.AcknowledgedBy != "bob" || e.Alerts != 1 || !e.AcknowledgedAt.Equal(redAt.Add(50*time.Minute)) {
		t.Errorf("escalation record %+v", e)
	}
	if late.err == nil {
		t.Errorf("acknowledging an ended escalation must fail")
	}
}

// TestEscalationEndsOnAdmission: red → blue ends it as an admission; nobody
// acknowledged, and the outcome counts the alerts (re-alerts ran 14:10,
// 15:10, 16:10, then Tuesday 09:10: 50 minutes Monday, 10 Tuesday).
func TestEscalationEndsOnAdmission(t *testing.T) {
	h := newRatedHarness(t, 30, register.Red)
	h.want(h.rateAt(day-30*time.Minute, register.Blue))
	h.removeAt(2 * day)
	h.runPerson()

	ended := h.rec.escChanges(1, "escalation_ended")
	if len(ended) != 1 || ended[0].Detail["reason"] != "admitted to hospital (blue)" {
		t.Fatalf("ended %+v", ended)
	}
	if o := ended[0].Detail["outcome"]; !strings.HasPrefix(o, "ended: admitted to hospital (blue); never acknowledged (5 alerts)") {
		t.Errorf("outcome %s", o)
	}
	for kind, task := range h.rec.escTasks(1) {
		if task.Status != register.TaskStatusCancelled || task.Outcome != "escalation ended: admitted to hospital (blue)" {
			t.Errorf("%s: %+v", kind, task)
		}
	}
	if got := h.rec.personTasks(register.TaskPostAdmissionCTR); len(got) != 1 {
		t.Errorf("admission asks for a post-admission C(E)TR: %+v", got)
	}
}

// TestEscalationEndsOnRemoval: leaving the register, by removal or by
// withdrawing consent, ends the escalation and closes every task.
func TestEscalationEndsOnRemoval(t *testing.T) {
	for _, tc := range []struct {
		name   string
		update string
		arg    any
		reason register.RemovalReason
	}{
		{"remove", UpdateRemove, RemoveInput{Reason: register.RemovedMovedOutOfArea, Actor: "alice"}, register.RemovedMovedOutOfArea},
		{"withdraw consent", UpdateWithdrawConsent, WithdrawConsentInput{Reason: "asked to leave", Actor: "alice"}, register.RemovedConsentWithdrawn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRatedHarness(t, 20, register.Red)
			h.want(h.sendAt(time.Hour, tc.update, tc.arg))
			h.runPerson()

			want := "removed from the register (" + string(tc.reason) + ")"
			ended := h.rec.escChanges(1, "escalation_ended")
			if len(ended) != 1 || ended[0].Detail["reason"] != want {
				t.Fatalf("want the escalation ended: %s, got %+v", want, ended)
			}
			if o := h.endedRecord(1).Outcome; !strings.HasPrefix(o, "ended: "+want) {
				t.Errorf("outcome %s", o)
			}
			if open := h.rec.openTasks(""); len(open) != 0 {
				t.Errorf("tasks left open: %+v", open)
			}
		})
	}
}

// TestEscalationSecondSpellAtRed: red → blue → red is a second escalation
// with its own number, alert and record; the first stays in the history.
func TestEscalationSecondSpellAtRed(t *testing.T) {
	h := newRatedHarness(t, 30, register.Red)
	h.want(h.rateAt(time.Hour, register.Blue))
	h.want(h.rateAt(2*time.Hour, register.Red))
	h.at(2*time.Hour+time.Minute, func() {
		if st := h.status(); st.OpenEscalation != 2 {
			t.Errorf("person shows escalation %d open, want 2", st.OpenEscalation)
		}
		if st := h.escStatus(2); st.Number != 2 || st.Ended || !st.StartedAt.Equal(start.Add(2*time.Hour)) {
			t.Errorf("escalation 2 status %+v", st)
		}
	})
	h.removeAt(3 * time.Hour)
	h.runPerson()

	for n, wantEnd := range map[int]string{1: "admitted to hospital (blue)", 2: "removed from the register (other)"} {
		started := h.rec.escChanges(n, "escalation_started")
		if len(started) != 1 || started[0].Escalation.Number != n {
			t.Errorf("escalation %d: started %+v", n, started)
		}
		if ended := h.rec.escChanges(n, "escalation_ended"); len(ended) != 1 || ended[0].Detail["reason"] != wantEnd {
			t.Errorf("escalation %d: ended %+v", n, ended)
		}
		if st := h.rec.escTasks(n)[register.TaskEscalationAlert]; !strings.HasSuffix(st.Key, "-escalation_alert") {
			t.Errorf("escalation %d alert %+v", n, st)
		}
	}
	if got := h.rec.tasksOf(register.TaskEscalationAlert); len(got) != 2 {
		t.Errorf("want two alerts, one per spell at red: %+v", got)
	}
	rated := h.rec.personChanges("rated")
	if got := rated[len(rated)-1].Detail["escalation"]; got != "2" {
		t.Errorf("second red rating names escalation %q", got)
	}
}

// TestEscalationSurvivesPersonContinueAsNew: the escalation is abandoned,
// not closed, when the person's workflow continues as new, and the next run
// ends it by workflow ID. The test environment runs one workflow run, so
// this is two halves: the first run continues as new with the escalation
// still running (which then takes its end signal by ID); the second run,
// from the carried state, signals that ID when the rating is lowered, and
// numbers its next escalation 2.
func TestEscalationSurvivesPersonContinueAsNew(t *testing.T) {
	h := newRatedHarness(t, 30, register.Red)
	h.want(h.escAt(time.Hour, 1, UpdateAcknowledge, AcknowledgeInput{Actor: "bob"}))
	h.at(2*time.Hour, func() { h.env.SetCurrentHistoryLength(1000) })
	h.at(2*day, func() {
		// The person's run has continued as new by now; the escalation
		// has not noticed.
		if st := h.escStatus(1); st.Ended || st.AcknowledgedBy != "bob" {
			t.Errorf("escalation after the parent continued as new: %+v", st)
		}
		if err := h.env.SignalWorkflowByID(EscalationWorkflowID(testPerson, 1), SignalEndEscalation,
			EndEscalationSignal{Reason: "rating lowered to amber", Actor: "dave", At: start.Add(2 * day)}); err != nil {
			t.Errorf("signal escalation by ID: %v", err)
		}
	})
	h.runPersonFrom(PersonWorkflowInput{PersonID: testPerson, ContinueAsNewAfterEvents: 500})

	var next PersonWorkflowInput
	continuedAsNew(t, h.env, &next)
	if next.State == nil || next.State.OpenEscalation != 1 || next.State.Escalations != 1 || next.State.Rating != register.Red {
		t.Fatalf("carried state %+v", next.State)
	}
	if ended := h.rec.escChanges(1, "escalation_ended"); len(ended) != 1 || !strings.Contains(ended[0].Detail["outcome"], "acknowledged by bob") {
		t.Errorf("the abandoned escalation should run until signalled, then end: %+v", ended)
	}

	// Second run, from the carried state.
	h2 := newRedHarnessWith(t, start.Add(day), h.rec)
	var endSignal *EndEscalationSignal
	h2.env.OnSignalExternalWorkflow(mock.Anything, EscalationWorkflowID(testPerson, 1), "", SignalEndEscalation, mock.Anything).
		Return(nil).Run(func(args mock.Arguments) {
		if s, ok := args.Get(4).(EndEscalationSignal); ok {
			endSignal = &s
		}
	}).Once()
	amber := h2.sendAt(time.Hour, UpdateRate, RateInput{Rating: register.Amber, Rationale: "settled", Actor: "dave"})
	red := h2.rateAt(2*time.Hour, register.Red)
	h2.at(2*time.Hour+time.Minute, func() {
		if st := h2.escStatus(2); st.Number != 2 || st.Ended {
			t.Errorf("escalation 2 after continue-as-new: %+v", st)
		}
	})
	h2.removeAt(3 * time.Hour)
	next.ContinueAsNewAfterEvents = 0
	h2.runPersonFrom(next)
	if err := h2.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	h2.ok(amber)
	h2.ok(red)
	h2.env.AssertExpectations(t)
	if endSignal == nil || endSignal.Reason != "rating lowered to amber" || endSignal.Actor != "dave" {
		t.Errorf("the new run should end escalation 1 by ID, sent %+v", endSignal)
	}
	if started := h.rec.escChanges(2, "escalation_started"); len(started) != 1 {
		t.Errorf("the next red after continue-as-new is escalation 2: %+v", started)
	}
}

// TestEscalationContinueAsNew runs an escalation on its own (the person's
// workflow never sets its continue-as-new threshold) across continue-as-new:
// nothing is alerted twice, the re-alert due at the moment it continued is
// sent by the next run, numbering goes on, and the required actions can still
// be recorded (their signal to the person's workflow is mocked).
func TestEscalationContinueAsNew(t *testing.T) {
	red := time.Date(2026, 1, 9, 12, 0, 0, 0, london)
	rec := newMemRecord()
	newEnv := func(at time.Time) *harness {
		h := newHarnessWith(t, rec)
		h.env.SetStartTime(at)
		return h
	}
	in := EscalationInput{PersonID: testPerson, Number: 1, RedAt: red, Actor: "alice", AgeAtRed: 20,
		Policy: register.DefaultPolicy(), ContinueAsNewAfterEvents: 500}

	h := newEnv(red)
	h.at(time.Hour, func() { h.env.SetCurrentHistoryLength(1000) })
	h.env.ExecuteWorkflow(EscalationWorkflow, in)
	var next EscalationInput
	continuedAsNew(t, h.env, &next)
	// It continued at the 16:00 deadline, before re-alerting.
	if next.State == nil || next.State.Record.Alerts != 1 || len(next.State.Tasks) != 4 || next.State.Seq != 1 ||
		next.ContinueAsNewAfterEvents != 500 || next.Number != 1 || !next.RedAt.Equal(red) {
		t.Fatalf("carried input %+v state %+v", next, next.State)
	}

	deadline := time.Date(2026, 1, 9, 16, 0, 0, 0, london)
	h2 := newEnv(deadline)
	var actionDone *ActionDone
	h2.env.OnSignalExternalWorkflow(mock.Anything, PersonWorkflowID(testPerson), "", SignalActionDone, mock.Anything).
		Return(nil).Run(func(args mock.Arguments) {
		if d, ok := args.Get(4).(ActionDone); ok {
			actionDone = &d
		}
	}).Once()
	h2.at(time.Minute, func() {
		got := rec.escChanges(1, "escalation_unacknowledged")
		if len(got) != 1 || !got[0].At.Equal(deadline) || got[0].Seq != 2 || got[0].Escalation.Alerts != 2 {
			t.Errorf("the next run should re-alert at once, as step 2: %+v", got)
		}
	})
	var ack, referral *updateResult
	h2.at(30*time.Minute, func() {
		ack = h2.send(UpdateAcknowledge, AcknowledgeInput{Actor: "bob"})
		referral = h2.send(UpdateCompleteAction, CompleteActionInput{Kind: register.TaskKeyworkerReferral, Actor: "carol"})
	})
	h2.at(time.Hour, func() {
		h2.env.SignalWorkflow(SignalEndEscalation, EndEscalationSignal{Reason: "rating lowered to amber", Actor: "dave"})
	})
	next.ContinueAsNewAfterEvents = 0
	h2.env.ExecuteWorkflow(EscalationWorkflow, next)
	if err := h2.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	h2.expectOK(ack)
	h2.expectOK(referral)
	h2.env.AssertExpectations(t)
	if actionDone == nil || actionDone.Kind != register.TaskKeyworkerReferral || actionDone.By != "carol" {
		t.Errorf("the person's workflow should be told of the referral, got %+v", actionDone)
	}
	var res EscalationResult
	if err := h2.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Alerts != 2 || res.AcknowledgedBy != "bob" || !res.StartedAt.Equal(red) || !strings.Contains(res.Outcome, "keyworker_referral: keyworker referral made") {
		t.Errorf("result %+v", res)
	}
	if got := rec.escChanges(1, "escalation_started"); len(got) != 1 {
		t.Errorf("alerted %d times as new; continue-as-new must not start it again", len(got))
	}
	seqs := map[int64]bool{}
	for _, c := range rec.escChanges(1, "") {
		if seqs[c.Seq] {
			t.Errorf("step %d recorded twice", c.Seq)
		}
		seqs[c.Seq] = true
	}
}

// TestEscalationNumberingGoesOnInANewSpell: a person referred again after
// removal starts a new workflow run; the referral says how many escalations
// they have had, so the next one takes the next number (and a workflow ID
// and audit keys never used before).
func TestEscalationNumberingGoesOnInANewSpell(t *testing.T) {
	h := newRedHarness(t, start)
	h.want(h.sendAt(0, UpdateRefer, ReferInput{ReferralID: 7, DateOfBirth: born(30, start), ProjectionSeq: 40, Escalations: 3, Actor: "gp"}))
	h.want(h.sendAt(time.Minute, UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentSelf, DecidedOn: register.CalendarDate(start), Actor: "alice"}))
	red := h.want(h.rateAt(redAfter, register.Red))
	h.at(redAfter+time.Minute, func() {
		if st := h.escStatus(4); st.Number != 4 {
			t.Errorf("escalation 4 status %+v", st)
		}
	})
	h.removeAt(time.Hour)
	h.runPerson()
	if red.person.OpenEscalation != 4 {
		t.Errorf("open escalation %d, want 4", red.person.OpenEscalation)
	}
	if got := h.rec.escChanges(4, "escalation_started"); len(got) != 1 || !strings.HasPrefix(h.rec.escTasks(4)[register.TaskEscalationAlert].Key, "1001-e4-") {
		t.Errorf("escalation 4 started %+v", got)
	}
	if got := h.rec.escChanges(1, ""); len(got) != 0 {
		t.Errorf("escalation 1 of an earlier spell reused: %+v", got)
	}
}

// TestNewSpellNumbersOnFromTheRecord: a re-referral that raced the last
// spell's removal carries numbers read before the removal was recorded. The
// new spell numbers on from the record instead, so its first change is not
// taken for a replay of the removal (which would leave its consent task
// unopened and the spell wedged), and its escalations take new numbers.
func TestNewSpellNumbersOnFromTheRecord(t *testing.T) {
	h := newRedHarness(t, start)
	// The last spell's record: changes up to 41 (its removal) and two
	// escalations; the referral read 40 and 1.
	h.rec.mu.Lock()
	h.rec.changes = append(h.rec.changes,
		register.Change{PersonID: testPerson, Seq: 41, Action: "removed"},
		register.Change{PersonID: testPerson, Seq: 3, Action: "escalation_ended", Escalation: &register.Escalation{Number: 2}})
	h.rec.applied[fmt.Sprintf("%d-41", testPerson)] = true
	h.rec.mu.Unlock()
	h.want(h.sendAt(0, UpdateRefer, ReferInput{ReferralID: 7, DateOfBirth: born(30, start), ProjectionSeq: 40, Escalations: 1, Actor: "gp"}))
	h.want(h.sendAt(time.Minute, UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentSelf, DecidedOn: register.CalendarDate(start), Actor: "alice"}))
	h.want(h.rateAt(redAfter, register.Red))
	h.removeAt(time.Hour)
	h.runPerson()
	accepted := h.rec.personChanges("referral_accepted")
	if len(accepted) != 1 || accepted[0].Seq != 42 {
		t.Fatalf("the new spell's first change: %+v; want one, numbered 42", accepted)
	}
	if len(h.rec.tasksOf(register.TaskConsentNeeded)) != 1 {
		t.Errorf("the new spell's consent task was not opened")
	}
	if got := h.rec.escChanges(3, "escalation_started"); len(got) != 1 {
		t.Errorf("the new spell's first escalation should be number 3, got %+v", got)
	}
}

// TestLoweringRatingWhenEscalationAlreadyGone: an escalation already closed
// by other means (here cancelled, as an operator might) does not stop the
// person's rating from moving on.
func TestLoweringRatingWhenEscalationAlreadyGone(t *testing.T) {
	h := newRatedHarness(t, 30, register.Red)
	h.at(time.Hour, func() { h.env.CancelWorkflowByID(EscalationWorkflowID(testPerson, 1), "") })
	amber := h.want(h.rateAt(2*time.Hour, register.Amber))
	h.removeAt(3 * time.Hour)
	h.runPerson()
	if amber.person.Rating != register.Amber || amber.person.OpenEscalation != 0 {
		t.Errorf("status after lowering %+v", amber.person)
	}
	if got := h.rec.escChanges(1, "escalation_ended"); len(got) != 0 {
		t.Errorf("a cancelled escalation records no ending of its own: %+v", got)
	}
}
