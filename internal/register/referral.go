package register

import (
	"net/mail"
	"strings"
	"time"
)

// Diagnosis is why a person can be on the register at all.
type Diagnosis string

const (
	LearningDisability Diagnosis = "learning_disability"
	Autism             Diagnosis = "autism"
)

// ReferrerKind says who referred.
type ReferrerKind string

const (
	ReferrerProfessional ReferrerKind = "professional"
	ReferrerSelf         ReferrerKind = "self"
	ReferrerFamily       ReferrerKind = "family"
)

// Channel is how a referral reached the team.
type Channel string

const (
	ChannelPortal Channel = "portal"
	ChannelPhone  Channel = "phone"
	ChannelEmail  Channel = "email"
	ChannelAPI    Channel = "api"
	// ChannelImport: the person came across from the team's existing
	// register (`dsr import`). Never accepted by ValidateReferral: only the
	// importer records it.
	ChannelImport Channel = "import"
)

// Person is who a referral is about. Everything here is personal data: it
// lives in PostgreSQL and in encrypted payloads, never in Temporal metadata.
type Person struct {
	GivenName      string
	FamilyName     string
	DateOfBirth    time.Time
	NHSNumber      string
	Diagnoses      []Diagnosis
	LocalAuthority string
	Postcode       string
}

// Referrer is who made the referral.
type Referrer struct {
	Kind         ReferrerKind
	Name         string
	Organisation string
	Email        string
	Phone        string
}

// Referral is a request to put a person on the register.
type Referral struct {
	Person   Person
	Referrer Referrer
	Channel  Channel
	Reason   string
}

// Initials are how Slack and logs-for-humans may refer to a person.
func (p Person) Initials() string {
	var b strings.Builder
	for _, n := range []string{p.GivenName, p.FamilyName} {
		n = strings.TrimSpace(n)
		if n != "" {
			b.WriteString(strings.ToUpper(string([]rune(n)[:1])))
		}
	}
	return b.String()
}

// ValidateReferral checks a referral and normalises it (NHS number without
// spaces, postcode upper case). The NHS number may be empty. Field names follow the API's JSON.
func ValidateReferral(r Referral, today time.Time) (Referral, FieldErrors) {
	errs := FieldErrors{}
	p := &r.Person
	if strings.TrimSpace(p.GivenName) == "" {
		errs.Add("person.given_name", "is required")
	}
	if strings.TrimSpace(p.FamilyName) == "" {
		errs.Add("person.family_name", "is required")
	}
	switch {
	case p.DateOfBirth.IsZero():
		errs.Add("person.date_of_birth", "is required, as YYYY-MM-DD")
	case p.DateOfBirth.After(today):
		errs.Add("person.date_of_birth", "cannot be in the future")
	case AgeOn(p.DateOfBirth, today) > 120:
		errs.Add("person.date_of_birth", "is more than 120 years ago: check the year")
	}
	// The NHS number is optional: families often do not know it. Given, it
	// must be a valid one.
	if strings.TrimSpace(p.NHSNumber) == "" {
		p.NHSNumber = ""
	} else if n, err := NormaliseNHSNumber(p.NHSNumber); err != nil {
		errs.Add("person.nhs_number", err.Error())
	} else {
		p.NHSNumber = n
	}
	if len(p.Diagnoses) == 0 {
		errs.Add("person.diagnoses", "is required: learning_disability, autism or both")
	}
	for _, d := range p.Diagnoses {
		if d != LearningDisability && d != Autism {
			errs.Add("person.diagnoses", "each must be learning_disability or autism")
		}
	}
	p.Postcode = strings.ToUpper(strings.TrimSpace(p.Postcode))
	switch r.Referrer.Kind {
	case ReferrerProfessional, ReferrerSelf, ReferrerFamily:
	case "":
		errs.Add("referrer.kind", "is required: professional, self or family")
	default:
		errs.Add("referrer.kind", "must be professional, self or family")
	}
	if r.Referrer.Kind != ReferrerSelf && strings.TrimSpace(r.Referrer.Name) == "" {
		errs.Add("referrer.name", "is required unless the person refers themselves")
	}
	if r.Referrer.Kind == ReferrerProfessional && strings.TrimSpace(r.Referrer.Organisation) == "" {
		errs.Add("referrer.organisation", "is required for a professional referral")
	}
	if e := strings.TrimSpace(r.Referrer.Email); e != "" {
		if _, err := mail.ParseAddress(e); err != nil {
			errs.Add("referrer.email", "is not an email address")
		}
	}
	switch r.Channel {
	case ChannelPortal, ChannelPhone, ChannelEmail, ChannelAPI:
	case "":
		errs.Add("channel", "is required: portal, phone, email or api")
	default:
		errs.Add("channel", "must be portal, phone, email or api")
	}
	if strings.TrimSpace(r.Reason) == "" {
		errs.Add("reason", "is required: why the person is at risk of admission")
	}
	return r, errs.OrNil()
}
