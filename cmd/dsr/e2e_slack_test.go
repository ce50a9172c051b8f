package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"
)

// TestEndToEndSlackPrompts: with Slack configured (pointed at slack-go's
// slacktest server through SLACK_API_URL), a referral's task is posted to
// the coordinators' channel and, when consent closes it through the API,
// the same message is edited to show the outcome with no buttons.
func TestEndToEndSlackPrompts(t *testing.T) {
	var mu sync.Mutex
	var calls []map[string]string
	n := 0
	record := func(method string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			mu.Lock()
			c := map[string]string{"method": method, "channel": r.FormValue("channel"), "ts": r.FormValue("ts"), "blocks": r.FormValue("blocks")}
			if method == "chat.postMessage" {
				n++
				c["ts"] = fmt.Sprintf("1700000000.%06d", n)
			}
			calls = append(calls, c)
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": c["channel"], "ts": c["ts"]})
		}
	}
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", record("chat.postMessage"))
		c.Handle("/chat.update", record("chat.update"))
	})
	srv.Start()
	defer srv.Stop()
	snapshot := func() []map[string]string {
		mu.Lock()
		defer mu.Unlock()
		return append([]map[string]string(nil), calls...)
	}

	s := startStack(t, map[string]string{
		"SLACK_BOT_TOKEN":            "xoxb-test-token",
		"SLACK_API_URL":              srv.GetAPIURL(),
		"SLACK_CHANNEL_COORDINATORS": "C-DSR",
	})
	ref := s.call("POST", "/api/v1/referrals", coordToken, referral("Ada", "Lovelace", "1990-03-01", "9434765919")).expect(t, 201, "referral")
	id := int64(ref.Body["person_id"].(float64))
	s.eventually("the consent prompt posted to Slack", func() bool { return len(snapshot()) >= 1 })
	post := snapshot()[0]
	if post["method"] != "chat.postMessage" || post["channel"] != "C-DSR" ||
		!strings.Contains(post["blocks"], fmt.Sprintf("DSR-%d", id)) || !strings.Contains(post["blocks"], "dsr:record_consent") {
		t.Fatalf("prompt: %+v", post)
	}
	for _, secret := range []string{"Ada", "Lovelace", "9434765919", "1990-03-01"} {
		if strings.Contains(post["blocks"], secret) {
			t.Errorf("Slack prompt contains %q", secret)
		}
	}

	s.call("POST", fmt.Sprintf("/api/v1/people/%d/consent", id), coordToken,
		map[string]any{"basis": "self", "decided_on": time.Now().UTC().Format("2006-01-02")}).expect(t, 200, "consent")
	s.eventually("the consent prompt edited in place", func() bool {
		for _, c := range snapshot() {
			if c["method"] == "chat.update" && c["ts"] == post["ts"] {
				return strings.Contains(c["blocks"], "by alice") && !strings.Contains(c["blocks"], "button")
			}
		}
		return false
	})
	// Consent opens the first-rating task: a new prompt.
	s.eventually("the first-rating prompt", func() bool {
		for _, c := range snapshot() {
			if c["method"] == "chat.postMessage" && strings.Contains(c["blocks"], "First rating needed") {
				return strings.Contains(c["blocks"], "dsr:rate")
			}
		}
		return false
	})
}
