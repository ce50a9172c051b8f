package register

import (
	"fmt"
	"strings"
	"time"
)

// ConsentBasis is the lawful basis on which a person is on the register.
type ConsentBasis string

const (
	// ConsentSelf: the person has capacity and consents.
	ConsentSelf ConsentBasis = "self"
	// ConsentBestInterest: the person lacks capacity and a best-interest
	// decision was made under the Mental Capacity Act 2005 (16 and over).
	ConsentBestInterest ConsentBasis = "best_interest"
	// ConsentParental: a parent or guardian consents for a child under 16.
	ConsentParental ConsentBasis = "parental"
	// ConsentGillick: a child under 16 who is Gillick competent consents.
	ConsentGillick ConsentBasis = "gillick"
)

// AgeOfConsent is the age from which the Mental Capacity Act applies and a
// person consents for themselves (or a best-interest decision is made).
const AgeOfConsent = 16

// Consent is a consent decision as recorded by a coordinator.
type Consent struct {
	Basis     ConsentBasis
	GivenBy   string
	DecidedOn time.Time // a calendar date, UTC midnight
	Notes     string
}

// ValidateConsent checks a consent decision against the person's date of
// birth and today's date. It names each bad field.
func ValidateConsent(c Consent, dateOfBirth, today time.Time) FieldErrors {
	errs := FieldErrors{}
	if c.DecidedOn.IsZero() {
		errs.Add("decided_on", "is required, as YYYY-MM-DD")
	} else {
		if c.DecidedOn.After(today) {
			errs.Add("decided_on", "cannot be in the future")
		}
		if !dateOfBirth.IsZero() && c.DecidedOn.Before(dateOfBirth) {
			errs.Add("decided_on", "cannot be before the person's date of birth")
		}
	}
	given := strings.TrimSpace(c.GivenBy)
	age := -1
	if !dateOfBirth.IsZero() && !c.DecidedOn.IsZero() {
		age = AgeOn(dateOfBirth, c.DecidedOn)
	}
	switch c.Basis {
	case ConsentSelf:
		if age >= 0 && age < AgeOfConsent {
			errs.Add("basis", fmt.Sprintf("the person was %d on the decision date: under 16, use parental or gillick", age))
		}
	case ConsentBestInterest:
		if age >= 0 && age < AgeOfConsent {
			errs.Add("basis", fmt.Sprintf("the person was %d on the decision date: best-interest decisions under the Mental Capacity Act apply from 16; use parental", age))
		}
		if given == "" {
			errs.Add("given_by", "name who made the best-interest decision")
		}
	case ConsentParental:
		if age >= AgeOfConsent {
			errs.Add("basis", fmt.Sprintf("the person was %d on the decision date: parental consent applies under 16; use self or best_interest", age))
		}
		if given == "" {
			errs.Add("given_by", "name the parent or guardian who consented")
		}
	case ConsentGillick:
		if age >= AgeOfConsent {
			errs.Add("basis", fmt.Sprintf("the person was %d on the decision date: Gillick competence applies under 16; use self", age))
		}
	case "":
		errs.Add("basis", "is required: one of self, best_interest, parental, gillick")
	default:
		errs.Add("basis", "must be one of self, best_interest, parental, gillick")
	}
	return errs.OrNil()
}

// AgeOn is the person's age in whole years on a date.
func AgeOn(dateOfBirth, on time.Time) int {
	y1, m1, d1 := dateOfBirth.Date()
	y2, m2, d2 := on.Date()
	age := y2 - y1
	if m2 < m1 || (m2 == m1 && d2 < d1) {
		age--
	}
	return age
}
