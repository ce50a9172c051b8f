package importer

import (
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/dsr-register/dsr/internal/register"
)

var testNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

const header = "Name,Date of Birth,NHS Number,Postcode,Local Authority,Diagnoses,Current Rating,Last Reviewed,Consent Basis,Consent Given By,Consent Date,Assigned Coordinator,Notes\n"

// readAll checks every row of a CSV text.
func readAll(t *testing.T, text string) ([]Row, []RowError, *Reader) {
	t.Helper()
	rd, err := NewReader(strings.NewReader(text))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	ck := Checker{Header: rd.Header, Policy: register.DefaultPolicy(), Now: testNow}
	var rows []Row
	var errs []RowError
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return rows, errs, rd
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		row, e := ck.Check(rec)
		if e != nil {
			errs = append(errs, e...)
			continue
		}
		rows = append(rows, row)
	}
}

func TestHeadersMatchLoosely(t *testing.T) {
	text := "  FIRST_NAME , surname,D.O.B.,nhs-no,Post Code,LA,diagnosis,RAG,last review date,CONSENT,given by,date of consent,coordinator,comments,Keyworker\n" +
		"Jo,Bloggs,2001-02-03,943 476 5919,st4 1aa,Stoke-on-Trent,autism,Amber,2026-02-01,self,,2025-06-01,alice,needs a crisis plan,Sam\n"
	rows, errs, rd := readAll(t, text)
	if len(errs) != 0 || len(rows) != 1 {
		t.Fatalf("want one clean row, got %v %v", rows, errs)
	}
	r := rows[0]
	if r.Person.GivenName != "Jo" || r.Person.FamilyName != "Bloggs" || r.Person.NHSNumber != "9434765919" ||
		r.Person.Postcode != "ST4 1AA" || r.Rating != register.Amber || r.Consent.Basis != register.ConsentSelf ||
		r.AssignedTo != "alice" || r.Notes != "needs a crisis plan" || r.Line != 2 {
		t.Errorf("row read wrongly: %+v", r)
	}
	if len(rd.Header.Ignored) != 1 || rd.Header.Ignored[0] != "Keyworker" {
		t.Errorf("unknown columns are listed as ignored: %v", rd.Header.Ignored)
	}
}

func TestMissingColumnsNamed(t *testing.T) {
	_, err := NewReader(strings.NewReader("Name,Postcode\nJo Bloggs,ST4 1AA\n"))
	fe, ok := err.(*FileError)
	if !ok || fe.Line != 1 || !strings.Contains(fe.Message, `"date of birth"`) || !strings.Contains(fe.Message, `"diagnoses"`) {
		t.Fatalf("want a line-1 error naming the missing columns, got %v", err)
	}
}

func TestBOMAndWindows1252(t *testing.T) {
	row := "Zoë O'Brien,03/02/2001,,ST4 1AA,Stoke-on-Trent,learning disability; autism,,,,,,,café notes\n"
	for name, data := range map[string]string{
		"utf8":     header + row,
		"utf8-bom": "\xef\xbb\xbf" + header + row,
		"cp1252":   mustEncode(t, header+row),
	} {
		t.Run(name, func(t *testing.T) {
			rows, errs, rd := readAll(t, data)
			if len(errs) != 0 || len(rows) != 1 {
				t.Fatalf("want one clean row, got %v %v", rows, errs)
			}
			if rows[0].Person.GivenName != "Zoë" || rows[0].Notes != "café notes" {
				t.Errorf("text decoded wrongly: %q %q", rows[0].Person.GivenName, rows[0].Notes)
			}
			want := "UTF-8"
			if name == "cp1252" {
				want = "Windows-1252"
			}
			if got := rd.Header.Written(ColName); got != "Name" {
				t.Errorf("the first header reads %q: a byte order mark must not stay on it", got)
			}
			if rd.Encoding != want {
				t.Errorf("encoding %s, want %s", rd.Encoding, want)
			}
			if got := rows[0].Person.DateOfBirth; !got.Equal(time.Date(2001, 2, 3, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("DD/MM/YYYY read as %v, want 3 February 2001", got)
			}
			if len(rows[0].Person.Diagnoses) != 2 {
				t.Errorf("both diagnoses: %v", rows[0].Person.Diagnoses)
			}
		})
	}
}

func mustEncode(t *testing.T, s string) string {
	b, err := charmap.Windows1252.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBothDateForms(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2001-02-03": time.Date(2001, 2, 3, 0, 0, 0, 0, time.UTC),
		"03/02/2001": time.Date(2001, 2, 3, 0, 0, 0, 0, time.UTC),
		"3/2/2001":   time.Date(2001, 2, 3, 0, 0, 0, 0, time.UTC),
	} {
		if got, ok := ParseDate(in); !ok || !got.Equal(want) {
			t.Errorf("ParseDate(%q) = %v %v, want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"31/02/2001", "2001/02/03", "Feb 3 2001", "03-02-2001"} {
		if _, ok := ParseDate(bad); ok {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
}

// Every kind of row error, each with its line and column.
func TestEveryErrorKindHasLineAndColumn(t *testing.T) {
	cases := []struct {
		row, column, says string
	}{
		{"Jo,2001-02-03,,ST4 1AA,Stoke,autism,,,,,,,", "Name", "given and family"},
		{"Jo Bloggs,31/02/2001,,ST4 1AA,Stoke,autism,,,,,,,", "Date of Birth", "is not a date"},
		{"Jo Bloggs,2031-02-03,,ST4 1AA,Stoke,autism,,,,,,,", "Date of Birth", "future"},
		{"Jo Bloggs,2001-02-03,943 476 5918,ST4 1AA,Stoke,autism,,,,,,,", "NHS Number", "check digit"},
		{"Jo Bloggs,2001-02-03,,,Stoke,autism,,,,,,,", "Postcode", "required"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,,autism,,,,,,,", "Local Authority", "required"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,Stoke,,,,,,,,", "Diagnoses", "required"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,Stoke,dyslexia,,,,,,,", "Diagnoses", "not a diagnosis"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,Stoke,autism,purple,2026-01-01,self,,2025-06-01,,", "Current Rating", "not a rating"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,Stoke,autism,amber,2026-01-01,,,,,", "Current Rating", "consent based"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,Stoke,autism,amber,,self,,2025-06-01,,", "Last Reviewed", "required with a rating"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,Stoke,autism,amber,2026-04-01,self,,2025-06-01,,", "Last Reviewed", "future"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,Stoke,autism,,2026-01-01,,,,,", "Current Rating", "give the rating"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,Stoke,autism,,,maybe,,2025-06-01,,", "Consent Basis", "not a consent basis"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,Stoke,autism,,,self,,,,", "Consent Date", "required with a consent basis"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,Stoke,autism,,,,,2025-06-01,,", "Consent Basis", "required with a consent date"},
		{"Jo Bloggs,2012-02-03,,ST4 1AA,Stoke,autism,,,self,,2025-06-01,,", "Consent Basis", "under 16"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,Stoke,autism,,,parental,Pat Bloggs,2025-06-01,,", "Consent Basis", "parental consent applies under 16"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,Stoke,autism,,,best interest,,2025-06-01,,", "Consent Given By", "best-interest"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,Stoke,autism,,,self,,2026-05-01,,", "Consent Date", "future"},
		{"Jo Bloggs,2001-02-03,,ST4 1AA,Stoke,autism,,,self,,2024-06-01,,", "Consent Date", "grace period"},
	}
	var text strings.Builder
	text.WriteString(header)
	for _, c := range cases {
		text.WriteString(c.row + "\n")
	}
	rows, errs, _ := readAll(t, text.String())
	if len(rows) != 0 {
		t.Errorf("every row here is bad, but %d passed: %+v", len(rows), rows)
	}
	byLine := map[int][]RowError{}
	for _, e := range errs {
		byLine[e.Line] = append(byLine[e.Line], e)
	}
	for i, c := range cases {
		line := i + 2
		found := slices.ContainsFunc(byLine[line], func(e RowError) bool {
			return e.Column == c.column && strings.Contains(e.Message, c.says)
		})
		if !found {
			t.Errorf("line %d (%s): want an error on %q saying %q; got %v", line, c.row, c.column, c.says, byLine[line])
		}
	}
}

func TestRowKeyIsStable(t *testing.T) {
	dob := time.Date(2001, 2, 3, 0, 0, 0, 0, time.UTC)
	a := register.Person{GivenName: "Jo", FamilyName: "O'Brien", DateOfBirth: dob, Postcode: "ST4 1AA"}
	b := register.Person{GivenName: "jo", FamilyName: "obrien", DateOfBirth: dob, Postcode: "st41aa", LocalAuthority: "changed"}
	if RowKey(a) != RowKey(b) {
		t.Error("the same person written differently must keep their key")
	}
	c := a
	c.NHSNumber = "9434765919"
	d := b
	d.NHSNumber, d.GivenName = "9434765919", "Joanne"
	if RowKey(c) != RowKey(d) || RowKey(c) == RowKey(a) {
		t.Error("with an NHS number the key is the number's alone")
	}
	if strings.Contains(RowKey(c), "9434765919") {
		t.Error("the key must hold nothing readable")
	}
}

func TestDuplicatesWithinTheFile(t *testing.T) {
	text := header +
		"Jo Bloggs,2001-02-03,943 476 5919,ST4 1AA,Stoke,autism,,,,,,,\n" +
		"Sam Smith,1999-05-06,,ST5 2BB,Stoke,autism,,,,,,,\n" +
		"Joanne Bloggs,2001-02-03,9434765919,ST4 1AA,Stoke,autism,,,,,,,\n" +
		"Samuel Smith,1999-06-05,,ST9 9ZZ,Stoke,autism,,,,,,,\n" +
		"Alex Jones,1999-05-06,,ST5 2BB,Stoke,autism,,,,,,,\n"
	rows, errs, _ := readAll(t, text)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	x := newDuplicateIndex()
	var dups []Duplicate
	for _, r := range rows {
		dups = append(dups, x.add(r)...)
	}
	want := map[int]int{4: 2, 2: 4, 5: 3, 3: 5}
	if len(dups) != len(want) {
		t.Fatalf("want lines 2↔4 (NHS number) and 3↔5 (Sam/Samuel, day and month swapped), got %+v", dups)
	}
	for _, d := range dups {
		if want[d.Line] != d.OtherLine {
			t.Errorf("unexpected duplicate %+v", d)
		}
	}
}

// The README's example file reads cleanly.
func TestExampleFileReads(t *testing.T) {
	b, err := os.ReadFile("../../docs/import-example.csv")
	if err != nil {
		t.Fatal(err)
	}
	rd, err := NewReader(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	ck := Checker{Header: rd.Header, Policy: register.DefaultPolicy(), Now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	n := 0
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, errs := ck.Check(rec); errs != nil {
			t.Errorf("the example's line %d: %v", rec.Line, errs)
		}
		n++
	}
	if n != 4 || len(rd.Header.Ignored) != 0 {
		t.Errorf("want 4 rows and every column read, got %d rows, ignored %v", n, rd.Header.Ignored)
	}
}
