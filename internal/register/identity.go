package register

import (
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Identity: a referral is only ever attached to a person already on the
// register when it names them the same way. An NHS number match whose name
// or date of birth differ, or a likely match by name, date of birth and
// postcode when there is no NHS number to go on, is put to a coordinator
// (an identity_check task): never applied silently.

// TaskIdentityCheck: a referral could be about someone already on the
// register; a coordinator decides whether it is the same person.
const TaskIdentityCheck TaskKind = "identity_check"

// The decisions that close an identity check.
const (
	ActionSamePerson      Action = "same_person"
	ActionDifferentPerson Action = "different_person"
)

// RemovedMerged: the record was merged into another that is the same person.
// Set only by merging records, never chosen as a removal reason.
const RemovedMerged RemovalReason = "merged"

// IdentityCheckKind says why a referral was put to a coordinator.
type IdentityCheckKind string

const (
	// IdentityNHSNumberMismatch: the NHS number is on the register, but the
	// name or date of birth recorded with it differ from the referral's.
	IdentityNHSNumberMismatch IdentityCheckKind = "nhs_number_mismatch"
	// IdentityPossibleDuplicate: no NHS number to go on (or one the register
	// does not know), and someone with a similar name, date of birth or
	// postcode is already on the register.
	IdentityPossibleDuplicate IdentityCheckKind = "possible_duplicate"
)

// IdentityDecision is a coordinator's answer to an identity check.
type IdentityDecision string

const (
	DecisionSamePerson      IdentityDecision = "same_person"
	DecisionDifferentPerson IdentityDecision = "different_person"
)

// ParseIdentityDecision checks a decision as typed.
func ParseIdentityDecision(s string) (IdentityDecision, error) {
	switch d := IdentityDecision(s); d {
	case DecisionSamePerson, DecisionDifferentPerson:
		return d, nil
	case "":
		return "", fieldError("is required: same_person or different_person")
	}
	return "", fieldError("must be same_person or different_person")
}

type fieldError string

func (e fieldError) Error() string { return string(e) }

// IdentityDifferences names the fields (given_name, family_name,
// date_of_birth) where a referral differs from a recorded person, compared
// normalised: case, spaces, hyphens, apostrophes and accents do not count.
// A given name that is a known short form of the other (Bob for Robert)
// counts as a difference: it is probably the same person, but a person must
// say so.
func IdentityDifferences(recorded, referred Person) []string {
	var diff []string
	if NormaliseName(recorded.GivenName) != NormaliseName(referred.GivenName) {
		diff = append(diff, "given_name")
	}
	if NormaliseName(recorded.FamilyName) != NormaliseName(referred.FamilyName) {
		diff = append(diff, "family_name")
	}
	if !recorded.DateOfBirth.Equal(referred.DateOfBirth) {
		diff = append(diff, "date_of_birth")
	}
	return diff
}

// NormaliseName folds a name for comparison: lower case, accents removed,
// and spaces, hyphens, apostrophes and full stops dropped ("O'Brien-Smith"
// and "obrien smith" are the same).
func NormaliseName(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// A combining accent: é is e.
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// nicknames are common English short forms, each with its full name. Small
// on purpose: it only decides which near-matches are worth a coordinator's
// look, never a match on its own.
var nicknames = map[string][]string{
	"robert": {"bob", "bobby", "rob", "robbie", "bert"}, "william": {"bill", "billy", "will", "willie", "liam"},
	"elizabeth": {"liz", "lizzie", "beth", "betty", "eliza", "libby", "elsie"}, "katherine": {"kate", "katie", "kath", "kathy", "kay"},
	"catherine": {"cath", "cathy", "kate", "katie", "cat"}, "margaret": {"maggie", "meg", "peggy", "marge"},
	"richard": {"dick", "rick", "ricky", "rich", "richie"}, "james": {"jim", "jimmy", "jamie"},
	"john": {"jack", "johnny"}, "jonathan": {"jon", "jonny"}, "michael": {"mike", "mikey", "mick", "micky"},
	"thomas": {"tom", "tommy"}, "anthony": {"tony"}, "edward": {"ed", "eddie", "ted", "teddy", "ned"},
	"alexander": {"alex", "alec", "sandy"}, "alexandra": {"alex", "sandra", "lexi"}, "christopher": {"chris", "kit"},
	"christine": {"chris", "chrissie", "tina"}, "daniel": {"dan", "danny"}, "david": {"dave", "davy"},
	"joseph": {"joe", "joey"}, "josephine": {"jo", "josie"}, "joanne": {"jo"}, "samuel": {"sam", "sammy"},
	"samantha": {"sam", "sammy"}, "benjamin": {"ben", "benny"}, "matthew": {"matt"}, "nicholas": {"nick", "nicky"},
	"patricia": {"pat", "patty", "trish"}, "patrick": {"pat", "paddy"}, "rebecca": {"becky", "becca"},
	"stephen": {"steve"}, "steven": {"steve"}, "susan": {"sue", "susie"}, "victoria": {"vicky", "tori"},
	"jennifer": {"jen", "jenny"}, "deborah": {"debbie", "deb"}, "charlotte": {"charlie", "lottie"},
	"charles": {"charlie", "chuck"}, "frederick": {"fred", "freddie"}, "henry": {"harry", "hal"},
	"abigail": {"abby", "abbie"}, "gregory": {"greg"}, "andrew": {"andy", "drew"}, "peter": {"pete"},
	"timothy": {"tim"}, "kenneth": {"ken", "kenny"}, "lawrence": {"larry", "laurie"}, "oliver": {"ollie"},
}

// KnownShortForm reports whether one given name is a known short form of
// the other (or both short forms of one name).
func KnownShortForm(a, b string) bool {
	a, b = NormaliseName(a), NormaliseName(b)
	if a == "" || b == "" || a == b {
		return false
	}
	for full, short := range nicknames {
		inA, inB := a == full || slices.Contains(short, a), b == full || slices.Contains(short, b)
		if inA && inB {
			return true
		}
	}
	return false
}

// Levenshtein is the edit distance between two strings, by rune.
func Levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// NamesAlike: the same after normalising, within typing distance (one edit
// for short names, two from eight letters), or a known short form. Every
// identity check compares names with it: a referral's against the register
// (LikelySamePerson), and an MbE email's against the register (the store's
// candidates).
func NamesAlike(a, b string) bool {
	na, nb := NormaliseName(a), NormaliseName(b)
	if na == "" || nb == "" {
		return false
	}
	allowed := 1
	if max(len([]rune(na)), len([]rune(nb))) >= 8 {
		allowed = 2
	}
	return Levenshtein(na, nb) <= allowed || KnownShortForm(a, b)
}

// SameOrSwappedDate: the same date, or day and month swapped (a US-style
// entry of 03/02 for 2 March).
func SameOrSwappedDate(a, b time.Time) bool {
	if a.Equal(b) {
		return true
	}
	return a.Year() == b.Year() && int(a.Month()) == b.Day() && a.Day() == int(b.Month())
}

// OutwardCode is the first part of a postcode ("ST4" of "ST4 1AA"), which
// survives most mistypes of the rest and a move within the area.
func OutwardCode(postcode string) string {
	p := strings.ToUpper(strings.Join(strings.Fields(postcode), ""))
	if len(p) <= 3 {
		return p
	}
	return p[:len(p)-3]
}

// LikelySamePerson reports whether two people's details are close enough
// that a coordinator should be asked whether they are one person: names
// alike (either way round: first and last swapped), and at least one of
// the date of birth (or with day and month swapped) and the postcode's
// outward code agreeing; or identical names and date of birth.
func LikelySamePerson(recorded, referred Person) bool {
	straight := NamesAlike(recorded.GivenName, referred.GivenName) && NamesAlike(recorded.FamilyName, referred.FamilyName)
	swapped := NamesAlike(recorded.GivenName, referred.FamilyName) && NamesAlike(recorded.FamilyName, referred.GivenName)
	if !straight && !swapped {
		return false
	}
	dob := !recorded.DateOfBirth.IsZero() && SameOrSwappedDate(recorded.DateOfBirth, referred.DateOfBirth)
	pc := OutwardCode(recorded.Postcode) != "" && OutwardCode(recorded.Postcode) == OutwardCode(referred.Postcode)
	return dob || pc
}
