package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dsr-register/dsr/internal/register/registertest"
	"github.com/dsr-register/dsr/workflows"
)

// Information governance over the real stack (issue 10): a child's consent
// follows their age, reads are audited and can be seen, subject access
// holds one person's data and nobody else's, erasure on request and by the
// retention timer leave an anonymous skeleton and an audit entry.

func TestEndToEndInformationGovernance(t *testing.T) {
	// Retention of seconds, so the durable timer's erasure is seen here.
	s := startStack(t, map[string]string{"DSR_RETENTION_AFTER_REMOVAL": "15s"})
	now := time.Now().UTC()
	today := now.Format("2006-01-02")

	// A 15-year-old who turns 16 in 20 days (inside the 30-day notice).
	sixteen := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 20)
	childDOB := sixteen.AddDate(-16, 0, 0).Format("2006-01-02")
	nhs := func(stem int) string {
		n, ok := registertest.NHSNumber(stem)
		if !ok {
			t.Fatalf("no valid NHS number has the stem %d", stem)
		}
		return n
	}
	childNHS, adultNHS, thirdNHS := nhs(943476587), nhs(401023456), nhs(401023457)
	child := s.call("POST", "/api/v1/referrals", coordToken, referral("Robin", "Childs", childDOB, childNHS)).expect(t, 201, "child referral")
	childID := int64(child.Body["person_id"].(float64))
	adult := s.call("POST", "/api/v1/referrals", coordToken, referral("Grace", "Hopper", "1986-12-09", adultNHS)).expect(t, 201, "adult referral")
	adultID := int64(adult.Body["person_id"].(float64))
	path := func(id int64, rest string) string { return fmt.Sprintf("/api/v1/people/%d%s", id, rest) }

	// Consent follows age: a parent's consent runs to the 16th birthday,
	// and its renewal task is open before then.
	c := s.call("POST", path(childID, "/consent"), coordToken, map[string]any{
		"basis": "parental", "given_by": "Pat Childs", "decided_on": today, "notes": "spoke to Pat Childs"}).expect(t, 200, "parental consent")
	if got, _ := c.Body["consent_expires_at"].(string); !strings.HasPrefix(got, sixteen.Format("2006-01-02")) {
		t.Errorf("parental consent for a 15-year-old expires %q, want the 16th birthday %s", got, sixteen.Format("2006-01-02"))
	}
	s.eventually("a consent_renewal task due on the 16th birthday", func() bool {
		tasks := s.call("GET", fmt.Sprintf("/api/v1/tasks?status=open&person_id=%d", childID), coordToken, nil)
		return strings.Contains(tasks.Raw, `"kind":"consent_renewal"`) && strings.Contains(tasks.Raw, sixteen.Format("2006-01-02")+"T00:00:00Z")
	})

	// Reading a record shows in its views: who, through what.
	s.call("GET", path(childID, ""), managerToken, nil).expect(t, 200, "manager reads the record")
	s.call("GET", path(childID, "/escalations"), coordToken, nil).expect(t, 200, "escalations read")
	views := s.call("GET", path(childID, "/views"), coordToken, nil).expect(t, 200, "views")
	for _, want := range []string{`"actor":"maria","via":"api","what":"record"`, `"actor":"alice","via":"api","what":"escalations"`, `"what":"tasks"`} {
		if !strings.Contains(views.Raw, want) {
			t.Errorf("views lack %s: %s", want, views.Raw)
		}
	}
	s.call("GET", path(childID, "/views"), managerToken, nil).expect(t, 403, "a manager cannot see the views")
	if strings.Contains(views.Raw, "Robin") || strings.Contains(views.Raw, childNHS) {
		t.Errorf("the views hold personal data: %s", views.Raw)
	}

	// Subject access: the child's data, nobody else's.
	exp := s.call("GET", path(childID, "/export"), coordToken, nil).expect(t, 200, "export")
	for _, want := range []string{"Robin", "Childs", childNHS, "Pat Childs", fmt.Sprintf("DSR-%d", childID), `"action":"viewed"`, "consent_recorded", "consent_renewal"} {
		if !strings.Contains(exp.Raw, want) {
			t.Errorf("the export lacks %q", want)
		}
	}
	for _, other := range []string{"Grace", "Hopper", adultNHS, fmt.Sprintf("DSR-%d", adultID), fmt.Sprintf(`"person_id":%d`, adultID)} {
		if strings.Contains(exp.Raw, other) {
			t.Errorf("the export of DSR-%d holds %q, someone else's", childID, other)
		}
	}
	doc := s.callAccept(path(childID, "/export"), "text/html")
	if doc.Code != 200 || !strings.Contains(doc.Raw, "<h2>Consent</h2>") || !strings.Contains(doc.Raw, "Robin Childs") || strings.Contains(doc.Raw, "Hopper") {
		t.Errorf("the export as a document: %d %.300s", doc.Code, doc.Raw)
	}
	views = s.call("GET", path(childID, "/views"), coordToken, nil)
	if !strings.Contains(views.Raw, `"what":"export"`) {
		t.Errorf("the export must be audited: %s", views.Raw)
	}

	// Erasure on request: only for someone removed.
	s.call("POST", path(childID, "/erasure"), coordToken, map[string]any{"reason": "asked"}).expect(t, 409, "erasing someone on the register")
	s.call("POST", path(adultID, "/removal"), coordToken, map[string]any{"reason": "moved_out_of_area"}).expect(t, 200, "remove")
	s.call("POST", path(adultID, "/erasure"), coordToken, map[string]any{"reason": ""}).expect(t, 400, "erasure without a reason")
	s.call("POST", path(adultID, "/erasure"), coordToken, map[string]any{"reason": "the person asked (Art. 17)"}).expect(t, 200, "erasure on request")
	checkSkeleton(t, s, adultID, "alice", "Grace", "Hopper", adultNHS)

	// The durable timer: removed, and erased once the retention period
	// (15 s here) has passed, by the retention workflow.
	third := s.call("POST", "/api/v1/referrals", coordToken, referral("Alan", "Turing", "1980-06-23", thirdNHS)).expect(t, 201, "third referral")
	thirdID := int64(third.Body["person_id"].(float64))
	s.call("POST", path(thirdID, "/removal"), coordToken, map[string]any{"reason": "risk_reduced"}).expect(t, 200, "remove")
	if _, err := s.temporal.DescribeWorkflowExecution(t.Context(), workflows.RetentionWorkflowID(thirdID), ""); err != nil {
		t.Fatalf("removal must start the retention timer %s: %v", workflows.RetentionWorkflowID(thirdID), err)
	}
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		p := s.call("GET", path(thirdID, ""), coordToken, nil)
		if strings.Contains(p.Raw, `"erased_at"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not erased 90 s after a 15 s retention period: %s", p.Raw)
		}
	}
	checkSkeleton(t, s, thirdID, "dsr:retention", "Alan", "Turing", thirdNHS)

	// The child's spell, consent ending at 16 and then withdrawn (which
	// starts their retention timer), is kept for the replay test.
	s.call("POST", path(childID, "/consent/withdraw"), coordToken, map[string]any{"reason": "the family asked"}).expect(t, 200, "withdraw")
	s.eventually("the child's workflow to end", func() bool {
		d, err := s.temporal.DescribeWorkflowExecution(t.Context(), workflows.PersonWorkflowID(childID), "")
		return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
	})
	raw, err := protojson.Marshal(s.history(childID))
	if err != nil {
		t.Fatal(err)
	}
	recordHistory(t, "person_consent_ends_at_16.json", raw)
}

// checkSkeleton: the record keeps its reference, stage and dates, loses
// every identifying detail, and its history ends with the erasure.
func checkSkeleton(t *testing.T, s *stack, id int64, by string, secrets ...string) {
	t.Helper()
	p := s.call("GET", fmt.Sprintf("/api/v1/people/%d", id), coordToken, nil).expect(t, 200, "the skeleton")
	for _, secret := range secrets {
		if strings.Contains(p.Raw, secret) {
			t.Errorf("DSR-%d still holds %q after erasure", id, secret)
		}
	}
	if p.Body["stage"] != "removed" || p.Body["removed_at"] == nil || p.Body["reference"] != fmt.Sprintf("DSR-%d", id) || p.Body["erased_at"] == nil {
		t.Errorf("the skeleton must keep reference, stage and dates: %s", p.Raw)
	}
	if !strings.Contains(p.Raw, `"action":"erased"`) || !strings.Contains(p.Raw, `"actor":"`+by+`"`) {
		t.Errorf("the erasure must be audited (by %s): %s", by, p.Raw)
	}
}

// callAccept GETs path with an Accept header, as a browser would.
func (s *stack) callAccept(path, accept string) response {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.api+path, nil)
	req.Header.Set("Authorization", "Bearer "+coordToken)
	req.Header.Set("Accept", accept)
	resp, err := apiClient.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return response{Code: resp.StatusCode, Raw: b.String()}
}
