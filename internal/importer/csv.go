// Package importer brings a team's existing register — usually a spreadsheet
// saved as CSV — onto dsr: every row read as it streams past, checked with
// the register's own rules, and each person started in their current state
// (workflows.UpdateImport). `dsr import` calls Run; the web app's upload page
// can call it the same way.
package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// Column is one thing a row says about a person.
type Column string

const (
	ColName           Column = "name"
	ColGivenName      Column = "given name"
	ColFamilyName     Column = "family name"
	ColDateOfBirth    Column = "date of birth"
	ColNHSNumber      Column = "NHS number"
	ColPostcode       Column = "postcode"
	ColLocalAuthority Column = "local authority"
	ColDiagnoses      Column = "diagnoses"
	ColRating         Column = "current rating"
	ColLastReviewed   Column = "last reviewed"
	ColConsentBasis   Column = "consent basis"
	ColConsentGivenBy Column = "consent given by"
	ColConsentDate    Column = "consent date"
	ColCoordinator    Column = "assigned coordinator"
	ColNotes          Column = "notes"
)

// Aliases are the header names each column is known by. Headers are
// matched ignoring case, spaces, underscores, hyphens and full stops, so
// "Date of Birth", "date_of_birth" and "D.O.B." all match. README lists
// these.
var Aliases = map[Column][]string{
	ColName:           {"name", "full name", "person", "client name", "patient name"},
	ColGivenName:      {"given name", "first name", "forename", "forenames", "first names"},
	ColFamilyName:     {"family name", "surname", "last name"},
	ColDateOfBirth:    {"date of birth", "dob", "birth date", "birthdate"},
	ColNHSNumber:      {"nhs number", "nhs no", "nhs num", "nhs"},
	ColPostcode:       {"postcode", "post code", "postal code"},
	ColLocalAuthority: {"local authority", "la", "council"},
	ColDiagnoses:      {"diagnoses", "diagnosis", "condition", "conditions"},
	ColRating:         {"current rating", "rating", "rag", "rag rating", "rag status", "colour", "color", "risk rating"},
	ColLastReviewed:   {"last reviewed", "last review", "last review date", "date last reviewed", "reviewed on"},
	ColConsentBasis:   {"consent basis", "consent", "consent type"},
	ColConsentGivenBy: {"consent given by", "given by", "consented by"},
	ColConsentDate:    {"consent date", "date of consent", "consent given on", "consented on", "consent decided on"},
	ColCoordinator:    {"assigned coordinator", "coordinator", "assigned to", "case coordinator"},
	ColNotes:          {"notes", "note", "comments"},
}

// foldHeader is a header as matched: letters and digits only, lower case.
func foldHeader(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

var columnByHeader = func() map[string]Column {
	m := map[string]Column{}
	for c, names := range Aliases {
		for _, n := range names {
			m[foldHeader(n)] = c
		}
	}
	return m
}()

// Header is the file's first line, understood.
type Header struct {
	// index of each known column; its header as written in the file.
	index   map[Column]int
	written map[Column]string
	// Ignored lists headers that name no known column.
	Ignored []string
}

// Has reports whether the file has the column.
func (h Header) Has(c Column) bool { _, ok := h.index[c]; return ok }

// Written is the column's header as the file spells it (for messages).
func (h Header) Written(c Column) string {
	if w, ok := h.written[c]; ok {
		return w
	}
	return string(c)
}

// FileError is a problem with the file as a whole (its header, its
// encoding): nothing can be imported until it is fixed.
type FileError struct {
	Line    int
	Message string
}

func (e *FileError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

func parseHeader(record []string) (Header, error) {
	h := Header{index: map[Column]int{}, written: map[Column]string{}}
	for i, name := range record {
		c, ok := columnByHeader[foldHeader(name)]
		if !ok {
			if strings.TrimSpace(name) != "" {
				h.Ignored = append(h.Ignored, strings.TrimSpace(name))
			}
			continue
		}
		if _, dup := h.index[c]; dup {
			return h, &FileError{Line: 1, Message: fmt.Sprintf("columns %q and %q both give the %s: keep one", h.written[c], name, c)}
		}
		h.index[c], h.written[c] = i, strings.TrimSpace(name)
	}
	var missing []string
	if !h.Has(ColName) && !(h.Has(ColGivenName) && h.Has(ColFamilyName)) {
		missing = append(missing, `"name" (or "given name" and "family name")`)
	}
	for _, c := range []Column{ColDateOfBirth, ColPostcode, ColLocalAuthority, ColDiagnoses} {
		if !h.Has(c) {
			missing = append(missing, fmt.Sprintf("%q", string(c)))
		}
	}
	if len(missing) > 0 {
		return h, &FileError{Line: 1, Message: "the header has no column for " + strings.Join(missing, ", ") +
			": add it (README lists the columns and the other names each is known by)"}
	}
	return h, nil
}

// Record is one row as text, by column, with its line number in the file.
type Record struct {
	Line   int
	fields map[Column]string
}

// Get is the row's value for the column, trimmed; "" when absent.
func (r Record) Get(c Column) string { return r.fields[c] }

// Reader reads a register CSV as it streams: UTF-8 with or without a byte
// order mark, or Windows-1252 (what Excel writes as "CSV" on Windows),
// detected from the first 64 KiB.
type Reader struct {
	csv    *csv.Reader
	Header Header
	// Encoding is "UTF-8" or "Windows-1252", as detected.
	Encoding string
}

// sniffSize is how much of the file decides its encoding.
const sniffSize = 64 << 10

// NewReader reads the header and is ready for the rows.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, sniffSize)
	head, err := br.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("reading the file: %w", err)
	}
	rd := &Reader{Encoding: "UTF-8"}
	var src io.Reader = br
	switch {
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		_, _ = br.Discard(3)
	case !validUTF8Prefix(head):
		rd.Encoding = "Windows-1252"
		src = charmap.Windows1252.NewDecoder().Reader(br)
	}
	rd.csv = csv.NewReader(src)
	rd.csv.FieldsPerRecord = -1 // a short row is reported by its fields, not refused whole
	rd.csv.ReuseRecord = true
	header, err := rd.csv.Read()
	if errors.Is(err, io.EOF) {
		return nil, &FileError{Line: 1, Message: "the file is empty: it needs a header line and a row per person"}
	}
	if err != nil {
		return nil, csvError(err)
	}
	if rd.Header, err = parseHeader(header); err != nil {
		return nil, err
	}
	return rd, nil
}

// validUTF8Prefix reports whether b is UTF-8, allowing a rune cut short at
// the end of the sniffed prefix.
func validUTF8Prefix(b []byte) bool {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if utf8.Valid(b) {
			return true
		}
		if len(b) < sniffSize {
			return false // the whole file: nothing was cut
		}
		b = b[:len(b)-1]
	}
	return utf8.Valid(b)
}

// Next reads the next row; io.EOF after the last. Blank lines are skipped.
func (r *Reader) Next() (Record, error) {
	for {
		fields, err := r.csv.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return Record{}, io.EOF
			}
			return Record{}, csvError(err)
		}
		line, _ := r.csv.FieldPos(0)
		rec := Record{Line: line, fields: make(map[Column]string, len(r.Header.index))}
		blank := true
		for c, i := range r.Header.index {
			if i < len(fields) {
				v := strings.TrimSpace(fields[i])
				rec.fields[c] = v
				blank = blank && v == ""
			}
		}
		if blank {
			continue
		}
		return rec, nil
	}
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &FileError{Line: pe.Line, Message: fmt.Sprintf("the CSV cannot be read here (%v): check the quotes on this line", pe.Err)}
	}
	return fmt.Errorf("reading the file: %w", err)
}
