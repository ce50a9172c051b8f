package mailbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/mail"
	"github.com/dsr-register/dsr/internal/mail/devmail"
	"github.com/dsr-register/dsr/internal/mail/devmail/devmailtest"
	"github.com/dsr-register/dsr/internal/mail/mbe"
	"github.com/dsr-register/dsr/internal/mail/mbereply"
	"github.com/dsr-register/dsr/internal/mail/smtp"
	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/store"
)

// The whole loop of an incomplete MbE request by email: the intake takes
// it, mbereply asks for what is missing through the outbox, the requester's
// answer in the thread completes it, and the team's decision is emailed.

// deliverOutbox hands what the outbox holds to the mail notifier, as the
// dispatcher does, marks each delivered, and returns the emails among them
// (the decision task's Slack prompt and its edit are queued beside them).
func deliverOutbox(t *testing.T, st *store.Store, n *mbereply.Notifier) []notify.Notification {
	t.Helper()
	ctx := context.Background()
	items, err := st.WaitingNotifications(ctx, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []notify.Notification
	for _, it := range items {
		var note notify.Notification
		if err := jsonUnmarshal(it.Payload, &note); err != nil {
			t.Fatal(err)
		}
		if err := n.Notify(ctx, note); err != nil {
			t.Fatalf("delivering %s: %v", note.Key, err)
		}
		if err := st.NotificationDelivered(ctx, it.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if note.Event == notify.MbEMissingFields || note.Event == notify.MbEDecision {
			out = append(out, note)
		}
	}
	return out
}

func mailNotifier(srv *devmail.Server, st *store.Store) *mbereply.Notifier {
	return &mbereply.Notifier{Requests: st, Sender: &smtp.Sender{Keys: st, Config: config.SMTPConfig{
		Host: "127.0.0.1", Port: srv.SMTPPort(), TLS: "none", From: "DSR team <" + devmail.TeamAddress + ">"}}}
}

func TestMissingFieldsReplyThenCompletingReplyThenDecision(t *testing.T) {
	ctx := context.Background()
	st, srv := newStore(t), devmailtest.Start(t)
	in, notifier := newIntake(srv, st), mailNotifier(srv, st)
	devmailtest.SendToTeam(t, srv, `From: Sam Nurse <sam.nurse@nhs.example>
To: dsr-team@localhost
Subject: URGENT mbe Request
Message-ID: <first@nhs.example>

Name: Jo Bloggs
Purpose of meeting - to agree a discharge plan

Sent from my iPhone
`)
	if _, err := in.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	reqs, _ := st.MbERequests(ctx, store.MbEIncomplete)
	if len(reqs) != 1 || strings.Join(reqs[0].Missing, ",") != "invitees,why_not_mdt" {
		t.Fatalf("incomplete requests: %+v", reqs)
	}
	notes := deliverOutbox(t, st, notifier)
	if len(notes) != 1 || notes[0].Event != notify.MbEMissingFields {
		t.Fatalf("notifications: %+v", notes)
	}
	// Delivered again (a retry after a lost acknowledgement): not sent twice.
	if err := notifier.Notify(ctx, notes[0]); err != nil {
		t.Fatal(err)
	}
	var replies []devmail.Stored
	waitFor(t, "the reply in the outbox reader's INBOX", func() bool {
		replies = folder(t, srv, devmail.ReaderUser, devmail.ReaderPassword, "INBOX")
		return len(replies) >= 1
	})
	if len(replies) != 1 {
		t.Fatalf("%d replies sent, want 1", len(replies))
	}
	reply, err := mail.ParseMessage(replies[0].Raw)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Subject != "Re: URGENT mbe Request" || strings.Join(reply.InReplyTo, ",") != "first@nhs.example" ||
		strings.Join(reply.References, ",") != "first@nhs.example" {
		t.Errorf("reply not threaded: %+v", reply)
	}
	for _, want := range []string{mbe.FieldDescriptions[mbe.FieldInvitees], mbe.FieldDescriptions[mbe.FieldWhyNotMDT]} {
		if !strings.Contains(reply.Text, want) {
			t.Errorf("reply does not ask for %q:\n%s", want, reply.Text)
		}
	}
	for _, not := range []string{mbe.FieldDescriptions[mbe.FieldName], mbe.FieldDescriptions[mbe.FieldPurpose], "Jo", "Bloggs"} {
		if strings.Contains(reply.Text, not) {
			t.Errorf("reply says %q, which it need not:\n%s", not, reply.Text)
		}
	}

	// The requester answers in the thread, quoting the reply.
	devmailtest.SendToTeam(t, srv, fmt.Sprintf(`From: Sam Nurse <sam.nurse@nhs.example>
To: dsr-team@localhost
Subject: RE: URGENT mbe Request
Message-ID: <second@nhs.example>
In-Reply-To: <%s>
References: <first@nhs.example> <%s>

Who to invite: Jo and her mum
Why not MDT: the MDT has not been able to meet

From: DSR team <dsr-team@localhost>
Sent: today
> Name: Someone Else
`, reply.MessageID, reply.MessageID))
	if _, err := in.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := st.MbERequest(ctx, reqs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	want := store.MbEDetails{Name: "Jo Bloggs", Purpose: "to agree a discharge plan", Invitees: "Jo and her mum", WhyNotMDT: "the MDT has not been able to meet"}
	if r.Status != store.MbEAwaitingDecision || r.Details != want || r.TaskID == 0 || r.PersonID != 0 {
		t.Fatalf("after the completing reply: %+v", r)
	}
	if all, _ := st.MbERequests(ctx, ""); len(all) != 1 {
		t.Fatalf("the reply made a new request: %d requests", len(all))
	}
	task, err := st.Task(ctx, r.TaskID)
	if err != nil || task.Kind != store.TaskMbEDecision || task.Status != "open" {
		t.Fatalf("decision task: %+v, %v", task, err)
	}
	if notes := deliverOutbox(t, st, notifier); len(notes) != 0 {
		t.Fatalf("a complete request emailed %+v", notes)
	}

	// The team declines, with a reason; the requester is told.
	if _, err := st.DecideMbE(ctx, r.ID, "decline", "an MDT should meet first", "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DecideMbE(ctx, r.ID, "hold", "", "bob", time.Now()); !errors.Is(err, store.ErrMbEDecided) {
		t.Fatalf("the other decision after a decline: %v, want ErrMbEDecided", err)
	}
	notes = deliverOutbox(t, st, notifier)
	if len(notes) != 1 || notes[0].Event != notify.MbEDecision {
		t.Fatalf("decision notifications: %+v", notes)
	}
	waitFor(t, "the decision email", func() bool {
		return len(folder(t, srv, devmail.ReaderUser, devmail.ReaderPassword, "INBOX")) == 2
	})
	got, _ := mail.ParseMessage(folder(t, srv, devmail.ReaderUser, devmail.ReaderPassword, "INBOX")[1].Raw)
	if !strings.Contains(got.Text, "decided not to hold") || !strings.Contains(got.Text, "an MDT should meet first") ||
		strings.Join(got.InReplyTo, ",") != "first@nhs.example" {
		t.Errorf("decision email: %+v", got)
	}
	task, _ = st.Task(ctx, r.TaskID)
	if task.Status != "done" || task.ClosedBy != "alice" {
		t.Errorf("decision task after the decision: %+v", task)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
