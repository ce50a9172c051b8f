package workflows

import (
	"slices"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
)

// An imported person starts in their current state: dates follow from the
// last review and the consent date, what is already due opens at once in
// the one "imported" change, and routine prompts are quiet.

var importDOB = time.Date(1990, 6, 1, 0, 0, 0, 0, time.UTC)

func daysBefore(n int) time.Time { return register.CalendarDate(start).AddDate(0, 0, -n) }

func importOf(rating register.Rating, reviewedDaysAgo, consentDaysAgo int) ImportInput {
	in := ImportInput{ReferralID: 1, DateOfBirth: importDOB, Actor: ImportActor, AssignedTo: "alice"}
	if rating != "" {
		in.Rating, in.LastReviewedOn = rating, daysBefore(reviewedDaysAgo)
	}
	if consentDaysAgo >= 0 {
		in.ConsentBasis, in.ConsentDecidedOn = register.ConsentSelf, daysBefore(consentDaysAgo)
	}
	return in
}

// routineOpened lists the TaskOpened notifications that are not urgent.
func (m *memRecord) routineOpened() []notify.Notification {
	return m.notifiedWhere(func(n notify.Notification) bool { return n.Event == notify.TaskOpened && !n.Urgent })
}

func TestImportedPersonKeepsTheirDates(t *testing.T) {
	h := newHarness(t)
	in := importOf(register.Amber, 20, 300)
	reviewDue := in.LastReviewedOn.Add(h.policy.ReviewEvery(register.Amber))
	expires := in.ConsentDecidedOn.Add(h.policy.ConsentPeriod)
	var imported, withdraw *updateResult
	h.at(0, func() { imported = h.send(UpdateImport, in) })
	h.at(time.Minute, func() {
		st := h.status()
		if st.Stage != register.Active || st.Rating != register.Amber || !st.RatedAt.Equal(in.LastReviewedOn) {
			t.Errorf("imported amber: stage %s rating %s rated %v; want active, amber, rated on the last review", st.Stage, st.Rating, st.RatedAt)
		}
		if !st.NextReviewDue.Equal(reviewDue) || !st.ConsentExpiresAt.Equal(expires) {
			t.Errorf("next review %v, consent expires %v; want %v (last review + amber cadence) and %v (decision + period)",
				st.NextReviewDue, st.ConsentExpiresAt, reviewDue, expires)
		}
		if h.rec.snapshot.AssignedTo != "alice" || !h.rec.snapshot.NextReviewDue.Equal(reviewDue) {
			t.Errorf("the record: %+v", h.rec.snapshot)
		}
		if got := h.rec.actions(); !slices.Equal(got, []string{"imported"}) {
			t.Errorf("an import is one recorded change, got %v", got)
		}
		if got := h.rec.openTasks(register.TaskReviewDue); len(got) != 0 {
			t.Errorf("review due in 8 days: nothing to open yet, got %+v", got)
		}
		if got := h.rec.openTasks(register.TaskAmberMeeting); len(got) != 1 {
			t.Errorf("amber brings its meeting task, got %+v", got)
		}
		if got := h.rec.routineOpened(); len(got) != 0 {
			t.Errorf("an import's routine prompts are quiet, got %+v", got)
		}
	})
	// The review opens its notice ahead of the due date, as for anyone.
	h.at(reviewDue.Sub(start)-h.policy.ReviewNotice+time.Hour, func() {
		got := h.rec.openTasks(register.TaskReviewDue)
		if len(got) != 1 || !got[0].DueAt.Equal(reviewDue) {
			t.Errorf("review notice reached: want one review_due task due %v, got %+v", reviewDue, got)
		}
		if len(h.rec.routineOpened()) == 0 {
			t.Error("a review opened after the import is announced as usual")
		}
	})
	h.at(expires.Sub(start)-h.policy.RenewalNotice+time.Hour, func() {
		got := h.rec.openTasks(register.TaskConsentRenewal)
		if len(got) != 1 || !got[0].DueAt.Equal(expires) {
			t.Errorf("renewal notice reached: want one consent_renewal due %v, got %+v", expires, got)
		}
		withdraw = h.send(UpdateWithdrawConsent, WithdrawConsentInput{Reason: "test over", Actor: "alice"})
	})
	h.run(PersonWorkflowInput{})
	h.expectOK(imported)
	h.expectOK(withdraw)
}

func TestImportedOverdueOpensAtOnce(t *testing.T) {
	h := newHarness(t)
	// Green reviewed 200 days ago (due 109 days ago); consent 350 days ago
	// (expires in 15 days: inside the renewal notice).
	in := importOf(register.Green, 200, 350)
	reviewDue := in.LastReviewedOn.Add(h.policy.ReviewEvery(register.Green))
	var imported, withdraw *updateResult
	h.at(0, func() { imported = h.send(UpdateImport, in) })
	h.at(time.Minute, func() {
		st := h.status()
		kinds := map[register.TaskKind]TaskRef{}
		for _, r := range st.OpenTasks {
			kinds[r.Kind] = r
		}
		if r, ok := kinds[register.TaskReviewDue]; !ok || !r.Overdue || !r.DueAt.Equal(reviewDue) {
			t.Errorf("overdue review: want review_due open, overdue, due %v; got %+v", reviewDue, st.OpenTasks)
		}
		if _, ok := kinds[register.TaskConsentRenewal]; !ok {
			t.Errorf("consent expiring in 15 days: want consent_renewal open at once; got %+v", st.OpenTasks)
		}
		if got := h.rec.actions(); !slices.Equal(got, []string{"imported"}) {
			t.Errorf("what is due opens in the import's one change, got %v", got)
		}
		if got := h.rec.routineOpened(); len(got) != 0 {
			t.Errorf("quiet: got %+v", got)
		}
	})
	// Not chased the moment it arrives: one chase interval after the import.
	h.at(h.policy.ChaseEvery-time.Hour, func() {
		if got := h.rec.openTasks(register.TaskReviewDue); len(got) != 1 || got[0].Reminders != 0 {
			t.Errorf("before the first chase interval: want no reminder, got %+v", got)
		}
	})
	h.at(h.policy.ChaseEvery+time.Hour, func() {
		if got := h.rec.openTasks(register.TaskReviewDue); len(got) != 1 || got[0].Reminders != 1 {
			t.Errorf("one chase interval after the import: want one reminder, got %+v", got)
		}
		withdraw = h.send(UpdateWithdrawConsent, WithdrawConsentInput{Reason: "test over", Actor: "alice"})
	})
	h.run(PersonWorkflowInput{})
	h.expectOK(imported)
	h.expectOK(withdraw)
}

func TestImportedLapsedConsentIsRemovedAfterGrace(t *testing.T) {
	h := newHarness(t)
	in := importOf(register.Amber, 10, 380) // expired 15 days ago
	expired := in.ConsentDecidedOn.Add(h.policy.ConsentPeriod)
	var imported *updateResult
	h.at(0, func() { imported = h.send(UpdateImport, in) })
	h.at(time.Minute, func() {
		if st := h.status(); st.Stage != register.ConsentLapsed {
			t.Errorf("consent expired before the import: stage %s, want consent_lapsed", st.Stage)
		}
		got := h.rec.openTasks(register.TaskConsentLapsed)
		if len(got) != 1 || !got[0].DueAt.Equal(expired.Add(h.policy.ConsentGrace)) {
			t.Errorf("want a consent_lapsed task due at expiry + grace, got %+v", got)
		}
		if got := h.rec.openTasks(register.TaskReviewDue); len(got) != 0 {
			t.Errorf("reviews stop while consent has lapsed, got %+v", got)
		}
	})
	h.run(PersonWorkflowInput{})
	h.expectOK(imported)
	h.wantRemovedForLapse("expiry + grace", expired.Add(h.policy.ConsentGrace))
}

func TestImportedRedRaisesItsAlert(t *testing.T) {
	h := newHarness(t)
	in := importOf(register.Red, 3, 30)
	var imported, withdraw *updateResult
	h.at(0, func() { imported = h.send(UpdateImport, in) })
	h.at(time.Minute, func() {
		if st := h.status(); st.OpenEscalation != 1 {
			t.Errorf("imported red: want escalation 1 running, got %d", st.OpenEscalation)
		}
		alerts := len(h.rec.notifiedWhere(func(n notify.Notification) bool {
			return n.Event == notify.TaskOpened && n.TaskKind == register.TaskEscalationAlert && n.Urgent
		}))
		if alerts != 1 {
			t.Errorf("a red person's alert is sent as usual: want 1 urgent escalation_alert, got %d", alerts)
		}
		withdraw = h.send(UpdateWithdrawConsent, WithdrawConsentInput{Reason: "test over", Actor: "alice"})
	})
	h.run(PersonWorkflowInput{})
	h.expectOK(imported)
	h.expectOK(withdraw)
}

func TestImportRefusals(t *testing.T) {
	h := newHarness(t)
	noConsent := importOf(register.Amber, 10, -1)
	var rated, twice, withdraw *updateResult
	h.at(0, func() { rated = h.send(UpdateImport, noConsent) })
	h.at(time.Minute, func() { h.send(UpdateImport, importOf("", 0, -1)) })
	h.at(2*time.Minute, func() {
		if st := h.status(); st.Stage != register.Referred {
			t.Errorf("imported without consent: stage %s, want referred", st.Stage)
		}
		if got := h.rec.openTasks(register.TaskConsentNeeded); len(got) != 1 {
			t.Errorf("want consent_needed open, got %+v", got)
		}
		twice = h.send(UpdateImport, importOf("", 0, -1))
	})
	h.at(3*time.Minute, func() {
		withdraw = h.send(UpdateRemove, RemoveInput{Reason: register.RemovedOther, Notes: "test over", Actor: "alice"})
	})
	h.run(PersonWorkflowInput{})
	h.expectError(rated, ErrInvalidInput)
	h.expectError(twice, ErrNoLongerApplies)
	h.expectOK(withdraw)
}
