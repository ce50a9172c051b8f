package ical

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// parsed is what a strict reader makes of the file: properties by name
// (with their parameters), for the one VEVENT and the calendar around it.
type parsed struct {
	calendar map[string]string
	event    map[string][]prop
}

type prop struct {
	params map[string]string
	value  string
}

// parse reads an iCalendar object strictly: CRLF only, no physical line
// over 75 octets, unfolded by the RFC's rule, BEGIN/END balanced.
func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	s := string(data)
	if !strings.HasSuffix(s, "\r\n") {
		t.Fatalf("does not end with CRLF")
	}
	physical := strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n")
	var logical []string
	for i, l := range physical {
		if strings.ContainsAny(l, "\r\n") {
			t.Fatalf("line %d holds a bare CR or LF: %q", i+1, l)
		}
		if len(l) > 75 {
			t.Fatalf("line %d is %d octets, over 75: %q", i+1, len(l), l)
		}
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			if len(logical) == 0 {
				t.Fatalf("continuation with nothing before it")
			}
			logical[len(logical)-1] += l[1:]
			continue
		}
		logical = append(logical, l)
	}
	p := parsed{calendar: map[string]string{}, event: map[string][]prop{}}
	var stack []string
	for _, l := range logical {
		name, rest, ok := splitName(l)
		if !ok {
			t.Fatalf("not a content line: %q", l)
		}
		params, value := splitParams(t, rest)
		switch name {
		case "BEGIN":
			stack = append(stack, value)
			continue
		case "END":
			if len(stack) == 0 || stack[len(stack)-1] != value {
				t.Fatalf("END:%s does not close %v", value, stack)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		switch strings.Join(stack, "/") {
		case "VCALENDAR":
			p.calendar[name] = value
		case "VCALENDAR/VEVENT":
			p.event[name] = append(p.event[name], prop{params, value})
		default:
			t.Fatalf("property %s outside VCALENDAR/VEVENT (%v)", name, stack)
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed %v", stack)
	}
	return p
}

// splitName takes the property name up to the first ; or :.
func splitName(l string) (string, string, bool) {
	i := strings.IndexAny(l, ";:")
	if i <= 0 {
		return "", "", false
	}
	return l[:i], l[i:], true
}

// splitParams reads ;NAME=value or ;NAME="quoted" parameters up to the
// value's colon (a colon inside quotes is part of the parameter).
func splitParams(t *testing.T, rest string) (map[string]string, string) {
	params := map[string]string{}
	for strings.HasPrefix(rest, ";") {
		rest = rest[1:]
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			t.Fatalf("parameter without '=': %q", rest)
		}
		name := rest[:eq]
		rest = rest[eq+1:]
		var value string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				t.Fatalf("unterminated quote in %q", rest)
			}
			value, rest = rest[1:end+1], rest[end+2:]
		} else {
			end := strings.IndexAny(rest, ";:")
			if end < 0 {
				t.Fatalf("parameter runs to the end: %q", rest)
			}
			value, rest = rest[:end], rest[end:]
		}
		params[name] = value
	}
	if !strings.HasPrefix(rest, ":") {
		t.Fatalf("no value after parameters: %q", rest)
	}
	return params, rest[1:]
}

// unescape reverses TEXT escaping, refusing anything RFC 5545 does not allow.
func unescape(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
			if i == len(s) {
				t.Fatalf("trailing backslash in %q", s)
			}
			switch s[i] {
			case '\\', ';', ',':
				b.WriteByte(s[i])
			case 'n', 'N':
				b.WriteByte('\n')
			default:
				t.Fatalf("bad escape \\%c in %q", s[i], s)
			}
		case c == ';' || c == ',':
			t.Fatalf("unescaped %c in TEXT %q", c, s)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func one(t *testing.T, p parsed, name string) prop {
	t.Helper()
	if len(p.event[name]) != 1 {
		t.Fatalf("%s appears %d times, want once", name, len(p.event[name]))
	}
	return p.event[name][0]
}

func TestInvitationRoundTrip(t *testing.T) {
	start := time.Date(2026, 7, 14, 9, 30, 0, 0, time.FixedZone("BST", 3600))
	e := Event{
		Method:   Request,
		UID:      "dsr-meeting-1042-3@dsr.example.nhs.uk",
		Sequence: 2,
		Stamp:    time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC),
		Start:    start,
		End:      start.Add(90 * time.Minute),
		Summary:  "Community C(E)TR, DSR-1042",
		Location: "Room 2; Civic Centre, Glebe St\\Stoke",
		Description: "Purpose: review the crisis plan, agree next steps.\nVideo: https://meet.example/abc?x=1;y=2 " +
			strings.Repeat("Long text to fold over several lines — with a multibyte dash. ", 4),
		OrganizerName:  "DSR team",
		OrganizerEmail: "dsr-team@nhs.example",
		Attendees: []Attendee{
			{Name: "Bloggs, Pat; parent", Email: "pat@example.org"},
			{Name: `Dr "Sam" O'Neil: psychiatrist`, Email: "sam.oneil@nhs.example"},
		},
	}
	data, err := Write(e)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, data)
	if p.calendar["METHOD"] != "REQUEST" || p.calendar["VERSION"] != "2.0" || p.calendar["PRODID"] == "" {
		t.Errorf("calendar properties: %v", p.calendar)
	}
	checks := map[string]string{
		"UID":      e.UID,
		"SEQUENCE": "2",
		"DTSTAMP":  "20260701T120000Z",
		"DTSTART":  "20260714T083000Z", // 09:30 BST
		"DTEND":    "20260714T100000Z",
		"STATUS":   "CONFIRMED",
	}
	for name, want := range checks {
		if got := one(t, p, name).value; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	for name, want := range map[string]string{"SUMMARY": e.Summary, "LOCATION": e.Location, "DESCRIPTION": e.Description} {
		if got := unescape(t, one(t, p, name).value); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	org := one(t, p, "ORGANIZER")
	if org.value != "mailto:dsr-team@nhs.example" || org.params["CN"] != "DSR team" {
		t.Errorf("ORGANIZER = %+v", org)
	}
	att := p.event["ATTENDEE"]
	if len(att) != 2 {
		t.Fatalf("attendees: %+v", att)
	}
	want := []struct{ cn, mail string }{{"Bloggs, Pat; parent", "mailto:pat@example.org"}, {"Dr Sam O'Neil: psychiatrist", "mailto:sam.oneil@nhs.example"}}
	for i, w := range want {
		if att[i].params["CN"] != w.cn || att[i].value != w.mail || att[i].params["RSVP"] != "TRUE" {
			t.Errorf("attendee %d = %+v, want CN %q %s", i, att[i], w.cn, w.mail)
		}
	}
}

func TestCancellation(t *testing.T) {
	start := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	data, err := Write(Event{Method: Cancel, UID: "dsr-meeting-7-1@x", Sequence: 3, Stamp: start, Start: start, End: start.Add(time.Hour),
		Summary: "MDT", OrganizerEmail: "team@x.example", Attendees: []Attendee{{Email: "a@x.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, data)
	if p.calendar["METHOD"] != "CANCEL" || one(t, p, "STATUS").value != "CANCELLED" || one(t, p, "SEQUENCE").value != "3" {
		t.Errorf("cancel: %v %v", p.calendar, p.event)
	}
	if _, ok := one(t, p, "ATTENDEE").params["CN"]; ok {
		t.Errorf("an attendee without a name has a CN")
	}
}

func TestRefusesWhatCannotBeWritten(t *testing.T) {
	start := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	good := Event{Method: Request, UID: "u@x", Stamp: start, Start: start, End: start.Add(time.Hour), OrganizerEmail: "t@x.example"}
	for name, mutate := range map[string]func(*Event){
		"method":        func(e *Event) { e.Method = "PUBLISH" },
		"uid":           func(e *Event) { e.UID = "" },
		"end":           func(e *Event) { e.End = e.Start },
		"organizer":     func(e *Event) { e.OrganizerEmail = "Team <t@x.example>" },
		"attendee CRLF": func(e *Event) { e.Attendees = []Attendee{{Email: "a@x.example\r\nATTENDEE:mailto:b@y"}} },
	} {
		e := good
		mutate(&e)
		if _, err := Write(e); err == nil {
			t.Errorf("%s: written without complaint", name)
		}
	}
	if _, err := Write(good); err != nil {
		t.Errorf("good event refused: %v", err)
	}
}

func TestFoldsAtSeventyFiveOctets(t *testing.T) {
	var w writer
	s := "DESCRIPTION:" + strings.Repeat("é", 100) // two octets each
	w.line(s)
	out := w.b.String()
	for _, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("physical line of %d octets", len(l))
		}
	}
	if got := strings.ReplaceAll(strings.TrimSuffix(out, "\r\n"), "\r\n ", ""); got != s {
		t.Errorf("unfolded %q", fmt.Sprint(got[:20]))
	}
}
