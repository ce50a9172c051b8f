package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/store/storetest"
)

// queued is the outbox's waiting notification with this key.
func queued(t *testing.T, st *store.Store, key string) (notify.Notification, bool) {
	t.Helper()
	items, err := st.WaitingNotifications(context.Background(), nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Key != key {
			continue
		}
		var n notify.Notification
		if err := json.Unmarshal(it.Payload, &n); err != nil {
			t.Fatal(err)
		}
		return n, true
	}
	return notify.Notification{}, false
}

// TestMbEDecisionPrompt: a complete MbE request queues its task's prompt
// in the transaction that opens it; the prompt is posted once, with Hold
// and Decline, naming no one; the decision queues the edit, which leaves
// no buttons.
func TestMbEDecisionPrompt(t *testing.T) {
	ctx := context.Background()
	st := storetest.Migrated(t)
	r := storetest.CompleteMbERequest(t, st, "<mbe-1@example.org>", t0)
	taskKey := fmt.Sprintf("mbe-decision-%d", r.ID)
	opened, ok := queued(t, st, taskKey+":opened")
	if !ok || opened.Event != notify.TaskOpened || opened.TaskID != r.TaskID || opened.PersonID != 0 || opened.TaskKind != store.TaskMbEDecision {
		t.Fatalf("opened notification: %+v (queued %v)", opened, ok)
	}

	srv, _, paced := fakeSlack(t)
	n := &Notifier{Records: st, Poster: paced, Channel: "C-COORD", PublicURL: "https://dsr.example.nhs.uk",
		Now: func() time.Time { return t0.Add(time.Hour) }}
	deliverTwice(t, n, opened) // an activity retry posts nothing more
	post := onlyPost(t, srv, "C-COORD", "the coordinators' channel")
	for _, want := range []string{
		fmt.Sprintf(`*MbE request needs a decision* · \u003chttps://dsr.example.nhs.uk/tasks/%d|MBE-%d\u003e`, r.TaskID, r.ID),
		fmt.Sprintf(`"action_id":"dsr:hold","value":"%d"`, r.TaskID),
		fmt.Sprintf(`"action_id":"dsr:decline","value":"%d"`, r.TaskID),
	} {
		if !strings.Contains(post.Blocks, want) {
			t.Errorf("prompt blocks lack %s:\n%s", want, post.Blocks)
		}
	}
	for _, notWanted := range []string{"Jo", "Bloggs", "discharge", "mum", "sw@example.org", "assign_me", "not yet rated", "DSR-"} {
		if strings.Contains(post.Blocks+post.Text, notWanted) {
			t.Errorf("prompt contains %q:\n%s", notWanted, post.Blocks)
		}
	}

	if _, err := st.DecideMbE(ctx, r.ID, "hold", "", "alice (slack U-ALICE)", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	closed, ok := queued(t, st, taskKey+":closed")
	if !ok || closed.Event != notify.TaskClosed || closed.TaskID != r.TaskID || closed.PersonID != 0 {
		t.Fatalf("closed notification: %+v (queued %v)", closed, ok)
	}
	if err := n.Notify(ctx, closed); err != nil {
		t.Fatal(err)
	}
	edit, ok := srv.Find("chat.update", "MbE request needs a decision")
	if !ok || strings.Contains(edit.Blocks, `"actions"`) || !strings.Contains(edit.Blocks, "Hold by alice (slack U-ALICE)") {
		t.Errorf("closing edit: %+v", edit)
	}
}

// TestPersonlessIdentityCheckPrompt: an identity check names no one and
// links to its task page; its decision is made there.
func TestPersonlessIdentityCheckPrompt(t *testing.T) {
	p := Prompt{Task: store.Task{ID: 7, Kind: register.TaskIdentityCheck, Status: register.TaskStatusOpen,
		Actions: []register.Action{register.ActionSamePerson, register.ActionDifferentPerson}}, TaskURL: "https://dsr.example.nhs.uk/tasks/7"}
	text, blocks := OpenBlocks(p, t0)
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	if text != "A referral needs an identity check: task 7" ||
		!strings.Contains(string(raw), `*A referral needs an identity check* · \u003chttps://dsr.example.nhs.uk/tasks/7|task 7\u003e"`) ||
		strings.Contains(string(raw), "assign_me") || strings.Contains(string(raw), "rated") {
		t.Errorf("identity check prompt: %s\n%s", text, raw)
	}
}
