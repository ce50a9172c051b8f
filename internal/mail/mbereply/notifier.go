// Package mbereply answers the person who asked for an MbE: what their
// request is missing, and what the team decided. It emails what the
// notification outbox hands it, in the thread of the request.
package mbereply

import (
	"context"
	"fmt"
	"strings"

	"github.com/dsr-register/dsr/internal/mail/mbe"
	"github.com/dsr-register/dsr/internal/mail/smtp"
	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/store"
)

// Requests is what the notifier reads: the MbE request an email is about.
type Requests interface {
	MbERequest(ctx context.Context, id int64) (store.MbERequest, error)
}

// Notifier emails what the outbox gives it to people outside the team,
// beside the Slack notifier in the dispatcher's Fanout. It says no more
// than the recipient needs: a requester is not told anything from the
// register, not even the name they sent.
type Notifier struct {
	Sender   *smtp.Sender
	Requests Requests
}

// Notify sends the email a notification stands for; other notifications
// are not its business.
func (n *Notifier) Notify(ctx context.Context, note notify.Notification) error {
	switch note.Event {
	case notify.MbEMissingFields, notify.MbEDecision:
	default:
		return nil
	}
	r, err := n.Requests.MbERequest(ctx, note.MbERequest)
	if err != nil {
		return fmt.Errorf("mail: reading MbE request %d: %w", note.MbERequest, err)
	}
	out := smtp.Outgoing{
		Key: note.Key, To: []string{r.Requester}, Subject: replySubject(r.Subject),
		InReplyTo: r.MessageID, References: []string{r.MessageID}, MbERequest: r.ID,
	}
	if note.ReplyTo != "" && note.ReplyTo != r.MessageID {
		// Asked again after a reply that still left something out: answer
		// that reply, in the same thread.
		out.InReplyTo, out.References = note.ReplyTo, []string{r.MessageID, note.ReplyTo}
	}
	switch note.Event {
	case notify.MbEMissingFields:
		out.Text = MissingFieldsText(r.Missing)
	case notify.MbEDecision:
		out.Text = DecisionText(r.Decision, r.Reason)
	}
	_, err = n.Sender.Send(ctx, out)
	return err
}

func replySubject(s string) string {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(s)), "re:") {
		return s
	}
	return "Re: " + s
}

const signOff = "\nDynamic Support Register team\n\n(This email was sent automatically; replies to it reach the team.)\n"

// MissingFieldsText is the polite reply naming exactly what a request is
// missing.
func MissingFieldsText(missing []string) string {
	var b strings.Builder
	b.WriteString("Hello,\n\nThank you for your request for a Meeting by Exception (MbE).\n\n")
	b.WriteString("Before the DSR team can consider it, we need a little more information. ")
	b.WriteString("Please reply to this email, keeping the subject, with:\n\n")
	for _, f := range missing {
		fmt.Fprintf(&b, "- %s\n", mbe.FieldDescriptions[f])
	}
	b.WriteString("\nYou can write each on its own line, for example \"Purpose: …\". ")
	b.WriteString("We will look at your request as soon as we have these.\n")
	b.WriteString(signOff)
	return b.String()
}

// DecisionText tells a requester what the team decided.
func DecisionText(decision, reason string) string {
	var b strings.Builder
	b.WriteString("Hello,\n\nThank you for your request for a Meeting by Exception (MbE).\n\n")
	if decision == "hold" {
		b.WriteString("The DSR team has agreed to hold the meeting. We will be in touch to arrange a date and send invitations.\n")
	} else {
		b.WriteString("The DSR team has decided not to hold the meeting.\n")
		if strings.TrimSpace(reason) != "" {
			fmt.Fprintf(&b, "\nThe reason: %s\n", strings.TrimSpace(reason))
		}
		b.WriteString("\nIf things change, you are welcome to send a new request.\n")
	}
	b.WriteString(signOff)
	return b.String()
}
