package inbound

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/dsr-register/dsr/internal/slack"
	"github.com/dsr-register/dsr/internal/slack/slackfake"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/store/storetest"
)

// TestMbEDecisionFromSlack: Hold is one click, recorded once however often
// Slack delivers it; a later click is told it is already done; Decline asks
// for the reason in a modal, which will not go without one, and records it.
func TestMbEDecisionFromSlack(t *testing.T) {
	ctx := context.Background()
	st := storetest.Migrated(t)
	srv := slackfake.New(t)
	in := newInteractions(st, srv, t0.Add(time.Hour), map[string]string{"U-ALICE": "alice", "U-BOB": "bob"})
	click := func(user string, action string, taskID int64, ts string) {
		var cb slackapi.InteractionCallback
		cb.Type, cb.User.ID, cb.Channel.ID, cb.TriggerID = slackapi.InteractionTypeBlockActions, user, "C-COORD", "trigger-"+ts
		cb.ActionCallback.BlockActions = []*slackapi.BlockAction{{ActionID: slack.ActionIDPrefix + action, Value: fmt.Sprint(taskID), ActionTs: ts}}
		in.HandleBlockAction(ctx, cb)
	}
	decisionEmails := func(id int64) int {
		items, err := st.WaitingNotifications(ctx, nil, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, it := range items {
			if it.Key == fmt.Sprintf("mbe-%d:decision", id) {
				n++
			}
		}
		return n
	}

	held := storetest.CompleteMbERequest(t, st, "<hold@example.org>", t0)
	click("U-ALICE", "hold", held.TaskID, "1700000000.1")
	click("U-ALICE", "hold", held.TaskID, "1700000000.1") // Slack delivering the same click again
	r, err := st.MbERequest(ctx, held.ID)
	if err != nil || r.Status != store.MbEHeld || r.DecidedBy != "alice (slack U-ALICE)" || decisionEmails(held.ID) != 1 {
		t.Fatalf("after Hold: %+v, %v, %d decision emails; want held by alice, one email", r, err, decisionEmails(held.ID))
	}
	click("U-BOB", "decline", held.TaskID, "1700000000.2")
	if _, opened := srv.Find("views.open", "dsr:mbe_decline"); opened {
		t.Error("a click on a decided request opened the decline form")
	}

	declined := storetest.CompleteMbERequest(t, st, "<decline@example.org>", t0)
	click("U-BOB", "decline", declined.TaskID, "1700000000.3")
	view, ok := srv.Find("views.open", `"callback_id":"dsr:mbe_decline"`)
	if !ok || !strings.Contains(view.View, fmt.Sprintf(`"private_metadata":"%d"`, declined.TaskID)) || strings.Contains(view.View, "Jo") {
		t.Fatalf("decline modal: %+v", view)
	}
	submit := func(reason string) *slackapi.ViewSubmissionResponse {
		sub := slackapi.InteractionCallback{Type: slackapi.InteractionTypeViewSubmission}
		sub.User.ID = "U-BOB"
		sub.View.ID, sub.View.CallbackID, sub.View.PrivateMetadata = "V-DECLINE", modalDecline, fmt.Sprint(declined.TaskID)
		sub.View.State = &slackapi.ViewState{Values: map[string]map[string]slackapi.BlockAction{"reason": {"value": {Value: reason}}}}
		return in.HandleViewSubmission(ctx, sub)
	}
	if resp := submit("   "); resp == nil || !strings.Contains(resp.Errors["reason"], "required") {
		t.Errorf("decline without a reason: %+v; want it refused against the reason", resp)
	}
	if resp := submit("an MDT is already booked"); resp != nil {
		t.Fatalf("decline with a reason: %+v", resp)
	}
	r, err = st.MbERequest(ctx, declined.ID)
	if err != nil || r.Status != store.MbEDeclined || r.Reason != "an MDT is already booked" || r.DecidedBy != "bob (slack U-BOB)" {
		t.Errorf("after Decline: %+v, %v", r, err)
	}

	wantEphemerals(t, srv,
		"U-ALICE: Already done: hold by alice (slack U-ALICE) at Tue 24 Nov 2026 11:00. Nothing was changed.",
		"U-BOB: Already done: hold by alice (slack U-ALICE) at Tue 24 Nov 2026 11:00. Nothing was changed.",
	)
}
