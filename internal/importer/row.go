package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/register"
)

// Row is one person as the file describes them, checked.
type Row struct {
	Line   int
	Person register.Person
	// Rating is the current rating ("" for someone not yet rated), set at
	// the review on LastReviewed.
	Rating       register.Rating
	LastReviewed time.Time
	// Consent.Basis is "" when the row records no consent yet.
	Consent    register.Consent
	AssignedTo string
	Notes      string
	// Key names the person across re-runs: see RowKey.
	Key string
}

// RowError is what is wrong with one value of one row, and how to fix it.
type RowError struct {
	Line    int
	Column  string
	Message string
}

func (e RowError) String() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return fmt.Sprintf("line %d, %s: %s", e.Line, e.Column, e.Message)
}

// Checker turns records into rows with the register's rules: the
// referral's (register.ValidateReferral), the NHS number's check digit,
// consent basis by age on the consent date (register.ValidateConsent).
type Checker struct {
	Header Header
	Policy register.Policy
	// Now is the moment the import runs; today is the team's date then.
	Now time.Time
}

// rowProblems collects one message per column, the first found.
type rowProblems struct {
	line int
	h    Header
	m    map[Column]string
}

func (p *rowProblems) add(c Column, msg string) {
	if _, ok := p.m[c]; !ok {
		p.m[c] = msg
	}
}

func (p *rowProblems) list() []RowError {
	var out []RowError
	for c, msg := range p.m {
		out = append(out, RowError{Line: p.line, Column: p.h.Written(c), Message: msg})
	}
	sort.Slice(out, func(i, j int) bool {
		return p.h.index[columnNamed(p.h, out[i].Column)] < p.h.index[columnNamed(p.h, out[j].Column)]
	})
	return out
}

func columnNamed(h Header, written string) Column {
	for c, w := range h.written {
		if w == written {
			return c
		}
	}
	return Column(written)
}

// Check reads a record as a row. A row with problems comes back with every
// problem found, by column; it is not imported.
func (ck Checker) Check(rec Record) (Row, []RowError) {
	probs := &rowProblems{line: rec.Line, h: ck.Header, m: map[Column]string{}}
	today := ck.Policy.LocalDate(ck.Now)
	row := Row{Line: rec.Line, AssignedTo: rec.Get(ColCoordinator), Notes: rec.Get(ColNotes)}
	p := &row.Person
	nameCols := [2]Column{ColGivenName, ColFamilyName}
	if ck.Header.Has(ColGivenName) && ck.Header.Has(ColFamilyName) {
		p.GivenName, p.FamilyName = rec.Get(ColGivenName), rec.Get(ColFamilyName)
	} else {
		nameCols = [2]Column{ColName, ColName}
		var ok bool
		if p.GivenName, p.FamilyName, ok = splitName(rec.Get(ColName)); !ok && rec.Get(ColName) != "" {
			probs.add(ColName, `give both given and family name, as "Jo Bloggs" or "Bloggs, Jo"`)
		}
	}
	p.DateOfBirth = ck.date(probs, rec, ColDateOfBirth)
	p.NHSNumber = rec.Get(ColNHSNumber)
	p.Postcode = rec.Get(ColPostcode)
	p.LocalAuthority = rec.Get(ColLocalAuthority)
	p.Diagnoses = diagnoses(probs, rec.Get(ColDiagnoses))

	// The register's own rules for a referral, with a stand-in referrer:
	// an imported person was referred long ago.
	checked, errs := register.ValidateReferral(register.Referral{
		Person: *p, Channel: register.ChannelAPI, Reason: "imported",
		Referrer: register.Referrer{Kind: register.ReferrerProfessional, Name: "import", Organisation: "DSR team"},
	}, today)
	*p = checked.Person
	fieldColumn := map[string]Column{
		"person.given_name": nameCols[0], "person.family_name": nameCols[1], "person.date_of_birth": ColDateOfBirth,
		"person.nhs_number": ColNHSNumber, "person.diagnoses": ColDiagnoses,
	}
	for f, msg := range errs {
		if c, ok := fieldColumn[f]; ok {
			probs.add(c, msg)
		}
	}
	if p.Postcode == "" {
		probs.add(ColPostcode, "is required: the person's postcode")
	}
	if p.LocalAuthority == "" {
		probs.add(ColLocalAuthority, "is required: the local authority responsible")
	}

	ck.consent(probs, rec, &row)
	ck.rating(probs, rec, &row)
	if len(probs.m) > 0 {
		return Row{}, probs.list()
	}
	row.Key = RowKey(row.Person)
	return row, nil
}

// consent reads the consent columns: all or nothing, checked by age on the
// decision date, and not so old that the person would be removed at once.
func (ck Checker) consent(probs *rowProblems, rec Record, row *Row) {
	basisText, dateText, givenBy := rec.Get(ColConsentBasis), rec.Get(ColConsentDate), rec.Get(ColConsentGivenBy)
	if basisText == "" && dateText == "" && givenBy == "" {
		return // no consent yet: the person comes in as a referral awaiting it
	}
	c := register.Consent{GivenBy: givenBy, DecidedOn: ck.date(probs, rec, ColConsentDate)}
	if basisText == "" {
		probs.add(ColConsentBasis, "is required with a consent date: self, best interest, parental or gillick")
	} else if b, ok := consentBasis(basisText); !ok {
		probs.add(ColConsentBasis, fmt.Sprintf("%q is not a consent basis: write self, best interest, parental or gillick", basisText))
	} else {
		c.Basis = b
	}
	if dateText == "" {
		probs.add(ColConsentDate, "is required with a consent basis: the date the decision was made")
	}
	if c.Basis == "" || c.DecidedOn.IsZero() {
		return
	}
	errs := register.ValidateConsent(c, row.Person.DateOfBirth, ck.Policy.LocalDate(ck.Now))
	for f, col := range map[string]Column{"basis": ColConsentBasis, "given_by": ColConsentGivenBy, "decided_on": ColConsentDate} {
		if msg, bad := errs[f]; bad {
			probs.add(col, msg)
		}
	}
	if errs != nil {
		return
	}
	expires := ConsentExpiry(c, row.Person.DateOfBirth, ck.Policy)
	if !expires.Add(ck.Policy.ConsentGrace).After(ck.Now) {
		probs.add(ColConsentDate, fmt.Sprintf("this consent ran out on %s, more than the grace period (DSR_CONSENT_GRACE) ago: "+
			"the person would be removed at once; give their current consent decision, or leave them out", expires.Format("2006-01-02")))
	}
	row.Consent = c
}

// rating reads the current rating and the date of the review that set it.
func (ck Checker) rating(probs *rowProblems, rec Record, row *Row) {
	ratingText := rec.Get(ColRating)
	reviewed := ck.date(probs, rec, ColLastReviewed)
	if ratingText == "" {
		if !reviewed.IsZero() {
			probs.add(ColRating, "is empty but the row has a last review date: give the rating that review set")
		}
		return
	}
	r, ok := rating(ratingText)
	if !ok {
		probs.add(ColRating, fmt.Sprintf("%q is not a rating: write red, amber, green or blue", ratingText))
		return
	}
	if row.Consent.Basis == "" && rec.Get(ColConsentBasis) == "" {
		probs.add(ColRating, "the register is consent based: a rated person needs consent basis and consent date, or leave the rating empty")
	}
	switch {
	case reviewed.IsZero() && rec.Get(ColLastReviewed) == "":
		probs.add(ColLastReviewed, "is required with a rating: the date of the review that set it, YYYY-MM-DD or DD/MM/YYYY")
	case reviewed.IsZero():
	case reviewed.After(ck.Policy.LocalDate(ck.Now)):
		probs.add(ColLastReviewed, "cannot be in the future")
	case !row.Person.DateOfBirth.IsZero() && reviewed.Before(row.Person.DateOfBirth):
		probs.add(ColLastReviewed, "is before the date of birth: check the year")
	}
	row.Rating, row.LastReviewed = r, reviewed
}

// date reads a date column: YYYY-MM-DD or DD/MM/YYYY; "" is no date.
func (ck Checker) date(probs *rowProblems, rec Record, c Column) time.Time {
	s := rec.Get(c)
	if s == "" {
		return time.Time{}
	}
	d, ok := ParseDate(s)
	if !ok {
		probs.add(c, fmt.Sprintf("%q is not a date: write it as YYYY-MM-DD or DD/MM/YYYY", s))
	}
	return d
}

// ParseDate reads YYYY-MM-DD or DD/MM/YYYY (the day first, as in the UK;
// one-digit days and months allowed), as midnight UTC like every date in
// the register.
func ParseDate(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02", "02/01/2006", "2/1/2006"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// splitName reads "Jo Bloggs" (the last word is the family name) or
// "Bloggs, Jo".
func splitName(s string) (given, family string, ok bool) {
	if f, g, found := strings.Cut(s, ","); found {
		given, family = strings.TrimSpace(g), strings.TrimSpace(f)
		return given, family, given != "" && family != ""
	}
	words := strings.Fields(s)
	if len(words) < 2 {
		return "", "", false
	}
	return strings.Join(words[:len(words)-1], " "), words[len(words)-1], true
}

// diagnoses reads "learning disability; autism", "LD/ASD", "both", ….
func diagnoses(probs *rowProblems, s string) []register.Diagnosis {
	var out []register.Diagnosis
	add := func(d register.Diagnosis) {
		for _, x := range out {
			if x == d {
				return
			}
		}
		out = append(out, d)
	}
	split := strings.NewReplacer(";", ",", "/", ",", "+", ",", "&", ",", " and ", ",").Replace(strings.ToLower(s))
	for _, part := range strings.Split(split, ",") {
		switch foldHeader(part) {
		case "":
		case "learningdisability", "learningdisabilities", "ld", "learningdisability(ld)":
			add(register.LearningDisability)
		case "autism", "autistic", "asd", "asc", "autismspectrumdisorder", "autismspectrumcondition":
			add(register.Autism)
		case "both":
			add(register.LearningDisability)
			add(register.Autism)
		default:
			probs.add(ColDiagnoses, fmt.Sprintf("%q is not a diagnosis the register takes: write learning disability, autism, or both", strings.TrimSpace(part)))
		}
	}
	return out
}

func rating(s string) (register.Rating, bool) {
	switch foldHeader(s) {
	case "red", "r":
		return register.Red, true
	case "amber", "a":
		return register.Amber, true
	case "green", "g":
		return register.Green, true
	case "blue", "b":
		return register.Blue, true
	}
	return "", false
}

func consentBasis(s string) (register.ConsentBasis, bool) {
	switch foldHeader(s) {
	case "self", "selfconsent", "own", "person":
		return register.ConsentSelf, true
	case "bestinterest", "bestinterests", "bestinterestdecision", "bi", "mca":
		return register.ConsentBestInterest, true
	case "parental", "parent", "parentguardian", "guardian":
		return register.ConsentParental, true
	case "gillick", "gillickcompetent":
		return register.ConsentGillick, true
	}
	return "", false
}

// RowKey names a person across re-runs of an import and edits of the file:
// their NHS number when the row has one, else their name, date of birth
// and postcode (normalised), hashed so that the key holds nothing
// readable.
func RowKey(p register.Person) string {
	var basis string
	if p.NHSNumber != "" {
		basis = "nhs:" + p.NHSNumber
	} else {
		basis = "person:" + register.NormaliseName(p.GivenName) + "|" + register.NormaliseName(p.FamilyName) + "|" +
			p.DateOfBirth.Format("2006-01-02") + "|" + strings.ToUpper(strings.Join(strings.Fields(p.Postcode), ""))
	}
	sum := sha256.Sum256([]byte(basis))
	return hex.EncodeToString(sum[:16])
}

// ConsentExpiry is when a consent runs out under the policy: at the end of
// the consent period, or at the 16th birthday for a consent given for a
// child (as the person's workflow reckons it).
func ConsentExpiry(c register.Consent, dateOfBirth time.Time, policy register.Policy) time.Time {
	exp := c.DecidedOn.Add(policy.ConsentPeriod)
	if c.Basis == register.ConsentParental || c.Basis == register.ConsentGillick {
		if sixteen := register.CalendarDate(dateOfBirth).AddDate(register.AgeOfConsent, 0, 0); sixteen.Before(exp) {
			return sixteen
		}
	}
	return exp
}
