package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
	"github.com/dsr-register/dsr/internal/mail/devmail"
	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/store"
)

var cluster = devstacktest.NewCluster("mail_test")

func TestMain(m *testing.M) { os.Exit(cluster.Run(m)) }

func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), cluster.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	// Closed before the database is dropped (cleanups run last first).
	t.Cleanup(st.Close)
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

func startMail(t *testing.T) *devmail.Server {
	t.Helper()
	srv, err := devmail.Start(devmail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func mailboxConfig(srv *devmail.Server) config.MailboxConfig {
	return config.MailboxConfig{Host: "127.0.0.1", Port: srv.IMAPPort(), Username: devmail.TeamUser,
		Password: devmail.TeamPassword, TLS: "none", Auth: "password", Poll: config.Duration(time.Second)}
}

func newIntake(srv *devmail.Server, st *store.Store) *Intake {
	return &Intake{Config: mailboxConfig(srv), Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PassTimeout: 30 * time.Second}
}

// send delivers raw over SMTP to the team's address, as a requester's mail
// client would.
func send(t *testing.T, srv *devmail.Server, raw string) {
	t.Helper()
	raw = strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\n", "\r\n")
	c, err := smtp.Dial(srv.SMTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("sam.nurse@nhs.example", []string{devmail.TeamAddress}, strings.NewReader(raw)); err != nil {
		t.Fatalf("sending over SMTP: %v", err)
	}
}

type stored struct {
	raw   []byte
	flags []imap.Flag
}

// folder reads every message in one of a user's folders over IMAP, without
// marking anything read.
func folder(t *testing.T, srv *devmail.Server, user, password, name string) []stored {
	t.Helper()
	c, err := imapclient.DialInsecure(srv.IMAPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Code == imap.ResponseCodeNonExistent {
			return nil
		}
		t.Fatalf("selecting %s: %v", name, err)
	}
	found, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	uids := found.AllUIDs()
	if len(uids) == 0 {
		return nil
	}
	whole := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{whole}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []stored
	for _, m := range msgs {
		out = append(out, stored{raw: m.FindBodySection(whole), flags: m.Flags})
	}
	return out
}

// waitFor polls until check passes or the deadline comes.
func waitFor(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const completeRequest = `From: Sam Nurse <sam.nurse@nhs.example>
To: dsr-team@localhost
Subject: MbE request
Message-ID: <%s>

Hello,

Name: Jo Bloggs
Purpose: To agree a discharge plan
Who to invite: Jo, her mum, the CTLD nurse
Why not an MDT: the MDT could not agree who leads

Kind regards
Sam
`

const otherMail = `From: someone@nhs.example
To: dsr-team@localhost
Subject: Team lunch on Friday
Message-ID: <lunch@nhs.example>

Pizza?
`

var errCrash = errors.New("stopped after recording, before moving")

func TestIntakeExactlyOnceAcrossRestart(t *testing.T) {
	ctx := context.Background()
	st, srv := newStore(t), startMail(t)
	send(t, srv, otherMail)
	send(t, srv, fmt.Sprintf(completeRequest, "req-1@nhs.example"))

	first := newIntake(srv, st)
	first.afterRecord = func(string) error { return errCrash }
	if n, err := first.Pass(ctx); !errors.Is(err, errCrash) || n != 1 {
		t.Fatalf("first pass: %d, %v; want 1 recorded then stopped", n, err)
	}
	if got := len(folder(t, srv, devmail.TeamUser, devmail.TeamPassword, "INBOX")); got != 2 {
		t.Fatalf("after a stop before moving, INBOX holds %d messages, want both still there", got)
	}

	// dsr starts again: the request is found recorded and only moved.
	second := newIntake(srv, st)
	if n, err := second.Pass(ctx); err != nil || n != 0 {
		t.Fatalf("second pass: %d recorded, %v; want 0 (already recorded)", n, err)
	}
	reqs, err := st.MbERequests(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].Status != store.MbEAwaitingDecision || reqs[0].Details.Name != "Jo Bloggs" ||
		reqs[0].MessageID != "req-1@nhs.example" || reqs[0].Requester != "sam.nurse@nhs.example" {
		t.Fatalf("requests after a restart: %+v", reqs)
	}
	processed := folder(t, srv, devmail.TeamUser, devmail.TeamPassword, ProcessedFolder)
	if len(processed) != 1 || !bytes.Contains(processed[0].raw, []byte("req-1@nhs.example")) {
		t.Fatalf("Processed holds %d messages, want the request once", len(processed))
	}
	inbox := folder(t, srv, devmail.TeamUser, devmail.TeamPassword, "INBOX")
	if len(inbox) != 1 || !bytes.Contains(inbox[0].raw, []byte("Team lunch")) {
		t.Fatalf("INBOX holds %d messages, want only the other mail", len(inbox))
	}
	for _, f := range inbox[0].flags {
		if f == imap.FlagSeen {
			t.Errorf("other mail was marked read: %v", inbox[0].flags)
		}
	}
	// And again: nothing more.
	if n, err := second.Pass(ctx); err != nil || n != 0 {
		t.Fatalf("third pass: %d, %v", n, err)
	}
	if len(folder(t, srv, devmail.TeamUser, devmail.TeamPassword, ProcessedFolder)) != 1 {
		t.Fatal("moved twice")
	}
}

func TestTwoIntakesAtOnce(t *testing.T) {
	ctx := context.Background()
	st, srv := newStore(t), startMail(t)
	const n = 8
	for i := range n {
		send(t, srv, fmt.Sprintf(completeRequest, fmt.Sprintf("req-%d@nhs.example", i)))
	}
	send(t, srv, otherMail)
	a, b := newIntake(srv, st), newIntake(srv, st)
	var wg sync.WaitGroup
	var recorded atomic.Int64
	for _, in := range []*Intake{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := in.Pass(ctx)
			recorded.Add(int64(got))
			if err != nil {
				t.Logf("a pass beside another: %v (the next pass carries on)", err)
			}
		}()
	}
	wg.Wait()
	// Whatever the race left, one more pass each finishes the moves.
	_, _ = a.Pass(ctx)
	_, _ = b.Pass(ctx)
	if recorded.Load() != n {
		t.Errorf("%d emails recorded across both intakes, want %d", recorded.Load(), n)
	}
	reqs, err := st.MbERequests(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != n {
		t.Errorf("%d requests, want %d", len(reqs), n)
	}
	if got := len(folder(t, srv, devmail.TeamUser, devmail.TeamPassword, ProcessedFolder)); got != n {
		t.Errorf("Processed holds %d, want %d", got, n)
	}
	if got := len(folder(t, srv, devmail.TeamUser, devmail.TeamPassword, "INBOX")); got != 1 {
		t.Errorf("INBOX holds %d, want the other mail only", got)
	}
}

// deliverOutbox hands what the outbox holds to the mail notifier, as the
// dispatcher does, marks each delivered, and returns the emails among them
// (the decision task's Slack prompt and its edit are queued beside them).
func deliverOutbox(t *testing.T, st *store.Store, n *Notifier) []notify.Notification {
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

func mailNotifier(srv *devmail.Server, st *store.Store) *Notifier {
	return &Notifier{Requests: st, Sender: &Sender{Keys: st, Config: config.SMTPConfig{
		Host: "127.0.0.1", Port: srv.SMTPPort(), TLS: "none", From: "DSR team <" + devmail.TeamAddress + ">"}}}
}

func TestMissingFieldsReplyThenCompletingReplyThenDecision(t *testing.T) {
	ctx := context.Background()
	st, srv := newStore(t), startMail(t)
	in, notifier := newIntake(srv, st), mailNotifier(srv, st)
	send(t, srv, `From: Sam Nurse <sam.nurse@nhs.example>
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
	var replies []stored
	waitFor(t, "the reply in the outbox reader's INBOX", func() bool {
		replies = folder(t, srv, devmail.ReaderUser, devmail.ReaderPassword, "INBOX")
		return len(replies) >= 1
	})
	if len(replies) != 1 {
		t.Fatalf("%d replies sent, want 1", len(replies))
	}
	reply, err := ParseMessage(replies[0].raw)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Subject != "Re: URGENT mbe Request" || strings.Join(reply.InReplyTo, ",") != "first@nhs.example" ||
		strings.Join(reply.References, ",") != "first@nhs.example" {
		t.Errorf("reply not threaded: %+v", reply)
	}
	for _, want := range []string{FieldDescriptions[FieldInvitees], FieldDescriptions[FieldWhyNotMDT]} {
		if !strings.Contains(reply.Text, want) {
			t.Errorf("reply does not ask for %q:\n%s", want, reply.Text)
		}
	}
	for _, not := range []string{FieldDescriptions[FieldName], FieldDescriptions[FieldPurpose], "Jo", "Bloggs"} {
		if strings.Contains(reply.Text, not) {
			t.Errorf("reply says %q, which it need not:\n%s", not, reply.Text)
		}
	}

	// The requester answers in the thread, quoting the reply.
	send(t, srv, fmt.Sprintf(`From: Sam Nurse <sam.nurse@nhs.example>
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
	got, _ := ParseMessage(folder(t, srv, devmail.ReaderUser, devmail.ReaderPassword, "INBOX")[1].raw)
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
