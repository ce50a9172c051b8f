package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
)

// TestEndToEndIdempotentActions: over the real dev server and PostgreSQL,
// each coordinator action (referral, consent, rating, acknowledgement,
// required action) sent twice with one Idempotency-Key is recorded once and
// answered the same, byte for byte; when the first answer was lost (the key
// left in flight, as after a timeout) the retry goes to the workflow with
// the same UpdateID and is still recorded once; the same key with another
// request is 409 naming it.
func TestEndToEndIdempotentActions(t *testing.T) {
	hostPort, dbURL := localStack(t)
	srv := serveInProcess(t, serveEnv(t, hostPort, dbURL, "dsr-e2e-idem"))
	tc, err := dialTestClient(hostPort)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	s := &stack{t: t, api: srv.api, temporal: tc}
	db := devstacktest.Connect(t, dbURL)
	today := s.today()

	// twice sends one request twice with one key: both answers must match
	// exactly, and the second say it is a replay.
	twice := func(what, path, key string, body any, code int) keyedAnswer {
		t.Helper()
		first := s.keyed("POST", path, key, body)
		if first.code != code {
			t.Fatalf("%s: %d, want %d: %s", what, first.code, code, first.raw)
		}
		again := s.keyed("POST", path, key, body)
		if again.code != first.code || again.raw != first.raw || again.replayed != "true" {
			t.Fatalf("%s sent again with its key: %d %s (replayed %q); want the first answer %d %s", what, again.code, again.raw, again.replayed, first.code, first.raw)
		}
		return first
	}

	ref := twice("referral", "/api/v1/referrals", "ref-1", referral("Kit", "Marlowe", "2001-02-26", "9434765870"), 201)
	id := int64(ref.body["person_id"].(float64))
	pp := fmt.Sprintf("/api/v1/people/%d", id)
	twice("consent", pp+"/consent", "consent-1", map[string]any{"basis": "self", "decided_on": today}, 200)
	s.eventually("the first-rating task", func() bool { return slices.Contains(s.openTaskKinds(id), "review_due") })
	rated := twice("red rating", pp+"/rating", "rate-1", map[string]any{"rating": "red", "rationale": "crisis at home"}, 200)
	s.eventually("the escalation's tasks", func() bool {
		kinds := s.openTaskKinds(id)
		return slices.Contains(kinds, "escalation_alert") && slices.Contains(kinds, "community_ctr")
	})
	twice("acknowledgement", pp+"/escalation/acknowledge", "ack-1", map[string]any{"notes": "on it"}, 200)
	ctr := twice("C(E)TR held", pp+"/actions", "ctr-1", map[string]any{"kind": "community_ctr", "done_on": today}, 200)

	// The first answer lost: the key left in flight, as when the client
	// timed out before the workflow answered. The retry asks the workflow
	// again with the same UpdateID and gets the first outcome.
	lose := func(first keyedAnswer) {
		t.Helper()
		tag, err := db.Exec(context.Background(), `update idempotency_keys set status = 'in_flight', answer_status = null,
			answer_body = null, answered_at = null where actor = 'alice' and status = 'answered' and answer_body = $1`,
			[]byte(first.raw))
		if err != nil || tag.RowsAffected() != 1 {
			t.Fatalf("forgetting the answer %s: %v, %d rows", first.raw, err, tag.RowsAffected())
		}
	}
	lose(rated)
	if again := s.keyed("POST", pp+"/rating", "rate-1", map[string]any{"rating": "red", "rationale": "crisis at home"}); again.code != 200 ||
		again.replayed != "" || again.body["rating"] != "red" || again.body["open_escalation"] != float64(1) {
		t.Errorf("rating retried after a lost answer: %d %s (replayed %q); want the first outcome from the workflow", again.code, again.raw, again.replayed)
	}
	lose(ctr)
	if again := s.keyed("POST", pp+"/actions", "ctr-1", map[string]any{"kind": "community_ctr", "done_on": today}); again.code != 200 ||
		again.replayed != "" || again.body["status"] != "done" || again.body["kind"] != "community_ctr" {
		t.Errorf("C(E)TR retried after a lost answer: %d %s; want the closed task", again.code, again.raw)
	}

	// Recorded once each, in the record and in each workflow's history.
	counts := map[string]int{}
	for _, e := range s.call("GET", pp, coordToken, nil).expect(t, 200, "person").Body["history"].([]any) {
		counts[fmt.Sprint(e.(map[string]any)["action"])]++
	}
	for _, action := range []string{"referral_received", "consent_recorded", "rated", "escalation_acknowledged", "escalation_action_done"} {
		if counts[action] != 1 {
			t.Errorf("%s recorded %d times, want once: %v", action, counts[action], counts)
		}
	}

	// The same key with a different request: refused, naming the key.
	other := s.keyed("POST", pp+"/rating", "rate-1", map[string]any{"rating": "amber", "rationale": "settled"})
	if other.code != 409 || !strings.Contains(other.raw, "Idempotency-Key rate-1 was already used for a different request; use a new key") {
		t.Errorf("same key, different request: %d %s; want 409 naming the key", other.code, other.raw)
	}
	if p := s.call("GET", pp, coordToken, nil); p.Body["rating"] != "red" {
		t.Errorf("the refused request changed the rating: %s", p.Raw)
	}
}
