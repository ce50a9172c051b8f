package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/internal/register"
)

// Consent follows the person's age. A parent's (or a Gillick competent
// child's) consent is for someone under 16; at 16 the Mental Capacity Act
// applies to the young person themself. So a consent given on either basis
// runs out at the earlier of its normal period and the 16th birthday: its
// renewal task opens DSR_CONSENT_RENEWAL_NOTICE before the birthday, and
// unrenewed it lapses then like any other consent.

// consentAgeVersion names the workflow.GetVersion change that ends a
// child's consent at 16. Histories from before it keep the old expiry.
//
// The version is decided lazily, at the first moment the two rules could
// differ: when a change is recorded while a parental or Gillick consent
// whose normal period runs past the 16th birthday is in force, or when the
// renewal notice before that birthday is reached. Until then both rules
// behave alike, so a workflow already running when this was deployed takes
// the new rule from its next such moment, and one replaying a history that
// passed that moment under the old rule keeps the old rule.
const consentAgeVersion = "consent-ends-at-16"

// consentForAChild reports whether the consent in force was given on a
// basis that applies only under 16.
func (p *person) consentForAChild() bool {
	return p.Consent != nil && (p.Consent.Basis == register.ConsentParental || p.Consent.Basis == register.ConsentGillick)
}

// sixteenthBirthday is when the person turns 16 (midnight UTC, like every
// date in the register); zero without a date of birth.
func (p *person) sixteenthBirthday() time.Time {
	if p.DateOfBirth.IsZero() {
		return time.Time{}
	}
	return register.CalendarDate(p.DateOfBirth).AddDate(register.AgeOfConsent, 0, 0)
}

// normalConsentExpiry is when the consent in force would run out by the
// consent period alone.
func (p *person) normalConsentExpiry() time.Time {
	return p.Consent.RunsFrom.Add(p.Policy.ConsentPeriod)
}

// consentEndsAtSixteen reports whether the consent in force runs out at
// the 16th birthday rather than at the end of its period.
func (p *person) consentEndsAtSixteen() bool {
	if !p.consentAgeDecided || p.consentAge < 1 || !p.consentForAChild() {
		return false
	}
	sixteen := p.sixteenthBirthday()
	return !sixteen.IsZero() && sixteen.Before(p.normalConsentExpiry())
}

// decideConsentAge takes the workflow.GetVersion decision once the rules
// could differ (see consentAgeVersion). recording is true when a change is
// about to be recorded, which must carry the right expiry.
func (p *person) decideConsentAge(ctx workflow.Context, now time.Time, recording bool) {
	if p.consentAgeDecided || !p.consentForAChild() || p.Policy.ConsentPeriod == 0 {
		return
	}
	sixteen := p.sixteenthBirthday()
	if sixteen.IsZero() || !sixteen.Before(p.normalConsentExpiry()) {
		return
	}
	if !recording && now.Before(sixteen.Add(-p.Policy.RenewalNotice)) {
		return
	}
	p.consentAge = workflow.GetVersion(ctx, consentAgeVersion, workflow.DefaultVersion, 1)
	p.consentAgeDecided = true
}

// consentAgeWake is when a workflow whose rule is still undecided should
// wake to decide it: the renewal notice before the 16th birthday.
func (p *person) consentAgeWake() time.Time {
	if p.consentAgeDecided || !p.consentForAChild() {
		return time.Time{}
	}
	sixteen := p.sixteenthBirthday()
	if sixteen.IsZero() {
		return time.Time{}
	}
	return sixteen.Add(-p.Policy.RenewalNotice)
}

// consentEndDetail adds to an audit detail that the consent runs out at 16,
// so the renewal and lapse say why they came early.
func (p *person) consentEndDetail(detail map[string]string) map[string]string {
	if p.consentEndsAtSixteen() {
		detail["ends_at_16"] = "true"
	}
	return detail
}
