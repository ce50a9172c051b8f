package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dsr-register/dsr/internal/polltest"
	"github.com/dsr-register/dsr/internal/slack/slackfake"
	"github.com/dsr-register/dsr/workflows"
)

// waitFor polls cond for up to limit: for what happens on a schedule.
func (s *stack) waitFor(what string, limit time.Duration, cond func() bool) {
	s.t.Helper()
	polltest.Until(s.t, what, limit, 100*time.Millisecond, cond)
}

// TestEndToEndDigest: `dsr serve` starts the team's digest workflow; on a
// five-second schedule it counts a red alert nobody has acknowledged and
// the digest reaches the managers' channel on the Slack test server, as
// counts with a link, naming no one. A second serve on the same task queue
// starts no second digest.
func TestEndToEndDigest(t *testing.T) {
	f := slackfake.New(t)
	s := startStack(t, slackEnv(f, map[string]string{
		"SLACK_CHANNEL_MANAGERS": "C-MGR",
		"DSR_DIGEST_SCHEDULE":    "@every 5s",
		"DSR_PUBLIC_URL":         "https://dsr.example.nhs.uk",
	}))
	id, pp := s.referWithConsent("Grace", "Hopper", "1986-12-09", "9434765870")
	s.call("POST", pp+"/rating", coordToken, map[string]any{"rating": "red", "rationale": "crisis"}).expect(t, 200, "red")

	var digest slackfake.Call
	s.waitFor("the digest in the managers' channel", 30*time.Second, func() bool {
		for _, c := range f.Calls() {
			if c.Method == "chat.postMessage" && c.Channel == "C-MGR" && strings.Contains(c.Text, "red alert not acknowledged") {
				digest = c
				return true
			}
		}
		return false
	})
	t.Logf("digest as posted:\n%s", digest.Text)
	for _, want := range []string{"*DSR digest for ", "• 1 red alert not acknowledged", "<https://dsr.example.nhs.uk/|Open the dashboard>"} {
		if !strings.Contains(digest.Text, want) {
			t.Errorf("digest lacks %q:\n%s", want, digest.Text)
		}
	}
	for _, secret := range []string{"Grace", "Hopper", "9434765870", "1986", fmt.Sprint(id)} {
		if strings.Contains(digest.Text, secret) {
			t.Errorf("digest names the person (%q):\n%s", secret, digest.Text)
		}
	}

	// A second `dsr serve` for the same team uses the running digest.
	digestID := workflows.DigestWorkflowID("dsr-e2e")
	first, err := s.temporal.DescribeWorkflowExecution(t.Context(), digestID, "")
	if err != nil {
		t.Fatal(err)
	}
	second := serveInProcess(t, s.env)
	s.waitFor("the second serve to answer", 10*time.Second, func() bool {
		return s.call("GET", "/healthz", "", nil).Code == 200
	})
	second.stop()
	again, err := s.temporal.DescribeWorkflowExecution(t.Context(), digestID, "")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := first.GetWorkflowExecutionInfo().GetExecution().GetRunId(), again.GetWorkflowExecutionInfo().GetExecution().GetRunId(); a != b {
		t.Errorf("a second serve started another digest run: %s then %s", a, b)
	}

	raw, err := protojson.Marshal(s.workflowHistory(digestID))
	if err != nil {
		t.Fatal(err)
	}
	recordHistory(t, "digest_every_5s.json", raw)
}
