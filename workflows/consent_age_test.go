package workflows

import (
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/register"
)

// A child's consent (a parent's, or a Gillick competent child's own) runs
// out at 16, when the Mental Capacity Act applies to the young person.

// turnsSixteenIn is the date of birth of someone who turns 16 the given
// number of days after the harness's start date.
func turnsSixteenIn(days int) (dob, sixteen time.Time) {
	sixteen = register.CalendarDate(start).AddDate(0, 0, days)
	return sixteen.AddDate(-register.AgeOfConsent, 0, 0), sixteen
}

func parentalConsent() RecordConsentInput {
	return RecordConsentInput{Basis: register.ConsentParental, GivenBy: "a parent", DecidedOn: register.CalendarDate(start), Actor: "alice"}
}

// TestParentalConsentEndsAtSixteen: a 15-year-old's parental consent opens
// its renewal task DSR_CONSENT_RENEWAL_NOTICE before the 16th birthday, and
// not renewed it lapses on the birthday (not a year after it was given),
// then the person is removed after the grace period like any lapse.
func TestParentalConsentEndsAtSixteen(t *testing.T) {
	h := newHarness(t)
	dob, sixteen := turnsSixteenIn(120)
	notice := h.policy.RenewalNotice
	var consent *updateResult
	h.at(0, func() { h.refer(dob) })
	h.at(time.Hour, func() { consent = h.send(UpdateRecordConsent, parentalConsent()) })
	h.at(2*time.Hour, func() {
		if st := h.status(); !st.ConsentExpiresAt.Equal(sixteen) {
			t.Errorf("parental consent at 15: expires %v, want the 16th birthday %v", st.ConsentExpiresAt, sixteen)
		}
		if h.rec.snapshot.ConsentExpiresAt != sixteen {
			t.Errorf("the record shows consent expiring %v, want %v", h.rec.snapshot.ConsentExpiresAt, sixteen)
		}
	})
	h.at(sixteen.Sub(start)-notice-time.Hour, func() {
		if got := h.rec.openTasks(register.TaskConsentRenewal); len(got) != 0 {
			t.Errorf("renewal opened before the notice ahead of the 16th birthday: %+v", got)
		}
	})
	h.at(sixteen.Sub(start)-notice+time.Hour, func() {
		got := h.rec.openTasks(register.TaskConsentRenewal)
		if len(got) != 1 || !got[0].DueAt.Equal(sixteen) {
			t.Errorf("renewal notice before 16: want one consent_renewal task due on the birthday, got %+v", got)
		}
	})
	h.at(sixteen.Sub(start)-time.Hour, func() {
		if st := h.status(); st.Stage != register.Active {
			t.Errorf("the day before the birthday: stage %s, want active", st.Stage)
		}
	})
	h.at(sixteen.Sub(start)+time.Hour, func() {
		if st := h.status(); st.Stage != register.ConsentLapsed {
			t.Errorf("on the 16th birthday, not renewed: stage %s, want consent_lapsed", st.Stage)
		}
		if got := h.rec.openTasks(register.TaskConsentLapsed); len(got) != 1 {
			t.Errorf("on the 16th birthday: want a consent_lapsed task, got %+v", got)
		}
	})
	h.run(PersonWorkflowInput{})
	h.expectOK(consent)
	h.wantRemovedForLapse("the birthday plus grace", sixteen.Add(h.policy.ConsentGrace))
}

// TestSelfConsentAtSixteenRunsAFullPeriod: renewed with the young person's
// own consent on their birthday, consent runs a normal period from then.
func TestSelfConsentAtSixteenRunsAFullPeriod(t *testing.T) {
	h := newHarness(t)
	dob, sixteen := turnsSixteenIn(60)
	var consent, renew, withdraw *updateResult
	renewAt := sixteen.Sub(start) + 10*time.Hour
	h.at(0, func() { h.refer(dob) })
	h.at(time.Hour, func() { consent = h.send(UpdateRecordConsent, parentalConsent()) })
	h.at(renewAt, func() {
		renew = h.send(UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentSelf, DecidedOn: sixteen, Actor: "alice"})
	})
	h.at(renewAt+time.Hour, func() {
		st := h.status()
		if st.Stage != register.Active || !st.ConsentExpiresAt.Equal(start.Add(renewAt).Add(h.policy.ConsentPeriod)) {
			t.Errorf("self consent on the 16th birthday: %s, expires %v; want active, a full period from now", st.Stage, st.ConsentExpiresAt)
		}
		if got := h.rec.openTasks(register.TaskConsentRenewal); len(got) != 0 {
			t.Errorf("renewed: no renewal task should be open, got %+v", got)
		}
	})
	// Well past the birthday and nowhere near the new expiry: still active.
	h.at(renewAt+200*day, func() {
		if st := h.status(); st.Stage != register.Active {
			t.Errorf("200 days after self consent at 16: stage %s, want active", st.Stage)
		}
		withdraw = h.send(UpdateWithdrawConsent, WithdrawConsentInput{Reason: "test over", Actor: "alice"})
	})
	h.run(PersonWorkflowInput{})
	h.expectOK(consent)
	h.expectOK(renew)
	h.expectOK(withdraw)
}

// TestChildConsentCloseToSixteenOpensRenewalAtOnce: a parent's consent
// recorded inside the notice before the birthday opens renewal at once,
// and a Gillick consent ends at 16 the same way.
func TestChildConsentCloseToSixteenOpensRenewalAtOnce(t *testing.T) {
	h := newHarness(t)
	dob, sixteen := turnsSixteenIn(10)
	var consent, withdraw *updateResult
	h.at(0, func() { h.refer(dob) })
	h.at(time.Hour, func() {
		consent = h.send(UpdateRecordConsent, RecordConsentInput{Basis: register.ConsentGillick, DecidedOn: register.CalendarDate(start), Actor: "alice"})
	})
	h.at(time.Hour+time.Minute, func() {
		got := h.rec.openTasks(register.TaskConsentRenewal)
		if len(got) != 1 || !got[0].DueAt.Equal(sixteen) {
			t.Errorf("Gillick consent 10 days before 16: want a renewal task due on the birthday at once, got %+v", got)
		}
		withdraw = h.send(UpdateWithdrawConsent, WithdrawConsentInput{Reason: "test over", Actor: "alice"})
	})
	h.run(PersonWorkflowInput{})
	h.expectOK(consent)
	h.expectOK(withdraw)
}
