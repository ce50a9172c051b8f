package slack

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"go.temporal.io/sdk/client"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/slack/slackfake"
)

// TestFormThatCannotReadItsTaskSaysSo: a submitted form whose task is gone,
// whose task cannot be read (the database down), or whose action got no
// answer from the workflow stays open with an error saying so; it never
// closes as if it had worked.
func TestFormThatCannotReadItsTaskSaysSo(t *testing.T) {
	st, rc := registerWithOneReferral(t)
	_, taskID := acceptReferral(t, st, rc)
	srv := slackfake.New(t)
	in := &Interactions{
		Casework:     &casework.Casework{Store: st, Temporal: unreachableTemporal(t), Now: func() time.Time { return t0 }, Logger: slog.Default()},
		Records:      st,
		Client:       slackapi.New("xoxb-test", slackapi.OptionAPIURL(srv.GetAPIURL())),
		Coordinators: map[string]string{"U-ALICE": "alice"},
		Logger:       slog.Default(),
		Now:          func() time.Time { return t0 },
	}
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
		act := &slackapi.BlockAction{ActionID: ActionIDPrefix + "acknowledge", Value: "42", ActionTs: ts}
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

// unreachableTemporal is a Temporal client for an address nothing listens
// on, as while the server restarts.
func unreachableTemporal(t *testing.T) client.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tc, err := client.NewLazyClient(client.Options{HostPort: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	return tc
}
