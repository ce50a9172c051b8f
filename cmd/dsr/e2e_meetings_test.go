package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/http/cookiejar"
	netmail "net/mail"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dsr-register/dsr/internal/mail/devmail"
	"github.com/dsr-register/dsr/internal/mail/devmail/devmailtest"
	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/workflows"
)

// TestEndToEndMeetings convenes, changes and cancels a meeting over the API
// on the real stack, reads the invitations dsr sent over SMTP from devmail's
// mailbox over IMAP (the .ics parsed back and checked); then a
// meeting held with actions that are chased and told to the managers; a
// community C(E)TR held while red that closes the escalation's C(E)TR
// action; and a feedback request answered through its link.
func TestEndToEndMeetings(t *testing.T) {
	mailSrv := devmailtest.Start(t)
	s := startStack(t, sendingMailEnv(mailSrv, map[string]string{
		"DSR_CHASE_EVERY":                   "2s",
		"DSR_MEETING_ACTION_ESCALATE_AFTER": "1s",
		"DSR_FEEDBACK_CHASE_AFTER":          "2s",
		"DSR_PUBLIC_URL":                    "https://dsr.example.nhs.uk",
	}))
	today := s.today()
	yesterday := s.day(-1)
	id, pp := s.referWithConsent("Jordan", "Okafor", "1999-03-04", "9434765919")

	// Bad input names each field; nothing is convened.
	bad := s.call("POST", pp+"/meetings", coordToken, map[string]any{"kind": "coffee", "purpose": "", "starts_at": "tomorrow",
		"duration": "1h", "location": "x", "invitees": []any{map[string]any{"name": "Pat", "email": "not-an-address"}}}).expect(t, 400, "bad meeting")
	for _, field := range []string{"kind", "purpose", "starts_at", "invitees[0].email"} {
		if !strings.Contains(bad.Raw, `"`+field+`"`) {
			t.Errorf("the refusal should name %s: %s", field, bad.Raw)
		}
	}
	s.call("POST", pp+"/meetings", managerToken, map[string]any{}).expect(t, 403, "managers do not convene")

	// Convene (twice with one Idempotency-Key: one meeting).
	startsAt := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Minute)
	meeting := map[string]any{"kind": "mdt", "purpose": "agree a crisis plan; review support", "starts_at": startsAt.Format(time.RFC3339),
		"duration": "1h30m", "location": "Room 2, Civic Centre, Stoke",
		"invitees": []any{
			map[string]any{"name": "Pat Okafor", "role": "parent", "email": "pat@example.org"},
			map[string]any{"name": "Dr Sam Lee", "role": "psychiatrist", "email": "sam.lee@nhs.example"},
		}}
	m := s.withKey("POST", pp+"/meetings", "convene-1", meeting).expect(t, 201, "convene")
	again := s.withKey("POST", pp+"/meetings", "convene-1", meeting).expect(t, 201, "convene again, same key")
	if again.Body["id"] != m.Body["id"] {
		t.Fatalf("a retry should answer with the same meeting: %s vs %s", m.Raw, again.Raw)
	}
	mid := int64(m.Body["id"].(float64))
	if m.Body["status"] != "scheduled" || m.Body["number"] != float64(1) || m.Body["sequence"] != float64(0) {
		t.Errorf("convened meeting: %s", m.Raw)
	}
	list := s.call("GET", pp+"/meetings", coordToken, nil).expect(t, 200, "person's meetings")
	if n := len(list.Body["meetings"].([]any)); n != 1 {
		t.Errorf("want one meeting, got %d: %s", n, list.Raw)
	}
	upcoming := s.call("GET", "/api/v1/meetings?upcoming=true", managerToken, nil).expect(t, 200, "upcoming")
	if !strings.Contains(upcoming.Raw, fmt.Sprintf(`"id":%d`, mid)) {
		t.Errorf("the register's upcoming meetings should list it: %s", upcoming.Raw)
	}

	mail := &mailReader{s: s, srv: mailSrv}
	uid := fmt.Sprintf("dsr-meeting-%d-1@dsr.example.nhs.uk", id)
	inv := mail.wait(uid, "Invitation:", 0, 2)
	for _, e := range inv {
		cal := parseICS(t, e.Calendar)
		if !strings.Contains(e.CalendarType, "method=REQUEST") {
			t.Errorf("invitation part %q", e.CalendarType)
		}
		want := map[string]string{"METHOD": "REQUEST", "UID": uid, "SEQUENCE": "0", "ORGANIZER": "mailto:" + devmail.TeamAddress,
			"DTSTART": startsAt.Format("20060102T150405Z"), "DTEND": startsAt.Add(90 * time.Minute).Format("20060102T150405Z"),
			"LOCATION": `Room 2\, Civic Centre\, Stoke`, "STATUS": "CONFIRMED"}
		for k, v := range want {
			if cal[k] != v {
				t.Errorf("invitation to %s: %s = %q, want %q", e.To, k, cal[k], v)
			}
		}
		if !strings.Contains(cal["ATTENDEE"], "mailto:pat@example.org") || !strings.Contains(cal["ATTENDEE"], "mailto:sam.lee@nhs.example") {
			t.Errorf("attendees: %q", cal["ATTENDEE"])
		}
		if strings.Contains(e.Text, "Jordan") || strings.Contains(e.Text, "9434765919") || strings.Contains(e.Text, "1999") {
			t.Errorf("the invitation names the person: %s", e.Text)
		}
	}
	if got := inv[0].To + " " + inv[1].To; !strings.Contains(got, "pat@example.org") || !strings.Contains(got, "sam.lee@nhs.example") {
		t.Errorf("invitations went to %v", got)
	}

	// A change: SEQUENCE 1 to everyone now invited.
	moved := startsAt.Add(24 * time.Hour)
	s.withKey("POST", fmt.Sprintf("/api/v1/meetings/%d/change", mid), "change-1", map[string]any{"starts_at": moved.Format(time.RFC3339),
		"location": "https://meet.example/abc"}).expect(t, 200, "change")
	for _, e := range mail.wait(uid, "Updated:", 1, 2) {
		cal := parseICS(t, e.Calendar)
		if cal["METHOD"] != "REQUEST" || cal["SEQUENCE"] != "1" || cal["DTSTART"] != moved.Format("20060102T150405Z") || cal["LOCATION"] != "https://meet.example/abc" {
			t.Errorf("update: %v", cal)
		}
	}
	// A cancellation: a CANCEL, SEQUENCE 2; then it cannot be changed.
	s.withKey("POST", fmt.Sprintf("/api/v1/meetings/%d/cancel", mid), "cancel-1", map[string]any{"reason": ""}).expect(t, 400, "cancel without a reason")
	s.withKey("POST", fmt.Sprintf("/api/v1/meetings/%d/cancel", mid), "cancel-2", map[string]any{"reason": "family unwell"}).expect(t, 200, "cancel")
	for _, e := range mail.wait(uid, "Cancelled:", 2, 2) {
		cal := parseICS(t, e.Calendar)
		if cal["METHOD"] != "CANCEL" || cal["SEQUENCE"] != "2" || cal["STATUS"] != "CANCELLED" {
			t.Errorf("cancellation: %v", cal)
		}
	}
	s.eventually("the cancelled meeting's workflow to end", func() bool {
		return s.withKey("POST", fmt.Sprintf("/api/v1/meetings/%d/change", mid), "change-late", map[string]any{"location": "x"}).Code == 409
	})

	// A meeting held, with actions: each a meeting_action task, chased
	// every DSR_CHASE_EVERY and told to the managers once overdue.
	soon := s.convene(pp, "mdt", time.Now().Add(3*time.Second))
	s.eventually("the meeting to start", func() bool { return time.Now().After(soon.startsAt) })
	s.withKey("POST", fmt.Sprintf("/api/v1/meetings/%d/outcome", soon.id), "outcome-0", map[string]any{"held": true}).expect(t, 400, "held without held_on")
	out := s.withKey("POST", fmt.Sprintf("/api/v1/meetings/%d/outcome", soon.id), "outcome-1", map[string]any{"held": true, "held_on": today,
		"notes": "plan agreed", "actions": []any{
			map[string]any{"description": "share the crisis plan with the GP", "owner": "Dr Lee", "due_on": yesterday},
			map[string]any{"description": "book the follow-up", "owner": "DSR team", "due_on": today},
		}}).expect(t, 200, "outcome")
	actions := out.Body["actions"].([]any)
	if len(actions) != 2 || out.Body["status"] != "held" {
		t.Fatalf("outcome: %s", out.Raw)
	}
	firstAction := int64(actions[0].(map[string]any)["task_id"].(float64))
	s.eventually("the overdue action chased", func() bool {
		tasks := s.call("GET", fmt.Sprintf("/api/v1/tasks?status=open&person_id=%d", id), coordToken, nil)
		return strings.Contains(tasks.Raw, `"kind":"meeting_action"`) && regexp.MustCompile(`"reminders":[1-9]`).MatchString(tasks.Raw)
	})
	s.eventually("the managers told about the overdue action", func() bool {
		return s.countOutbox(fmt.Sprintf(`%s:managers:%%`, "%-m2-%"), string(notify.ManagersAlerted)) >= 1
	})
	s.withKey("POST", fmt.Sprintf("/api/v1/meeting-actions/%d/done", firstAction), "done-1", map[string]any{"notes": "sent"}).expect(t, 200, "action done")
	s.withKey("POST", fmt.Sprintf("/api/v1/meeting-actions/%d/done", firstAction), "done-2", map[string]any{}).expect(t, 409, "action done twice")

	// Red: the escalation asks for a community C(E)TR; one convened and
	// held closes it, with its date.
	s.call("POST", pp+"/rating", coordToken, map[string]any{"rating": "red", "rationale": "crisis"}).expect(t, 200, "red")
	s.eventually("the escalation's C(E)TR", func() bool { return slices.Contains(s.openTaskKinds(id), "community_ctr") })
	ctr := s.convene(pp, "community_ctr", time.Now().Add(3*time.Second))
	s.eventually("the C(E)TR to start", func() bool { return time.Now().After(ctr.startsAt) })
	s.withKey("POST", fmt.Sprintf("/api/v1/meetings/%d/outcome", ctr.id), "ctr-held", map[string]any{"held": true, "held_on": today, "notes": "C(E)TR held"}).expect(t, 200, "C(E)TR held")
	s.eventually("the escalation's C(E)TR closed by the meeting", func() bool {
		if slices.Contains(s.openTaskKinds(id), "community_ctr") {
			return false
		}
		done := s.call("GET", fmt.Sprintf("/api/v1/tasks?status=done&person_id=%d", id), coordToken, nil)
		return strings.Contains(done.Raw, `"kind":"community_ctr"`) && strings.Contains(done.Raw, "C(E)TR held on")
	})

	// Feedback from a service, answered through its link.
	fr := s.withKey("POST", pp+"/feedback-requests", "fb-1", map[string]any{"service": "Community LD team", "email": "cldt@nhs.example",
		"question": "How has the week gone since the new support plan?"}).expect(t, 201, "feedback request")
	s.withKey("POST", pp+"/feedback-requests", "fb-0", map[string]any{"service": "", "email": "nope", "question": ""}).expect(t, 400, "bad feedback request")
	link := fr.Body["link"].(string)
	if !strings.HasPrefix(link, "https://dsr.example.nhs.uk/feedback/") || len(strings.TrimPrefix(link, "https://dsr.example.nhs.uk/feedback/")) < 40 {
		t.Fatalf("link %q", link)
	}
	fbMail := mail.to("cldt@nhs.example", "Feedback requested")
	if !strings.Contains(fbMail.Text, link) || strings.Contains(fbMail.Text, "Jordan") {
		t.Errorf("feedback email: %+v", fbMail)
	}
	page := s.api + strings.TrimPrefix(link, "https://dsr.example.nhs.uk")
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: time.Minute}
	body := get(t, browser, page)
	if !strings.Contains(body, "How has the week gone") || !strings.Contains(body, fmt.Sprintf("DSR-%d", id)) || strings.Contains(body, "Okafor") {
		t.Errorf("the page should show the question and the reference only:\n%s", body)
	}
	formToken := regexp.MustCompile(`name="form_token" value="([^"]+)"`).FindStringSubmatch(body)
	if formToken == nil {
		t.Fatalf("no form token in the page")
	}
	// Without the form's token (another site posting), nothing is filed.
	if code, _ := post(t, &http.Client{Timeout: time.Minute}, page, url.Values{"answer": {"forged"}}); code != 400 {
		t.Errorf("a post without the form token: %d", code)
	}
	code, thanks := post(t, browser, page, url.Values{"answer": {"Settled well; one incident on Tuesday."}, "form_token": {formToken[1]}})
	if code != 200 || !strings.Contains(thanks, "Thank you") {
		t.Fatalf("answer: %d\n%s", code, thanks)
	}
	if again := get(t, browser, page); !strings.Contains(again, "already been answered") {
		t.Errorf("a second visit should say it was answered")
	}
	person := s.call("GET", pp, coordToken, nil).expect(t, 200, "person")
	if !strings.Contains(person.Raw, `"action":"feedback_received"`) || !strings.Contains(person.Raw, "one incident on Tuesday") {
		t.Errorf("the answer should be in the person's timeline: %s", tail(person.Raw, 2000))
	}
	// An unanswered request is chased.
	s.withKey("POST", pp+"/feedback-requests", "fb-2", map[string]any{"service": "Housing", "email": "housing@council.example", "question": "Is the tenancy secure?"}).expect(t, 201, "second request")
	s.eventually("the unanswered request chased", func() bool {
		return strings.Contains(s.call("GET", pp, coordToken, nil).Raw, `"action":"feedback_chased"`)
	})

	// The managers' MbE counts (the requests themselves are part 1's e2e).
	rep := s.call("GET", "/api/v1/reports/mbe", managerToken, nil).expect(t, 200, "MbE report")
	if rep.Body["received"] != float64(0) || rep.Body["mbe_meetings_held"] != float64(0) {
		t.Errorf("MbE report: %s", rep.Raw)
	}
	s.call("GET", "/api/v1/reports/mbe?from=2026-13-01", managerToken, nil).expect(t, 400, "MbE report, bad from")

	// Nothing personal in the meetings' workflow IDs or histories in clear.
	for n := 1; n <= 3; n++ {
		raw, err := protojson.Marshal(s.workflowHistory(workflows.MeetingWorkflowID(id, n)))
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"Jordan", "Okafor", "9434765919", "pat@example.org", "Civic Centre", "crisis plan"} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("meeting %d history holds %q in clear", n, secret)
			}
		}
		if n == 2 {
			recordHistory(t, "meeting_held_actions_chased.json", raw)
		}
	}
	if chaser := mail.to("housing@council.example", "Reminder: Feedback requested"); !strings.Contains(chaser.Text, "/feedback/") {
		t.Errorf("the chaser should carry the link: %s", chaser.Text)
	}
	raw, err := protojson.Marshal(s.history(id))
	if err != nil {
		t.Fatal(err)
	}
	recordHistory(t, "person_meetings_convened.json", raw)
}

type convened struct {
	id       int64
	startsAt time.Time
}

func (s *stack) convene(pp, kind string, at time.Time) convened {
	s.t.Helper()
	at = at.UTC().Truncate(time.Second)
	r := s.withKey("POST", pp+"/meetings", fmt.Sprintf("convene-%s-%d", kind, at.Unix()), map[string]any{"kind": kind, "purpose": "review", "starts_at": at.Format(time.RFC3339),
		"duration": 30, "location": "Video call", "invitees": []any{map[string]any{"name": "Alex", "role": "social worker", "email": "alex@council.example"}}})
	r.expect(s.t, 201, "convene "+kind)
	return convened{id: int64(r.Body["id"].(float64)), startsAt: at}
}

func (s *stack) countOutbox(keyLike, event string) int {
	s.t.Helper()
	conn, err := pgx.Connect(context.Background(), s.env["DATABASE_URL"])
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `select count(*) from notification_outbox where key like $1 and payload->>'Event' = $2`, keyLike, event).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// mailReader reads what dsr sent from devmail's outbox reader over IMAP,
// each message split into its text and its calendar part.
type mailReader struct {
	s   *stack
	srv *devmail.Server
}

type sentMail struct {
	To, Subject, Text string
	Calendar          []byte
	CalendarType      string
}

func (m *mailReader) all() []sentMail {
	m.s.t.Helper()
	var out []sentMail
	for _, raw := range readMailbox(m.s.t, m.srv, devmail.ReaderUser, devmail.ReaderPassword, "INBOX") {
		out = append(out, splitMail(m.s.t, raw))
	}
	return out
}

// splitMail reads a message as the sender writes it: plain text, or
// multipart/mixed with a text part and attachments (base64).
func splitMail(t *testing.T, raw []byte) sentMail {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	out := sentMail{To: msg.Header.Get("To"), Subject: subject}
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	readPart := func(h textproto.MIMEHeader, r io.Reader) []byte {
		switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, r)
		case "quoted-printable":
			r = quotedprintable.NewReader(r)
		}
		b, _ := io.ReadAll(r)
		return b
	}
	if !strings.HasPrefix(mt, "multipart/") {
		out.Text = string(readPart(textproto.MIMEHeader(msg.Header), msg.Body))
		return out
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			break
		}
		ct := p.Header.Get("Content-Type")
		body := readPart(p.Header, p)
		switch {
		case strings.HasPrefix(ct, "text/calendar"):
			out.Calendar, out.CalendarType = body, ct
		case strings.HasPrefix(ct, "text/plain"):
			out.Text = string(body)
		}
	}
	return out
}

// wait waits for want messages whose subject starts with prefix and whose
// calendar is the meeting's at the sequence.
func (m *mailReader) wait(uid, prefix string, sequence, want int) []sentMail {
	m.s.t.Helper()
	var got []sentMail
	m.s.eventually(fmt.Sprintf("%d %q emails", want, prefix), func() bool {
		got = nil
		for _, e := range m.all() {
			if strings.HasPrefix(e.Subject, prefix) && bytes.Contains(e.Calendar, []byte("UID:"+uid)) &&
				bytes.Contains(e.Calendar, []byte(fmt.Sprintf("SEQUENCE:%d\r\n", sequence))) {
				got = append(got, e)
			}
		}
		return len(got) >= want
	})
	if len(got) != want {
		m.s.t.Errorf("%q: %d emails, want %d (sent once per invitee)", prefix, len(got), want)
	}
	return got
}

// to waits for a message to an address whose subject contains what.
func (m *mailReader) to(addr, what string) sentMail {
	m.s.t.Helper()
	var got sentMail
	m.s.eventually("an email to "+addr, func() bool {
		for _, e := range m.all() {
			if strings.Contains(e.To, addr) && strings.Contains(e.Subject, what) {
				got = e
				return true
			}
		}
		return false
	})
	return got
}

// parseICS reads a calendar strictly enough for the checks: CRLF lines of
// at most 75 octets, unfolded, one value per property (ATTENDEEs joined).
func parseICS(t *testing.T, data []byte) map[string]string {
	t.Helper()
	s := string(data)
	if !strings.HasSuffix(s, "\r\n") || strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\n") {
		t.Fatalf("not CRLF lines:\n%q", s)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Fatalf("line over 75 octets: %q", l)
		}
		if strings.HasPrefix(l, " ") {
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	out := map[string]string{}
	for _, l := range lines {
		i := strings.IndexAny(l, ";:")
		name := l[:i]
		value := l[strings.Index(l, ":")+1:]
		if name == "ATTENDEE" || name == "ORGANIZER" {
			// The value follows the last colon outside quotes: mailto:…
			value = l[strings.LastIndex(l, ":mailto:")+1:]
		}
		if name == "ATTENDEE" && out[name] != "" {
			value = out[name] + " " + value
		}
		if name != "BEGIN" && name != "END" {
			out[name] = value
		}
	}
	return out
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
