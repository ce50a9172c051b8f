package register

import (
	"fmt"
	"time"

	"github.com/dsr-register/dsr/internal/workinghours"
)

// Policy holds every timing the register acts on. Areas differ, so these are
// configuration (see internal/config for the variables and defaults); the
// workflow re-reads the policy whenever it sets a timer, so a change reaches
// people already on the register.
type Policy struct {
	// ConsentPeriod is how long a consent decision lasts before renewal.
	ConsentPeriod time.Duration
	// RenewalNotice is how long before expiry the renewal task opens.
	RenewalNotice time.Duration
	// RenewalReminderEvery is how often an open renewal task is reminded.
	RenewalReminderEvery time.Duration
	// ConsentGrace is how long a lapsed person stays before removal.
	ConsentGrace time.Duration
	// ReferralConsentDeadline is how long a referral may wait for consent
	// before a coordinator is asked to chase or close it.
	ReferralConsentDeadline time.Duration
	// Review cadence per colour.
	ReviewRed, ReviewAmber, ReviewGreen, ReviewBlue time.Duration
	// ReviewNotice is how long before a review falls due its task opens.
	ReviewNotice time.Duration
	// ChaseEvery is how often an overdue task is chased.
	ChaseEvery time.Duration
	// Recheck is the longest the workflow sleeps without re-reading the
	// policy, so that a shortened timing reaches a long sleeper.
	Recheck time.Duration

	// Escalation when someone turns red. The acknowledgement window and
	// the re-alert interval are counted in working time (WorkingHours).
	EscalationAckWithin    time.Duration
	EscalationRealertEvery time.Duration
	// Deadlines, from turning red, for the actions national policy expects.
	RedCTRWithin       time.Duration
	RedKeyworkerWithin time.Duration
	RedMeetingWithin   time.Duration
	// Amber: a multi-agency meeting and/or C(E)TR, and a keyworker referral.
	AmberMeetingWithin   time.Duration
	AmberKeyworkerWithin time.Duration
	// KeyworkerMaxAge is the oldest age (in whole years) referred to the
	// keyworker service: 25 means people aged 0–25.
	KeyworkerMaxAge int
	// Blue (admitted): the post-admission C(E)TR, then recurring ones.
	PostAdmissionCTRAdult time.Duration
	PostAdmissionCTRChild time.Duration
	InpatientCTRAdult     time.Duration
	InpatientCTRChild     time.Duration
	InpatientCTRSecure    time.Duration
	// CTRNotice is how long before a recurring inpatient C(E)TR falls due
	// its task opens, so there is time to convene the panel.
	CTRNotice time.Duration
	// DischargeHold is how long a person is held at red after discharge
	// from hospital before a lower rating is accepted; zero turns it off.
	DischargeHold time.Duration
	// WorkingHours is the team's working week for working-time deadlines.
	WorkingHours workinghours.Options
	// RetentionAfterRemoval is how long a removed person's identifying
	// details are kept before they are erased (see ErasureDue).
	RetentionAfterRemoval time.Duration

	// Meetings and feedback (issue 13). MeetingReminderBefore is how long
	// before a meeting its reminder email goes; MeetingActionEscalateAfter
	// how long an action agreed at a meeting may be overdue before the
	// managers hear; FeedbackChaseAfter how long a service has to answer a
	// feedback request before it is chased (then every ChaseEvery).
	// Zero (a policy from before them) means the default.
	MeetingReminderBefore      time.Duration
	MeetingActionEscalateAfter time.Duration
	FeedbackChaseAfter         time.Duration
}

// DefaultPolicy is the documented default policy.
func DefaultPolicy() Policy {
	const day = 24 * time.Hour
	return Policy{
		ConsentPeriod:           365 * day,
		RenewalNotice:           30 * day,
		RenewalReminderEvery:    7 * day,
		ConsentGrace:            28 * day,
		ReferralConsentDeadline: 28 * day,
		ReviewRed:               7 * day,
		ReviewAmber:             28 * day,
		ReviewGreen:             91 * day,
		ReviewBlue:              28 * day,
		ReviewNotice:            2 * day,
		ChaseEvery:              3 * day,
		Recheck:                 1 * day,

		EscalationAckWithin:    4 * time.Hour,
		EscalationRealertEvery: 1 * time.Hour,
		RedCTRWithin:           14 * day,
		RedKeyworkerWithin:     5 * day,
		RedMeetingWithin:       5 * day,
		AmberMeetingWithin:     28 * day,
		AmberKeyworkerWithin:   28 * day,
		KeyworkerMaxAge:        25,
		PostAdmissionCTRAdult:  28 * day,
		PostAdmissionCTRChild:  14 * day,
		InpatientCTRAdult:      182 * day,
		InpatientCTRChild:      91 * day,
		InpatientCTRSecure:     365 * day,
		CTRNotice:              28 * day,
		DischargeHold:          14 * day,
		RetentionAfterRemoval:  2922 * day,

		MeetingReminderBefore:      1 * day,
		MeetingActionEscalateAfter: 14 * day,
		FeedbackChaseAfter:         7 * day,
	}
}

// MeetingTimings are the meeting and feedback timings, with the defaults
// standing in for zero (a policy read before these settings existed).
func (p Policy) MeetingTimings() (reminderBefore, actionEscalateAfter, feedbackChaseAfter time.Duration) {
	d := DefaultPolicy()
	reminderBefore, actionEscalateAfter, feedbackChaseAfter = p.MeetingReminderBefore, p.MeetingActionEscalateAfter, p.FeedbackChaseAfter
	if reminderBefore <= 0 {
		reminderBefore = d.MeetingReminderBefore
	}
	if actionEscalateAfter <= 0 {
		actionEscalateAfter = d.MeetingActionEscalateAfter
	}
	if feedbackChaseAfter <= 0 {
		feedbackChaseAfter = d.FeedbackChaseAfter
	}
	return
}

// Adulthood is the age from which the adult C(E)TR windows apply.
const Adulthood = 18

// PostAdmissionCTRWithin is the window for the C(E)TR after admission, by
// the person's age when they were admitted.
func (p Policy) PostAdmissionCTRWithin(age int) time.Duration {
	if age < Adulthood {
		return p.PostAdmissionCTRChild
	}
	return p.PostAdmissionCTRAdult
}

// InpatientCTREvery is the interval to the next inpatient C(E)TR, by the
// person's age when the last one was held and whether the placement is
// secure (the 12-month cadence is for adults in secure services).
func (p Policy) InpatientCTREvery(age int, secure bool) time.Duration {
	switch {
	case age < Adulthood:
		return p.InpatientCTRChild
	case secure:
		return p.InpatientCTRSecure
	default:
		return p.InpatientCTRAdult
	}
}

// KeyworkerEligible reports whether a person of this age is referred to
// the keyworker service.
func (p Policy) KeyworkerEligible(age int) bool {
	return age >= 0 && age <= p.KeyworkerMaxAge
}

// LocalDate is the calendar date of t where the team works (the working
// hours' time zone), as midnight UTC like every date in the register: a
// C(E)TR held at 00:30 BST is held that day, not the day before.
func (p Policy) LocalDate(t time.Time) time.Time {
	y, m, d := t.In(p.Zone()).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Zone is the team's time zone (DSR_WORKING_TIMEZONE), which every date
// shown to people and every "today" is read in: the working hours' zone,
// or UTC if the working hours cannot be read (config refuses such a policy
// at start, so only a hand-built one can).
func (p Policy) Zone() *time.Location {
	cal, err := p.Calendar()
	if err != nil {
		return time.UTC
	}
	return cal.Location()
}

// Calendar is the working-hours calendar the escalation counts in.
func (p Policy) Calendar() (*workinghours.Calendar, error) {
	return workinghours.New(p.WorkingHours)
}

// ReviewEvery is the review cadence for a rating.
func (p Policy) ReviewEvery(r Rating) time.Duration {
	switch r {
	case Red:
		return p.ReviewRed
	case Amber:
		return p.ReviewAmber
	case Blue:
		return p.ReviewBlue
	default:
		return p.ReviewGreen
	}
}

// Validate rejects a policy that would make timers misbehave.
func (p Policy) Validate() error {
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"consent period", p.ConsentPeriod}, {"renewal reminder interval", p.RenewalReminderEvery},
		{"referral consent deadline", p.ReferralConsentDeadline},
		{"red review", p.ReviewRed}, {"amber review", p.ReviewAmber}, {"green review", p.ReviewGreen}, {"blue review", p.ReviewBlue},
		{"chase interval", p.ChaseEvery}, {"policy recheck", p.Recheck},
		{"escalation acknowledgement window", p.EscalationAckWithin}, {"escalation re-alert interval", p.EscalationRealertEvery},
		{"red C(E)TR deadline", p.RedCTRWithin}, {"red keyworker referral deadline", p.RedKeyworkerWithin},
		{"red multi-agency meeting deadline", p.RedMeetingWithin},
		{"amber meeting deadline", p.AmberMeetingWithin}, {"amber keyworker referral deadline", p.AmberKeyworkerWithin},
		{"adult post-admission C(E)TR window", p.PostAdmissionCTRAdult}, {"child post-admission C(E)TR window", p.PostAdmissionCTRChild},
		{"adult inpatient C(E)TR interval", p.InpatientCTRAdult}, {"child inpatient C(E)TR interval", p.InpatientCTRChild},
		{"secure inpatient C(E)TR interval", p.InpatientCTRSecure},
		{"retention after removal", p.RetentionAfterRemoval},
	}
	for _, f := range positive {
		if f.d <= 0 {
			return fmt.Errorf("%s must be more than zero", f.name)
		}
	}
	if p.RenewalNotice < 0 || p.RenewalNotice >= p.ConsentPeriod {
		return fmt.Errorf("renewal notice must be at least zero and shorter than the consent period")
	}
	if p.ConsentGrace < 0 || p.ReviewNotice < 0 || p.CTRNotice < 0 || p.DischargeHold < 0 {
		return fmt.Errorf("consent grace, review notice, C(E)TR notice and discharge hold cannot be negative")
	}
	if p.KeyworkerMaxAge < 0 {
		return fmt.Errorf("keyworker maximum age cannot be negative")
	}
	if _, err := p.Calendar(); err != nil {
		return fmt.Errorf("working hours: %w", err)
	}
	return nil
}
