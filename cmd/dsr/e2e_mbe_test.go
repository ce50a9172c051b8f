package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dsr-register/dsr/internal/mail"
	"github.com/dsr-register/dsr/internal/mail/devmail"
	"github.com/dsr-register/dsr/internal/mail/devmail/devmailtest"
	"github.com/dsr-register/dsr/internal/mail/mailbox"
	"github.com/dsr-register/dsr/internal/mail/mbe"
)

// MbE requests by email, end to end: `dsr serve` reading devmail's IMAP
// mailbox and sending through its SMTP server, over TCP.

// mbeMailbox reads a folder's messages without marking them read.
func mbeMailbox(t *testing.T, srv *devmail.Server, user, password, folder string) []mail.Message {
	t.Helper()
	var out []mail.Message
	for _, raw := range readMailbox(t, srv, user, password, folder) {
		p, err := mail.ParseMessage(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestEndToEndMbERequests(t *testing.T) {
	mailSrv := devmailtest.Start(t)
	s := startStack(t, sendingMailEnv(mailSrv, map[string]string{
		"DSR_MAILBOX_HOST": "127.0.0.1", "DSR_MAILBOX_PORT": fmt.Sprint(mailSrv.IMAPPort()), "DSR_MAILBOX_TLS": "none",
		"DSR_MAILBOX_USERNAME": devmail.TeamUser, "DSR_MAILBOX_PASSWORD": devmail.TeamPassword, "DSR_MAILBOX_POLL": "1s",
	}))

	// Josephine Bloggs is on the register; the email will say "Jo Bloggs".
	ref := s.call("POST", "/api/v1/referrals", coordToken, referral("Josephine", "Bloggs", "2001-02-03", "9434765919")).
		expect(t, 201, "referral")
	personID := int64(ref.Body["person_id"].(float64))

	devmailtest.SendToTeam(t, mailSrv, "From: someone@nhs.example\nTo: dsr-team@localhost\nSubject: Rota\nMessage-ID: <rota@nhs.example>\n\nNot for dsr.\n")
	devmailtest.SendToTeam(t, mailSrv, `From: Sam Nurse <sam.nurse@nhs.example>
To: dsr-team@localhost
Subject: FW: MbE request
Message-ID: <e2e-first@nhs.example>
Content-Type: text/html; charset=utf-8

<html><body><table><tr><td>Name</td><td>Jo Bloggs</td></tr>
<tr><td>Purpose of the meeting</td><td>To agree a discharge plan</td></tr></table>
<p>Kind regards</p><p>Sam</p></body></html>
`)

	var id int64
	s.eventually("the request is recorded as incomplete", func() bool {
		r := s.call("GET", "/api/v1/mbe-requests?status=incomplete", coordToken, nil).expect(t, 200, "list")
		list, _ := r.Body["mbe_requests"].([]any)
		if len(list) != 1 {
			return false
		}
		id = int64(list[0].(map[string]any)["id"].(float64))
		return true
	})
	var replies []mail.Message
	s.eventually("the missing-fields reply", func() bool {
		replies = mbeMailbox(t, mailSrv, devmail.ReaderUser, devmail.ReaderPassword, "INBOX")
		return len(replies) == 1
	})
	reply := replies[0]
	if reply.Subject != "Re: FW: MbE request" || strings.Join(reply.InReplyTo, "") != "e2e-first@nhs.example" ||
		!strings.Contains(reply.Text, mbe.FieldDescriptions[mbe.FieldInvitees]) ||
		!strings.Contains(reply.Text, mbe.FieldDescriptions[mbe.FieldWhyNotMDT]) ||
		strings.Contains(reply.Text, "Bloggs") {
		t.Fatalf("missing-fields reply: %+v", reply)
	}

	devmailtest.SendToTeam(t, mailSrv, fmt.Sprintf(`From: Sam Nurse <sam.nurse@nhs.example>
To: dsr-team@localhost
Subject: RE: FW: MbE request
Message-ID: <e2e-second@nhs.example>
In-Reply-To: <%s>
References: <e2e-first@nhs.example> <%s>

1. Jo Bloggs
2. To agree a discharge plan
3. Jo and her mum, the CTLD nurse
4. The MDT could not agree who leads

On Mon, 3 Mar 2025, DSR team wrote:
> Please reply
`, reply.MessageID, reply.MessageID))
	var got response
	s.eventually("the completing reply", func() bool {
		got = s.call("GET", fmt.Sprintf("/api/v1/mbe-requests/%d", id), coordToken, nil).expect(t, 200, "get")
		return got.Body["status"] == "awaiting_decision"
	})
	if got.Body["person_id"] != nil {
		t.Fatalf("the request was matched to someone without a coordinator: %s", got.Raw)
	}
	cands, _ := got.Body["candidates"].([]any)
	if len(cands) != 1 || int64(cands[0].(map[string]any)["person_id"].(float64)) != personID {
		t.Fatalf("candidates by name: %s", got.Raw)
	}
	taskID := int64(got.Body["task_id"].(float64))
	tasks := s.call("GET", "/api/v1/tasks?status=open", coordToken, nil).expect(t, 200, "tasks")
	if !strings.Contains(tasks.Raw, fmt.Sprintf(`"id":%d,`, taskID)) || !strings.Contains(tasks.Raw, `"kind":"mbe_decision"`) {
		t.Fatalf("the decision task is not in GET /tasks: %s", tasks.Raw)
	}

	// Matched by a coordinator, once however often it is sent.
	match := func(key string, person any) keyedAnswer {
		return s.keyed("POST", fmt.Sprintf("/api/v1/mbe-requests/%d/match", id), key, map[string]any{"person_id": person})
	}
	first := match("match-1", personID)
	again := match("match-1", personID)
	if first.code != 200 || again.code != 200 || again.replayed != "true" || again.raw != first.raw {
		t.Fatalf("match: %d %s / replay %d %q %s", first.code, first.raw, again.code, again.replayed, again.raw)
	}
	if a := match("match-2", "DSR-999999"); a.code != 404 {
		t.Errorf("matching to no one: %d %s", a.code, a.raw)
	}

	// The team decides: declining needs a reason.
	decide := func(key string, body map[string]any) keyedAnswer {
		return s.keyed("POST", fmt.Sprintf("/api/v1/mbe-requests/%d/decision", id), key, body)
	}
	if a := decide("d-0", map[string]any{"decision": "decline"}); a.code != 400 || !strings.Contains(a.raw, `"reason"`) {
		t.Fatalf("decline without a reason: %d %s", a.code, a.raw)
	}
	if a := decide("d-1", map[string]any{"decision": "hold"}); a.code != 200 || !strings.Contains(a.raw, `"status":"held"`) {
		t.Fatalf("hold: %d %s", a.code, a.raw)
	}
	if a := decide("d-2", map[string]any{"decision": "decline", "reason": "changed our minds"}); a.code != 409 {
		t.Fatalf("the other decision after hold: %d %s", a.code, a.raw)
	}
	s.eventually("the decision email", func() bool {
		replies = mbeMailbox(t, mailSrv, devmail.ReaderUser, devmail.ReaderPassword, "INBOX")
		return len(replies) == 2
	})
	if !strings.Contains(replies[1].Text, "agreed to hold") || strings.Join(replies[1].InReplyTo, "") != "e2e-first@nhs.example" {
		t.Fatalf("decision email: %+v", replies[1])
	}
	held := s.call("GET", "/api/v1/mbe-requests?status=held", coordToken, nil).expect(t, 200, "held")
	if list, _ := held.Body["mbe_requests"].([]any); len(list) != 1 {
		t.Fatalf("held requests: %s", held.Raw)
	}
	if inbox := mbeMailbox(t, mailSrv, devmail.TeamUser, devmail.TeamPassword, "INBOX"); len(inbox) != 1 || inbox[0].Subject != "Rota" {
		t.Fatalf("the team's INBOX holds %d messages; want the other mail only, left there", len(inbox))
	}
	if n := len(mbeMailbox(t, mailSrv, devmail.TeamUser, devmail.TeamPassword, mailbox.ProcessedFolder)); n != 2 {
		t.Fatalf("Processed holds %d; want the request and its reply", n)
	}
	if a := s.call("GET", "/api/v1/mbe-requests", managerToken, nil); a.Code != http.StatusForbidden {
		t.Errorf("a manager listing MbE requests: %d", a.Code)
	}
}
