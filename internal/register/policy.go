package register

import (
	"fmt"
	"time"
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
	}
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
	}
	for _, f := range positive {
		if f.d <= 0 {
			return fmt.Errorf("%s must be more than zero", f.name)
		}
	}
	if p.RenewalNotice < 0 || p.RenewalNotice >= p.ConsentPeriod {
		return fmt.Errorf("renewal notice must be at least zero and shorter than the consent period")
	}
	if p.ConsentGrace < 0 || p.ReviewNotice < 0 {
		return fmt.Errorf("consent grace and review notice cannot be negative")
	}
	return nil
}
