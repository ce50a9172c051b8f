package register

import (
	"strings"
	"testing"
	"time"
)

func date(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNormaliseNHSNumber(t *testing.T) {
	cases := []struct {
		in, want, errHas string
	}{
		{in: "943 476 5919", want: "9434765919"},
		{in: "943-476-5919", want: "9434765919"},
		{in: "4010232137", want: "4010232137"},
		{in: "9434765918", errHas: "check digit"},
		{in: "943476591", errHas: "10 digits"},
		{in: "94347659AB", errHas: "digits only"},
		{in: "", errHas: "required"},
		// Remainder 1 gives check digit 10, which no valid number has.
		{in: "0000000060", errHas: "check digit"},
	}
	for _, c := range cases {
		got, err := NormaliseNHSNumber(c.in)
		if c.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("%q: got %q, %v; want error containing %q", c.in, got, err, c.errHas)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: got %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestAgeOn(t *testing.T) {
	dob := date("2010-06-15")
	for on, want := range map[string]int{"2026-06-14": 15, "2026-06-15": 16, "2010-06-15": 0, "2027-01-01": 16} {
		if got := AgeOn(dob, date(on)); got != want {
			t.Errorf("AgeOn(%s) = %d, want %d", on, got, want)
		}
	}
}

func TestValidateConsentByAge(t *testing.T) {
	today := date("2026-11-24")
	child := date("2012-01-01") // 14
	adult := date("1990-01-01")
	cases := []struct {
		name    string
		c       Consent
		dob     time.Time
		wantErr string // field that must be named, "" for valid
	}{
		{"adult self", Consent{Basis: ConsentSelf, DecidedOn: today}, adult, ""},
		{"adult best interest needs maker", Consent{Basis: ConsentBestInterest, DecidedOn: today}, adult, "given_by"},
		{"adult best interest", Consent{Basis: ConsentBestInterest, GivenBy: "Dr A Patel", DecidedOn: today}, adult, ""},
		{"adult cannot be parental", Consent{Basis: ConsentParental, GivenBy: "Mum", DecidedOn: today}, adult, "basis"},
		{"child parental", Consent{Basis: ConsentParental, GivenBy: "Mum", DecidedOn: today}, child, ""},
		{"child gillick", Consent{Basis: ConsentGillick, DecidedOn: today}, child, ""},
		{"child cannot self", Consent{Basis: ConsentSelf, DecidedOn: today}, child, "basis"},
		{"child cannot best interest", Consent{Basis: ConsentBestInterest, GivenBy: "x", DecidedOn: today}, child, "basis"},
		{"age is on the decision date", Consent{Basis: ConsentParental, GivenBy: "Dad", DecidedOn: date("2027-12-31")}, child, "decided_on"},
		{"future date", Consent{Basis: ConsentSelf, DecidedOn: today.AddDate(0, 0, 1)}, adult, "decided_on"},
		{"missing date", Consent{Basis: ConsentSelf}, adult, "decided_on"},
		{"unknown basis", Consent{Basis: "verbal", DecidedOn: today}, adult, "basis"},
	}
	for _, c := range cases {
		errs := ValidateConsent(c.c, c.dob, today)
		if c.wantErr == "" && errs != nil {
			t.Errorf("%s: unexpected %v", c.name, errs)
		}
		if c.wantErr != "" {
			if _, ok := errs[c.wantErr]; !ok {
				t.Errorf("%s: want an error on %s, got %v", c.name, c.wantErr, errs)
			}
		}
	}
	// A 15-year-old decided on the day before 16th birthday: parental is right.
	dob := date("2010-11-25")
	if errs := ValidateConsent(Consent{Basis: ConsentParental, GivenBy: "Mum", DecidedOn: today}, dob, today); errs != nil {
		t.Errorf("day before 16th birthday: %v", errs)
	}
}

func TestValidateReferral(t *testing.T) {
	today := date("2026-11-24")
	good := Referral{
		Person: Person{GivenName: "Ada", FamilyName: "Lovelace", DateOfBirth: date("2001-02-03"),
			NHSNumber: "943 476 5919", Diagnoses: []Diagnosis{Autism}, Postcode: "st16 1aa"},
		Referrer: Referrer{Kind: ReferrerProfessional, Name: "Sam", Organisation: "CLDT", Email: "sam@example.nhs.uk"},
		Channel:  ChannelEmail, Reason: "escalating crisis at home",
	}
	r, errs := ValidateReferral(good, today)
	if errs != nil {
		t.Fatalf("valid referral rejected: %v", errs)
	}
	if r.Person.NHSNumber != "9434765919" || r.Person.Postcode != "ST16 1AA" {
		t.Errorf("not normalised: %+v", r.Person)
	}
	bad := good
	bad.Person.NHSNumber = "9434765918"
	bad.Person.Diagnoses = []Diagnosis{"adhd"}
	bad.Channel = "fax"
	bad.Referrer = Referrer{Kind: ReferrerFamily}
	_, errs = ValidateReferral(bad, today)
	for _, f := range []string{"person.nhs_number", "person.diagnoses", "channel", "referrer.name"} {
		if _, ok := errs[f]; !ok {
			t.Errorf("want error on %s, got %v", f, errs)
		}
	}
	if !strings.Contains(errs.Error(), "person.nhs_number: check digit") {
		t.Errorf("error text: %s", errs.Error())
	}
}

func TestPolicy(t *testing.T) {
	p := DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.ReviewEvery(Red) != 7*24*time.Hour || p.ReviewEvery(Green) != 91*24*time.Hour {
		t.Errorf("cadence: %v %v", p.ReviewEvery(Red), p.ReviewEvery(Green))
	}
	p.RenewalNotice = p.ConsentPeriod
	if err := p.Validate(); err == nil {
		t.Error("renewal notice as long as the period should be refused")
	}
}

func TestParseRemovalReason(t *testing.T) {
	if _, err := ParseRemovalReason("deceased"); err != nil {
		t.Error(err)
	}
	if _, err := ParseRemovalReason("consent_lapsed"); err == nil {
		t.Error("consent_lapsed is the register's own reason")
	}
	if (Person{GivenName: "ada", FamilyName: "lovelace"}).Initials() != "AL" {
		t.Error("initials")
	}
}

func TestReferenceAndOverdue(t *testing.T) {
	if Reference(1042) != "DSR-1042" {
		t.Error(Reference(1042))
	}
	for in, want := range map[string]int64{"1042": 1042, "DSR-1042": 1042, " dsr-7 ": 7} {
		if got, err := ParseReference(in); err != nil || got != want {
			t.Errorf("ParseReference(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "DSR-", "abc", "-3", "0"} {
		if _, err := ParseReference(bad); err == nil {
			t.Errorf("ParseReference(%q) accepted", bad)
		}
	}
	due := date("2026-11-24")
	if !(Snapshot{Stage: Active, NextReviewDue: due}).ReviewOverdue(due.Add(time.Second)) {
		t.Error("active, past due: overdue")
	}
	if (Snapshot{Stage: ConsentLapsed, NextReviewDue: due}).ReviewOverdue(due.Add(time.Hour)) {
		t.Error("lapsed people are not reviewed, so never overdue")
	}
	if !CalendarDate(time.Date(2026, 11, 24, 23, 59, 0, 0, time.UTC)).Equal(due) {
		t.Error("DateOf")
	}
}

func TestColourWindowsByAge(t *testing.T) {
	p := DefaultPolicy()
	const day = 24 * time.Hour
	cases := []struct {
		age    int
		secure bool
		post   time.Duration
		every  time.Duration
		kw     bool
	}{
		{age: 9, post: 14 * day, every: 91 * day, kw: true},
		{age: 17, secure: true, post: 14 * day, every: 91 * day, kw: true}, // secure's 12 months is for adults
		{age: 18, post: 28 * day, every: 182 * day, kw: true},
		{age: 25, secure: true, post: 28 * day, every: 365 * day, kw: true},
		{age: 26, post: 28 * day, every: 182 * day, kw: false},
	}
	for _, c := range cases {
		if got := p.PostAdmissionCTRWithin(c.age); got != c.post {
			t.Errorf("age %d: post-admission C(E)TR within %v, want %v", c.age, got, c.post)
		}
		if got := p.InpatientCTREvery(c.age, c.secure); got != c.every {
			t.Errorf("age %d secure %v: inpatient C(E)TR every %v, want %v", c.age, c.secure, got, c.every)
		}
		if got := p.KeyworkerEligible(c.age); got != c.kw {
			t.Errorf("age %d: keyworker eligible %v, want %v", c.age, got, c.kw)
		}
	}
}

func TestPolicyValidateEscalation(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	p := DefaultPolicy()
	p.EscalationAckWithin = 0
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "acknowledgement") {
		t.Errorf("zero acknowledgement window: %v", err)
	}
	p = DefaultPolicy()
	p.DischargeHold = 0 // off is allowed
	if err := p.Validate(); err != nil {
		t.Errorf("discharge hold 0 must be allowed: %v", err)
	}
	p.WorkingHours.Start = "18:00"
	p.WorkingHours.End = "09:00"
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "working hours") {
		t.Errorf("end before start: %v", err)
	}
}

func TestLocalDateIsTheTeamsDate(t *testing.T) {
	p := DefaultPolicy() // Europe/London
	// 00:30 BST on 1 July is 23:30 UTC on 30 June: the team's date is 1 July.
	if got := p.LocalDate(time.Date(2026, 6, 30, 23, 30, 0, 0, time.UTC)); !got.Equal(date("2026-07-01")) {
		t.Errorf("00:30 BST: got %v, want 2026-07-01", got)
	}
	// In winter London is on UTC.
	if got := p.LocalDate(time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC)); !got.Equal(date("2026-12-31")) {
		t.Errorf("23:30 GMT: got %v, want 2026-12-31", got)
	}
}
