package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/slack/slackfake"
)

// acks records Socket Mode acknowledgements.
type acks struct {
	mu   sync.Mutex
	got  map[string][]any
	seen []string
}

func (a *acks) Ack(req socketmode.Request, payload ...any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.got == nil {
		a.got = map[string][]any{}
	}
	a.got[req.EnvelopeID] = payload
	a.seen = append(a.seen, req.EnvelopeID)
	return nil
}

func (a *acks) payload(id string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.got[id]
	if !ok {
		return "", false
	}
	b, _ := json.Marshal(p)
	return string(b), true
}

// TestSocketModeEvents drives the Socket Mode handler with constructed
// events: a slash command, a click by someone who is not a coordinator, a
// click on a task already done, and a modal submission with a bad field.
// Each is acknowledged, and the answers say what happened.
func TestSocketModeEvents(t *testing.T) {
	ctx := context.Background()
	st, rc := registerWithOneReferral(t)
	key := fmt.Sprintf("%d-1-consent_needed", rc.PersonID)
	ids, err := st.RecordChange(ctx, register.Change{PersonID: rc.PersonID, Seq: 1, At: t0, Actor: "alice", Action: "referral_accepted",
		Snapshot: register.Snapshot{Stage: register.Referred},
		Open:     []register.TaskOpen{{Key: key, Kind: register.TaskConsentNeeded, DueAt: t0.Add(time.Hour), Actions: []register.Action{register.ActionRecordConsent}}}})
	if err != nil {
		t.Fatal(err)
	}
	doneKey := fmt.Sprintf("%d-2-review_due", rc.PersonID)
	ids2, err := st.RecordChange(ctx, register.Change{PersonID: rc.PersonID, Seq: 2, At: t0, Actor: "alice", Action: "x",
		Snapshot: register.Snapshot{Stage: register.Referred},
		Open:     []register.TaskOpen{{Key: doneKey, Kind: register.TaskReviewDue, DueAt: t0, Actions: []register.Action{register.ActionConfirmRating}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordChange(ctx, register.Change{PersonID: rc.PersonID, Seq: 3, At: t0.Add(time.Minute), Actor: "bob (slack U-BOB)", Action: "review_confirmed",
		Snapshot: register.Snapshot{Stage: register.Referred},
		Close:    []register.TaskClose{{Key: doneKey, Status: register.TaskStatusDone, Outcome: "rating confirmed red"}}}); err != nil {
		t.Fatal(err)
	}

	srv := slackfake.New(t)
	in := &Interactions{
		Casework:     &casework.Casework{Store: st, Now: func() time.Time { return t0 }, Logger: slog.Default()},
		Records:      st,
		Client:       slackapi.New("xoxb-test", slackapi.OptionAPIURL(srv.GetAPIURL())),
		Coordinators: map[string]string{"U-ALICE": "alice"},
		Managers:     map[string]string{"U-MARIA": "maria"},
		Logger:       slog.Default(),
		Now:          func() time.Time { return t0 },
	}
	a := &acks{}
	event := func(id string, typ socketmode.EventType, data any) {
		in.HandleSocketEvent(ctx, a, socketmode.Event{Type: typ, Data: data, Request: &socketmode.Request{EnvelopeID: id}})
	}

	event("cmd-help", socketmode.EventTypeSlashCommand, slackapi.SlashCommand{Command: "/dsr", Text: "help", UserID: "U-ALICE"})
	event("cmd-status", socketmode.EventTypeSlashCommand, slackapi.SlashCommand{Command: "/dsr", Text: fmt.Sprintf("status DSR-%d", rc.PersonID), UserID: "U-MARIA"})
	event("cmd-tasks-mine", socketmode.EventTypeSlashCommand, slackapi.SlashCommand{Command: "/dsr", Text: "tasks", UserID: "U-ALICE"})
	event("cmd-tasks-manager", socketmode.EventTypeSlashCommand, slackapi.SlashCommand{Command: "/dsr", Text: "tasks", UserID: "U-MARIA"})
	event("cmd-refer-manager", socketmode.EventTypeSlashCommand, slackapi.SlashCommand{Command: "/dsr", Text: "refer", UserID: "U-MARIA"})

	stranger := slackapi.InteractionCallback{Type: slackapi.InteractionTypeBlockActions}
	stranger.User.ID, stranger.Channel.ID = "U-EVE", "C-DSR"
	stranger.ActionCallback.BlockActions = []*slackapi.BlockAction{{ActionID: "dsr:record_consent", Value: fmt.Sprint(ids[key])}}
	event("click-stranger", socketmode.EventTypeInteractive, stranger)

	stale := stranger
	stale.User.ID = "U-ALICE"
	stale.ActionCallback.BlockActions = []*slackapi.BlockAction{{ActionID: "dsr:confirm_rating", Value: fmt.Sprint(ids2[doneKey])}}
	event("click-stale", socketmode.EventTypeInteractive, stale)

	sub := slackapi.InteractionCallback{Type: slackapi.InteractionTypeViewSubmission}
	sub.User.ID = "U-ALICE"
	sub.View.CallbackID, sub.View.PrivateMetadata = modalConsent, fmt.Sprint(ids[key])
	sub.View.State = &slackapi.ViewState{Values: map[string]map[string]slackapi.BlockAction{
		"basis":      {"value": {SelectedOption: slackapi.OptionBlockObject{Value: "parental"}}},
		"decided_on": {"value": {SelectedDate: "2026-11-24"}},
	}}
	event("submit-bad", socketmode.EventTypeInteractive, sub)

	for id, want := range map[string]string{
		"cmd-help":          "/dsr refer",
		"cmd-status":        fmt.Sprintf("DSR-%d* (AL) · referred", rc.PersonID),
		"cmd-refer-manager": "only DSR coordinators can record referrals",
		"cmd-tasks-mine":    "You have no open tasks. :tada:\\n1 more open for people not yet assigned",
		"cmd-tasks-manager": fmt.Sprintf("*1 open tasks*, soonest due first:\\n• DSR-%d consent needed", rc.PersonID),
		"click-stranger":    "null",
		"click-stale":       "null",
		"submit-bad":        `"response_action":"errors"`,
	} {
		got, ok := a.payload(id)
		if !ok {
			t.Errorf("%s was not acknowledged", id)
			continue
		}
		if !strings.Contains(got, want) {
			t.Errorf("%s: ack %s, want it to contain %q", id, got, want)
		}
	}
	if got, _ := a.payload("submit-bad"); !strings.Contains(got, `"basis"`) || !strings.Contains(got, "parental consent applies under 16") {
		t.Errorf("bad submission should be answered against basis: %s", got)
	}
	if got, _ := a.payload("cmd-status"); strings.Contains(got, "Lovelace") || strings.Contains(got, "9434765919") {
		t.Errorf("status shows personal data: %s", got)
	}

	// Clicks are worked after the acknowledgement; their answers arrive as
	// ephemeral messages.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var replies []string
		for _, c := range srv.Calls() {
			if c.Method == "chat.postEphemeral" {
				replies = append(replies, c.User+": "+c.Text)
			}
		}
		all := strings.Join(replies, "\n")
		if strings.Contains(all, "U-EVE: Sorry, only DSR coordinators") &&
			strings.Contains(all, "U-ALICE: Already done: rating confirmed red by bob (slack U-BOB)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ephemeral replies: %s", all)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
