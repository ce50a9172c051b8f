package inbound

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store/storetest"

	slackapi "github.com/slack-go/slack"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
	"github.com/dsr-register/dsr/internal/slack"
	"github.com/dsr-register/dsr/internal/slack/slackfake"
	"github.com/dsr-register/dsr/internal/store"
)

// TestFormThatCannotReadItsTaskSaysSo: a submitted form whose task is gone,
// whose task cannot be read (the database down), or whose action got no
// answer from the workflow stays open with an error saying so; it never
// closes as if it had worked.
var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func TestFormThatCannotReadItsTaskSaysSo(t *testing.T) {
	st, rc := storetest.WithOneReferral(t, t0)
	_, taskID := storetest.AcceptReferral(t, st, rc, t0)
	in := newInteractions(st, slackfake.New(t), t0, map[string]string{"U-ALICE": "alice"})
	in.Casework.Temporal = devstacktest.UnreachableTemporal(t)
	submit := func(task string) *slackapi.ViewSubmissionResponse {
		sub := slackapi.InteractionCallback{Type: slackapi.InteractionTypeViewSubmission}
		sub.User.ID = "U-ALICE"
		sub.View.ID, sub.View.CallbackID, sub.View.PrivateMetadata = "V-1", modalRating, task
		sub.View.State = &slackapi.ViewState{Values: map[string]map[string]slackapi.BlockAction{
			"rating": {"value": {SelectedOption: slackapi.OptionBlockObject{Value: "red"}}}, "rationale": {"value": {Value: "crisis"}}}}
		return in.HandleViewSubmission(context.Background(), sub)
	}
	expect := func(what string, resp *slackapi.ViewSubmissionResponse, want string) {
		t.Helper()
		if resp == nil || !strings.Contains(resp.Errors["rating"], want) {
			t.Errorf("%s: %+v; want the form kept open saying %q", what, resp, want)
		}
	}

	expect("Temporal not answering", submit(fmt.Sprint(taskID)), "may have been recorded. Submitting the form again is safe")
	expect("a task not on the register", submit("987654"), "no longer on the register; nothing was recorded")
	expect("a form with no task", submit("not-a-number"), "does not say which prompt")
	st.Close()
	expect("the database down", submit(fmt.Sprint(taskID)), "could not be read just now; nothing was changed")
}

// TestActionIDs: a click is named by its action_ts, a form by its view ID:
// the same when Slack delivers it again, different for a new click or form
// or another user.
func TestActionIDs(t *testing.T) {
	click := func(user, ts string) string {
		var cb slackapi.InteractionCallback
		cb.User.ID, cb.TriggerID = user, "trigger-"+ts
		act := &slackapi.BlockAction{ActionID: slack.ActionIDPrefix + "acknowledge", Value: "42", ActionTs: ts}
		return clickAction(cb, act, "alice (slack "+user+")").ID
	}
	form := func(user, view string) string {
		var cb slackapi.InteractionCallback
		cb.User.ID, cb.View.ID = user, view
		return submissionAction(cb, "alice").ID
	}
	firstClick, redeliveredClick := click("U1", "1700000000.1"), click("U1", "1700000000.1")
	firstForm, redeliveredForm := form("U1", "V1"), form("U1", "V1")
	if firstClick != redeliveredClick || firstForm != redeliveredForm {
		t.Error("a redelivered click or form must keep its ID")
	}
	for _, pair := range [][2]string{
		{click("U1", "1700000000.1"), click("U1", "1700000000.2")},
		{click("U1", "1700000000.1"), click("U2", "1700000000.1")},
		{form("U1", "V1"), form("U1", "V2")},
		{form("U1", "V1"), form("U2", "V1")},
	} {
		if pair[0] == pair[1] {
			t.Errorf("two actions share the ID %s", pair[0])
		}
	}
	if id := form("U1", ""); id != "" {
		t.Errorf("a form without a view ID got the shared ID %q; want a fresh one", id)
	}
}

// newInteractions answers Slack for the given coordinators, on st, through
// the fake Slack srv, with the clock stopped at now.
func newInteractions(st *store.Store, srv *slackfake.Server, now time.Time, coordinators map[string]string) *Interactions {
	clock := func() time.Time { return now }
	return &Interactions{
		Casework:     &casework.Casework{Store: st, Now: clock, Logger: slog.Default()},
		Records:      st,
		Client:       slackapi.New("xoxb-test", slackapi.OptionAPIURL(srv.GetAPIURL())),
		Coordinators: coordinators,
		Logger:       slog.Default(),
		Now:          clock,
	}
}

// wantEphemerals checks what users were told privately (as "user: text"),
// in order.
func wantEphemerals(t *testing.T, srv *slackfake.Server, want ...string) {
	t.Helper()
	var replies []string
	for _, c := range srv.Calls() {
		if c.Method == "chat.postEphemeral" {
			replies = append(replies, c.User+": "+c.Text)
		}
	}
	if strings.Join(replies, "\n") != strings.Join(want, "\n") {
		t.Errorf("replies:\n got %s\nwant %s", strings.Join(replies, "\n"), strings.Join(want, "\n"))
	}
}

// TestActionClicks: "Mark done" opens the date modal (today in London);
// a submission without a date is answered against the date; clicks on an
// alert already acknowledged are told who did it; only coordinators act.
func TestActionClicks(t *testing.T) {
	ctx := context.Background()
	st, esc := storetest.WithEscalation(t, t0)
	ids := esc.Tasks
	alertKey := esc.Key(register.TaskEscalationAlert)
	if _, err := st.RecordChange(ctx, esc.Step(2, "escalation_acknowledged", t0.Add(time.Hour), "bob (slack U-BOB)", func(c *register.Change) {
		c.Close = []register.TaskClose{{Key: alertKey, Kind: register.TaskEscalationAlert, Status: register.TaskStatusDone, Outcome: "acknowledged"}}
	})); err != nil {
		t.Fatal(err)
	}

	srv := slackfake.New(t)
	// 23:30 UTC on 1 July is already 2 July in London.
	now := time.Date(2026, 7, 1, 23, 30, 0, 0, time.UTC)
	in := newInteractions(st, srv, now, map[string]string{"U-ALICE": "alice"})
	click := func(user string, action register.Action, kind register.TaskKind) {
		var cb slackapi.InteractionCallback
		cb.Type, cb.User.ID, cb.Channel.ID, cb.TriggerID = slackapi.InteractionTypeBlockActions, user, "C-ALERTS", "trigger"
		cb.ActionCallback.BlockActions = []*slackapi.BlockAction{{ActionID: slack.ActionIDPrefix + string(action), Value: fmt.Sprint(ids[kind])}}
		in.HandleBlockAction(ctx, cb)
	}

	click("U-ALICE", register.ActionMarkDone, register.TaskCommunityCTR)
	view, ok := srv.Find("views.open", `"callback_id":"dsr:done"`)
	if !ok || !strings.Contains(view.View, `"initial_date":"2026-07-02"`) || !strings.Contains(view.View, "Date it happened") ||
		!strings.Contains(view.View, fmt.Sprintf(`"private_metadata":"%d"`, ids[register.TaskCommunityCTR])) {
		t.Fatalf("mark-done modal: %+v", view)
	}

	sub := slackapi.InteractionCallback{Type: slackapi.InteractionTypeViewSubmission}
	sub.User.ID = "U-ALICE"
	sub.View.CallbackID, sub.View.PrivateMetadata = modalDone, fmt.Sprint(ids[register.TaskCommunityCTR])
	sub.View.State = &slackapi.ViewState{Values: map[string]map[string]slackapi.BlockAction{"notes": {"value": {Value: "held at home"}}}}
	resp := in.HandleViewSubmission(ctx, sub)
	if resp == nil || resp.Errors["done_on"] != "Pick the date it happened." {
		t.Errorf("submission without a date: %+v", resp)
	}

	click("U-ALICE", register.ActionAcknowledge, register.TaskEscalationAlert)
	click("U-EVE", register.ActionNotNeeded, register.TaskMultiAgencyMeeting)
	wantEphemerals(t, srv,
		"U-ALICE: Already done: acknowledged by bob (slack U-BOB) at Tue 24 Nov 2026 11:00. Nothing was changed.",
		"U-EVE: Sorry, only DSR coordinators can act on register prompts. Ask your DSR manager if you need access.",
	)
}

// TestDoneDate: today in London is sent as "today" for the register to
// date, so a click just after midnight in summer (still yesterday in UTC)
// is not refused as in the future; any other day is sent as picked.
func TestDoneDate(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	summerNight := time.Date(2026, 7, 1, 23, 30, 0, 0, time.UTC) // 00:30 on 2 July in London
	for _, c := range []struct {
		picked string
		now    time.Time
		want   time.Time
		err    bool
	}{
		{"2026-07-02", summerNight, time.Time{}, false},
		{"2026-07-01", summerNight, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), false},
		{"2026-11-24", t0, time.Time{}, false},
		{"2026-11-20", t0, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), false},
		{"", t0, time.Time{}, true},
	} {
		got, err := doneDate(c.picked, slack.TeamToday(london, c.now))
		if (err != nil) != c.err || !got.Equal(c.want) {
			t.Errorf("doneDate(%q, %s) = %s, %v; want %s", c.picked, c.now, got, err, c.want)
		}
	}
}
