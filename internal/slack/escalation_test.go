package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
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

func at(t time.Time) *time.Time { return &t }

func blocksJSON(t *testing.T, blocks []slackapi.Block) string {
	t.Helper()
	b, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// redAlert is an open alert for DSR-1042 due at 14:00 on t0's day, with its
// escalation's required actions listed out of policy order.
func redAlert(keyworker bool) Prompt {
	expected := []store.Task{
		{ID: 10, Kind: register.TaskMultiAgencyMeeting, DueAt: at(t0.Add(5 * 24 * time.Hour))},
		{ID: 8, Kind: register.TaskCommunityCTR, DueAt: at(t0.Add(14 * 24 * time.Hour))},
	}
	if keyworker {
		expected = append(expected, store.Task{ID: 9, Kind: register.TaskKeyworkerReferral, DueAt: at(t0.Add(5 * 24 * time.Hour))})
	}
	return Prompt{
		Task: store.Task{ID: 7, Kind: register.TaskEscalationAlert, Status: register.TaskStatusOpen, DueAt: at(t0.Add(4 * time.Hour)),
			Actions: []register.Action{register.ActionAcknowledge}, Escalation: 1},
		PersonID: 1042, Initials: "AL", Rating: register.Red, Expected: expected,
	}
}

// TestAlertRendering: the alert is unmistakably red, says by when to
// acknowledge, lists exactly the actions its escalation opened, in policy
// order with their deadlines, and has one Acknowledge button.
func TestAlertRendering(t *testing.T) {
	text, blocks := OpenBlocks(redAlert(true), t0)
	want := `[{"type":"section","text":{"type":"mrkdwn","text":":rotating_light: *RED — immediate risk of admission* · DSR-1042 (AL) · Acknowledge by Tue 24 Nov 2026 14:00"}},` +
		`{"type":"section","text":{"type":"mrkdwn","text":"National policy expects:\n` +
		`• A community C(E)TR must take place — by Tue 8 Dec 2026\n` +
		`• Referral to the keyworker service (aged 0–25) — by Sun 29 Nov 2026\n` +
		`• A multi-agency meeting where needed — by Sun 29 Nov 2026"}},` +
		`{"type":"context","elements":[{"type":"mrkdwn","text":"Acknowledge to show a coordinator has this in hand: until someone does, the alert is re-sent and the managers are told."}]},` +
		`{"type":"actions","block_id":"task-7","elements":[` +
		`{"type":"button","text":{"type":"plain_text","text":"Acknowledge","emoji":false},"action_id":"dsr:acknowledge","value":"7","style":"primary"}]}]`
	if got := blocksJSON(t, blocks); got != want {
		t.Errorf("alert blocks:\n got %s\nwant %s", got, want)
	}
	if text != ":rotating_light: RED — immediate risk of admission: DSR-1042 — acknowledge by Tue 24 Nov 2026 14:00" {
		t.Errorf("notification text: %q", text)
	}

	// Over 25: no keyworker line. Past the deadline: flagged.
	_, blocks = OpenBlocks(redAlert(false), t0.Add(5*time.Hour))
	got := blocksJSON(t, blocks)
	if strings.Contains(got, "keyworker") || !strings.Contains(got, `National policy expects:\n• A community C(E)TR must take place — by Tue 8 Dec 2026\n• A multi-agency meeting where needed — by Sun 29 Nov 2026"`) {
		t.Errorf("without a keyworker referral: %s", got)
	}
	if !strings.Contains(got, "not acknowledged in time") {
		t.Errorf("an alert past its deadline should say so: %s", got)
	}
}

func TestClosedAlertRendering(t *testing.T) {
	p := redAlert(true)
	p.Task.Status, p.Task.Outcome, p.Task.ClosedBy, p.Task.ClosedAt = register.TaskStatusDone, "acknowledged", "alice (slack U-ALICE)", at(t0.Add(time.Hour))
	_, blocks := ClosedBlocks(p)
	got := blocksJSON(t, blocks)
	if !strings.Contains(got, ":white_check_mark: ~RED alert~ · DSR-1042 (AL) · RED") ||
		!strings.Contains(got, "Acknowledged by alice (slack U-ALICE) at Tue 24 Nov 2026 11:00") || strings.Contains(got, "button") {
		t.Errorf("acknowledged alert: %s", got)
	}
	p.Task.Status, p.Task.Outcome, p.Task.ClosedBy, p.Rating = register.TaskStatusCancelled, "escalation ended: rating lowered to amber", "alice", register.Amber
	_, blocks = ClosedBlocks(p)
	if got := blocksJSON(t, blocks); !strings.Contains(got, ":heavy_multiplication_x: ~RED alert~") ||
		!strings.Contains(got, "Escalation ended: rating lowered to amber by alice at") {
		t.Errorf("alert of an ended escalation: %s", got)
	}
}

// TestActionPromptButtons: required actions are marked done; only the
// "where needed" meeting can be closed as not needed.
func TestActionPromptButtons(t *testing.T) {
	for _, c := range []struct {
		kind    register.TaskKind
		actions []register.Action
		title   string
		buttons string
	}{
		{register.TaskCommunityCTR, []register.Action{register.ActionMarkDone}, "*Community C(E)TR needed*",
			`{"type":"button","text":{"type":"plain_text","text":"Mark done","emoji":false},"action_id":"dsr:mark_done","value":"8","style":"primary"},`},
		{register.TaskMultiAgencyMeeting, []register.Action{register.ActionMarkDone, register.ActionNotNeeded}, "*Multi-agency meeting where needed*",
			`{"type":"button","text":{"type":"plain_text","text":"Mark done","emoji":false},"action_id":"dsr:mark_done","value":"8","style":"primary"},` +
				`{"type":"button","text":{"type":"plain_text","text":"Not needed","emoji":false},"action_id":"dsr:not_needed","value":"8"},`},
		{register.TaskInpatientCTR, []register.Action{register.ActionMarkDone}, "*Inpatient C(E)TR due*", `"action_id":"dsr:mark_done"`},
		{register.TaskAmberMeeting, []register.Action{register.ActionMarkDone}, "*Multi-agency meeting or C(E)TR needed*", `"action_id":"dsr:mark_done"`},
		{register.TaskPostAdmissionCTR, []register.Action{register.ActionMarkDone}, "*Post-admission C(E)TR needed*", `"action_id":"dsr:mark_done"`},
		{register.TaskKeyworkerReferral, []register.Action{register.ActionMarkDone}, "*Keyworker referral needed*", `"action_id":"dsr:mark_done"`},
	} {
		p := Prompt{Task: store.Task{ID: 8, Kind: c.kind, DueAt: at(t0.Add(24 * time.Hour)), Actions: c.actions}, PersonID: 1042, Initials: "AL", Rating: register.Red}
		_, blocks := OpenBlocks(p, t0)
		got := blocksJSON(t, blocks)
		if !strings.Contains(got, c.title) || !strings.Contains(got, c.buttons) {
			t.Errorf("%s: %s", c.kind, got)
		}
	}
}

// posted is one write through the recording poster.
type posted struct {
	method, channel string
	prio            pacer.Priority
}

// prioPoster records the priority of each write and passes it on.
type prioPoster struct {
	Poster
	mu     sync.Mutex
	writes []posted
}

func (p *prioPoster) PostMessage(ctx context.Context, channel string, prio pacer.Priority, opts ...slackapi.MsgOption) (string, string, error) {
	p.mu.Lock()
	p.writes = append(p.writes, posted{"post", channel, prio})
	p.mu.Unlock()
	return p.Poster.PostMessage(ctx, channel, prio, opts...)
}

func (p *prioPoster) UpdateMessage(ctx context.Context, channel, ts string, prio pacer.Priority, opts ...slackapi.MsgOption) error {
	p.mu.Lock()
	p.writes = append(p.writes, posted{"update", channel, prio})
	p.mu.Unlock()
	return p.Poster.UpdateMessage(ctx, channel, ts, prio, opts...)
}

// TestNotifierRedAlert: the alert goes to the alerts channel at alert
// priority, listing its actions, while the actions' prompts go to the
// coordinators; a re-alert is a broadcast reply in the alert's thread; the
// managers' channel and each manager are told once per notification, even
// when it is delivered twice; an overdue action tells the managers too;
// acknowledgement edits the alert at alert priority; a re-alert arriving
// after it posts nothing. No text carries personal data.
func TestNotifierRedAlert(t *testing.T) {
	ctx := context.Background()
	st, esc := storetest.WithEscalation(t, t0)
	ids := esc.Tasks
	alertKey := esc.Key(register.TaskEscalationAlert)
	ctrKey := esc.Key(register.TaskCommunityCTR)
	// Someone else red a day later, in their own first escalation: their
	// actions are not in this alert.
	other, err := st.CreateReferral(ctx, store.NewReferral{Referral: storetest.Referral("Byron", "9434765889"), Actor: "alice", ReceivedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Escalated(t, st, other, t0.Add(24*time.Hour))

	srv, client, paced := fakeSlack(t)
	poster := &prioPoster{Poster: paced}
	now := t0.Add(5 * time.Hour)
	n := &Notifier{Records: st, Poster: poster, Channel: "C-COORD", AlertsChannel: "C-ALERTS",
		ManagersChannel: "C-MANAGERS", Managers: map[string]string{"U-SAM": "sam", "U-MORGAN": "morgan"},
		Coordinators: map[string]string{"U-ALICE": "alice"}, Links: client, Now: func() time.Time { return now }}
	deliver := func(note notify.Notification) {
		t.Helper()
		note.PersonID = esc.PersonID
		deliverTwice(t, n, note)
	}

	// As notify.ForChange queues them: with the task's kind, so the alert is
	// read in one round trip (alertPrompt, store.PrepareAlertPost).
	deliver(notify.Notification{Key: alertKey + ":opened", Event: notify.TaskOpened, TaskID: ids[register.TaskEscalationAlert], TaskKind: register.TaskEscalationAlert})
	deliver(notify.Notification{Key: ctrKey + ":opened", Event: notify.TaskOpened, TaskID: ids[register.TaskCommunityCTR], TaskKind: register.TaskCommunityCTR})
	calls := srv.Calls()
	if len(calls) != 2 {
		t.Fatalf("want the alert and the C(E)TR prompt, once each; got %+v", calls)
	}
	alert := calls[0]
	if alert.Channel != "C-ALERTS" || !strings.Contains(alert.Blocks, "RED — immediate risk of admission") ||
		!strings.Contains(alert.Blocks, "• A community C(E)TR must take place — by Tue 8 Dec 2026") ||
		!strings.Contains(alert.Blocks, "• Referral to the keyworker service (aged 0–25) — by Sun 29 Nov 2026") ||
		!strings.Contains(alert.Blocks, "• A multi-agency meeting where needed — by Sun 29 Nov 2026") ||
		!strings.Contains(alert.Blocks, fmt.Sprintf(`"action_id":"dsr:acknowledge","value":"%d"`, ids[register.TaskEscalationAlert])) {
		t.Errorf("alert: %+v", alert)
	}
	if n := strings.Count(alert.Blocks, "• "); n != 3 {
		t.Errorf("the alert lists %d actions; want its own escalation's three, not another person's: %s", n, alert.Blocks)
	}
	if c := calls[1]; c.Channel != "C-COORD" || !strings.Contains(c.Blocks, "Community C(E)TR needed") || !strings.Contains(c.Blocks, "dsr:mark_done") {
		t.Errorf("C(E)TR prompt: %+v", c)
	}

	// Not acknowledged in time: re-alert and managers (the store counts the
	// re-alert as the alert's reminder).
	if _, err := st.RecordChange(ctx, esc.Step(2, "escalation_unacknowledged", t0.Add(4*time.Hour), "dsr:timer", func(c *register.Change) {
		c.Remind, c.Managers = []string{alertKey}, []string{alertKey}
	})); err != nil {
		t.Fatal(err)
	}
	deliver(notify.Notification{Key: alertKey + ":reminder:2", Event: notify.TaskReminder, TaskID: ids[register.TaskEscalationAlert]})
	deliver(notify.Notification{Key: alertKey + ":managers:2", Event: notify.ManagersAlerted, TaskID: ids[register.TaskEscalationAlert]})

	// A required action overdue: the managers again.
	if _, err := st.RecordChange(ctx, esc.Step(3, "escalation_action_overdue", t0.Add(14*24*time.Hour), "dsr:timer", func(c *register.Change) {
		c.Remind, c.Managers = []string{ctrKey}, []string{ctrKey}
	})); err != nil {
		t.Fatal(err)
	}
	deliver(notify.Notification{Key: ctrKey + ":managers:3", Event: notify.ManagersAlerted, TaskID: ids[register.TaskCommunityCTR]})

	// Acknowledged: the alert is edited; a late re-alert posts nothing.
	if _, err := st.RecordChange(ctx, esc.Step(4, "escalation_acknowledged", t0.Add(5*time.Hour), "alice (slack U-ALICE)", func(c *register.Change) {
		c.Close = []register.TaskClose{{Key: alertKey, Kind: register.TaskEscalationAlert, Status: register.TaskStatusDone, Outcome: "acknowledged"}}
	})); err != nil {
		t.Fatal(err)
	}
	deliver(notify.Notification{Key: alertKey + ":closed", Event: notify.TaskClosed, TaskID: ids[register.TaskEscalationAlert]})
	deliver(notify.Notification{Key: alertKey + ":reminder:5", Event: notify.TaskReminder, TaskID: ids[register.TaskEscalationAlert]})
	deliver(notify.Notification{Key: alertKey + ":managers:5", Event: notify.ManagersAlerted, TaskID: ids[register.TaskEscalationAlert]})

	var got []string
	for _, c := range srv.Calls()[2:] {
		got = append(got, fmt.Sprintf("%s %s thread=%v broadcast=%v: %s", c.Method, c.Channel, c.ThreadTS == alert.TS, c.Broadcast, c.Text))
	}
	ref := fmt.Sprintf("DSR-%d", esc.PersonID)
	link := slackfake.Permalink("C-ALERTS", alert.TS)
	ctrLink := slackfake.Permalink("C-COORD", calls[1].TS)
	managersAlert := fmt.Sprintf(":warning: Managers: the RED alert for %s (AL) has not been acknowledged. It was due Tue 24 Nov 2026 14:00; 2 alerts so far. <%s|See the message>", ref, link)
	managersCTR := fmt.Sprintf(":warning: Managers: the community C(E)TR for %s (AL) was due Tue 8 Dec 2026 and is overdue. <%s|See the message>", ref, ctrLink)
	want := []string{
		fmt.Sprintf("chat.postMessage C-ALERTS thread=true broadcast=true: :rotating_light: Still not acknowledged: RED alert for %s (AL), due Tue 24 Nov 2026 14:00. Alert 2.", ref),
		"chat.getPermalink C-ALERTS thread=false broadcast=false: ",
		"chat.postMessage C-MANAGERS thread=false broadcast=false: " + managersAlert,
		"chat.postMessage U-MORGAN thread=false broadcast=false: " + managersAlert,
		"chat.postMessage U-SAM thread=false broadcast=false: " + managersAlert,
		"chat.getPermalink C-COORD thread=false broadcast=false: ",
		"chat.postMessage C-MANAGERS thread=false broadcast=false: " + managersCTR,
		"chat.postMessage U-MORGAN thread=false broadcast=false: " + managersCTR,
		"chat.postMessage U-SAM thread=false broadcast=false: " + managersCTR,
		// Edits are not deduplicated: the same edit twice shows the same.
		"chat.update C-ALERTS thread=false broadcast=false: RED alert: " + ref + " — acknowledged",
		"chat.update C-ALERTS thread=false broadcast=false: RED alert: " + ref + " — acknowledged",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls after the alert:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	update := srv.Calls()[len(srv.Calls())-1]
	if !strings.Contains(update.Blocks, "~RED alert~") || !strings.Contains(update.Blocks, "Acknowledged by alice (slack U-ALICE) at Tue 24 Nov 2026 15:00") ||
		strings.Contains(update.Blocks, "button") {
		t.Errorf("acknowledged alert: %s", update.Blocks)
	}

	// Alerts, and all that follows from them, jump the routine queue.
	for _, w := range poster.writes {
		wantPrio := pacer.PriorityAlert
		if w.channel == "C-COORD" {
			wantPrio = pacer.PriorityRoutine
		}
		if w.prio != wantPrio {
			t.Errorf("%s to %s at %s priority, want %s", w.method, w.channel, w.prio, wantPrio)
		}
	}
	for _, c := range srv.Calls() {
		for _, secret := range []string{"Ada", "Lovelace", "9434765919", "1990"} {
			if strings.Contains(c.Text+c.Blocks, secret) {
				t.Errorf("%s to %s contains %q", c.Method, c.Channel, secret)
			}
		}
	}
}

// TestAlertPostReadTheLongWay: an alert's notification without its kind
// (queued before notifications carried it), or one that does not match its
// task, is read the long way (prompt) and posts the same as one that does.
func TestAlertPostReadTheLongWay(t *testing.T) {
	for _, tc := range []struct {
		name    string
		task    register.TaskKind // the task the notification is for
		note    func(*notify.Notification, storetest.Escalation)
		channel string
		want    []string
	}{{
		name: "an alert without its kind", task: register.TaskEscalationAlert,
		note:    func(n *notify.Notification, _ storetest.Escalation) { n.TaskKind = "" },
		channel: "C-ALERTS",
		want:    []string{"RED — immediate risk of admission", "• A community C(E)TR must take place — by Tue 8 Dec 2026", "dsr:acknowledge"},
	}, {
		name: "an alert naming another person", task: register.TaskEscalationAlert,
		note:    func(n *notify.Notification, e storetest.Escalation) { n.PersonID = e.PersonID + 1000 },
		channel: "C-ALERTS",
		want:    []string{"RED — immediate risk of admission", "• A community C(E)TR must take place — by Tue 8 Dec 2026", "dsr:acknowledge"},
	}, {
		name: "another task called an alert", task: register.TaskCommunityCTR,
		note:    func(*notify.Notification, storetest.Escalation) {},
		channel: "C-COORD",
		want:    []string{"Community C(E)TR needed", "dsr:mark_done"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			st, esc := storetest.WithEscalation(t, t0)
			srv, client, paced := fakeSlack(t)
			n := &Notifier{Records: st, Poster: paced, Channel: "C-COORD", AlertsChannel: "C-ALERTS",
				Coordinators: map[string]string{"U-ALICE": "alice"}, Links: client, Now: func() time.Time { return t0.Add(time.Hour) }}
			note := notify.Notification{Key: esc.Key(tc.task) + ":opened", Event: notify.TaskOpened, PersonID: esc.PersonID,
				TaskID: esc.Tasks[tc.task], TaskKind: register.TaskEscalationAlert}
			tc.note(&note, esc)
			deliverTwice(t, n, note)
			post := onlyPost(t, srv, tc.channel, tc.channel)
			for _, want := range tc.want {
				if !strings.Contains(post.Blocks, want) {
					t.Errorf("post lacks %q:\n%s", want, post.Blocks)
				}
			}
		})
	}
}

// An alert whose answer was lost is found in Slack on the next attempt, not
// posted again: its attempt is noted in the same round trip as its reads
// (store.PrepareAlertPost), and a retry that finds the note looks first.
func TestAlertPostedOnceWhenTheAnswerWasLost(t *testing.T) {
	ctx := context.Background()
	st, esc := storetest.WithEscalation(t, t0)
	srv, client, paced := fakeSlack(t)
	n := &Notifier{Records: st, Poster: &answerLost{Poster: paced, lose: 1}, History: client, Channel: "C-COORD",
		AlertsChannel: "C-ALERTS", Now: func() time.Time { return t0.Add(time.Hour) }}
	taskID := esc.Tasks[register.TaskEscalationAlert]
	note := notify.Notification{Key: esc.Key(register.TaskEscalationAlert) + ":opened", Event: notify.TaskOpened,
		PersonID: esc.PersonID, TaskID: taskID, TaskKind: register.TaskEscalationAlert, Urgent: true}
	deliverAfterLostAnswer(t, n, note)
	posts := postsTo(srv)
	if len(posts) != 1 || posts[0].Channel != "C-ALERTS" {
		t.Fatalf("want the alert posted once to C-ALERTS, got %+v", posts)
	}
	if msg, err := st.SlackMessageFor(ctx, taskID); err != nil || msg.TS != posts[0].TS {
		t.Errorf("the alert's place should be recorded from Slack: %+v, %v", msg, err)
	}
}
