package register

import (
	"slices"
	"testing"
	"time"
)

func TestIdentityDifferencesAreComparedNormalised(t *testing.T) {
	rec := Person{GivenName: "Zoë", FamilyName: "O'Brien-Smith", DateOfBirth: time.Date(2001, 2, 3, 0, 0, 0, 0, time.UTC)}
	for _, c := range []struct {
		name     string
		referred Person
		want     []string
	}{
		{"case, spaces, hyphen, apostrophe, accent", Person{GivenName: " ZOE", FamilyName: "obrien smith", DateOfBirth: rec.DateOfBirth}, nil},
		{"another family name", Person{GivenName: "Zoe", FamilyName: "Jones", DateOfBirth: rec.DateOfBirth}, []string{"family_name"}},
		{"another date of birth", Person{GivenName: "Zoe", FamilyName: "OBrien-Smith", DateOfBirth: rec.DateOfBirth.AddDate(0, 0, 1)}, []string{"date_of_birth"}},
	} {
		if got := IdentityDifferences(rec, c.referred); !slices.Equal(got, c.want) {
			t.Errorf("%s: differences %v, want %v", c.name, got, c.want)
		}
	}
	// A known short form is a difference to check, not a match.
	bob := Person{GivenName: "Robert", FamilyName: "Smith", DateOfBirth: rec.DateOfBirth}
	if got := IdentityDifferences(bob, Person{GivenName: "Bob", FamilyName: "Smith", DateOfBirth: rec.DateOfBirth}); !slices.Equal(got, []string{"given_name"}) {
		t.Errorf("Bob for Robert: %v, want given_name", got)
	}
}

func TestLikelySamePerson(t *testing.T) {
	dob := time.Date(2001, 2, 3, 0, 0, 0, 0, time.UTC)
	rec := Person{GivenName: "Elizabeth", FamilyName: "Harrington", DateOfBirth: dob, Postcode: "ST4 1AA"}
	for _, c := range []struct {
		name     string
		referred Person
		want     bool
	}{
		{"same", Person{GivenName: "Elizabeth", FamilyName: "Harrington", DateOfBirth: dob}, true},
		{"typo in each name", Person{GivenName: "Elizabth", FamilyName: "Harington", DateOfBirth: dob}, true},
		{"nickname", Person{GivenName: "Liz", FamilyName: "Harrington", DateOfBirth: dob}, true},
		{"first and last swapped", Person{GivenName: "Harrington", FamilyName: "Elizabeth", DateOfBirth: dob}, true},
		{"day and month swapped", Person{GivenName: "Elizabeth", FamilyName: "Harrington", DateOfBirth: time.Date(2001, 3, 2, 0, 0, 0, 0, time.UTC)}, true},
		{"other date, same postcode area", Person{GivenName: "Beth", FamilyName: "Harrington", DateOfBirth: dob.AddDate(-1, 0, 0), Postcode: "st41zz"}, true},
		{"other date, other area", Person{GivenName: "Elizabeth", FamilyName: "Harrington", DateOfBirth: dob.AddDate(-1, 0, 0), Postcode: "M1 1AA"}, false},
		{"another person", Person{GivenName: "Margaret", FamilyName: "Harrington", DateOfBirth: dob}, false},
		{"another family", Person{GivenName: "Elizabeth", FamilyName: "Barton", DateOfBirth: dob}, false},
	} {
		if got := LikelySamePerson(rec, c.referred); got != c.want {
			t.Errorf("%s: LikelySamePerson = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestLevenshteinAndOutwardCode(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"kitten", "sitting", 3}, {"zoe", "zoë", 1}, {"abc", "abc", 0}} {
		if got := Levenshtein(c.a, c.b); got != c.d {
			t.Errorf("Levenshtein(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
	for in, want := range map[string]string{"ST4 1AA": "ST4", "sw1a 1aa": "SW1A", "M11AA": "M1", "": ""} {
		if got := OutwardCode(in); got != want {
			t.Errorf("OutwardCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReferralWithoutNHSNumberIsAccepted(t *testing.T) {
	r := Referral{
		Person:   Person{GivenName: "Jo", FamilyName: "Bloggs", DateOfBirth: time.Date(2001, 2, 3, 0, 0, 0, 0, time.UTC), Diagnoses: []Diagnosis{Autism}},
		Referrer: Referrer{Kind: ReferrerFamily, Name: "Pat"}, Channel: ChannelPhone, Reason: "crisis",
	}
	if _, errs := ValidateReferral(r, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); errs != nil {
		t.Fatalf("a referral without an NHS number was refused: %v", errs)
	}
	r.Person.NHSNumber = "123"
	if _, errs := ValidateReferral(r, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); errs == nil || errs["person.nhs_number"] == "" {
		t.Fatalf("a bad NHS number was accepted: %v", errs)
	}
}
