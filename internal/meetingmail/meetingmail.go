// Package meetingmail writes the emails meetings and feedback requests send
// to people outside the team — an invitation with its calendar file, an
// update, a cancellation, a reminder; a feedback request and its chasers —
// from the notifications the outbox hands it (IDs only), reading what it
// needs from PostgreSQL at the moment it sends. It says no more than the
// recipient needs: the register reference, never the person's name, NHS
// number or date of birth; what the coordinator wrote (the purpose, the
// question) is theirs to word.
package meetingmail

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/ical"
	"github.com/dsr-register/dsr/internal/mail/smtp"
	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// Email is one message to one recipient.
type Email struct {
	// Key names it across retries: the sender sends each key once.
	Key     string
	To      string
	Subject string
	Text    string
	// Calendar, if set, is an iCalendar object to attach (text/calendar
	// with Method, shown by mail clients as an invitation).
	Calendar []byte
	Method   ical.Method
}

// Sender sends an email once per key: SMTP below, over internal/mail/smtp's
// sender.
type Sender interface {
	SendEmail(ctx context.Context, e Email) error
}

// Records is what the notifier reads.
type Records interface {
	MeetingEmailFor(ctx context.Context, n notify.MeetingNote) (store.MeetingEmail, error)
	FeedbackRequest(ctx context.Context, id int64) (store.FeedbackRequest, error)
}

// Notifier turns meeting and feedback notifications into emails; it lets
// every other notification pass.
type Notifier struct {
	Records Records
	Sender  Sender
	// From is the team's address (DSR_MAIL_FROM), the calendar ORGANIZER.
	From string
	// PublicURL is DSR_PUBLIC_URL: the calendar UID's host and the base of
	// feedback links.
	PublicURL string
	// Location is the team's time zone for times in the text.
	Location *time.Location
}

// Notify sends the email the notification stands for.
func (n *Notifier) Notify(ctx context.Context, note notify.Notification) error {
	switch {
	case note.Event == notify.MeetingEmailed && note.Meeting != nil:
		rec, err := n.Records.MeetingEmailFor(ctx, *note.Meeting)
		if err != nil {
			return fmt.Errorf("meeting email %s: %w", note.Key, err)
		}
		e, err := n.MeetingEmail(note, rec)
		if err != nil {
			return err
		}
		return n.Sender.SendEmail(ctx, e)
	case (note.Event == notify.FeedbackRequested || note.Event == notify.FeedbackChased) && note.Feedback != nil:
		f, err := n.Records.FeedbackRequest(ctx, note.Feedback.RequestID)
		if err != nil {
			return fmt.Errorf("feedback email %s: %w", note.Key, err)
		}
		if note.Event == notify.FeedbackChased && f.AnsweredAt != nil {
			return nil // answered while the chaser waited
		}
		return n.Sender.SendEmail(ctx, n.FeedbackEmail(note, f))
	}
	return nil
}

// UID is the meeting's calendar identity: the same in every message about
// it, so calendars update the one event.
func UID(personID int64, number int, publicURL string) string {
	host := "dsr.invalid"
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return fmt.Sprintf("dsr-meeting-%d-%d@%s", personID, number, host)
}

// MeetingEmail writes one meeting email to one invitee.
func (n *Notifier) MeetingEmail(note notify.Notification, rec store.MeetingEmail) (Email, error) {
	m, kind := rec.Meeting, note.Meeting.Email
	title := m.Kind.Title() + " – " + m.Reference
	method := ical.Request
	var subject, opening string
	switch kind {
	case register.EmailInvitation:
		subject, opening = "Invitation: "+title, "You are invited to a meeting convened by the Dynamic Support Register (DSR) team."
	case register.EmailUpdate:
		subject, opening = "Updated: "+title, "The meeting you were invited to has changed. The details below replace the earlier ones."
	case register.EmailCancellation:
		subject, opening, method = "Cancelled: "+title, "The meeting below has been cancelled.", ical.Cancel
	case register.EmailReminder:
		subject, opening = "Reminder: "+title, "A reminder of the meeting below."
	default:
		return Email{}, fmt.Errorf("meeting email %s: unknown email %q", note.Key, kind)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Dear %s,\n\n%s\n\n", rec.To.Name, opening)
	fmt.Fprintf(&b, "What: %s\nAbout: the person with register reference %s\nWhen: %s\nWhere: %s\n",
		m.Kind.Title(), m.Reference, n.when(m.StartsAt, m.DurationValue), m.Location)
	if m.Purpose != "" {
		fmt.Fprintf(&b, "Purpose: %s\n", m.Purpose)
	}
	if kind == register.EmailCancellation && m.CancelledReason != "" {
		fmt.Fprintf(&b, "Why: %s\n", m.CancelledReason)
	}
	b.WriteString("\nInvited:\n")
	for _, inv := range rec.Invitees {
		if inv.Role != "" {
			fmt.Fprintf(&b, "- %s (%s)\n", inv.Name, inv.Role)
		} else {
			fmt.Fprintf(&b, "- %s\n", inv.Name)
		}
	}
	b.WriteString("\nPlease reply to this email if you cannot attend.\n\nDSR team\n")
	attendees := make([]ical.Attendee, len(rec.Invitees))
	for i, inv := range rec.Invitees {
		attendees[i] = ical.Attendee{Name: inv.Name, Email: inv.Email}
	}
	cal, err := ical.Write(ical.Event{
		Method: method, UID: UID(m.PersonID, m.Number, n.PublicURL), Sequence: note.Meeting.Sequence,
		Stamp: note.At, Start: m.StartsAt, End: m.StartsAt.Add(m.DurationValue),
		Summary: title, Location: m.Location, Description: m.Purpose,
		OrganizerName: "DSR team", OrganizerEmail: n.fromAddress(), Attendees: attendees,
	})
	if err != nil {
		return Email{}, fmt.Errorf("meeting email %s: %w", note.Key, err)
	}
	return Email{Key: note.Key, To: rec.To.Email, Subject: subject, Text: b.String(), Calendar: cal, Method: method}, nil
}

// FeedbackEmail writes a feedback request, or a chaser, to the service.
func (n *Notifier) FeedbackEmail(note notify.Notification, f store.FeedbackRequest) Email {
	link := strings.TrimRight(n.PublicURL, "/") + "/feedback/" + f.Token
	subject := "Feedback requested by the DSR team – " + f.Reference
	opening := "The Dynamic Support Register (DSR) team would be grateful for your feedback about the person with register reference " + f.Reference + "."
	if note.Event == notify.FeedbackChased {
		subject = "Reminder: " + subject
		opening = "We have not yet had your answer to our question about the person with register reference " + f.Reference + "."
	}
	text := fmt.Sprintf("Dear %s,\n\n%s\n\nOur question:\n%s\n\nPlease answer here (the link is for this question only):\n%s\n\nDSR team\n",
		f.Service, opening, f.Question, link)
	return Email{Key: note.Key, To: f.Email, Subject: subject, Text: text}
}

func (n *Notifier) when(start time.Time, d time.Duration) string {
	loc := n.Location
	if loc == nil {
		loc = time.UTC
	}
	s := start.In(loc)
	return fmt.Sprintf("%s to %s (%s)", s.Format("Monday 2 January 2006, 15:04"), s.Add(d).Format("15:04"), s.Format("MST"))
}

func (n *Notifier) fromAddress() string {
	from := strings.TrimSpace(n.From)
	if i := strings.LastIndex(from, "<"); i >= 0 {
		from = strings.TrimSuffix(from[i+1:], ">")
	}
	return from
}

// SMTP sends through the register's SMTP sender (internal/mail/smtp): the text,
// and the calendar as an inline text/calendar part with its method, which
// mail clients show as an invitation with accept and decline.
type SMTP struct {
	Sender *smtp.Sender
}

// SendEmail sends e once per key.
func (s SMTP) SendEmail(ctx context.Context, e Email) error {
	out := smtp.Outgoing{Key: e.Key, To: []string{e.To}, Subject: e.Subject, Text: e.Text}
	if len(e.Calendar) > 0 {
		name := "invite.ics"
		if e.Method == ical.Cancel {
			name = "cancel.ics"
		}
		out.Attachments = []smtp.Attachment{{Filename: name, ContentType: "text/calendar; method=" + string(e.Method) + "; charset=utf-8",
			Data: e.Calendar, Inline: true}}
	}
	_, err := s.Sender.Send(ctx, out)
	return err
}
