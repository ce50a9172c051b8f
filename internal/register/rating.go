package register

import "strings"

// Rating is a RAG rating: the person's risk of admission to a mental health
// hospital, and nothing else.
type Rating string

const (
	// Blue: in a mental health hospital now.
	Blue Rating = "blue"
	// Red: immediate risk of admission.
	Red Rating = "red"
	// Amber: at risk of admission without community services in place.
	Amber Rating = "amber"
	// Green: at risk of admission, but a team is in place.
	Green Rating = "green"
)

// Ratings lists every rating, most urgent first.
var Ratings = []Rating{Blue, Red, Amber, Green}

// ParseRating accepts one of the four colours.
func ParseRating(s string) (Rating, error) { return parseOneOf(s, Ratings) }

// ValidateRating checks a rating as a coordinator gives it: one of the four
// colours, with a rationale, and a secure placement only with blue (in
// hospital). It names each bad field. Casework checks it before the rate
// Update is sent, and the person workflow's validator again.
func ValidateRating(rating Rating, rationale string, securePlacement bool) FieldErrors {
	errs := FieldErrors{}
	if _, err := ParseRating(string(rating)); err != nil {
		errs.Add("rating", err.Error())
	}
	if strings.TrimSpace(rationale) == "" {
		errs.Add("rationale", "is required: say why this rating")
	}
	if securePlacement && rating != Blue {
		errs.Add("secure_placement", "applies only with blue (in hospital)")
	}
	return errs.OrNil()
}

// Stage is where a person is in their time on the register.
type Stage string

const (
	// Referred: referral received, consent not yet recorded.
	Referred Stage = "referred"
	// Active: on the register with consent; ratings are reviewed.
	Active Stage = "active"
	// ConsentLapsed: consent expired without renewal; reviews stop and
	// only renewal is prompted until the grace period ends.
	ConsentLapsed Stage = "consent_lapsed"
	// Removed: off the register. Terminal for this spell; a re-referral
	// starts a new spell for the same person.
	Removed Stage = "removed"
)

// Stages lists every stage in lifecycle order.
var Stages = []Stage{Referred, Active, ConsentLapsed, Removed}

// ParseStage accepts one of the stages.
func ParseStage(s string) (Stage, error) { return parseOneOf(s, Stages) }
