package meetingmail

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

type records struct {
	meeting  store.MeetingEmail
	feedback store.FeedbackRequest
}

func (r records) MeetingEmailFor(context.Context, notify.MeetingNote) (store.MeetingEmail, error) {
	return r.meeting, nil
}

func (r records) FeedbackRequest(context.Context, int64) (store.FeedbackRequest, error) {
	return r.feedback, nil
}

type outbox struct{ sent []Email }

func (o *outbox) SendEmail(_ context.Context, e Email) error {
	o.sent = append(o.sent, e)
	return nil
}

func TestMeetingEmails(t *testing.T) {
	start := time.Date(2026, 7, 14, 8, 30, 0, 0, time.UTC)
	invitees := []store.MeetingInvitee{{ID: 7, Invitee: register.Invitee{Name: "Pat", Role: "parent", Email: "pat@example.org"}}}
	rec := records{meeting: store.MeetingEmail{Meeting: store.Meeting{ID: 3, PersonID: 1042, Reference: "DSR-1042", Number: 2,
		Kind: register.MeetingCommunityCTR, StartsAt: start, DurationValue: time.Hour, Location: "Civic Centre", Purpose: "review",
		CancelledReason: "unwell"}, To: invitees[0], Invitees: invitees}}
	london, _ := time.LoadLocation("Europe/London")
	out := &outbox{}
	n := &Notifier{Records: rec, Sender: out, From: "DSR team <team@nhs.example>", PublicURL: "https://dsr.example:8443/x", Location: london}
	for _, kind := range []register.MeetingEmail{register.EmailInvitation, register.EmailCancellation} {
		note := notify.ForMeetingEmail(1042, notify.MeetingNote{MeetingID: 3, Number: 2, Sequence: 1, InviteeID: 7, Email: kind}, "alice", register.Change{At: start})
		if err := n.Notify(context.Background(), note); err != nil {
			t.Fatal(err)
		}
	}
	if len(out.sent) != 2 {
		t.Fatalf("sent %d", len(out.sent))
	}
	inv, cancel := out.sent[0], out.sent[1]
	if inv.To != "pat@example.org" || !strings.HasPrefix(inv.Subject, "Invitation: Community C(E)TR – DSR-1042") || inv.Method != "REQUEST" ||
		!strings.Contains(inv.Text, "Tuesday 14 July 2026, 09:30 to 10:30 (BST)") {
		t.Errorf("invitation: %+v", inv)
	}
	cal := string(inv.Calendar)
	for _, want := range []string{"UID:dsr-meeting-1042-2@dsr.example\r\n", "SEQUENCE:1\r\n", "ORGANIZER;CN=\"DSR team\":mailto:team@nhs.example\r\n", "METHOD:REQUEST\r\n"} {
		if !strings.Contains(cal, want) {
			t.Errorf("calendar lacks %q:\n%s", want, cal)
		}
	}
	if cancel.Method != "CANCEL" || !strings.HasPrefix(cancel.Subject, "Cancelled:") || !strings.Contains(cancel.Text, "Why: unwell") ||
		!strings.Contains(string(cancel.Calendar), "METHOD:CANCEL\r\n") {
		t.Errorf("cancellation: %+v", cancel)
	}
	if inv.Key == cancel.Key {
		t.Errorf("two emails share the key %s", inv.Key)
	}
}

func TestFeedbackEmailsAndOthersLeftAlone(t *testing.T) {
	answered := time.Now()
	out := &outbox{}
	f := store.FeedbackRequest{ID: 9, PersonID: 1042, Reference: "DSR-1042", Service: "CLDT", Email: "cldt@nhs.example", Question: "How is it going?", Token: "tok"}
	n := &Notifier{Records: records{feedback: f}, Sender: out, PublicURL: "https://dsr.example/"}
	ctx := context.Background()
	if err := n.Notify(ctx, notify.ForFeedback(1042, notify.FeedbackNote{RequestID: 9}, "alice", answered)); err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(ctx, notify.Notification{Key: "k", Event: notify.TaskOpened, TaskID: 4}); err != nil {
		t.Fatal(err)
	}
	if len(out.sent) != 1 || out.sent[0].To != "cldt@nhs.example" || !strings.Contains(out.sent[0].Text, "https://dsr.example/feedback/tok") {
		t.Fatalf("sent %+v", out.sent)
	}
	// A chaser for a request answered meanwhile is not sent.
	f.AnsweredAt = &answered
	n.Records = records{feedback: f}
	if err := n.Notify(ctx, notify.ForFeedback(1042, notify.FeedbackNote{RequestID: 9, Chase: 1}, "dsr:timer", answered)); err != nil {
		t.Fatal(err)
	}
	if len(out.sent) != 1 {
		t.Errorf("a chaser went after the answer: %+v", out.sent[1:])
	}
}
