package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dsr-register/dsr/internal/slack/slackfake"
)

const signingSecret = "e2e-signing-secret"

// slackPost sends a signed interaction payload as Slack would.
func (s *stack) slackPost(payload any) response {
	s.t.Helper()
	raw, _ := json.Marshal(payload)
	body := "payload=" + url.QueryEscape(string(raw))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(signingSecret))
	mac.Write([]byte("v0:" + ts + ":" + body))
	req, _ := http.NewRequest("POST", s.api+"/slack/interactions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Code: resp.StatusCode, Raw: string(b)}
}

// slackEnv configures dsr for the fake Slack in HTTP mode, plus extra.
func slackEnv(f *slackfake.Server, extra map[string]string) map[string]string {
	env := map[string]string{
		"SLACK_BOT_TOKEN":            "xoxb-test-token",
		"SLACK_API_URL":              f.GetAPIURL(),
		"SLACK_CHANNEL_COORDINATORS": "C-DSR",
		"SLACK_SIGNING_SECRET":       signingSecret,
		"SLACK_COORDINATORS":         "U-ALICE:alice",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func click(user, action string, taskID int64) slackapi.InteractionCallback {
	var cb slackapi.InteractionCallback
	cb.Type = slackapi.InteractionTypeBlockActions
	cb.User.ID = user
	cb.Channel.ID = "C-DSR"
	cb.TriggerID = "trigger-" + action
	cb.ActionCallback.BlockActions = []*slackapi.BlockAction{{ActionID: "dsr:" + action, Value: strconv.FormatInt(taskID, 10)}}
	return cb
}

func submitConsent(user string, taskID int64, basis, givenBy, date string) slackapi.InteractionCallback {
	var cb slackapi.InteractionCallback
	cb.Type = slackapi.InteractionTypeViewSubmission
	cb.User.ID = user
	cb.View.CallbackID = "dsr:consent"
	cb.View.PrivateMetadata = strconv.FormatInt(taskID, 10)
	cb.View.State = &slackapi.ViewState{Values: map[string]map[string]slackapi.BlockAction{
		"basis":      {"value": {SelectedOption: slackapi.OptionBlockObject{Value: basis}}},
		"given_by":   {"value": {Value: givenBy}},
		"decided_on": {"value": {SelectedDate: date}},
	}}
	return cb
}

// TestEndToEndSlackClicks: a referral posts a prompt; a click on "Record
// consent" opens the consent modal; its submission records consent through
// the workflow; the prompt is edited in place; a second click on the same
// button is told it was already done; someone who is not a coordinator is
// refused; a bad submission is answered against the field.
func TestEndToEndSlackClicks(t *testing.T) {
	f := slackfake.New(t)
	s := startStack(t, slackEnv(f, nil))
	ref := s.call("POST", "/api/v1/referrals", coordToken, referral("Ada", "Lovelace", "1990-03-01", "9434765919")).expect(t, 201, "referral")
	id := int64(ref.Body["person_id"].(float64))
	var prompt slackfake.Call
	s.eventually("the consent prompt", func() bool { var ok bool; prompt, ok = f.Find("chat.postMessage", "dsr:record_consent"); return ok })
	m := regexp.MustCompile(`"action_id":"dsr:record_consent","value":"(\d+)"`).FindStringSubmatch(prompt.Blocks)
	if m == nil {
		t.Fatalf("no task ID in %s", prompt.Blocks)
	}
	taskID, _ := strconv.ParseInt(m[1], 10, 64)

	// Not a coordinator: politely refused, nothing opened.
	s.slackPost(click("U-STRANGER", "record_consent", taskID)).expect(t, 200, "stranger click")
	s.eventually("the refusal", func() bool {
		c, ok := f.Find("chat.postEphemeral", "only DSR coordinators")
		return ok && c.User == "U-STRANGER"
	})

	// Alice clicks: the consent modal opens.
	s.slackPost(click("U-ALICE", "record_consent", taskID)).expect(t, 200, "click")
	s.eventually("the consent modal", func() bool { _, ok := f.Find("views.open", `"callback_id":"dsr:consent"`); return ok })

	// Alice takes the person on: later prompts come to her directly.
	s.slackPost(click("U-ALICE", "assign_me", taskID)).expect(t, 200, "assign click")
	s.eventually("the assignment reply", func() bool { _, ok := f.Find("chat.postEphemeral", "is now assigned to you"); return ok })

	// A bad submission is answered against the field; nothing recorded.
	today := time.Now().UTC().Format("2006-01-02")
	bad := s.slackPost(submitConsent("U-ALICE", taskID, "parental", "Mum", today)).expect(t, 200, "bad submission")
	if !strings.Contains(bad.Raw, `"response_action":"errors"`) || !strings.Contains(bad.Raw, `"basis"`) {
		t.Errorf("want errors against basis, got %s", bad.Raw)
	}
	// A good one closes the modal and records consent through the workflow.
	good := s.slackPost(submitConsent("U-ALICE", taskID, "self", "", today)).expect(t, 200, "submission")
	if strings.Contains(good.Raw, "errors") {
		t.Fatalf("submission refused: %s", good.Raw)
	}
	person := s.call("GET", fmt.Sprintf("/api/v1/people/%d", id), managerToken, nil).expect(t, 200, "person")
	if person.Body["stage"] != "active" || !strings.Contains(person.Raw, "alice (slack U-ALICE)") {
		t.Errorf("consent from Slack should be recorded and audited with the Slack user: %s", person.Raw)
	}
	s.eventually("the prompt edited to its outcome", func() bool {
		for _, c := range f.Calls() {
			if c.Method == "chat.update" && c.TS == prompt.TS && strings.Contains(c.Blocks, "alice (slack U-ALICE)") {
				return !strings.Contains(c.Blocks, "button")
			}
		}
		return false
	})

	// Consent opens the first-rating task: its prompt goes to Alice's DM.
	s.eventually("the first-rating prompt in Alice's DM", func() bool {
		c, ok := f.Find("chat.postMessage", "First rating needed")
		return ok && c.Channel == "U-ALICE" && strings.Contains(c.Blocks, "Assigned to alice")
	})

	// The same button again: told it is already done; nothing changes.
	s.slackPost(click("U-ALICE", "record_consent", taskID)).expect(t, 200, "second click")
	s.eventually("the already-done reply", func() bool {
		c, ok := f.Find("chat.postEphemeral", "Already done: consent recorded (self)")
		return ok && c.User == "U-ALICE"
	})

	// A forged request is refused.
	req, _ := http.NewRequest("POST", s.api+"/slack/interactions", strings.NewReader("payload={}"))
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	req.Header.Set("X-Slack-Signature", "v0="+strings.Repeat("0", 64))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("forged interaction: %v %v", resp, err)
	}
}

// TestEndToEndSlackPrompts: with Slack configured (pointed at slack-go's
// slacktest server through SLACK_API_URL), a referral's task is posted to
// the coordinators' channel and, when consent closes it through the API,
// the same message is edited to show the outcome with no buttons.
func TestEndToEndSlackPrompts(t *testing.T) {
	f := slackfake.New(t)
	s := startStack(t, slackEnv(f, nil))
	ref := s.call("POST", "/api/v1/referrals", coordToken, referral("Ada", "Lovelace", "1990-03-01", "9434765919")).expect(t, 201, "referral")
	id := int64(ref.Body["person_id"].(float64))
	s.eventually("the consent prompt posted to Slack", func() bool { return len(f.Calls()) >= 1 })
	post := f.Calls()[0]
	if post.Method != "chat.postMessage" || post.Channel != "C-DSR" ||
		!strings.Contains(post.Blocks, fmt.Sprintf("DSR-%d", id)) || !strings.Contains(post.Blocks, "dsr:record_consent") {
		t.Fatalf("prompt: %+v", post)
	}
	for _, secret := range []string{"Ada", "Lovelace", "9434765919", "1990-03-01"} {
		if strings.Contains(post.Blocks, secret) {
			t.Errorf("Slack prompt contains %q", secret)
		}
	}

	s.call("POST", fmt.Sprintf("/api/v1/people/%d/consent", id), coordToken,
		map[string]any{"basis": "self", "decided_on": time.Now().UTC().Format("2006-01-02")}).expect(t, 200, "consent")
	s.eventually("the consent prompt edited in place", func() bool {
		for _, c := range f.Calls() {
			if c.Method == "chat.update" && c.TS == post.TS {
				return strings.Contains(c.Blocks, "by alice") && !strings.Contains(c.Blocks, "button")
			}
		}
		return false
	})
	// Consent opens the first-rating task: a new prompt.
	s.eventually("the first-rating prompt", func() bool {
		for _, c := range f.Calls() {
			if c.Method == "chat.postMessage" && strings.Contains(c.Blocks, "First rating needed") {
				return strings.Contains(c.Blocks, "dsr:rate")
			}
		}
		return false
	})
}

// TestEndToEndReviewTimerAnsweredFromSlack: with short timings a red
// review falls due on its own; the timer posts the review prompt, and a
// coordinator confirms the rating from its button.
func TestEndToEndReviewTimerAnsweredFromSlack(t *testing.T) {
	f := slackfake.New(t)
	s := startStack(t, slackEnv(f, map[string]string{"DSR_REVIEW_RED": "4s", "DSR_REVIEW_NOTICE": "1s"}))
	ref := s.call("POST", "/api/v1/referrals", coordToken, referral("Ada", "Lovelace", "1990-03-01", "9434765919")).expect(t, 201, "referral")
	pp := fmt.Sprintf("/api/v1/people/%d", int64(ref.Body["person_id"].(float64)))
	s.call("POST", pp+"/consent", coordToken, map[string]any{"basis": "self", "decided_on": time.Now().UTC().Format("2006-01-02")}).expect(t, 200, "consent")
	s.call("POST", pp+"/rating", coordToken, map[string]any{"rating": "red", "rationale": "admission likely this week"}).expect(t, 200, "rate red")

	// Nobody asks: the review timer (red every 4s, 1s notice) opens it.
	var prompt slackfake.Call
	s.eventually("the review prompt from the timer", func() bool {
		var ok bool
		prompt, ok = f.Find("chat.postMessage", "Rating review due")
		return ok
	})
	if !strings.Contains(prompt.Blocks, "RED") || !strings.Contains(prompt.Blocks, "dsr:confirm_rating") || !strings.Contains(prompt.Blocks, "dsr:change_rating") {
		t.Fatalf("review prompt: %s", prompt.Blocks)
	}
	m := regexp.MustCompile(`"action_id":"dsr:confirm_rating","value":"(\d+)"`).FindStringSubmatch(prompt.Blocks)
	taskID, _ := strconv.ParseInt(m[1], 10, 64)
	s.slackPost(click("U-ALICE", "confirm_rating", taskID)).expect(t, 200, "confirm click")
	s.eventually("the review prompt closed with the confirmation", func() bool {
		for _, c := range f.Calls() {
			if c.Method == "chat.update" && c.TS == prompt.TS {
				return strings.Contains(c.Blocks, "Rating confirmed red by alice (slack U-ALICE)")
			}
		}
		return false
	})
	person := s.call("GET", pp, managerToken, nil).expect(t, 200, "person")
	if ratings, _ := person.Body["ratings"].([]any); len(ratings) != 2 {
		t.Errorf("want the red rating and its confirmation from Slack in the history: %s", person.Raw)
	}
	s.call("POST", pp+"/assignment", coordToken, map[string]any{"coordinator": "alice"}).expect(t, 200, "assign")

	// This history (timers, a Slack-confirmed review, an assignment, a
	// running workflow) is kept for the replay test.
	if os.Getenv("DSR_RECORD_HISTORY") != "" {
		raw, err := protojson.Marshal(s.history(int64(ref.Body["person_id"].(float64))))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("..", "..", "workflows", "testdata", "person_red_review_assigned.json")
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %s", path)
	}
}
