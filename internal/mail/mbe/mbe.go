// Package mbe reads an MbE request ("Meeting by Exception"): whether an
// email's subject asks for one, and the four things the team asks for,
// found in whatever shape the requester wrote them. It is pure (text in,
// fields out) and fuzzed.
package mbe

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// MbE field names, as the API, the database and the reply to a requester
// name them.
const (
	FieldName      = "name"
	FieldPurpose   = "purpose"
	FieldInvitees  = "invitees"
	FieldWhyNotMDT = "why_not_mdt"
)

// Fields are the four things the team asks for in an MbE request
// ("Meeting by Exception"), as the requester wrote them. An empty field was
// not found: the parser never fills one in from anything but what is there.
type Fields struct {
	// Name is the person's full name.
	Name string `json:"name,omitempty"`
	// Purpose is the purpose of the meeting.
	Purpose string `json:"purpose,omitempty"`
	// Invitees is who to invite, the person and/or their parent or carer
	// included.
	Invitees string `json:"invitees,omitempty"`
	// WhyNotMDT is why an MDT (without the DSR team) is not being taken
	// forward.
	WhyNotMDT string `json:"why_not_mdt,omitempty"`
}

// FieldDescriptions say what each field is, in the words of the team's
// request to requesters; the reply naming what is missing uses them.
var FieldDescriptions = map[string]string{
	FieldName:      "the full name of the person the meeting is about",
	FieldPurpose:   "the purpose of the meeting",
	FieldInvitees:  "who to invite, including the person and/or their parent or carer",
	FieldWhyNotMDT: "why an MDT (without the DSR team) is not being taken forward",
}

// FieldOrder is the order the team asks for them in.
var FieldOrder = []string{FieldName, FieldPurpose, FieldInvitees, FieldWhyNotMDT}

// Get returns a field by name.
func (f Fields) Get(field string) string {
	switch field {
	case FieldName:
		return f.Name
	case FieldPurpose:
		return f.Purpose
	case FieldInvitees:
		return f.Invitees
	case FieldWhyNotMDT:
		return f.WhyNotMDT
	}
	return ""
}

func (f *Fields) set(field, v string) {
	switch field {
	case FieldName:
		f.Name = v
	case FieldPurpose:
		f.Purpose = v
	case FieldInvitees:
		f.Invitees = v
	case FieldWhyNotMDT:
		f.WhyNotMDT = v
	}
}

// Missing names the fields not found, in the team's order.
func (f Fields) Missing() []string {
	var out []string
	for _, k := range FieldOrder {
		if f.Get(k) == "" {
			out = append(out, k)
		}
	}
	return out
}

// Complete reports whether all four are there.
func (f Fields) Complete() bool { return len(f.Missing()) == 0 }

// Merge fills f's empty fields from later (a reply completing a request);
// what the requester already gave stands.
func (f Fields) Merge(later Fields) Fields {
	for _, k := range FieldOrder {
		if f.Get(k) == "" {
			f.set(k, later.Get(k))
		}
	}
	return f
}

var mbeSubject = regexp.MustCompile(`(?i)\bmbe[\s_:-]*requests?\b`)

// IsRequest reports whether a subject asks for an MbE: "MbE request" in
// any case, anywhere, so "Re:", "Fwd:", "FW:" and extra words are fine.
func IsRequest(subject string) bool {
	return mbeSubject.MatchString(strings.Join(strings.Fields(subject), " "))
}

// Parse finds the four fields in a request's text (mail.ParseMessage
// gives the text of a whole email). It reads labelled lines ("Name: …",
// "Purpose of meeting - …", a label on its own line with the answer
// below), a numbered list in the order the team asks, and tables pasted as
// text (tab or pipe separated, by row or with the labels as a header row).
// The signature and any quoted thread below it are ignored. A field it
// cannot find is left empty: it never guesses.
func Parse(text string) Fields {
	lines := ownLines(text)
	var f Fields
	found := func(field, v string) {
		v = cleanValue(v)
		if v != "" && f.Get(field) == "" {
			f.set(field, v)
		}
	}
	var numbered []numberedItem
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			continue
		}
		if cells := tableCells(line); len(cells) >= 2 && i+1 < len(lines) {
			if fields, ok := headerRow(cells); ok {
				if values := tableCells(strings.TrimSpace(lines[i+1])); len(values) == len(cells) {
					for j, field := range fields {
						if field != "" {
							found(field, values[j])
						}
					}
					i++
					continue
				}
			}
		}
		body, number, item := stripListMarker(line)
		// A bullet may be the team's own question copied with the answer
		// below; a numbered item without a label is an answer by position.
		field, value, labelOnly := labelled(body, item && number == 0)
		if number > 0 {
			numbered = append(numbered, numberedItem{number: number, labelled: field != "", text: body, line: i})
		}
		if field == "" {
			continue
		}
		if labelOnly || value == "" {
			// The answer is below the label: the next lines up to a blank
			// line, allowing one blank line straight after the label.
			j := i + 1
			if j < len(lines) && strings.TrimSpace(lines[j]) == "" {
				j++
			}
			var vals []string
			for ; j < len(lines) && continuation(lines[j]); j++ {
				vals = append(vals, strings.TrimSpace(lines[j]))
				if field == FieldName {
					j++
					break
				}
			}
			if len(vals) > 0 {
				found(field, strings.Join(vals, " "))
				i = j - 1
			}
			continue
		}
		vals := []string{value}
		if field != FieldName {
			// A longer answer runs on to the next lines, up to a blank line.
			j := i + 1
			for ; j < len(lines) && continuation(lines[j]); j++ {
				vals = append(vals, strings.TrimSpace(lines[j]))
			}
			i = j - 1
		}
		found(field, strings.Join(vals, " "))
	}
	// A numbered list in the team's order (1. name, 2. purpose, 3. who to
	// invite, 4. why not an MDT), without labels: taken by position only
	// when it is that list, numbered 1, 2, … and no longer than four.
	if positional(numbered) {
		for _, it := range numbered {
			if !it.labelled {
				found(FieldOrder[it.number-1], it.text)
			}
		}
	}
	return f
}

type numberedItem struct {
	number   int
	labelled bool
	text     string
	line     int
}

func positional(items []numberedItem) bool {
	if len(items) < 2 || len(items) > 4 {
		return false
	}
	for i, it := range items {
		if it.number != i+1 {
			return false
		}
	}
	return true
}

// continuation reports whether a line carries on the answer above it: not
// blank, not quoted, not another label or list item.
func continuation(line string) bool {
	t := strings.TrimSpace(line)
	if t == "" || strings.HasPrefix(t, ">") {
		return false
	}
	body, _, item := stripListMarker(t)
	if item {
		return false
	}
	field, _, _ := labelled(body, false)
	return field == ""
}

var placeholder = map[string]bool{"tbc": true, "tbd": true, "?": true, "-": true, "unknown": true, "n/k": true, "none given": true}

func cleanValue(v string) string {
	v = strings.Join(strings.Fields(v), " ")
	v = strings.TrimSpace(strings.Trim(v, "|"))
	if placeholder[strings.ToLower(strings.TrimRight(v, "."))] {
		return ""
	}
	return v
}

var listMarker = regexp.MustCompile(`^(?:\(?([0-9]{1,2})[.):]|[-*•·–])\s+`)

// stripListMarker takes "1. ", "2) ", "(3) ", "- ", "• " off a line, and
// says the item's number if it had one.
func stripListMarker(line string) (body string, number int, marked bool) {
	m := listMarker.FindStringSubmatchIndex(line)
	if m == nil {
		return line, 0, false
	}
	if m[2] >= 0 {
		number, _ = strconv.Atoi(line[m[2]:m[3]])
	}
	return strings.TrimSpace(line[m[1]:]), number, true
}

// separatorsOf is what splits a label from its answer on this line: a tab
// or a pipe in a table row pasted as text, else whichever of ":", " - ",
// " – " comes first ("Purpose of meeting - to agree: a plan" is split at
// the dash).
func separatorsOf(line string) []string {
	if strings.Contains(line, "\t") {
		return []string{"\t"}
	}
	if strings.Contains(line, "|") {
		return []string{"|"}
	}
	best, at := "", len(line)
	for _, sep := range []string{":", " - ", " – ", " — "} {
		if i := strings.Index(line, sep); i >= 0 && i < at {
			best, at = sep, i
		}
	}
	if best == "" {
		return nil
	}
	return []string{best}
}

// labelled reads "label<sep>value". labelOnly is a line that is just a
// label ("Purpose of the meeting:", a table cell), its answer below. item
// says the line was a list item: the team's own bullets, copied with the
// answers below them, are labels however long.
func labelled(line string, item bool) (field, value string, labelOnly bool) {
	if strings.HasPrefix(line, "|") {
		line = strings.TrimSpace(strings.TrimPrefix(line, "|"))
	}
	for _, sep := range separatorsOf(line) {
		label, rest, ok := strings.Cut(line, sep)
		if !ok {
			continue
		}
		if field = fieldOfLabel(label); field != "" {
			rest = strings.TrimSpace(rest)
			rest = strings.TrimSpace(strings.TrimSuffix(rest, "|"))
			return field, rest, rest == ""
		}
		break
	}
	// A label on its own line: short (or a list item), and no sentence.
	t := strings.TrimRight(line, " ?")
	if words := len(strings.Fields(t)); (words <= 6 || item && words <= 16) && !strings.HasSuffix(t, ".") {
		if field = fieldOfLabel(t); field != "" {
			return field, "", true
		}
	}
	return "", "", false
}

// fieldOfLabel says which field a label asks for, or "". Labels are the
// team's own words and the ways people put them.
func fieldOfLabel(label string) string {
	l := strings.ToLower(strings.TrimSpace(label))
	l = strings.TrimFunc(l, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ')' })
	words := strings.Fields(l)
	if len(words) == 0 || len(words) > 16 {
		return ""
	}
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(l, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("mdt", "multi-disciplinary", "multidisciplinary", "multi disciplinary", "taken forward", "without the dsr", "why not"):
		return FieldWhyNotMDT
	case has("invite", "invitee", "attendee", "who should attend", "who to attend", "attending", "attendance"):
		return FieldInvitees
	case has("purpose", "reason for the meeting", "reason for meeting", "reason for mbe", "reason for the mbe", "aim of the meeting"):
		return FieldPurpose
	case has("name") && !has("your name", "my name", "referrer", "requester", "requestor", "organisation", "organization",
		"team name", "service name", "gp", "parent", "carer", "sender", "email", "contact"):
		return FieldName
	}
	return ""
}

// tableCells splits a row pasted from a table: tab or pipe separated.
func tableCells(line string) []string {
	var cells []string
	switch {
	case strings.Contains(line, "\t"):
		cells = strings.Split(line, "\t")
	case strings.Count(line, "|") >= 2:
		cells = strings.Split(strings.Trim(line, "| "), "|")
	default:
		return nil
	}
	out := cells[:0]
	for _, c := range cells {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}

// headerRow reports whether a row is a table's labels (two or more cells
// that are labels and none that is not), and which field each column is.
func headerRow(cells []string) ([]string, bool) {
	fields := make([]string, len(cells))
	n := 0
	for i, c := range cells {
		if c == "" {
			continue
		}
		f := fieldOfLabel(c)
		if f == "" {
			return nil, false
		}
		fields[i] = f
		n++
	}
	return fields, n >= 2
}

var (
	signatureStart = regexp.MustCompile(`(?i)^(--\s*|kind regards,?|best regards,?|warm regards,?|regards,?|best wishes,?|many thanks,?|thanks( you)?,?|thank you,?|sent from my \w+.*|get outlook for \w+.*|-{3,}\s*original message\s*-{3,}|_{10,})$`)
	onWrote        = regexp.MustCompile(`(?i)^on\s.{0,200}\bwrote:?$`)
	outlookFrom    = regexp.MustCompile(`^\*?From:\*?\s`)
	outlookSent    = regexp.MustCompile(`^\*?(Sent|Date):\*?\s`)
)

// ownLines are the lines the sender wrote: up to the signature or the
// quoted thread, whichever comes first, without quoted (">") lines.
func ownLines(text string) []string {
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	all := strings.Split(text, "\n")
	var out []string
	for i, line := range all {
		t := strings.TrimSpace(line)
		if signatureStart.MatchString(t) || onWrote.MatchString(t) {
			break
		}
		// "On Tue, 4 Mar 2025 at 10:02, Jo <jo@…>\nwrote:" wraps.
		if strings.HasPrefix(strings.ToLower(t), "on ") && i+1 < len(all) && strings.HasSuffix(strings.TrimSpace(all[i+1]), "wrote:") && len(t) < 200 {
			break
		}
		// Outlook's header block: From: … then Sent: … within a few lines.
		if outlookFrom.MatchString(t) && outlookBlock(all[i+1:]) {
			break
		}
		if strings.HasPrefix(t, ">") {
			out = append(out, "") // a quoted line ends any answer above it
			continue
		}
		out = append(out, line)
	}
	return out
}

func outlookBlock(next []string) bool {
	for i := 0; i < len(next) && i < 4; i++ {
		if outlookSent.MatchString(strings.TrimSpace(next[i])) {
			return true
		}
	}
	return false
}
