package workflows

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/register"
)

// What each colour asks for beyond its review (person_colours.go): amber a
// meeting and a keyworker referral, blue the post-admission and recurring
// inpatient C(E)TRs, and leaving blue the discharge hold at red. Ratings are
// given ten minutes after the harness start, Mon 5 Jan 2026 10:00 UTC.

// TestAmberOpensMeetingAndKeyworkerReferral: amber asks for a multi-agency
// meeting and/or C(E)TR within 28 days, and a keyworker referral for people
// aged 0–25; the meeting is marked done on the person's workflow.
func TestAmberOpensMeetingAndKeyworkerReferral(t *testing.T) {
	for _, tc := range []struct {
		age       int
		keyworker bool
	}{{20, true}, {25, true}, {26, false}, {30, false}} {
		t.Run(fmt.Sprint(tc.age), func(t *testing.T) {
			h := newRatedHarness(t, tc.age, register.Amber)
			held := h.want(h.sendAt(time.Hour, UpdateCompleteAction,
				CompleteActionInput{Kind: register.TaskAmberMeeting, Actor: "carol"}))
			h.at(redAfter+time.Minute, func() {
				meeting := h.rec.personTasks(register.TaskAmberMeeting)
				wantDue(t, "amber meeting", first(meeting), len(meeting) == 1, redAt.Add(28*day))
				kw := h.rec.personTasks(register.TaskKeyworkerReferral)
				if (len(kw) == 1) != tc.keyworker || len(kw) > 1 {
					t.Fatalf("age %d: keyworker referral tasks %+v, want one: %v", tc.age, kw, tc.keyworker)
				}
				if tc.keyworker {
					wantDue(t, "keyworker referral", kw[0], true, redAt.Add(28*day))
				}
				if st := h.status(); st.OpenEscalation != 0 {
					t.Errorf("amber starts no escalation: %+v", st)
				}
			})
			h.removeAt(day)
			h.runPerson()
			if got := h.rec.personTasks(register.TaskAmberMeeting)[0]; got.Status != register.TaskStatusDone || got.Outcome != "meeting held on 5 Jan 2026" {
				t.Errorf("amber meeting after marking it done: %+v", got)
			}
			if held.person.Rating != register.Amber || len(held.person.OpenTasks) != map[bool]int{true: 1, false: 0}[tc.keyworker] {
				t.Errorf("complete-action answers with the person's status, meeting closed: %+v", held.person)
			}
			if len(h.rec.escChanges(1, "")) != 0 {
				t.Error("amber must not start an escalation")
			}
		})
	}
}

// TestLeavingAmberCancelsItsActions: amber → green cancels the amber
// meeting, and the keyworker referral (it is for red, amber and blue).
func TestLeavingAmberCancelsItsActions(t *testing.T) {
	h := newRatedHarness(t, 20, register.Amber)
	h.want(h.rateAt(time.Hour, register.Green))
	h.removeAt(day)
	h.runPerson()
	meeting := h.rec.personTasks(register.TaskAmberMeeting)
	if len(meeting) != 1 || meeting[0].Status != register.TaskStatusCancelled || meeting[0].Outcome != "rating changed to green" {
		t.Errorf("amber meeting %+v", meeting)
	}
	kw := h.rec.personTasks(register.TaskKeyworkerReferral)
	if len(kw) != 1 || kw[0].Status != register.TaskStatusCancelled || !strings.Contains(kw[0].Outcome, "a keyworker referral is for red, amber and blue") {
		t.Errorf("keyworker referral %+v", kw)
	}
}

// TestAmberToRedHandsTheKeyworkerReferralToTheEscalation: turning red
// cancels the person's own keyworker referral task because the escalation
// asks for it (sooner); back at amber, with no referral made, the person's
// workflow asks again.
func TestAmberToRedHandsTheKeyworkerReferralToTheEscalation(t *testing.T) {
	h := newRatedHarness(t, 20, register.Amber)
	h.want(h.rateAt(time.Hour, register.Red))
	h.at(time.Hour+time.Minute, func() {
		kw := h.rec.personTasks(register.TaskKeyworkerReferral)
		if len(kw) != 1 || kw[0].Status != register.TaskStatusCancelled || kw[0].Outcome != "rating changed to red: the escalation tracks it" {
			t.Errorf("person's keyworker referral %+v", kw)
		}
		if m := h.rec.personTasks(register.TaskAmberMeeting); len(m) != 1 || m[0].Status != register.TaskStatusCancelled {
			t.Errorf("amber meeting should be cancelled at red: %+v", m)
		}
		esc, ok := h.rec.escTasks(1)[register.TaskKeyworkerReferral]
		wantDue(t, "escalation keyworker referral", esc, ok, start.Add(time.Hour+5*day))
	})
	onPerson := h.sendAt(2*time.Hour, UpdateCompleteAction, CompleteActionInput{Kind: register.TaskKeyworkerReferral, Actor: "carol"})
	h.want(h.rateAt(day, register.Amber))
	h.removeAt(2 * day)
	h.runPerson()
	h.fails(onPerson, ErrNoLongerApplies, "", "belongs to the open escalation")
	kw := h.rec.personTasks(register.TaskKeyworkerReferral)
	if len(kw) != 2 || !kw[1].DueAt.Equal(start.Add(day+28*day)) {
		t.Errorf("back at amber the referral is asked for again: %+v", kw)
	}
	if got := h.rec.escTasks(1)[register.TaskKeyworkerReferral]; got.Status != register.TaskStatusCancelled {
		t.Errorf("the escalation's referral task closes with it: %+v", got)
	}
	if m := h.rec.personTasks(register.TaskAmberMeeting); len(m) != 2 {
		t.Errorf("amber again asks for a meeting again: %+v", m)
	}
}

// TestBlueAsksForPostAdmissionCTR: admission asks for a C(E)TR within 28
// days for an adult, 14 for a child (by age at admission), and a keyworker
// referral for people aged 0–25.
func TestBlueAsksForPostAdmissionCTR(t *testing.T) {
	for _, tc := range []struct {
		age       int
		within    time.Duration
		keyworker bool
	}{{16, 14 * day, true}, {17, 14 * day, true}, {18, 28 * day, true}, {30, 28 * day, false}} {
		t.Run(fmt.Sprint(tc.age), func(t *testing.T) {
			h := newRedHarness(t, start)
			h.activate(born(tc.age, start))
			blue := h.want(h.rateAt(redAfter, register.Blue))
			h.removeAt(time.Hour)
			h.runPerson()
			ctr := h.rec.personTasks(register.TaskPostAdmissionCTR)
			if len(ctr) != 1 || !ctr[0].DueAt.Equal(redAt.Add(tc.within)) {
				t.Errorf("post-admission C(E)TR %+v, want one due %v", ctr, redAt.Add(tc.within))
			}
			if kw := h.rec.personTasks(register.TaskKeyworkerReferral); (len(kw) == 1) != tc.keyworker {
				t.Errorf("keyworker referral %+v, want: %v", kw, tc.keyworker)
			}
			if blue.person.SecurePlacement || !blue.person.NextInpatientCTRDue.IsZero() {
				t.Errorf("status after admission %+v", blue.person)
			}
			if c := h.rec.personChanges("rated"); c[0].Detail["secure_placement"] != "no" {
				t.Errorf("rated detail %v", c[0].Detail)
			}
		})
	}
}

// TestInpatientCTRCadence: once the post-admission C(E)TR is held, the next
// inpatient C(E)TR falls due 182 days after it for an adult, 91 for a child,
// 365 for an adult in a secure placement (a child's stays 91); its task opens
// 28 days ahead.
func TestInpatientCTRCadence(t *testing.T) {
	for _, tc := range []struct {
		name   string
		age    int
		secure bool
		every  time.Duration
	}{
		{"adult", 30, false, 182 * day},
		{"child", 16, false, 91 * day},
		{"secure adult", 30, true, 365 * day},
		{"secure child", 16, true, 91 * day},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRedHarness(t, start)
			h.activate(born(tc.age, start))
			blue := h.want(h.sendAt(redAfter, UpdateRate, RateInput{Rating: register.Blue, Rationale: "admitted", SecurePlacement: tc.secure, Actor: "alice"}))
			heldOn := register.CalendarDate(start.Add(7 * day))
			held := h.want(h.sendAt(7*day, UpdateCompleteAction,
				CompleteActionInput{Kind: register.TaskPostAdmissionCTR, DoneOn: heldOn, Actor: "carol"}))
			due := heldOn.Add(tc.every)
			opens := due.Add(-28 * day).Sub(start)
			h.at(opens-time.Minute, func() {
				if got := h.rec.personTasks(register.TaskInpatientCTR); len(got) != 0 {
					t.Errorf("inpatient C(E)TR opened before 28 days ahead: %+v", got)
				}
			})
			h.at(opens+time.Minute, func() {
				got := h.rec.personTasks(register.TaskInpatientCTR)
				wantDue(t, "inpatient C(E)TR", first(got), len(got) == 1, due)
				if c := h.rec.personChanges("inpatient_ctr_due"); len(c) != 1 || c[0].Detail["cadence"] != days(tc.every) {
					t.Errorf("inpatient_ctr_due %+v", c)
				}
			})
			h.removeAt(opens + time.Hour)
			h.runPerson()
			if blue.person.SecurePlacement != tc.secure {
				t.Errorf("status secure placement %v", blue.person.SecurePlacement)
			}
			if !held.person.NextInpatientCTRDue.Equal(due) {
				t.Errorf("next inpatient C(E)TR due %v, want %v", held.person.NextInpatientCTRDue, due)
			}
			if got := h.rec.personTasks(register.TaskPostAdmissionCTR); got[0].Status != register.TaskStatusDone || got[0].Outcome != "C(E)TR held on 12 Jan 2026" {
				t.Errorf("post-admission C(E)TR %+v", got)
			}
		})
	}
}

// TestSecurePlacementCorrected: rating blue again with the secure flag
// changed corrects it, and the cadence with it.
func TestSecurePlacementCorrected(t *testing.T) {
	h := newRatedHarness(t, 30, register.Blue)
	held := h.want(h.sendAt(day, UpdateCompleteAction, CompleteActionInput{Kind: register.TaskPostAdmissionCTR, Actor: "carol"}))
	secure := h.want(h.sendAt(2*day, UpdateRate, RateInput{Rating: register.Blue, Rationale: "moved to a secure unit", SecurePlacement: true, Actor: "alice"}))
	h.removeAt(3 * day)
	h.runPerson()
	heldOn := register.CalendarDate(start.Add(day))
	if !held.person.NextInpatientCTRDue.Equal(heldOn.Add(182*day)) || !secure.person.NextInpatientCTRDue.Equal(heldOn.Add(365*day)) {
		t.Errorf("next due %v then %v, want 182 then 365 days after %v", held.person.NextInpatientCTRDue, secure.person.NextInpatientCTRDue, heldOn)
	}
	if !secure.person.SecurePlacement {
		t.Errorf("status should show the secure placement")
	}
	if c := h.rec.personChanges("rated"); c[len(c)-1].Detail["secure_placement"] != "yes" {
		t.Errorf("the correction is audited: %v", c[len(c)-1].Detail)
	}
	if got := h.rec.personTasks(register.TaskPostAdmissionCTR); len(got) != 1 {
		t.Errorf("rating blue again is no new admission: %+v", got)
	}
}

// TestInpatientCTRCadenceFollowsAgeAtLastReview: the cadence is decided by
// the age on the day the last C(E)TR was held. A post-admission C(E)TR held
// at 17 years 10 months makes the next due in 91 days; that one, held after
// the 18th birthday, makes the following one due 182 days later.
func TestInpatientCTRCadenceFollowsAgeAtLastReview(t *testing.T) {
	dob := time.Date(2008, 3, 1, 0, 0, 0, 0, time.UTC) // 17y10m on 5 Jan 2026, 18 on 1 Mar 2026
	h := newRedHarness(t, start)
	h.activate(dob)
	h.want(h.rateAt(redAfter, register.Blue))
	post := h.want(h.sendAt(time.Hour, UpdateCompleteAction, CompleteActionInput{Kind: register.TaskPostAdmissionCTR, Actor: "carol"}))
	firstDue := register.CalendarDate(start).Add(91 * day) // Mon 6 Apr 2026
	at := func(d time.Time) time.Duration { return d.Sub(start) }
	h.at(at(firstDue.Add(-28*day))+time.Minute, func() {
		got := h.rec.personTasks(register.TaskInpatientCTR)
		wantDue(t, "first inpatient C(E)TR", first(got), len(got) == 1, firstDue)
	})
	heldOn := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	adult := h.want(h.sendAt(at(heldOn.Add(10*time.Hour)), UpdateCompleteAction,
		CompleteActionInput{Kind: register.TaskInpatientCTR, DoneOn: heldOn, Actor: "carol"}))
	secondDue := heldOn.Add(182 * day) // Fri 18 Sep 2026
	h.at(at(secondDue.Add(-28*day))-time.Minute, func() {
		if got := h.rec.personTasks(register.TaskInpatientCTR); len(got) != 1 {
			t.Errorf("second inpatient C(E)TR opened early: %+v", got)
		}
	})
	h.at(at(secondDue.Add(-28*day))+time.Minute, func() {
		got := h.rec.personTasks(register.TaskInpatientCTR)
		if len(got) != 2 {
			t.Fatalf("want the second inpatient C(E)TR open: %+v", got)
		}
		wantDue(t, "second inpatient C(E)TR", got[1], true, secondDue)
	})
	h.removeAt(at(secondDue.Add(-27 * day)))
	h.runPerson()
	if !post.person.NextInpatientCTRDue.Equal(firstDue) {
		t.Errorf("held at 17: next due %v, want %v", post.person.NextInpatientCTRDue, firstDue)
	}
	if !adult.person.NextInpatientCTRDue.Equal(secondDue) {
		t.Errorf("held at 18: next due %v, want %v", adult.person.NextInpatientCTRDue, secondDue)
	}
	if got := h.rec.personTasks(register.TaskInpatientCTR)[0]; got.Status != register.TaskStatusDone || got.Outcome != "C(E)TR held on 20 Mar 2026" {
		t.Errorf("first inpatient C(E)TR %+v", got)
	}
}

// TestDischargeHold: after discharge from hospital the person is held at
// red for 14 days. Blue → amber or green is refused, naming the date it
// will be accepted; blue → red is accepted (and escalates); red → green is
// refused until the hold ends, then accepted.
func TestDischargeHold(t *testing.T) {
	h := newRatedHarness(t, 30, register.Blue)
	toAmber := h.rateAt(time.Hour, register.Amber)
	toGreen := h.rateAt(time.Hour, register.Green)
	toRed := h.want(h.rateAt(2*time.Hour, register.Red))
	h.want(h.escAt(3*time.Hour, 1, UpdateAcknowledge, AcknowledgeInput{Actor: "bob"}))
	early := h.rateAt(3*day, register.Green)
	justBefore := h.rateAt(2*time.Hour+14*day-time.Minute, register.Amber)
	after := h.want(h.rateAt(2*time.Hour+14*day, register.Green))
	h.removeAt(15 * day)
	h.runPerson()

	h.fails(toAmber, ErrInvalidInput, "rating", "amber is accepted from Mon 19 Jan 2026 11:00")
	h.fails(toGreen, ErrInvalidInput, "rating", "held at red for 14 days")
	h.fails(early, ErrInvalidInput, "rating",
		"held at red after discharge from hospital on Mon 5 Jan 2026 12:00: green is accepted from Mon 19 Jan 2026 12:00")
	h.fails(justBefore, ErrInvalidInput, "rating", "amber is accepted from Mon 19 Jan 2026 12:00")
	if want := start.Add(2*time.Hour + 14*day); !toRed.person.HeldAtRedUntil.Equal(want) || toRed.person.OpenEscalation != 1 {
		t.Errorf("status after discharge to red %+v, want held until %v with escalation 1", toRed.person, want)
	}
	if !after.person.HeldAtRedUntil.IsZero() || after.person.Rating != register.Green {
		t.Errorf("status once the hold ended %+v", after.person)
	}
	post := h.rec.personTasks(register.TaskPostAdmissionCTR)
	if len(post) != 1 || post[0].Status != register.TaskStatusCancelled || post[0].Outcome != "discharged from hospital (rating changed to red)" {
		t.Errorf("post-admission C(E)TR at discharge %+v", post)
	}
	if e := h.endedRecord(1); !strings.HasPrefix(e.Outcome, "ended: rating lowered to green") {
		t.Errorf("escalation outcome %s", e.Outcome)
	}
}

// TestDischargeHoldOff: a discharge hold of zero turns it off.
func TestDischargeHoldOff(t *testing.T) {
	h := newRedHarness(t, start)
	h.setPolicy(func(p *register.Policy) { p.DischargeHold = 0 })
	h.activate(born(30, start))
	h.want(h.rateAt(redAfter, register.Blue))
	green := h.want(h.rateAt(time.Hour, register.Green))
	h.removeAt(day)
	h.runPerson()
	if !green.person.HeldAtRedUntil.IsZero() {
		t.Errorf("no hold, yet held until %v", green.person.HeldAtRedUntil)
	}
	if len(h.rec.escChanges(1, "")) != 0 {
		t.Error("blue → green starts no escalation")
	}
}

func first(ts []memTask) memTask {
	if len(ts) == 0 {
		return memTask{}
	}
	return ts[0]
}

// TestKeyworkerReferralMadeAtAmberIsNotAskedForAtRed: a referral recorded
// on the person's own task is passed to the escalation when they turn red,
// which then does not ask for it again.
func TestKeyworkerReferralMadeAtAmberIsNotAskedForAtRed(t *testing.T) {
	h := newRatedHarness(t, 20, register.Amber)
	h.want(h.sendAt(time.Hour, UpdateCompleteAction, CompleteActionInput{Kind: register.TaskKeyworkerReferral, Actor: "carol"}))
	h.want(h.rateAt(2*time.Hour, register.Red))
	h.removeAt(3 * time.Hour)
	h.runPerson()
	if kw := h.rec.personTasks(register.TaskKeyworkerReferral); len(kw) != 1 || kw[0].Status != register.TaskStatusDone || kw[0].Outcome != "keyworker referral made on 5 Jan 2026" {
		t.Errorf("person's keyworker referral %+v", kw)
	}
	if _, asked := h.rec.escTasks(1)[register.TaskKeyworkerReferral]; asked {
		t.Error("the escalation asked again for a referral already made")
	}
	if d := h.rec.escChanges(1, "escalation_started")[0].Detail; d["keyworker_referral"] != "false" {
		t.Errorf("started detail %v", d)
	}
}

// TestSecurePlacementOnlyWithBlue: the secure flag describes an admission.
func TestSecurePlacementOnlyWithBlue(t *testing.T) {
	h := newRedHarness(t, start)
	h.activate(born(30, start))
	red := h.sendAt(redAfter, UpdateRate, RateInput{Rating: register.Red, Rationale: "r", SecurePlacement: true, Actor: "alice"})
	h.removeAt(time.Hour)
	h.runPerson()
	h.fails(red, ErrInvalidInput, "secure_placement", "applies only with blue")
	if len(h.rec.escChanges(1, "")) != 0 {
		t.Error("a refused rating must not start an escalation")
	}
}

// TestPersonCompleteActionValidation: the person's own required actions are
// checked as the escalation's are.
func TestPersonCompleteActionValidation(t *testing.T) {
	h := newRatedHarness(t, 30, register.Blue)
	ctr := func(in CompleteActionInput) CompleteActionInput { in.Kind = register.TaskPostAdmissionCTR; return in }
	notNeeded := h.sendAt(time.Hour, UpdateCompleteAction, ctr(CompleteActionInput{NotNeeded: true, Actor: "carol"}))
	future := h.sendAt(time.Hour, UpdateCompleteAction, ctr(CompleteActionInput{DoneOn: register.CalendarDate(start).AddDate(0, 0, 1), Actor: "carol"}))
	noActor := h.sendAt(time.Hour, UpdateCompleteAction, ctr(CompleteActionInput{}))
	notOpen := h.sendAt(time.Hour, UpdateCompleteAction, CompleteActionInput{Kind: register.TaskAmberMeeting, Actor: "carol"})
	notAnAction := h.sendAt(time.Hour, UpdateCompleteAction, CompleteActionInput{Kind: register.TaskReviewDue, Actor: "carol"})
	// Sent in the same instant as the removal, after it (one callback, so
	// the order is certain).
	removed := &upd{name: "complete-action after removal"}
	h.at(2*time.Hour, func() {
		h.env.UpdateWorkflow(UpdateRemove, "", (&upd{}).callbacks(), RemoveInput{Reason: register.RemovedOther, Actor: "alice"})
		h.env.UpdateWorkflow(UpdateCompleteAction, "", removed.callbacks(), ctr(CompleteActionInput{Actor: "carol"}))
	})
	h.runPerson()
	h.fails(notNeeded, ErrInvalidInput, "not_needed", "only a multi-agency meeting")
	h.fails(future, ErrInvalidInput, "done_on", "in the future")
	h.fails(noActor, ErrInvalidInput, "actor", "required")
	h.fails(notOpen, ErrNoLongerApplies, "", "no open amber_meeting")
	h.fails(notAnAction, ErrInvalidInput, "kind", "must be one of the required actions")
	h.fails(removed, ErrNoLongerApplies, "", "no longer on the register")
	if got := h.rec.personChanges("action_done"); len(got) != 0 {
		t.Errorf("refused completions recorded: %+v", got)
	}
}

// TestSecurePlacementCorrectionMovesOpenInpatientCTR: correcting the secure
// placement while the inpatient C(E)TR task is open moves the task to the
// corrected due date, so it is not chased by the old one. (Found by these
// tests: the task used to keep the old date while the status showed the new.)
func TestSecurePlacementCorrectionMovesOpenInpatientCTR(t *testing.T) {
	heldOn := register.CalendarDate(start) // post-admission C(E)TR held on day one
	adultDue := heldOn.Add(182 * day)      // Mon 6 Jul 2026
	secureDue := heldOn.Add(365 * day)     // Tue 5 Jan 2027
	since := func(t time.Time) time.Duration { return t.Sub(start) }
	for _, tc := range []struct {
		name           string
		secureAtFirst  bool
		correctAt      time.Time
		oldDue, newDue time.Time
		reopenedAtOnce bool
		reopensAt      time.Time
	}{
		// The adult task opened on 8 Jun; secure makes it due in January,
		// so it opens again 28 days before that.
		{"to secure: later", false, time.Date(2026, 6, 14, 10, 0, 0, 0, time.UTC), adultDue, secureDue, false, secureDue.Add(-28 * day)},
		// The secure task opened on 8 Dec; not secure, it was due in July:
		// cancelled and opened again at once, overdue.
		{"to not secure: sooner", true, time.Date(2026, 12, 10, 10, 0, 0, 0, time.UTC), secureDue, adultDue, true, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRedHarness(t, start)
			h.activate(born(30, start))
			h.want(h.sendAt(redAfter, UpdateRate, RateInput{Rating: register.Blue, Rationale: "admitted", SecurePlacement: tc.secureAtFirst, Actor: "alice"}))
			h.want(h.sendAt(time.Hour, UpdateCompleteAction, CompleteActionInput{Kind: register.TaskPostAdmissionCTR, Actor: "carol"}))
			h.at(since(tc.correctAt)-time.Minute, func() {
				got := h.rec.personTasks(register.TaskInpatientCTR)
				wantDue(t, "inpatient C(E)TR before the correction", first(got), len(got) == 1, tc.oldDue)
			})
			corrected := h.want(h.sendAt(since(tc.correctAt), UpdateRate,
				RateInput{Rating: register.Blue, Rationale: "placement corrected", SecurePlacement: !tc.secureAtFirst, Actor: "alice"}))
			h.at(since(tc.correctAt)+time.Minute, func() {
				got := h.rec.personTasks(register.TaskInpatientCTR)
				want := "secure placement corrected: the next C(E)TR is due " + tc.newDue.Format("Mon 2 Jan 2006")
				if len(got) == 0 || got[0].Status != register.TaskStatusCancelled || got[0].Outcome != want {
					t.Errorf("the old task should be cancelled (%q): %+v", want, got)
				}
				if tc.reopenedAtOnce {
					if len(got) != 2 {
						t.Fatalf("want the task opened again at once: %+v", got)
					}
					wantDue(t, "inpatient C(E)TR after the correction", got[1], true, tc.newDue)
					rated := h.rec.personChanges("rated")
					if c := rated[len(rated)-1]; len(c.Open) != 1 || c.Open[0].Kind != register.TaskInpatientCTR {
						t.Errorf("closed and opened again in the rating's own change: %+v", c)
					}
				} else if len(got) != 1 {
					t.Errorf("nothing due within the notice yet: %+v", got)
				}
			})
			end := tc.correctAt.Add(day)
			if !tc.reopenedAtOnce {
				h.at(since(tc.reopensAt)-time.Minute, func() {
					if got := h.rec.personTasks(register.TaskInpatientCTR); len(got) != 1 {
						t.Errorf("opened again before the notice: %+v", got)
					}
				})
				h.at(since(tc.reopensAt)+time.Minute, func() {
					got := h.rec.personTasks(register.TaskInpatientCTR)
					if len(got) != 2 {
						t.Fatalf("want the task opened again 28 days ahead: %+v", got)
					}
					wantDue(t, "inpatient C(E)TR", got[1], true, tc.newDue)
				})
				end = tc.reopensAt.Add(day)
			}
			h.removeAt(since(end))
			h.runPerson()
			if !corrected.person.NextInpatientCTRDue.Equal(tc.newDue) {
				t.Errorf("status next due %v, want %v", corrected.person.NextInpatientCTRDue, tc.newDue)
			}
			if old := h.rec.personTasks(register.TaskInpatientCTR)[0]; old.Reminders != 0 {
				t.Errorf("the old task was chased %d times by its old date", old.Reminders)
			}
		})
	}
}
