package workflows

import (
	"slices"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
)

var adultDOB = time.Date(1990, 3, 1, 0, 0, 0, 0, time.UTC)

// TestLifecycleOverTwoYears walks one person through two years and more:
// consent, first rating, a review chased while overdue, renewal, a red
// rating, a policy change reaching the running workflow, then consent
// lapsing and removal after the grace period.
func TestLifecycleOverTwoYears(t *testing.T) {
	h := newHarness(t)
	var consent, rate, confirm, renew, rateRed, confirmRed, rateWhileLapsed *updateResult
	var refer *updateResult

	h.at(0, func() { refer = h.refer(adultDOB) })
	h.at(time.Minute, func() {
		if got := h.rec.openTasks(register.TaskConsentNeeded); len(got) != 1 {
			t.Errorf("after referral: want one consent_needed task, got %+v", got)
		}
	})
	h.at(time.Hour, func() {
		consent = h.send(UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentSelf, DecidedOn: register.CalendarDate(start), Actor: "alice"})
	})
	h.at(time.Hour+time.Minute, func() {
		if got := h.rec.openTasks(register.TaskReviewDue); len(got) != 1 {
			t.Errorf("after consent: want the first-rating task, got %+v", got)
		}
		if len(h.rec.openTasks(register.TaskConsentNeeded)) != 0 {
			t.Error("consent_needed should close when consent is recorded")
		}
	})
	h.at(2*time.Hour, func() {
		rate = h.send(UpdateRate, RateInput{Rating: register.Green, Rationale: "team in place", Actor: "alice"})
	})
	// Green: reviewed every 91 days, task opens 2 days before.
	h.at(2*time.Hour+88*day, func() {
		if got := h.rec.openTasks(register.TaskReviewDue); len(got) != 0 {
			t.Errorf("day 88: review task opened too early: %+v", got)
		}
	})
	h.at(2*time.Hour+90*day, func() {
		got := h.rec.openTasks(register.TaskReviewDue)
		if len(got) != 1 || !got[0].DueAt.Equal(start.Add(2*time.Hour+91*day)) {
			t.Errorf("day 90: want one review task due day 91, got %+v", got)
		}
	})
	// Overdue: chased every 3 days after the due date.
	h.at(2*time.Hour+98*day, func() {
		got := h.rec.openTasks(register.TaskReviewDue)
		if len(got) != 1 || got[0].Reminders != 2 {
			t.Errorf("day 98: want the overdue review chased twice (day 94, 97), got %+v", got)
		}
		st := h.status()
		if len(st.OpenTasks) != 1 || !st.OpenTasks[0].Overdue {
			t.Errorf("day 98: status should show the review overdue: %+v", st.OpenTasks)
		}
		confirm = h.send(UpdateConfirmReview, ConfirmReviewInput{Notes: "stable", Actor: "bob"})
	})
	h.at(2*time.Hour+98*day+time.Minute, func() {
		st := h.status()
		if want := start.Add(2*time.Hour + 98*day + 91*day); !st.NextReviewDue.Equal(want) {
			t.Errorf("after confirm: next review %v, want %v", st.NextReviewDue, want)
		}
	})
	// Renewal opens 30 days before expiry (consent ran from 1h).
	h.at(time.Hour+334*day, func() {
		if len(h.rec.openTasks(register.TaskConsentRenewal)) != 0 {
			t.Error("renewal opened before 30 days ahead of expiry")
		}
	})
	h.at(time.Hour+336*day, func() {
		if len(h.rec.openTasks(register.TaskConsentRenewal)) != 1 {
			t.Error("renewal task should be open 30 days before expiry")
		}
	})
	h.at(350*day, func() {
		got := h.rec.openTasks(register.TaskConsentRenewal)
		if len(got) != 1 || got[0].Reminders != 2 {
			t.Errorf("renewal should have been reminded on days 342 and 349: %+v", got)
		}
		renew = h.send(UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentSelf, DecidedOn: register.CalendarDate(start.Add(350 * day)), Actor: "alice"})
	})
	h.at(350*day+time.Minute, func() {
		st := h.status()
		if want := start.Add(350*day + 365*day); !st.ConsentExpiresAt.Equal(want) {
			t.Errorf("renewal: expiry %v, want %v", st.ConsentExpiresAt, want)
		}
		if len(h.rec.openTasks(register.TaskConsentRenewal)) != 0 {
			t.Error("renewal task should close on renewal")
		}
	})
	// Year two: red is reviewed weekly.
	h.at(400*day, func() {
		rateRed = h.send(UpdateRate, RateInput{Rating: register.Red, Rationale: "placement breaking down", Actor: "alice"})
	})
	h.at(405*day+time.Minute, func() {
		got := h.rec.openTasks(register.TaskReviewDue)
		if len(got) != 1 || !got[0].DueAt.Equal(start.Add(407*day)) {
			t.Errorf("red: review task due day 407 should open day 405, got %+v", got)
		}
		confirmRed = h.send(UpdateConfirmReview, ConfirmReviewInput{Actor: "alice"})
	})
	// A policy change reaches the running workflow: red reviews every 3
	// days from now on. The last review was day 405, so one is due at 408,
	// opening (2 days' notice) at once, within the daily policy recheck.
	h.at(406*day, func() {
		h.setPolicy(func(p *register.Policy) { p.ReviewRed = 3 * day })
	})
	h.at(407*day+time.Minute, func() {
		got := h.rec.openTasks(register.TaskReviewDue)
		if len(got) != 1 || !got[0].DueAt.Equal(start.Add(408*day+time.Minute)) {
			t.Errorf("new policy should bring the red review forward to day 408: %+v", got)
		}
		if st := h.status(); !st.NextReviewDue.Equal(start.Add(408*day + time.Minute)) {
			t.Errorf("status next review %v", st.NextReviewDue)
		}
	})
	// No renewal this time: consent lapses at day 715.
	h.at(716*day, func() {
		st := h.status()
		if st.Stage != register.ConsentLapsed {
			t.Errorf("day 716: stage %s, want consent_lapsed", st.Stage)
		}
		if len(h.rec.openTasks(register.TaskReviewDue)) != 0 || len(h.rec.openTasks(register.TaskConsentLapsed)) != 1 {
			t.Errorf("lapse: reviews stop, only renewal is prompted: %+v", h.rec.openTasks(""))
		}
		rateWhileLapsed = h.send(UpdateRate, RateInput{Rating: register.Amber, Rationale: "x", Actor: "alice"})
	})

	h.run(PersonWorkflowInput{})

	res, err := h.result()
	if err != nil {
		t.Fatal(err)
	}
	if res.Stage != register.Removed || res.RemovalReason != register.RemovedConsentLapsed {
		t.Errorf("result %+v, want removed for consent_lapsed", res)
	}
	if want := start.Add(350*day + 365*day + 28*day); !res.RemovedAt.Equal(want) {
		t.Errorf("removed at %v, want end of grace %v", res.RemovedAt, want)
	}
	for _, r := range []*updateResult{refer, consent, rate, confirm, renew, rateRed, confirmRed} {
		h.expectOK(r)
	}
	h.expectError(rateWhileLapsed, ErrNoLongerApplies)
	if open := h.rec.openTasks(""); len(open) != 0 {
		t.Errorf("removal must close every task: %+v", open)
	}
	acts := h.rec.actions()
	for _, want := range []string{"referral_accepted", "consent_recorded", "first_rating_due", "rated", "review_due",
		"tasks_chased", "review_confirmed", "consent_renewal_due", "consent_renewed", "consent_lapsed", "removed"} {
		if !slices.Contains(acts, want) {
			t.Errorf("audit trail lacks %q: %v", want, acts)
		}
	}
	if h.rec.snapshot.Stage != register.Removed {
		t.Errorf("projection stage %s", h.rec.snapshot.Stage)
	}
	// Every task was announced when it opened and when it closed, under
	// keys that never repeat (a notifier dedupes on them).
	seen := map[string]bool{}
	events := map[notify.Event]int{}
	for _, n := range h.rec.notified {
		if seen[n.Key] {
			t.Errorf("notification key %s sent twice", n.Key)
		}
		seen[n.Key] = true
		events[n.Event]++
	}
	if tasks := len(h.rec.allTasks()); events[notify.TaskOpened] != tasks || events[notify.TaskClosed] != tasks {
		t.Errorf("%d tasks but %d opened and %d closed notifications", tasks, events[notify.TaskOpened], events[notify.TaskClosed])
	}
	if events[notify.TaskReminder] == 0 || events[notify.StageChanged] < 3 {
		t.Errorf("want reminders and stage changes (active, lapsed, removed): %v", events)
	}
}

// A change is retried through a database outage of four minutes, far past
// one try's 30 s bound, and past a try whose commit was not answered, until
// it is recorded, once; the Update then answers. It fails if RecordChange
// is given a maximum number of attempts or a bound under four minutes, or
// if a retry after the lost answer records the change again.
func TestAChangeIsRetriedThroughAnOutage(t *testing.T) {
	h := newHarness(t)
	var refer, consent, rate *updateResult
	h.at(0, func() { refer = h.refer(adultDOB) })
	h.at(time.Hour, func() {
		consent = h.send(UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentSelf, DecidedOn: register.CalendarDate(start), Actor: "alice"})
	})
	h.at(2*time.Hour, func() {
		h.rec.mu.Lock()
		// Eight failures, then a commit whose answer is lost: 1+2+4+8+16+
		// 32+60+60+60 s of backoff, 243 s. (The SDK's test environment
		// stops at ten attempts; the server sets no such limit.)
		h.rec.outage = 8
		h.rec.answerLost = true
		h.rec.mu.Unlock()
		rate = h.send(UpdateRate, RateInput{Rating: register.Green, Rationale: "team in place", Actor: "alice"})
	})
	h.at(2*time.Hour+10*time.Minute, func() {
		if !rate.done || rate.err != nil {
			t.Errorf("the rating should be recorded once the outage ends: done %v, %v", rate.done, rate.err)
		}
		if rated := h.rec.changesWhere(func(c register.Change) bool { return c.Action == "rated" }); len(rated) != 1 {
			t.Errorf("want the rating recorded once, got %d", len(rated))
		}
		h.send(UpdateRemove, RemoveInput{Reason: register.RemovedMovedOutOfArea, Actor: "alice"})
	})
	h.run(PersonWorkflowInput{})
	for _, u := range []*updateResult{refer, consent} {
		if u == nil || u.err != nil {
			t.Fatalf("%+v", u)
		}
	}
}

func TestWithdrawalRemovesAtOnceAndClosesEveryPrompt(t *testing.T) {
	h := newHarness(t)
	var withdraw, rateAfter, renewAfter *updateResult
	h.at(0, func() { h.refer(adultDOB) })
	h.at(time.Hour, func() {
		h.send(UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentSelf, DecidedOn: register.CalendarDate(start), Actor: "alice"})
	})
	h.at(2*time.Hour, func() {
		if len(h.rec.openTasks("")) == 0 {
			t.Error("expected an open first-rating task before withdrawal")
		}
		withdraw = h.send(UpdateWithdrawConsent, WithdrawConsentInput{Reason: "person asked", Actor: "alice"})
		// Sent in the same instant: both must be refused once the
		// withdrawal is in.
		rateAfter = h.send(UpdateRate, RateInput{Rating: register.Red, Rationale: "x", Actor: "bob"})
		renewAfter = h.send(UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentSelf, DecidedOn: register.CalendarDate(start), Actor: "bob"})
	})
	h.run(PersonWorkflowInput{})
	h.expectOK(withdraw)
	h.expectError(rateAfter, ErrNoLongerApplies)
	h.expectError(renewAfter, ErrNoLongerApplies)
	res, err := h.result()
	if err != nil || res.RemovalReason != register.RemovedConsentWithdrawn {
		t.Fatalf("result %+v %v", res, err)
	}
	for _, task := range h.rec.allTasks() {
		if task.Status != register.TaskStatusCancelled && task.Status != register.TaskStatusDone {
			t.Errorf("task left open: %+v", task)
		}
	}
	if !res.RemovedAt.Equal(start.Add(2 * time.Hour)) {
		t.Errorf("withdrawal should remove at once, removed at %v", res.RemovedAt)
	}
}

func TestReferralWithoutConsentIsChasedThenClosed(t *testing.T) {
	h := newHarness(t)
	var rate, closeRef *updateResult
	h.at(0, func() { h.refer(adultDOB) })
	h.at(time.Hour, func() {
		rate = h.send(UpdateRate, RateInput{Rating: register.Red, Rationale: "x", Actor: "alice"})
	})
	h.at(27*day, func() {
		if len(h.rec.openTasks(register.TaskReferralChase)) != 0 {
			t.Error("chase opened before the 28-day deadline")
		}
	})
	h.at(28*day+time.Minute, func() {
		if len(h.rec.openTasks(register.TaskReferralChase)) != 1 || len(h.rec.openTasks(register.TaskConsentNeeded)) != 0 {
			t.Errorf("at the deadline the consent task gives way to a chase task: %+v", h.rec.openTasks(""))
		}
	})
	h.at(35*day, func() {
		if got := h.rec.openTasks(register.TaskReferralChase); len(got) != 1 || got[0].Reminders != 2 {
			t.Errorf("chase task should be chased on days 31 and 34: %+v", got)
		}
		closeRef = h.send(UpdateRemove, RemoveInput{Reason: register.RemovedOther, Notes: "family declined", Actor: "alice"})
	})
	h.run(PersonWorkflowInput{})
	h.expectError(rate, ErrNoLongerApplies)
	h.expectOK(closeRef)
	if res, _ := h.result(); res.RemovalReason != register.RemovedOther {
		t.Errorf("result %+v", res)
	}
}

// TestReviewCadencePerColour checks when the review task opens for each
// colour, with the default policy.
func TestReviewCadencePerColour(t *testing.T) {
	for rating, every := range map[register.Rating]time.Duration{
		register.Red: 7 * day, register.Amber: 28 * day, register.Green: 91 * day, register.Blue: 28 * day,
	} {
		t.Run(string(rating), func(t *testing.T) {
			h := newHarness(t)
			h.at(0, func() { h.refer(adultDOB) })
			h.at(time.Hour, func() {
				h.send(UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentSelf, DecidedOn: register.CalendarDate(start), Actor: "a"})
			})
			h.at(2*time.Hour, func() { h.send(UpdateRate, RateInput{Rating: rating, Rationale: "r", Actor: "a"}) })
			due := 2*time.Hour + every
			h.at(due-2*day-time.Minute, func() {
				if n := len(h.rec.openTasks(register.TaskReviewDue)); n != 0 {
					t.Errorf("%s: review opened early", rating)
				}
			})
			h.at(due-2*day+time.Minute, func() {
				got := h.rec.openTasks(register.TaskReviewDue)
				if len(got) != 1 || !got[0].DueAt.Equal(start.Add(due)) {
					t.Errorf("%s: want review due %v, got %+v", rating, start.Add(due), got)
				}
				h.send(UpdateRemove, RemoveInput{Reason: register.RemovedRiskReduced, Actor: "a"})
			})
			h.run(PersonWorkflowInput{})
		})
	}
}

func TestInvalidAndStaleActions(t *testing.T) {
	h := newHarness(t)
	child := register.CalendarDate(start).AddDate(-12, 0, 0)
	var confirmEarly, selfChild, parentalNoName, future, badRating, removeTwice, badReason *updateResult
	h.at(0, func() { h.refer(child) })
	h.at(time.Hour, func() {
		selfChild = h.send(UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentSelf, DecidedOn: register.CalendarDate(start), Actor: "a"})
		parentalNoName = h.send(UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentParental, DecidedOn: register.CalendarDate(start), Actor: "a"})
		future = h.send(UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentGillick, DecidedOn: register.CalendarDate(start).AddDate(0, 0, 2), Actor: "a"})
	})
	h.at(2*time.Hour, func() {
		h.send(UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentParental, GivenBy: "Mother", DecidedOn: register.CalendarDate(start), Actor: "a"})
	})
	h.at(3*time.Hour, func() {
		confirmEarly = h.send(UpdateConfirmReview, ConfirmReviewInput{Actor: "a"})
		badRating = h.send(UpdateRate, RateInput{Rating: "purple", Actor: "a"})
		badReason = h.send(UpdateRemove, RemoveInput{Reason: register.RemovedConsentLapsed, Actor: "a"})
	})
	h.at(4*time.Hour, func() { h.send(UpdateRemove, RemoveInput{Reason: register.RemovedMovedOutOfArea, Actor: "a"}) })
	h.at(4*time.Hour, func() { removeTwice = h.send(UpdateRemove, RemoveInput{Reason: register.RemovedOther, Actor: "a"}) })
	h.run(PersonWorkflowInput{})
	h.expectError(selfChild, ErrInvalidInput)
	h.expectError(parentalNoName, ErrInvalidInput)
	h.expectError(future, ErrInvalidInput)
	h.expectError(confirmEarly, ErrNoLongerApplies)
	h.expectError(badRating, ErrInvalidInput)
	h.expectError(badReason, ErrInvalidInput)
	h.expectError(removeTwice, ErrNoLongerApplies)
	// Rejected Updates change nothing: only the accepted steps are audited.
	want := []string{"referral_accepted", "consent_recorded", "first_rating_due", "removed"}
	if got := h.rec.actions(); !slices.Equal(got, want) {
		t.Errorf("audit %v, want %v", got, want)
	}
}

func TestReReferralIsTheSamePerson(t *testing.T) {
	h := newHarness(t)
	var again *updateResult
	h.at(0, func() { h.refer(adultDOB) })
	h.at(time.Hour, func() {
		again = h.send(UpdateRefer, ReferInput{ReferralID: 2, DateOfBirth: adultDOB, Actor: "gp"})
	})
	h.at(2*time.Hour, func() { h.send(UpdateRemove, RemoveInput{Reason: register.RemovedOther, Actor: "a"}) })
	h.run(PersonWorkflowInput{})
	h.expectOK(again)
	if got := h.rec.actions(); !slices.Equal(got, []string{"referral_accepted", "re_referred", "removed"}) {
		t.Errorf("audit %v", got)
	}
	if n := len(h.rec.allTasks()); n != 1 {
		t.Errorf("a re-referral must not open a second consent task: %d tasks", n)
	}

	// After removal a new spell starts a new run that numbers its changes
	// after the old ones, so nothing it records collides.
	h2 := newHarnessWith(t, h.rec)
	lastSeq := int64(len(h.rec.changes))
	h2.at(0, func() {
		h2.send(UpdateRefer, ReferInput{ReferralID: 3, DateOfBirth: adultDOB, ProjectionSeq: lastSeq, Actor: "gp"})
	})
	h2.at(time.Hour, func() { h2.send(UpdateRemove, RemoveInput{Reason: register.RemovedOther, Actor: "a"}) })
	h2.run(PersonWorkflowInput{})
	if got := h.rec.actions(); !slices.Equal(got, []string{"referral_accepted", "re_referred", "removed", "referral_accepted", "removed"}) {
		t.Errorf("second spell audit %v", got)
	}
}

// TestContinueAsNewCarriesState crosses continue-as-new with a low
// threshold and carries on in a second run from the carried state.
func TestContinueAsNewCarriesState(t *testing.T) {
	h := newHarness(t)
	h.at(0, func() { h.refer(adultDOB) })
	h.at(time.Hour, func() {
		h.send(UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentSelf, DecidedOn: register.CalendarDate(start), Actor: "a"})
	})
	h.at(2*time.Hour, func() { h.send(UpdateRate, RateInput{Rating: register.Amber, Rationale: "r", Actor: "a"}) })
	// The test environment keeps no real history; tell it how long the
	// history has grown, past the test-only threshold.
	h.at(3*time.Hour, func() { h.env.SetCurrentHistoryLength(41) })
	h.run(PersonWorkflowInput{ContinueAsNewAfterEvents: 40})

	var next PersonWorkflowInput
	continuedAsNew(t, h.env, &next)
	if next.State == nil || next.State.Stage != register.Active || next.State.Rating != register.Amber || next.State.Consent == nil {
		t.Fatalf("carried state: %+v", next.State)
	}
	if next.ContinueAsNewAfterEvents != 40 {
		t.Errorf("threshold not carried: %d", next.ContinueAsNewAfterEvents)
	}

	// Second run: from the carried state, the review cadence goes on and an
	// Update works.
	h2 := newHarnessWith(t, h.rec)
	h2.env.SetStartTime(start.Add(3 * time.Hour))
	var confirm *updateResult
	h2.at(26*day, func() {
		if len(h2.rec.openTasks(register.TaskReviewDue)) != 1 {
			t.Errorf("after continue-as-new the amber review should be open: %+v", h2.rec.openTasks(""))
		}
		confirm = h2.send(UpdateConfirmReview, ConfirmReviewInput{Actor: "a"})
	})
	h2.at(28*day, func() { h2.send(UpdateRemove, RemoveInput{Reason: register.RemovedOther, Actor: "a"}) })
	next.ContinueAsNewAfterEvents = 0
	h2.run(next)
	h2.expectOK(confirm)
	if n := len(h2.rec.openTasks("")); n != 0 {
		t.Errorf("tasks left open: %d", n)
	}
}

func TestAssignment(t *testing.T) {
	h := newHarness(t)
	var first, again, other *updateResult
	h.at(0, func() { h.refer(adultDOB) })
	h.at(time.Hour, func() { first = h.send(UpdateAssign, AssignInput{Coordinator: "alice", Actor: "alice"}) })
	h.at(2*time.Hour, func() { again = h.send(UpdateAssign, AssignInput{Coordinator: "alice", Actor: "bob"}) })
	h.at(3*time.Hour, func() { other = h.send(UpdateAssign, AssignInput{Coordinator: "bob", Actor: "bob"}) })
	h.at(4*time.Hour, func() { h.send(UpdateRemove, RemoveInput{Reason: register.RemovedOther, Actor: "a"}) })
	h.run(PersonWorkflowInput{})
	h.expectOK(first)
	h.expectError(again, ErrNoLongerApplies)
	h.expectOK(other)
	if got := h.rec.actions(); !slices.Equal(got, []string{"referral_accepted", "assigned", "assigned", "removed"}) {
		t.Errorf("audit %v", got)
	}
	if h.rec.snapshot.AssignedTo != "bob" {
		t.Errorf("projection assigned to %q, want bob", h.rec.snapshot.AssignedTo)
	}
}
