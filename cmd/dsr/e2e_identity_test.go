package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dsr-register/dsr/workflows"
)

// rawAnswer is an answer as a client sees it: status, headers and body.
type rawAnswer struct {
	Code   int
	Header http.Header
	Body   string
}

// post sends a POST and keeps the whole answer.
func (s *stack) post(path, token string, body any) rawAnswer {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.api+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := apiClient.Do(req)
	if err != nil {
		s.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return rawAnswer{Code: resp.StatusCode, Header: resp.Header, Body: string(raw)}
}

var receiptPattern = regexp.MustCompile(`"REF-[A-Z2-7]{16}"`)

// comparable is an answer with what must differ between any two answers
// (the receipt, the Date header) blanked out.
func (a rawAnswer) comparable() string {
	h := maps.Clone(a.Header)
	delete(h, "Date")
	keys := slices.Sorted(maps.Keys(h))
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", a.Code)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(h[k], ","))
	}
	b.WriteString(receiptPattern.ReplaceAllString(a.Body, `"REF-…"`))
	return b.String()
}

// personState is what a referral must not change about a known person:
// their record, their open tasks, their history, and their workflow's
// history length.
func (s *stack) personState(id int64) string {
	s.t.Helper()
	p := s.call("GET", fmt.Sprintf("/api/v1/people/%d", id), coordToken, nil).expect(s.t, 200, "get person")
	keep := map[string]any{}
	for _, k := range []string{"given_name", "family_name", "date_of_birth", "nhs_number", "nhs_number_disputed", "stage",
		"projection_seq", "updated_at", "open_tasks", "history", "referrals"} {
		keep[k] = p.Body[k]
	}
	b, _ := json.Marshal(keep)
	return fmt.Sprintf("%s\nworkflow events: %d", b, len(s.history(id).Events))
}

func TestEndToEndIdentity(t *testing.T) {
	s := startStack(t, nil)

	// Someone on the register (Ada), and someone removed from it (Grace).
	ada := s.call("POST", "/api/v1/referrals", coordToken, referral("Ada", "Lovelace", "1990-03-01", "9434765919")).expect(t, 201, "refer Ada")
	adaID := int64(ada.Body["person_id"].(float64))
	grace := s.call("POST", "/api/v1/referrals", coordToken, referral("Grace", "Hopper", "2012-05-05", "4010232137")).expect(t, 201, "refer Grace")
	graceID := int64(grace.Body["person_id"].(float64))
	s.eventually("Ada's consent task", func() bool {
		return strings.Contains(s.call("GET", fmt.Sprintf("/api/v1/tasks?status=open&person_id=%d", adaID), coordToken, nil).Raw, "consent_needed")
	})
	s.call("POST", fmt.Sprintf("/api/v1/people/%d/removal", graceID), coordToken, map[string]any{"reason": "other", "notes": "test"}).expect(t, 200, "remove Grace")

	// --- A known NHS number with another surname: held, nothing changes.
	s.eventually("Ada's workflow settled", func() bool {
		a, b := s.personState(adaID), s.personState(adaID)
		return a == b
	})
	before := s.personState(adaID)
	held := s.call("POST", "/api/v1/referrals", coordToken, referral("Ada", "Byron", "1990-03-01", "9434765919")).expect(t, 202, "another surname")
	check, _ := held.Body["identity_check"].(map[string]any)
	if check == nil || check["kind"] != "nhs_number_mismatch" || int64(check["candidate_person_id"].(float64)) != adaID ||
		fmt.Sprint(check["differences"]) != "[family_name]" || held.Body["person_id"] != nil || held.Body["stage"] != nil {
		t.Fatalf("coordinator's answer to a held referral: %s", held.Raw)
	}
	checkID := int64(check["id"].(float64))
	if after := s.personState(adaID); after != before {
		t.Fatalf("the known person changed:\nbefore %s\nafter  %s", before, after)
	}
	tasks := s.call("GET", "/api/v1/tasks?status=open", managerToken, nil).expect(t, 200, "tasks")
	if !strings.Contains(tasks.Raw, `"kind":"identity_check"`) {
		t.Fatalf("no identity_check task in %s", tasks.Raw)
	}
	s.call("GET", "/api/v1/identity-checks", referToken, nil).expect(t, 403, "referrer cannot list identity checks")
	checks := s.call("GET", "/api/v1/identity-checks?status=open", coordToken, nil).expect(t, 200, "identity checks")
	if !strings.Contains(checks.Raw, `"family_name":"Byron"`) || !strings.Contains(checks.Raw, `"family_name":"Lovelace"`) {
		t.Fatalf("the check should show both, side by side: %s", checks.Raw)
	}

	// Resolved as a different person: a new record without the clashing
	// NHS number, the number flagged on both, the known person's workflow
	// untouched.
	cp := fmt.Sprintf("/api/v1/identity-checks/%d/resolve", checkID)
	s.call("POST", cp, coordToken, map[string]any{"decision": "maybe"}).expect(t, 400, "bad decision")
	diff := s.call("POST", cp, coordToken, map[string]any{"decision": "different_person", "notes": "another Ada"}).expect(t, 200, "different person")
	byronID := int64(diff.Body["person_id"].(float64))
	if byronID == adaID || diff.Body["stage"] != "referred" {
		t.Fatalf("different person: %s", diff.Raw)
	}
	byron := s.call("GET", fmt.Sprintf("/api/v1/people/%d", byronID), coordToken, nil).expect(t, 200, "new person")
	if byron.Body["nhs_number"] != "" || byron.Body["nhs_number_disputed"] != true || byron.Body["disputed_nhs_number"] != "9434765919" {
		t.Fatalf("the new person: %s", byron.Raw)
	}
	adaNow := s.call("GET", fmt.Sprintf("/api/v1/people/%d", adaID), coordToken, nil).expect(t, 200, "Ada")
	if adaNow.Body["nhs_number_disputed"] != true || adaNow.Body["family_name"] != "Lovelace" || !strings.Contains(adaNow.Raw, `"nhs_number_disputed"`) {
		t.Fatalf("the known person after different_person: %s", adaNow.Raw)
	}
	if n := len(s.history(adaID).Events); !strings.HasSuffix(before, fmt.Sprintf("workflow events: %d", n)) {
		t.Fatalf("the known person's workflow changed: %d events, before %s", n, before)
	}
	s.call("POST", cp, coordToken, map[string]any{"decision": "same_person"}).expect(t, 409, "resolved the other way already")

	// Another date of birth, resolved as the same person: the referral is
	// hers, her date of birth corrected with audit. Sent twice: one outcome.
	held = s.call("POST", "/api/v1/referrals", coordToken, referral("ADA", "lovelace", "1990-01-03", "943 476 5919")).expect(t, 202, "another date of birth")
	check = held.Body["identity_check"].(map[string]any)
	if fmt.Sprint(check["differences"]) != "[date_of_birth]" {
		t.Fatalf("differences: %s", held.Raw)
	}
	cp = fmt.Sprintf("/api/v1/identity-checks/%d/resolve", int64(check["id"].(float64)))
	same := s.call("POST", cp, coordToken, map[string]any{"decision": "same_person", "notes": "date mistyped on our record"}).expect(t, 200, "same person")
	again := s.call("POST", cp, coordToken, map[string]any{"decision": "same_person", "notes": "date mistyped on our record"}).expect(t, 200, "same person again")
	if int64(same.Body["person_id"].(float64)) != adaID || again.Body["person_id"] != same.Body["person_id"] {
		t.Fatalf("same person: %s / %s", same.Raw, again.Raw)
	}
	adaNow = s.call("GET", fmt.Sprintf("/api/v1/people/%d", adaID), coordToken, nil).expect(t, 200, "Ada")
	if adaNow.Body["date_of_birth"] != "1990-01-03" || !strings.Contains(adaNow.Raw, `"action":"identity_confirmed"`) ||
		!strings.Contains(adaNow.Raw, `"date_of_birth_was":"1990-03-01"`) {
		t.Fatalf("Ada after same_person: %s", adaNow.Raw)
	}

	// --- Referrers learn nothing: known, unknown, removed, and a known
	// NHS number with another name all answer alike.
	answers := map[string]rawAnswer{
		"known":         s.post("/api/v1/referrals", referToken, referral("Ada", "Lovelace", "1990-01-03", "9434765919")),
		"unknown":       s.post("/api/v1/referrals", referToken, referral("Alan", "Turing", "1992-06-23", "4505577104")),
		"removed":       s.post("/api/v1/referrals", referToken, referral("Grace", "Hopper", "2012-05-05", "4010232137")),
		"identity held": s.post("/api/v1/referrals", referToken, referral("Augusta", "King", "1990-03-01", "9434765919")),
	}
	want := answers["unknown"].comparable()
	receipts := map[string]bool{}
	for what, a := range answers {
		if a.Code != http.StatusAccepted || !receiptPattern.MatchString(a.Body) {
			t.Errorf("%s: %d %s", what, a.Code, a.Body)
		}
		if got := a.comparable(); got != want {
			t.Errorf("referrer's answer for %s differs from an unknown person's:\n%s\nwant\n%s", what, got, want)
		}
		for _, leak := range []string{"person_id", "stage", "existing", "identity", fmt.Sprint(adaID), "DSR-"} {
			if strings.Contains(a.Body, leak) {
				t.Errorf("referrer's answer for %s says %q: %s", what, leak, a.Body)
			}
		}
		receipts[receiptPattern.FindString(a.Body)] = true
	}
	if len(receipts) != len(answers) {
		t.Errorf("receipts repeat: %v", receipts)
	}
	// Delivered in the background all the same: Grace starts a new spell.
	s.eventually("Grace's new spell", func() bool {
		return s.call("GET", fmt.Sprintf("/api/v1/people/%d", graceID), coordToken, nil).Body["stage"] == "referred"
	})

	// --- Merge: Alan Turing was also entered without his NHS number and
	// with other details (no duplicate caught); the records are merged.
	var turingID int64
	s.eventually("Alan Turing on the register", func() bool {
		for _, p := range s.call("GET", "/api/v1/people", coordToken, nil).Body["people"].([]any) {
			if m := p.(map[string]any); m["initials"] == "AT" {
				turingID = int64(m["id"].(float64))
			}
		}
		return turingID != 0
	})
	loose := referral("Alan", "Turing", "1990-07-01", "")
	loose["person"].(map[string]any)["postcode"] = "M1 1AA"
	dup := s.call("POST", "/api/v1/referrals", coordToken, loose).expect(t, 201, "Turing without NHS number")
	dupID := int64(dup.Body["person_id"].(float64))
	s.eventually("the duplicate's consent task", func() bool {
		return strings.Contains(s.call("GET", fmt.Sprintf("/api/v1/tasks?status=open&person_id=%d", dupID), coordToken, nil).Raw, "consent_needed")
	})
	mp := fmt.Sprintf("/api/v1/people/%d/merge", dupID)
	s.call("POST", mp, coordToken, map[string]any{"into": dupID, "reason": "x"}).expect(t, 400, "merge into itself")
	s.call("POST", mp, coordToken, map[string]any{"into": fmt.Sprintf("DSR-%d", turingID)}).expect(t, 400, "merge without a reason")
	merged := s.call("POST", mp, coordToken, map[string]any{"into": fmt.Sprintf("DSR-%d", turingID), "reason": "same man, entered twice"}).expect(t, 200, "merge")
	if merged.Body["from_removed"] != true {
		t.Fatalf("merge: %s", merged.Raw)
	}
	gone := s.call("GET", fmt.Sprintf("/api/v1/people/%d", dupID), coordToken, nil).expect(t, 200, "merged record")
	if gone.Body["stage"] != "removed" || gone.Body["removal_reason"] != "merged" || int64(gone.Body["merged_into"].(float64)) != turingID {
		t.Fatalf("merged record: %s", gone.Raw)
	}
	if open := s.call("GET", fmt.Sprintf("/api/v1/tasks?status=open&person_id=%d", dupID), coordToken, nil); !strings.Contains(open.Raw, `"tasks":[]`) {
		t.Fatalf("the merged record's tasks should be closed: %s", open.Raw)
	}
	survivor := s.call("GET", fmt.Sprintf("/api/v1/people/%d", turingID), coordToken, nil).expect(t, 200, "survivor")
	if survivor.Body["stage"] == "removed" || !strings.Contains(survivor.Raw, `"action":"merged_in"`) {
		t.Fatalf("survivor: %s", survivor.Raw)
	}
	if _, err := s.temporal.DescribeWorkflowExecution(context.Background(), workflows.PersonWorkflowID(dupID), ""); err != nil {
		t.Fatal(err)
	}

	// A refusal stored in a history, so the scan sees failures sealed too
	// (it needs someone with consent to rate).
	s.call("POST", fmt.Sprintf("/api/v1/people/%d/consent", byronID), coordToken,
		map[string]any{"basis": "self", "decided_on": s.today()}).expect(t, 200, "consent for the new person")
	s.refuseInHandler(byronID, "Ottoline Marchbanks")
	s.assertNothingPersonalInTemporal([]string{"Ottoline Marchbanks", "Lovelace", "Byron", "9434765919", "1990-03-01", "1990-01-03", "Turing", "4505577104",
		"1990-07-01", "M1 1AA", "another Ada", "date mistyped", "same man, entered twice"},
		workflows.PersonWorkflowID(adaID), workflows.PersonWorkflowID(byronID), workflows.PersonWorkflowID(dupID))
	raw, err := protojson.Marshal(s.history(dupID))
	if err != nil {
		t.Fatal(err)
	}
	recordHistory(t, "person_merged.json", raw)
}
