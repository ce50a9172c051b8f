package importer

import (
	"time"

	"github.com/dsr-register/dsr/internal/register"
)

// duplicateIndex finds rows of one file that are, or may be, the same
// person, with the register's own matching (register.LikelySamePerson):
// the same NHS number; or, where either row has none, names alike (typos,
// short forms, first and last swapped) with the same date of birth (or day
// and month swapped). It keeps a few short strings per row — not the rows —
// so memory stays small as the file grows.
type duplicateIndex struct {
	byNHS map[string]int
	byDOB map[time.Time][]indexed
	// reported marks lines already reported, so each is listed once.
	reported map[int]bool
}

type indexed struct {
	line                 int
	given, family, postc string
	hasNHS               bool
	dob                  time.Time
}

func newDuplicateIndex() *duplicateIndex {
	return &duplicateIndex{byNHS: map[string]int{}, byDOB: map[time.Time][]indexed{}, reported: map[int]bool{}}
}

// add indexes a row and returns the duplicates it makes: this row, and the
// earlier row it matches (the first time that one is matched).
func (x *duplicateIndex) add(row Row) []Duplicate {
	p := row.Person
	if p.NHSNumber != "" {
		if other, ok := x.byNHS[p.NHSNumber]; ok {
			return x.pair(row.Line, other, "nhs_number")
		}
		x.byNHS[p.NHSNumber] = row.Line
	}
	me := indexed{line: row.Line, given: p.GivenName, family: p.FamilyName, postc: p.Postcode, hasNHS: p.NHSNumber != "", dob: p.DateOfBirth}
	for _, dob := range []time.Time{p.DateOfBirth, swapDayMonth(p.DateOfBirth)} {
		for _, o := range x.byDOB[dob] {
			if o.hasNHS && me.hasNHS {
				continue // two NHS numbers tell them apart
			}
			recorded := register.Person{GivenName: o.given, FamilyName: o.family, DateOfBirth: o.dob, Postcode: o.postc}
			if register.LikelySamePerson(recorded, p) {
				return x.pair(row.Line, o.line, "name and date of birth")
			}
		}
	}
	x.byDOB[p.DateOfBirth] = append(x.byDOB[p.DateOfBirth], me)
	return nil
}

func (x *duplicateIndex) pair(line, other int, by string) []Duplicate {
	out := []Duplicate{{Line: line, OtherLine: other, By: by}}
	x.reported[line] = true
	if !x.reported[other] {
		x.reported[other] = true
		out = append(out, Duplicate{Line: other, OtherLine: line, By: by})
	}
	return out
}

func swapDayMonth(d time.Time) time.Time {
	if d.Day() > 12 {
		return d
	}
	return time.Date(d.Year(), time.Month(d.Day()), int(d.Month()), 0, 0, 0, 0, time.UTC)
}
