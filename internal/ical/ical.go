// Package ical writes the iCalendar (RFC 5545) invitations dsr emails for
// meetings: one VEVENT per message, METHOD:REQUEST for an invitation or an
// update, METHOD:CANCEL for a cancellation. It is pure: no I/O, no clock.
//
// Times are written in UTC (a trailing Z): every calendar client converts
// them to the reader's zone, and no VTIMEZONE has to be kept in step with
// the rules for Europe/London.
package ical

import (
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Method is the iTIP method of the message.
type Method string

const (
	// Request invites, or updates an invitation (a higher Sequence).
	Request Method = "REQUEST"
	// Cancel withdraws the meeting.
	Cancel Method = "CANCEL"
)

// Attendee is someone invited.
type Attendee struct {
	Name  string
	Email string
	// Role is what they come as ("social worker", "parent"); it goes in
	// no standard parameter and is left out of the file.
}

// Event is one meeting as a calendar sees it.
type Event struct {
	Method Method
	// UID is the meeting's stable identity across every message about it.
	UID string
	// Sequence is bumped on every change (0 for the first invitation).
	Sequence int
	// Stamp is when this message was made (DTSTAMP).
	Stamp    time.Time
	Start    time.Time
	End      time.Time
	Summary  string
	Location string
	// Description is the body text (the purpose, a video link).
	Description string
	// OrganizerName and OrganizerEmail are the team's.
	OrganizerName  string
	OrganizerEmail string
	Attendees      []Attendee
}

// ProdID names the program that made the file.
const ProdID = "-//DSR//Dynamic Support Register//EN"

// Write renders the event as an iCalendar object: CRLF line ends, lines
// folded at 75 octets, text escaped.
func Write(e Event) ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	var w writer
	w.line("BEGIN:VCALENDAR")
	w.line("VERSION:2.0")
	w.line("PRODID:" + ProdID)
	w.line("CALSCALE:GREGORIAN")
	w.line("METHOD:" + string(e.Method))
	w.line("BEGIN:VEVENT")
	w.line("UID:" + escape(e.UID))
	w.line("SEQUENCE:" + strconv.Itoa(e.Sequence))
	w.line("DTSTAMP:" + utc(e.Stamp))
	w.line("DTSTART:" + utc(e.Start))
	w.line("DTEND:" + utc(e.End))
	w.line("SUMMARY:" + escape(e.Summary))
	if e.Location != "" {
		w.line("LOCATION:" + escape(e.Location))
	}
	if e.Description != "" {
		w.line("DESCRIPTION:" + escape(e.Description))
	}
	w.line("ORGANIZER" + cn(e.OrganizerName) + ":mailto:" + e.OrganizerEmail)
	for _, a := range e.Attendees {
		w.line("ATTENDEE" + cn(a.Name) + ";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:" + a.Email)
	}
	if e.Method == Cancel {
		w.line("STATUS:CANCELLED")
	} else {
		w.line("STATUS:CONFIRMED")
	}
	w.line("END:VEVENT")
	w.line("END:VCALENDAR")
	return []byte(w.b.String()), nil
}

func (e Event) check() error {
	var problems []string
	if e.Method != Request && e.Method != Cancel {
		problems = append(problems, "method must be REQUEST or CANCEL")
	}
	if e.UID == "" {
		problems = append(problems, "uid is required")
	}
	if e.Sequence < 0 {
		problems = append(problems, "sequence must not be negative")
	}
	if e.Start.IsZero() || !e.End.After(e.Start) {
		problems = append(problems, "the event must start and end after it starts")
	}
	if _, err := mail.ParseAddress(e.OrganizerEmail); err != nil || strings.ContainsAny(e.OrganizerEmail, "<> ") {
		problems = append(problems, "organizer email is not a plain address")
	}
	for i, a := range e.Attendees {
		if _, err := mail.ParseAddress(a.Email); err != nil || strings.ContainsAny(a.Email, "<> \r\n") {
			problems = append(problems, fmt.Sprintf("attendee %d email is not a plain address", i))
		}
	}
	if len(problems) > 0 {
		return errors.New("ical: " + strings.Join(problems, "; "))
	}
	return nil
}

func utc(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// cn is the CN parameter for a name, quoted (a name may hold , ; or :);
// DQUOTE cannot appear in a quoted value, and control characters are not
// allowed, so both are dropped.
func cn(name string) string {
	name = strings.Map(func(r rune) rune {
		if r == '"' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if name == "" {
		return ""
	}
	return `;CN="` + name + `"`
}

// escape escapes TEXT values (RFC 5545 3.3.11): backslash, semicolon,
// comma and newlines.
func escape(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	r := strings.NewReplacer(`\`, `\\`, `;`, `\;`, `,`, `\,`, "\n", `\n`)
	return r.Replace(s)
}

type writer struct{ b strings.Builder }

// line writes one content line folded at 75 octets (RFC 5545 3.1): a
// continuation starts with a space, which counts towards its 75, and a
// fold never splits a UTF-8 character.
func (w *writer) line(s string) {
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		w.b.WriteString(s[:cut])
		w.b.WriteString("\r\n ")
		s = s[cut:]
		limit = 74
	}
	w.b.WriteString(s)
	w.b.WriteString("\r\n")
}
