package notify

import (
	"fmt"
	"time"

	"github.com/dsr-register/dsr/internal/register"
)

// Emails to people outside the team: meeting invitations and their updates,
// cancellations and reminders, and feedback requests to services. Like
// every notification they carry IDs only; the mail notifier reads the
// meeting, the invitee and the request from PostgreSQL when it sends.
const (
	// MeetingEmailed: an email about a meeting to one invitee (Meeting
	// says which email).
	MeetingEmailed Event = "meeting_email"
	// FeedbackRequested: a service is asked for feedback (Feedback).
	FeedbackRequested Event = "feedback_requested"
	// FeedbackChased: a service is reminded of an unanswered request.
	FeedbackChased Event = "feedback_chased"
)

// MeetingNote names one meeting email: which meeting, which of its
// sequence's invitees, and what it is.
type MeetingNote struct {
	MeetingID int64
	Number    int
	Sequence  int
	InviteeID int64
	Email     register.MeetingEmail
}

// FeedbackNote names a feedback request and, for a chaser, which one.
type FeedbackNote struct {
	RequestID int64
	Chase     int `json:",omitempty"`
}

// ForMeetingEmail is the notification of one meeting email to one invitee,
// keyed by meeting, sequence, email and invitee: a retried change queues
// nothing more, and each invitee gets each email once.
func ForMeetingEmail(personID int64, m MeetingNote, actor string, c register.Change) Notification {
	return Notification{
		Key:      fmt.Sprintf("meeting-%d:%s:%d:%d", m.MeetingID, m.Email, m.Sequence, m.InviteeID),
		Event:    MeetingEmailed,
		PersonID: personID,
		Actor:    actor,
		At:       c.At,
		Meeting:  &m,
	}
}

// ForFeedback is the notification that emails a service its request (chase
// 0) or a chaser.
func ForFeedback(personID int64, f FeedbackNote, actor string, at time.Time) Notification {
	event, what := FeedbackRequested, "request"
	if f.Chase > 0 {
		event, what = FeedbackChased, fmt.Sprintf("chase-%d", f.Chase)
	}
	return Notification{
		Key:      fmt.Sprintf("feedback-%d:%s", f.RequestID, what),
		Event:    event,
		PersonID: personID,
		Actor:    actor,
		At:       at,
		Feedback: &f,
	}
}
