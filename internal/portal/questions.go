package portal

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dsr-register/dsr/internal/register"
)

// Who is filling the form in changes which questions are asked and how
// they are worded ("your date of birth", "their date of birth").
const (
	kindSelf         = string(register.ReferrerSelf)
	kindFamily       = string(register.ReferrerFamily)
	kindProfessional = string(register.ReferrerProfessional)
)

// step is one question page.
type step struct {
	Slug string
	// Title is the page's <title> (the h1 is in the step's template).
	Title func(w wording) string
	// Applies says whether the step is asked of this referrer.
	Applies func(a answers) bool
	// Read copies the page's fields from the form into the answers.
	Read func(f url.Values, a *answers)
	// Check names each field that is wrong or missing, with the fix.
	Check func(a answers, c checkContext) []fieldError
}

// checkContext is what checking needs besides the answers.
type checkContext struct {
	Today    time.Time
	Councils []string
}

// fieldError is one problem: the id of the input to fix (the error
// summary links to it) and what to do, in plain words.
type fieldError struct{ ID, Message string }

// wording is the words that change with who fills the form in.
type wording struct {
	Self         bool
	Professional bool
	Family       bool
	Your         string // "your" or "their"
	YourCap      string // "Your" or "Their"
	You          string // "you" or "they"
	Person       string // "you" or "the person"
}

func wordingFor(kind string) wording {
	if kind == kindSelf {
		return wording{Self: true, Your: "your", YourCap: "Your", You: "you", Person: "you"}
	}
	return wording{Professional: kind == kindProfessional, Family: kind == kindFamily,
		Your: "their", YourCap: "Their", You: "they", Person: "the person"}
}

func always(answers) bool { return true }

const (
	maxName   = 100
	maxReason = 1000
	maxEmail  = 254
	maxPhone  = 30
)

var steps = []step{
	{
		Slug:    "who",
		Title:   func(wording) string { return "Who is filling in this form?" },
		Applies: always,
		Read:    func(f url.Values, a *answers) { a.Kind = f.Get("who") },
		Check: func(a answers, _ checkContext) []fieldError {
			switch a.Kind {
			case kindSelf, kindFamily, kindProfessional:
				return nil
			}
			return []fieldError{{"who", "Choose who is filling in this form"}}
		},
	},
	{
		Slug:    "your-name",
		Title:   func(wording) string { return "What is your name?" },
		Applies: func(a answers) bool { return a.Kind == kindFamily || a.Kind == kindProfessional },
		Read:    func(f url.Values, a *answers) { a.ReferrerName = clean(f.Get("referrer-name")) },
		Check: func(a answers, _ checkContext) []fieldError {
			return required(nil, "referrer-name", a.ReferrerName, maxName, "Enter your name", "Your name")
		},
	},
	{
		Slug:    "organisation",
		Title:   func(wording) string { return "Where do you work?" },
		Applies: func(a answers) bool { return a.Kind == kindProfessional },
		Read:    func(f url.Values, a *answers) { a.Organisation = clean(f.Get("organisation")) },
		Check: func(a answers, _ checkContext) []fieldError {
			return required(nil, "organisation", a.Organisation, 200, "Enter the name of the organisation you work for", "The organisation's name")
		},
	},
	{
		Slug:    "name",
		Title:   func(w wording) string { return "What is " + w.Your + " name?" },
		Applies: always,
		Read: func(f url.Values, a *answers) {
			a.GivenName, a.FamilyName = clean(f.Get("given-name")), clean(f.Get("family-name"))
		},
		Check: func(a answers, _ checkContext) []fieldError {
			w := wordingFor(a.Kind)
			errs := required(nil, "given-name", a.GivenName, maxName, "Enter "+w.Your+" first name", "First name")
			return required(errs, "family-name", a.FamilyName, maxName, "Enter "+w.Your+" last name", "Last name")
		},
	},
	{
		Slug:    "date-of-birth",
		Title:   func(w wording) string { return "What is " + w.Your + " date of birth?" },
		Applies: always,
		Read: func(f url.Values, a *answers) {
			a.DOBDay, a.DOBMonth, a.DOBYear = clean(f.Get("dob-day")), clean(f.Get("dob-month")), clean(f.Get("dob-year"))
		},
		Check: func(a answers, c checkContext) []fieldError {
			_, msg := parseDOB(a, c.Today)
			if msg != "" {
				return []fieldError{{"dob", msg}}
			}
			return nil
		},
	},
	{
		Slug:    "nhs-number",
		Title:   func(w wording) string { return "What is " + w.Your + " NHS number?" },
		Applies: always,
		Read: func(f url.Values, a *answers) {
			a.NHSNumber, a.NHSNumberAnswered = clean(f.Get("nhs-number")), true
		},
		Check: func(a answers, _ checkContext) []fieldError {
			if !a.NHSNumberAnswered {
				return []fieldError{{"nhs-number", "Enter the NHS number, or leave it empty if you do not know it"}}
			}
			if a.NHSNumber == "" {
				return nil // not known: that is fine
			}
			digits := strings.Map(func(r rune) rune {
				if r == ' ' || r == '-' {
					return -1
				}
				return r
			}, a.NHSNumber)
			if len(digits) != 10 || strings.Trim(digits, "0123456789") != "" {
				return []fieldError{{"nhs-number", "NHS number must be 10 numbers, like 485 777 3456. Leave it empty if you do not know it"}}
			}
			if _, err := register.NormaliseNHSNumber(digits); err != nil {
				return []fieldError{{"nhs-number", "Check the NHS number: it is not a real one. Leave it empty if you do not know it"}}
			}
			return nil
		},
	},
	{
		Slug:    "postcode",
		Title:   func(w wording) string { return "What is " + w.Your + " postcode?" },
		Applies: always,
		Read:    func(f url.Values, a *answers) { a.Postcode = strings.ToUpper(clean(f.Get("postcode"))) },
		Check: func(a answers, _ checkContext) []fieldError {
			w := wordingFor(a.Kind)
			switch {
			case a.Postcode == "":
				return []fieldError{{"postcode", "Enter " + w.Your + " postcode, like ST4 1AA"}}
			case !postcodePattern.MatchString(a.Postcode):
				return []fieldError{{"postcode", "Enter a real postcode, like ST4 1AA"}}
			}
			return nil
		},
	},
	{
		Slug:    "council",
		Title:   func(w wording) string { return "Which council area do " + w.You + " live in?" },
		Applies: always,
		Read: func(f url.Values, a *answers) {
			a.Council, a.CouncilOther = f.Get("council"), clean(f.Get("council-other"))
		},
		Check: func(a answers, c checkContext) []fieldError {
			w := wordingFor(a.Kind)
			if len(c.Councils) == 0 || a.Council == "other" {
				return required(nil, "council-other", a.CouncilOther, maxName, "Enter the name of "+w.Your+" council", "The council's name")
			}
			if !slices.Contains(c.Councils, a.Council) {
				return []fieldError{{"council", "Choose " + w.Your + " council area, or choose somewhere else"}}
			}
			return nil
		},
	},
	{
		Slug:    "diagnosis",
		Title:   func(w wording) string { return "Do " + w.You + " have a learning disability, autism or both?" },
		Applies: always,
		Read:    func(f url.Values, a *answers) { a.Diagnosis = f.Get("diagnosis") },
		Check: func(a answers, _ checkContext) []fieldError {
			switch a.Diagnosis {
			case "learning_disability", "autism", "both":
				return nil
			}
			return []fieldError{{"diagnosis", "Choose learning disability, autism or both"}}
		},
	},
	{
		Slug:    "reason",
		Title:   func(w wording) string { return "Why do " + w.You + " need support now?" },
		Applies: always,
		Read:    func(f url.Values, a *answers) { a.Reason = strings.TrimSpace(f.Get("reason")) },
		Check: func(a answers, _ checkContext) []fieldError {
			w := wordingFor(a.Kind)
			switch n := utf8.RuneCountInString(a.Reason); {
			case n == 0:
				return []fieldError{{"reason", "Tell us why " + w.You + " need support now"}}
			case n > maxReason:
				return []fieldError{{"reason", fmt.Sprintf("Use %d characters or fewer. You have used %d", maxReason, n)}}
			}
			return nil
		},
	},
	{
		Slug:    "contact",
		Title:   func(wording) string { return "How can the DSR team contact you?" },
		Applies: always,
		Read: func(f url.Values, a *answers) {
			a.Phone, a.Email = clean(f.Get("phone")), clean(f.Get("email"))
		},
		Check: checkContact,
	},
	{
		Slug:    "consent",
		Title:   func(wording) string { return "Saying yes to the register" },
		Applies: always,
		Read:    func(f url.Values, a *answers) { a.Consent = f.Get("consent") },
		Check: func(a answers, c checkContext) []fieldError {
			for _, o := range consentOptions(a, c.Today) {
				if o.Value == a.Consent {
					return nil
				}
			}
			return []fieldError{{"consent", "Choose an answer about saying yes to the register"}}
		},
	},
}

var postcodePattern = regexp.MustCompile(`^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$`)

var phonePattern = regexp.MustCompile(`^\+?[0-9 ()-]{10,}$`)

func checkContact(a answers, _ checkContext) []fieldError {
	var errs []fieldError
	if a.Phone != "" && (len(a.Phone) > maxPhone || !phonePattern.MatchString(a.Phone)) {
		errs = append(errs, fieldError{"phone", "Enter a phone number, like 01782 123456"})
	}
	switch {
	case a.Email == "" && a.Kind == kindProfessional:
		errs = append(errs, fieldError{"email", "Enter your work email address"})
	case a.Email != "" && !isEmail(a.Email):
		errs = append(errs, fieldError{"email", "Enter an email address, like name@example.com"})
	case a.Email == "" && a.Phone == "":
		errs = append(errs, fieldError{"phone", "Enter a phone number or an email address, so the team can contact you"})
	}
	return errs
}

func isEmail(s string) bool {
	if len(s) > maxEmail {
		return false
	}
	addr, err := mail.ParseAddress(s)
	return err == nil && addr.Address == s && strings.Contains(s[strings.LastIndex(s, "@")+1:], ".")
}

// clean trims and collapses the spaces in a one-line answer.
func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

func required(errs []fieldError, id, v string, max int, missing, what string) []fieldError {
	switch n := utf8.RuneCountInString(v); {
	case n == 0:
		return append(errs, fieldError{id, missing})
	case n > max:
		return append(errs, fieldError{id, fmt.Sprintf("%s must be %d characters or fewer", what, max)})
	}
	return errs
}

// parseDOB is the date of birth given, or what to fix.
func parseDOB(a answers, today time.Time) (time.Time, string) {
	w := wordingFor(a.Kind)
	if a.DOBDay == "" && a.DOBMonth == "" && a.DOBYear == "" {
		return time.Time{}, "Enter " + w.Your + " date of birth, like 27 3 2007"
	}
	var missing []string
	for _, p := range []struct{ name, v string }{{"day", a.DOBDay}, {"month", a.DOBMonth}, {"year", a.DOBYear}} {
		if p.v == "" {
			missing = append(missing, p.name)
		}
	}
	if len(missing) > 0 {
		return time.Time{}, "Date of birth must include a " + strings.Join(missing, " and a ")
	}
	d, errD := strconv.Atoi(a.DOBDay)
	m, errM := strconv.Atoi(a.DOBMonth)
	y, errY := strconv.Atoi(a.DOBYear)
	if errD != nil || errM != nil || errY != nil || len(a.DOBYear) != 4 {
		return time.Time{}, "Date of birth must be a real date in numbers, like 27 3 2007"
	}
	dob := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if dob.Day() != d || int(dob.Month()) != m || dob.Year() != y {
		return time.Time{}, "Date of birth must be a real date, like 27 3 2007"
	}
	if dob.After(today) {
		return time.Time{}, "Date of birth must be in the past"
	}
	if register.AgeOn(dob, today) > 120 {
		return time.Time{}, "Check the year of the date of birth: it is more than 120 years ago"
	}
	return dob, ""
}

// option is one radio button, with an optional hint under its label.
type option struct{ Value, Label, Hint string }

var whoOptions = []option{
	{kindSelf, "I want support for myself", ""},
	{kindFamily, "I am a parent, carer or family member", "You want support for someone you look after."},
	{kindProfessional, "I am a professional", "For example, a social worker, nurse, teacher or GP."},
}

var diagnosisOptions = []option{
	{"learning_disability", "A learning disability", ""},
	{"autism", "Autism", ""},
	{"both", "Both", "A learning disability and autism."},
}

// under16 says whether the person is under the age from which they decide
// for themselves (register.AgeOfConsent), on today's date.
func under16(a answers, today time.Time) bool {
	dob, msg := parseDOB(a, today)
	return msg == "" && register.AgeOn(dob, today) < register.AgeOfConsent
}

// consentOptions follow the register's age rules. From 16 the person
// decides, or, if they cannot, the DSR team makes a best-interest decision
// with the people who know them. Under 16 a parent or guardian decides, or
// the young person if they understand it well enough (Gillick
// competence). What is chosen is a statement for the team to confirm, not
// recorded consent.
func consentOptions(a answers, today time.Time) []option {
	self := a.Kind == kindSelf
	if under16(a, today) {
		if self {
			return []option{
				{"young_person_agrees", "Yes, I agree. I understand what the register is", ""},
				{"parent_agrees", "My parent or guardian says yes for me", ""},
				{"not_yet", "I am not sure yet. I want to talk to the DSR team first", ""},
			}
		}
		parent := "Their parent or guardian says yes"
		if a.Kind == kindFamily {
			parent = "Yes. I am their parent or guardian and I say yes"
		}
		return []option{
			{"parent_agrees", parent, ""},
			{"young_person_agrees", "The young person says yes, and understands what the register is", ""},
			{"not_yet", "Not yet. They want to talk to the DSR team first", ""},
		}
	}
	if self {
		return []option{
			{"agrees", "Yes, I agree to be on the register", ""},
			{"not_yet", "I am not sure yet. I want to talk to the DSR team first", ""},
		}
	}
	return []option{
		{"agrees", "Yes, they agree to be on the register", ""},
		{"cannot_decide", "They cannot decide this for themselves", "The DSR team will make a best-interest decision with the people who know them."},
		{"not_yet", "Not yet. They have not been asked, or want to talk to the DSR team first", ""},
	}
}

// consentStatement is what the portal tells the team about consent, kept
// with the referral's reason: a statement to confirm, never consent
// recorded (a coordinator records that, with its basis and date).
func consentStatement(a answers, today time.Time) string {
	label := a.Consent
	for _, o := range consentOptions(a, today) {
		if o.Value == a.Consent {
			label = o.Label
		}
	}
	who := map[string]string{kindSelf: "the person", kindFamily: "a parent, carer or family member", kindProfessional: "a professional"}[a.Kind]
	return fmt.Sprintf("Consent, as told by %s through the portal (to confirm with them; not recorded consent): %s.", who, label)
}

// stepIndex is the index of slug in steps, or -1.
func stepIndex(slug string) int {
	return slices.IndexFunc(steps, func(s step) bool { return s.Slug == slug })
}

// nextStep is the first step after i that applies, or "" for the end.
func nextStep(i int, a answers) string {
	for j := i + 1; j < len(steps); j++ {
		if steps[j].Applies(a) {
			return steps[j].Slug
		}
	}
	return ""
}

// previousStep is the step before i that applies, or "" for the start.
func previousStep(i int, a answers) string {
	for j := i - 1; j >= 0; j-- {
		if steps[j].Applies(a) {
			return steps[j].Slug
		}
	}
	return ""
}

// firstUnanswered is the first step that applies and is not answered
// well, or "" when every one is.
func firstUnanswered(a answers, c checkContext) string {
	for _, s := range steps {
		if s.Applies(a) && len(s.Check(a, c)) > 0 {
			return s.Slug
		}
	}
	return ""
}

// referral builds the register's referral from complete answers.
func referral(a answers, today time.Time, councils []string) register.Referral {
	dob, _ := parseDOB(a, today)
	var diagnoses []register.Diagnosis
	switch a.Diagnosis {
	case "learning_disability":
		diagnoses = []register.Diagnosis{register.LearningDisability}
	case "autism":
		diagnoses = []register.Diagnosis{register.Autism}
	case "both":
		diagnoses = []register.Diagnosis{register.LearningDisability, register.Autism}
	}
	return register.Referral{
		Person: register.Person{
			GivenName: a.GivenName, FamilyName: a.FamilyName, DateOfBirth: dob, NHSNumber: a.NHSNumber,
			Diagnoses: diagnoses, LocalAuthority: councilOf(a, councils), Postcode: a.Postcode,
		},
		Referrer: register.Referrer{
			Kind: register.ReferrerKind(a.Kind), Name: a.ReferrerName, Organisation: a.Organisation,
			Email: a.Email, Phone: a.Phone,
		},
		Channel: register.ChannelPortal,
		Reason:  a.Reason + "\n\n" + consentStatement(a, today),
	}
}

// councilOf is the council named: chosen from the list or typed.
func councilOf(a answers, councils []string) string {
	if len(councils) == 0 || a.Council == "other" {
		return a.CouncilOther
	}
	return a.Council
}
