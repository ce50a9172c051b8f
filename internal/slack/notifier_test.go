package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/slack/pacer"
	"github.com/dsr-register/dsr/internal/slack/slackfake"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/store/storetest"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// fakeSlack is slackfake's server, a client of it, and a pacer on that
// client fast enough for tests (closed when the test ends).
func fakeSlack(t *testing.T) (*slackfake.Server, *slackapi.Client, *pacer.Pacer) {
	t.Helper()
	srv := slackfake.New(t)
	client := slackapi.New("xoxb-test", slackapi.OptionAPIURL(srv.GetAPIURL()))
	paced := pacer.New(client, pacer.Options{PerChannelInterval: time.Millisecond})
	t.Cleanup(paced.Close)
	return srv, client, paced
}

// deliverTwice hands note to n twice, as an activity retry would.
func deliverTwice(t *testing.T, n *Notifier, note notify.Notification) {
	t.Helper()
	for range 2 {
		if err := n.Notify(context.Background(), note); err != nil {
			t.Fatal(err)
		}
	}
}

// onlyPost is the one call Slack has had, which must be a post to channel
// (what names it in the failure).
func onlyPost(t *testing.T, srv *slackfake.Server, channel, what string) slackfake.Call {
	t.Helper()
	calls := srv.Calls()
	if len(calls) != 1 || calls[0].Method != "chat.postMessage" || calls[0].Channel != channel {
		t.Fatalf("want one post to %s, got %+v", what, calls)
	}
	return calls[0]
}

func TestNotifierPostsUpdatesAndChases(t *testing.T) {
	ctx := context.Background()
	st, rc := storetest.WithOneReferral(t, t0)
	key, taskID := storetest.AcceptReferral(t, st, rc, t0)

	srv, _, paced := fakeSlack(t)
	n := &Notifier{Records: st, Poster: paced, Channel: "C-COORD", PublicURL: "https://dsr.example.nhs.uk",
		Now: func() time.Time { return t0.Add(time.Hour) }}

	opened := notify.Notification{Key: key + ":opened", Event: notify.TaskOpened, PersonID: rc.PersonID, TaskID: taskID}
	deliverTwice(t, n, opened) // one post
	post := onlyPost(t, srv, "C-COORD", "the coordinators' channel")
	wantBlocks := fmt.Sprintf(`[{"type":"section","text":{"type":"mrkdwn","text":"*New referral needs consent* · \u003chttps://dsr.example.nhs.uk/api/v1/people/%[1]d|DSR-%[1]d\u003e (AL) · not yet rated"}},`+
		`{"type":"context","elements":[{"type":"mrkdwn","text":"The register is consent based: record the person's consent (or a best-interest decision, or a parent's consent under 16) by Tue 22 Dec 2026 10:00."}]},`+
		`{"type":"actions","block_id":"task-%[2]d","elements":[`+
		`{"type":"button","text":{"type":"plain_text","text":"Record consent","emoji":false},"action_id":"dsr:record_consent","value":"%[2]d","style":"primary"},`+
		`{"type":"button","text":{"type":"plain_text","text":"Close referral","emoji":false},"action_id":"dsr:close_referral","value":"%[2]d","style":"danger"},`+
		`{"type":"button","text":{"type":"plain_text","text":"Assign to me","emoji":false},"action_id":"dsr:assign_me","value":"%[2]d"}]}]`,
		rc.PersonID, taskID)
	if post.Blocks != wantBlocks {
		t.Errorf("blocks:\n got %s\nwant %s", post.Blocks, wantBlocks)
	}
	for _, secret := range []string{"Ada", "Lovelace", "9434765919", "1990"} {
		if strings.Contains(post.Blocks+post.Text, secret) {
			t.Errorf("Slack text contains %q", secret)
		}
	}

	// A chaser goes in the thread, once even when the activity retries.
	deliverTwice(t, n, notify.Notification{Key: key + ":reminder:2", Event: notify.TaskReminder, PersonID: rc.PersonID, TaskID: taskID})
	// Closing edits the original message in place, with no buttons.
	if _, err := st.RecordChange(ctx, register.Change{
		PersonID: rc.PersonID, Seq: 2, At: t0.Add(2 * time.Hour), Actor: "alice", Action: "consent_recorded",
		Snapshot: register.Snapshot{Stage: register.Active},
		Close:    []register.TaskClose{{Key: key, Kind: register.TaskConsentNeeded, Status: register.TaskStatusDone, Outcome: "consent recorded (self)"}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(ctx, notify.Notification{Key: key + ":closed", Event: notify.TaskClosed, PersonID: rc.PersonID, TaskID: taskID}); err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls()
	if len(calls) != 3 {
		t.Fatalf("want post, reminder, update; got %+v", calls)
	}
	if r := calls[1]; r.Method != "chat.postMessage" || r.ThreadTS != calls[0].TS || !strings.Contains(r.Text, "Reminder") {
		t.Errorf("reminder should be threaded under the prompt: %+v", r)
	}
	up := calls[2]
	if up.Method != "chat.update" || up.TS != calls[0].TS || up.Channel != "C-COORD" {
		t.Fatalf("want chat.update of the original message, got %+v", up)
	}
	if strings.Contains(up.Blocks, `"actions"`) || strings.Contains(up.Blocks, "button") {
		t.Errorf("closed message must have no buttons: %s", up.Blocks)
	}
	if !strings.Contains(up.Blocks, "Consent recorded (self) by alice at Tue 24 Nov 2026 12:00") {
		t.Errorf("closed message should say what, who and when: %s", up.Blocks)
	}
}

func TestShowNamesOptIn(t *testing.T) {
	due := t0.Add(24 * time.Hour)
	p := Prompt{Task: store.Task{ID: 7, Kind: register.TaskReviewDue, DueAt: &due, Actions: []register.Action{register.ActionConfirmRating, register.ActionChangeRating}},
		PersonID: 1042, Initials: "AL", Rating: register.Red}
	_, blocks := OpenBlocks(p, t0)
	b, _ := json.Marshal(blocks)
	if !strings.Contains(string(b), "Rating review due* · DSR-1042 (AL) · RED") || strings.Contains(string(b), "Lovelace") {
		t.Errorf("initials by default: %s", b)
	}
	p.FullName = "Ada Lovelace"
	_, blocks = OpenBlocks(p, t0.Add(48*time.Hour))
	b, _ = json.Marshal(blocks)
	if !strings.Contains(string(b), "DSR-1042 (Ada Lovelace)") || !strings.Contains(string(b), "overdue") {
		t.Errorf("full name when opted in, and overdue flagged: %s", b)
	}
}

// failingPoster answers every write with err, as Slack would.
type failingPoster struct{ err error }

func (p failingPoster) PostMessage(context.Context, string, pacer.Priority, ...slackapi.MsgOption) (string, string, error) {
	return "", "", p.err
}

func (p failingPoster) UpdateMessage(context.Context, string, string, pacer.Priority, ...slackapi.MsgOption) error {
	return p.err
}

// Slack saying no for good (the bot not in the channel, a user not there)
// is a refusal, which the outbox sets aside so the person's next
// notifications go on; Slack's passing troubles are ordinary failures,
// retried in place.
func TestNotifierTellsRefusalsFromPassingFailures(t *testing.T) {
	ctx := context.Background()
	st, rc := storetest.WithOneReferral(t, t0)
	key, taskID := storetest.AcceptReferral(t, st, rc, t0)
	opened := notify.Notification{Key: key + ":opened", Event: notify.TaskOpened, PersonID: rc.PersonID, TaskID: taskID}
	for _, tc := range []struct {
		err     error
		refused bool
	}{
		{slackapi.SlackErrorResponse{Err: "not_in_channel"}, true},
		{slackapi.SlackErrorResponse{Err: "channel_not_found"}, true},
		{slackapi.SlackErrorResponse{Err: "internal_error"}, false},
		{slackapi.SlackErrorResponse{Err: "ratelimited"}, false},
		{slackapi.StatusCodeError{Code: 503, Status: "503 Service Unavailable"}, false},
		{context.DeadlineExceeded, false},
	} {
		n := &Notifier{Records: st, Poster: failingPoster{tc.err}, Channel: "C-COORD", Now: func() time.Time { return t0 }}
		err := n.Notify(ctx, opened)
		if err == nil {
			t.Fatalf("%v: Notify succeeded", tc.err)
		}
		if got := notify.IsRefused(err); got != tc.refused {
			t.Errorf("%v: refused = %v, want %v (error %v)", tc.err, got, tc.refused, err)
		}
	}
}

// answerLost posts through the real pacer, then reports a failure: Slack
// accepted the post but dsr never heard (it was stopped, the connection
// dropped) until lose is spent.
type answerLost struct {
	Poster
	lose int
}

func (p *answerLost) PostMessage(ctx context.Context, channel string, prio pacer.Priority, opts ...slackapi.MsgOption) (string, string, error) {
	ch, ts, err := p.Poster.PostMessage(ctx, channel, prio, opts...)
	if err == nil && p.lose > 0 {
		p.lose--
		return "", "", fmt.Errorf("connection reset after %s was posted", ts)
	}
	return ch, ts, err
}

// deliverAfterLostAnswer delivers note twice: the first attempt must fail
// (answerLost lost its answer), the second succeed.
func deliverAfterLostAnswer(t *testing.T, n *Notifier, note notify.Notification) {
	t.Helper()
	if err := n.Notify(context.Background(), note); err == nil {
		t.Fatalf("%s: the first attempt should fail: its answer was lost", note.Key)
	}
	if err := n.Notify(context.Background(), note); err != nil {
		t.Fatal(err)
	}
}

// postsTo are the chat.postMessage calls Slack has had.
func postsTo(srv *slackfake.Server) []slackfake.Call {
	var posts []slackfake.Call
	for _, c := range srv.Calls() {
		if c.Method == "chat.postMessage" {
			posts = append(posts, c)
		}
	}
	return posts
}

// A post whose answer was lost is found in Slack on the next attempt, not
// posted again: the prompt and its chaser appear once each.
func TestNotifierPostsOnceWhenTheAnswerWasLost(t *testing.T) {
	ctx := context.Background()
	st, rc := storetest.WithOneReferral(t, t0)
	key, taskID := storetest.AcceptReferral(t, st, rc, t0)
	srv, client, paced := fakeSlack(t)
	lossy := &answerLost{Poster: paced, lose: 2}
	n := &Notifier{Records: st, Poster: lossy, History: client, Channel: "C-COORD", Now: func() time.Time { return t0 }}

	deliverAfterLostAnswer(t, n, notify.Notification{Key: key + ":opened", Event: notify.TaskOpened, PersonID: rc.PersonID, TaskID: taskID})
	deliverAfterLostAnswer(t, n, notify.Notification{Key: key + ":reminder:2", Event: notify.TaskReminder, PersonID: rc.PersonID, TaskID: taskID})
	posts := postsTo(srv)
	if len(posts) != 2 || posts[1].ThreadTS != posts[0].TS {
		t.Fatalf("want the prompt and its threaded chaser once each, got %+v", posts)
	}
	msg, err := st.SlackMessageFor(ctx, taskID)
	if err != nil || msg.TS != posts[0].TS {
		t.Errorf("the prompt's place should be recorded from Slack: %+v, %v", msg, err)
	}
}
