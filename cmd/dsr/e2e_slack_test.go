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
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
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

// clicks numbers the clicks a test makes: each real click has its own
// action_ts and trigger_id, so two clicks on one button within a second are
// two signed requests, not a replay of one.
var clicks atomic.Int64

func click(user, action string, taskID int64) slackapi.InteractionCallback {
	n := clicks.Add(1)
	var cb slackapi.InteractionCallback
	cb.Type = slackapi.InteractionTypeBlockActions
	cb.User.ID = user
	cb.Channel.ID = "C-DSR"
	cb.TriggerID = fmt.Sprintf("trigger-%s-%d", action, n)
	cb.ActionCallback.BlockActions = []*slackapi.BlockAction{{ActionID: "dsr:" + action, Value: strconv.FormatInt(taskID, 10),
		ActionTs: fmt.Sprintf("%d.%06d", time.Now().Unix(), n)}}
	return cb
}

// submitView is user submitting the modal dsr opened for a task, with
// each block's "value" element as given.
func submitView(user, callbackID string, taskID int64, values map[string]slackapi.BlockAction) slackapi.InteractionCallback {
	var cb slackapi.InteractionCallback
	cb.Type = slackapi.InteractionTypeViewSubmission
	cb.User.ID = user
	cb.View.CallbackID = callbackID
	cb.View.PrivateMetadata = strconv.FormatInt(taskID, 10)
	cb.View.State = &slackapi.ViewState{Values: map[string]map[string]slackapi.BlockAction{}}
	for block, v := range values {
		cb.View.State.Values[block] = map[string]slackapi.BlockAction{"value": v}
	}
	return cb
}

func submitConsent(user string, taskID int64, basis, givenBy, date string) slackapi.InteractionCallback {
	return submitView(user, "dsr:consent", taskID, map[string]slackapi.BlockAction{
		"basis":      {SelectedOption: slackapi.OptionBlockObject{Value: basis}},
		"given_by":   {Value: givenBy},
		"decided_on": {SelectedDate: date},
	})
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
	today := s.today()
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
		map[string]any{"basis": "self", "decided_on": s.today()}).expect(t, 200, "consent")
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
	id, pp := s.referWithConsent("Ada", "Lovelace", "1990-03-01", "9434765919")
	s.call("POST", pp+"/rating", coordToken, map[string]any{"rating": "red", "rationale": "admission likely this week"}).expect(t, 200, "rate red")

	// Nobody asks: the review timer (red every 4s, 1s notice) opens it.
	// (The first-rating task, closed by the rating above, may have been
	// posted already closed: prompts go out after the change is recorded.)
	var prompt slackfake.Call
	s.eventually("the review prompt from the timer", func() bool {
		for _, c := range f.Calls() {
			if c.Method == "chat.postMessage" && strings.Contains(c.Blocks, "Rating review due") && strings.Contains(c.Blocks, "dsr:confirm_rating") {
				prompt = c
				return true
			}
		}
		return false
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
	raw, err := protojson.Marshal(s.history(id))
	if err != nil {
		t.Fatal(err)
	}
	recordHistory(t, "person_red_review_assigned.json", raw)
}

// --- red alerts ----------------------------------------------------------

// alertsChannel is where the red-alert tests send alerts, apart from the
// coordinators' prompts.
const alertsChannel = "C-ALERTS"

// ratedRed refers someone born on dob, records their consent and rates
// them red through the API, and returns their record's path.
func (s *stack) ratedRed(dob string) (id int64, path string) {
	s.t.Helper()
	id, path = s.referWithConsent("Ada", "Lovelace", dob, "9434765919")
	s.call("POST", path+"/rating", coordToken, map[string]any{"rating": "red", "rationale": "placement breaking down, admission likely"}).expect(s.t, 200, "rate red")
	return id, path
}

// posted waits for the first chat.postMessage matching cond.
func (s *stack) posted(f *slackfake.Server, what string, cond func(slackfake.Call) bool) slackfake.Call {
	s.t.Helper()
	var found slackfake.Call
	s.eventually(what, func() bool {
		for _, c := range f.Calls() {
			if c.Method == "chat.postMessage" && cond(c) {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

// edited waits for an edit of the message ts whose blocks contain every
// one of want.
func (s *stack) edited(f *slackfake.Server, what, ts string, want ...string) slackfake.Call {
	s.t.Helper()
	var found slackfake.Call
	s.eventually(what, func() bool {
		for _, c := range f.Calls() {
			if c.Method != "chat.update" || c.TS != ts {
				continue
			}
			all := true
			for _, w := range want {
				all = all && strings.Contains(c.Blocks, w)
			}
			if all {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

// taskIDFor reads the task ID from a message's button.
func taskIDFor(t *testing.T, c slackfake.Call, action string) int64 {
	t.Helper()
	m := regexp.MustCompile(`"action_id":"dsr:` + action + `","value":"(\d+)"`).FindStringSubmatch(c.Blocks)
	if m == nil {
		t.Fatalf("no %s button in %s", action, c.Blocks)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id
}

func submitDone(user string, taskID int64, date string) slackapi.InteractionCallback {
	return submitView(user, "dsr:done", taskID, map[string]slackapi.BlockAction{
		"done_on": {SelectedDate: date},
		"notes":   {Value: "held with the family"},
	})
}

func isAlert(c slackfake.Call) bool {
	return c.Channel == alertsChannel && c.ThreadTS == "" && strings.Contains(c.Blocks, "RED — immediate risk of admission")
}

// noPersonalData fails the test if any Slack text carries the person's
// name, NHS number or date of birth.
func noPersonalData(t *testing.T, f *slackfake.Server, dob string) {
	t.Helper()
	for _, c := range f.Calls() {
		for _, secret := range []string{"Ada", "Lovelace", "9434765919", dob} {
			if strings.Contains(c.Text+c.Blocks+c.View, secret) {
				t.Errorf("%s to %s contains %q", c.Method, c.Channel, secret)
			}
		}
	}
}

// TestEndToEndSlackRedAlertAcknowledged: rating someone aged 0–25 red posts
// a RED alert to the alerts channel listing the three actions national
// policy expects; a coordinator acknowledges it with one click, the alert
// is edited to say who and when with no buttons left, and the audit trail
// and the escalations list say so. The actions' own prompts go to the
// coordinators: the meeting is closed as not needed with one click, the
// C(E)TR marked done through the date modal.
func TestEndToEndSlackRedAlertAcknowledged(t *testing.T) {
	f := slackfake.New(t)
	s := startStack(t, slackEnv(f, map[string]string{"SLACK_CHANNEL_ALERTS": alertsChannel}))
	const dob = "2005-06-01" // 20 or 21 this year: a keyworker referral is due
	id, path := s.ratedRed(dob)

	alert := s.posted(f, "the red alert in the alerts channel", isAlert)
	for _, want := range []string{
		fmt.Sprintf(`|DSR-%d\u003e (AL) · Acknowledge by`, id), // JSON escapes ">"
		"National policy expects:",
		"• A community C(E)TR must take place — by",
		"• Referral to the keyworker service (aged 0–25) — by",
		"• A multi-agency meeting where needed — by",
		`"text":"Acknowledge","emoji":false},"action_id":"dsr:acknowledge"`,
	} {
		if !strings.Contains(alert.Blocks, want) {
			t.Errorf("alert lacks %q: %s", want, alert.Blocks)
		}
	}
	ctr := s.posted(f, "the C(E)TR prompt", func(c slackfake.Call) bool { return strings.Contains(c.Blocks, "Community C(E)TR needed") })
	meeting := s.posted(f, "the meeting prompt", func(c slackfake.Call) bool { return strings.Contains(c.Blocks, "Multi-agency meeting where needed") })
	if ctr.Channel != "C-DSR" || meeting.Channel != "C-DSR" {
		t.Errorf("action prompts go to the coordinators: %s, %s", ctr.Channel, meeting.Channel)
	}

	s.slackPost(click("U-ALICE", "acknowledge", taskIDFor(t, alert, "acknowledge"))).expect(t, 200, "acknowledge click")
	up := s.edited(f, "the alert edited to its acknowledgement", alert.TS, "~RED alert~", "Acknowledged by alice (slack U-ALICE) at")
	if up.Channel != alertsChannel || strings.Contains(up.Blocks, "button") {
		t.Errorf("acknowledged alert: %+v", up)
	}

	person := s.call("GET", path, managerToken, nil).expect(t, 200, "person")
	actors := map[string]string{}
	for _, e := range person.Body["history"].([]any) {
		entry := e.(map[string]any)
		actors[entry["action"].(string)] = entry["actor"].(string)
	}
	if _, ok := actors["escalation_started"]; !ok || actors["escalation_acknowledged"] != "alice (slack U-ALICE)" {
		t.Errorf("audit trail: %v", actors)
	}
	esc := s.call("GET", path+"/escalations", managerToken, nil).expect(t, 200, "escalations")
	list := esc.Body["escalations"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["acknowledged_by"] != "alice (slack U-ALICE)" || list[0].(map[string]any)["unacknowledged"] != false {
		t.Errorf("escalations: %s", esc.Raw)
	}

	// A second click is told who already did it. (Another trigger: the
	// same request twice would be refused as a replay.)
	again := click("U-ALICE", "acknowledge", taskIDFor(t, alert, "acknowledge"))
	again.TriggerID = "trigger-again"
	s.slackPost(again).expect(t, 200, "second click")
	s.eventually("the already-acknowledged reply", func() bool {
		_, ok := f.Find("chat.postEphemeral", "Already done: acknowledged by alice (slack U-ALICE)")
		return ok
	})

	// The meeting is not needed: one click.
	s.slackPost(click("U-ALICE", "not_needed", taskIDFor(t, meeting, "not_needed"))).expect(t, 200, "not-needed click")
	s.edited(f, "the meeting closed as not needed", meeting.TS, "Not needed by alice (slack U-ALICE)")

	// The C(E)TR was held today: the modal asks for the date.
	s.slackPost(click("U-ALICE", "mark_done", taskIDFor(t, ctr, "mark_done"))).expect(t, 200, "mark-done click")
	s.eventually("the date modal", func() bool { _, ok := f.Find("views.open", `"callback_id":"dsr:done"`); return ok })
	london, _ := time.LoadLocation("Europe/London")
	done := s.slackPost(submitDone("U-ALICE", taskIDFor(t, ctr, "mark_done"), time.Now().In(london).Format("2006-01-02"))).expect(t, 200, "done submission")
	if strings.Contains(done.Raw, "errors") {
		t.Fatalf("done submission refused: %s", done.Raw)
	}
	s.edited(f, "the C(E)TR marked done", ctr.TS, "C(E)TR held on", "by alice (slack U-ALICE)")
	noPersonalData(t, f, dob)
}

// workingZoneAtNoon is a fixed-offset zone where it is now about noon, so
// a working day of 00:00–23:59 covers the whole test (23:59–24:00 is not
// working time, and a deadline crossing it would wait a minute).
func workingZoneAtNoon() string {
	offset := 12 - time.Now().UTC().Hour() // -11 … +12
	switch {
	case offset > 0:
		return fmt.Sprintf("Etc/GMT-%d", offset) // the sign is POSIX's, inverted
	case offset < 0:
		return fmt.Sprintf("Etc/GMT+%d", -offset)
	}
	return "Etc/GMT"
}

// TestEndToEndSlackRedAlertUnacknowledged: with a 2-second acknowledgement
// window and re-alerts every 2 seconds of (round-the-clock) working time,
// an alert nobody acknowledges is re-sent in its thread, broadcast to the
// channel, and the managers' channel and the manager's DM are told; once
// someone acknowledges, the re-alerts stop.
func TestEndToEndSlackRedAlertUnacknowledged(t *testing.T) {
	f := slackfake.New(t)
	s := startStack(t, slackEnv(f, map[string]string{
		"SLACK_CHANNEL_ALERTS":         alertsChannel,
		"SLACK_CHANNEL_MANAGERS":       "C-MANAGERS",
		"SLACK_MANAGERS":               "U-MGR:morgan",
		"DSR_ESCALATION_ACK_WITHIN":    "2s",
		"DSR_ESCALATION_REALERT_EVERY": "2s",
		"DSR_WORKING_DAYS":             "mon,tue,wed,thu,fri,sat,sun",
		"DSR_WORKING_HOURS_START":      "00:00",
		"DSR_WORKING_HOURS_END":        "23:59",
		"DSR_WORKING_TIMEZONE":         workingZoneAtNoon(),
		"DSR_BANK_HOLIDAYS":            "none",
	}))
	const dob = "1990-03-01"
	id, path := s.ratedRed(dob)
	alert := s.posted(f, "the red alert", isAlert)
	if strings.Contains(alert.Blocks, "keyworker") {
		t.Errorf("no keyworker referral over 25: %s", alert.Blocks)
	}

	isRealert := func(c slackfake.Call) bool {
		return c.Channel == alertsChannel && c.ThreadTS == alert.TS && strings.Contains(c.Text, "Still not acknowledged")
	}
	realert := s.posted(f, "a re-alert in the alert's thread", isRealert)
	if !realert.Broadcast || !strings.Contains(realert.Text, fmt.Sprintf("|DSR-%d> (AL), due", id)) || !strings.Contains(realert.Text, "Alert 2.") {
		t.Errorf("re-alert should be broadcast and say which alert: %+v", realert)
	}
	managersSay := fmt.Sprintf("|DSR-%d> (AL) has not been acknowledged", id)
	for _, dest := range []string{"C-MANAGERS", "U-MGR"} {
		c := s.posted(f, "the managers told at "+dest, func(c slackfake.Call) bool { return c.Channel == dest && strings.Contains(c.Text, managersSay) })
		if !strings.Contains(c.Text, "alerts so far") || !strings.Contains(c.Text, "/archives/"+alertsChannel+"/p") {
			t.Errorf("managers' message should count the alerts and link the alert: %s", c.Text)
		}
	}

	s.slackPost(click("U-ALICE", "acknowledge", taskIDFor(t, alert, "acknowledge"))).expect(t, 200, "acknowledge click")
	s.edited(f, "the alert acknowledged", alert.TS, "Acknowledged by alice (slack U-ALICE)")
	realerts := func() int {
		n := 0
		for _, c := range f.Calls() {
			if c.Method == "chat.postMessage" && isRealert(c) {
				n++
			}
		}
		return n
	}
	before := realerts()
	// Re-alerts came every 2 seconds; 5 more seconds would have brought two.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if n := realerts(); n != before {
			t.Fatalf("re-alerted after acknowledgement: %d re-alerts, %d at acknowledgement", n, before)
		}
	}
	esc := s.call("GET", path+"/escalations", managerToken, nil).expect(t, 200, "escalations")
	e := esc.Body["escalations"].([]any)[0].(map[string]any)
	if e["acknowledged_by"] != "alice (slack U-ALICE)" || e["alerts"].(float64) < 2 || e["alerts"].(float64) != float64(before+1) {
		t.Errorf("escalation should count the first alert and each re-alert (%d): %s", before, esc.Raw)
	}
	noPersonalData(t, f, dob)
}

// TestEndToEndSlackRedAlertEndsWithRating: rating red down to amber before
// anyone acknowledges ends the escalation; the alert is edited to say so,
// with nothing left to click.
func TestEndToEndSlackRedAlertEndsWithRating(t *testing.T) {
	f := slackfake.New(t)
	s := startStack(t, slackEnv(f, map[string]string{"SLACK_CHANNEL_ALERTS": alertsChannel}))
	_, path := s.ratedRed("1990-03-01")
	alert := s.posted(f, "the red alert", isAlert)
	s.call("POST", path+"/rating", coordToken, map[string]any{"rating": "amber", "rationale": "community team in place"}).expect(t, 200, "rate amber")
	up := s.edited(f, "the alert edited to the escalation's end", alert.TS, ":heavy_multiplication_x: ~RED alert~", "Escalation ended: rating lowered to amber by alice")
	if strings.Contains(up.Blocks, "button") {
		t.Errorf("ended alert keeps buttons: %s", up.Blocks)
	}
	esc := s.call("GET", path+"/escalations", managerToken, nil).expect(t, 200, "escalations")
	if e := esc.Body["escalations"].([]any)[0].(map[string]any); e["open"] != false || !strings.Contains(e["outcome"].(string), "never acknowledged") {
		t.Errorf("escalation outcome: %s", esc.Raw)
	}
}
