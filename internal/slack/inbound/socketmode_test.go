package inbound

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/dsr-register/dsr/internal/logtest"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/slack"
	"github.com/dsr-register/dsr/internal/slack/slackfake"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/store/storetest"
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
	st, rc := storetest.WithOneReferral(t, t0)
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
	listings := &auditedListings{Store: st}
	in := newInteractions(st, srv, t0, map[string]string{"U-ALICE": "alice"})
	in.Records = listings
	in.Managers = map[string]string{"U-MARIA": "maria"}
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
	// Both task lists are audited, once each, with who asked.
	if got := listings.who(); !slices.Equal(got, []string{"alice (slack U-ALICE)", "maria (slack U-MARIA)"}) {
		t.Errorf("/dsr tasks audited for %v; want alice's and maria's lists, once each", got)
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

// count is how many times the envelope was acknowledged.
func (a *acks) count(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, s := range a.seen {
		if s == id {
			n++
		}
	}
	return n
}

// stuckRecords is a register that does not answer: Task and Person wait,
// ignoring their context as a stuck handler would, until release is closed,
// then find nothing. Each call is announced on entered first.
type stuckRecords struct {
	slack.Records // nil: the events here read only tasks and people
	entered       chan string
	release       chan struct{}
}

func newStuckRecords() *stuckRecords {
	return &stuckRecords{entered: make(chan string, 16), release: make(chan struct{})}
}

func (r *stuckRecords) wait(what string) {
	r.entered <- what
	select {
	case <-r.release:
	case <-time.After(time.Minute): // never outlive a failed test by long
	}
}

func (r *stuckRecords) Task(context.Context, int64) (store.Task, error) {
	r.wait("task")
	return store.Task{}, store.ErrNotFound
}

func (r *stuckRecords) Person(context.Context, int64) (store.PersonRecord, error) {
	r.wait("person")
	return store.PersonRecord{}, store.ErrNotFound
}

// waitEntered waits for the stuck register to be called.
func (r *stuckRecords) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-r.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the event's work never reached the register")
	}
}

func stuckInteractions(t *testing.T, rec slack.Records) (*Interactions, *logtest.Buffer) {
	logs := &logtest.Buffer{}
	srv := slackfake.New(t)
	return &Interactions{
		Records:      rec,
		Client:       slackapi.New("xoxb-test", slackapi.OptionAPIURL(srv.GetAPIURL())),
		Coordinators: map[string]string{"U-ALICE": "alice"},
		Managers:     map[string]string{"U-MARIA": "maria"},
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
		Now:          func() time.Time { return t0 },
	}, logs
}

// consentSubmission is a consent form submitted for task 1.
func consentSubmission(id string) socketmode.Event {
	sub := slackapi.InteractionCallback{Type: slackapi.InteractionTypeViewSubmission}
	sub.User.ID = "U-ALICE"
	sub.View.ID = "V-" + id
	sub.View.CallbackID, sub.View.PrivateMetadata = modalConsent, "1"
	sub.View.State = &slackapi.ViewState{Values: map[string]map[string]slackapi.BlockAction{
		"basis":      {"value": {SelectedOption: slackapi.OptionBlockObject{Value: "self"}}},
		"decided_on": {"value": {SelectedDate: "2026-11-24"}},
	}}
	return socketmode.Event{Type: socketmode.EventTypeInteractive, Data: sub, Request: &socketmode.Request{EnvelopeID: id}}
}

func slashCommand(id, user, text, responseURL string) socketmode.Event {
	return socketmode.Event{Type: socketmode.EventTypeSlashCommand,
		Data:    slackapi.SlashCommand{Command: "/dsr", Text: text, UserID: user, ResponseURL: responseURL},
		Request: &socketmode.Request{EnvelopeID: id}}
}

// TestSocketModeEventsConcurrently: while one form's work is stuck, the
// next event is taken, worked and acknowledged; the stuck one is answered
// (once) when its work finishes. The acknowledgement deadline is set far
// off here, so only the answers themselves acknowledge.
func TestSocketModeEventsConcurrently(t *testing.T) {
	rec := newStuckRecords()
	in, _ := stuckInteractions(t, rec)
	a := &acks{}
	events := newSocketEvents(in, a)
	events.ackWithin = time.Minute

	ch := make(chan socketmode.Event)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan int64, 1)
	go func() { served <- events.serve(ctx, ch) }()
	send := func(evt socketmode.Event) {
		t.Helper()
		select {
		case ch <- evt:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s was not taken: the event loop is stuck on an earlier event", evt.Request.EnvelopeID)
		}
	}

	send(consentSubmission("slow-form"))
	rec.waitEntered(t)
	send(slashCommand("help", "U-ALICE", "help", ""))
	slackfake.WaitFor(t, "the help command acknowledged while the form's work is stuck", func() bool { return a.count("help") == 1 })
	if got, _ := a.payload("help"); !strings.Contains(got, "/dsr refer") {
		t.Errorf("help answered %s", got)
	}
	if a.count("slow-form") != 0 {
		t.Fatal("the stuck form was acknowledged before its work answered")
	}

	close(rec.release)
	slackfake.WaitFor(t, "the form answered once its work finished", func() bool { return a.count("slow-form") == 1 })
	if got, _ := a.payload("slow-form"); strings.Contains(got, "Still working") {
		t.Errorf("form answered %s, want its own answer", got)
	}
	cancel()
	if n := <-served; n != 0 {
		t.Errorf("%d events still running when serve returned", n)
	}
	for _, id := range []string{"slow-form", "help"} {
		if n := a.count(id); n != 1 {
			t.Errorf("%s acknowledged %d times", id, n)
		}
	}
}

// TestSocketModeSlowAcknowledgedInTime: a form or command whose work is
// stuck is acknowledged at the deadline, saying the work goes on; the work
// finishing later does not acknowledge again, and a command's late answer
// goes to its response_url.
func TestSocketModeSlowAcknowledgedInTime(t *testing.T) {
	t.Run("form, at the default bound", func(t *testing.T) {
		rec := newStuckRecords()
		in, logs := stuckInteractions(t, rec)
		a := &acks{}
		events := newSocketEvents(in, a)
		defer close(rec.release)

		start := time.Now()
		go events.handle(t.Context(), consentSubmission("slow-form"))
		rec.waitEntered(t)
		slackfake.WaitFor(t, "the stuck form acknowledged", func() bool { return a.count("slow-form") == 1 })
		t.Logf("acknowledged after %v with the work still stuck (bound %v)", time.Since(start), socketAckWithin)
		// Slack gives up after 3 s: the bound must leave room for the
		// answer to travel. (Checked on the setting, not on this machine's
		// clock, which a loaded CI runner would make a flaky test.)
		if socketAckWithin+250*time.Millisecond > 3*time.Second {
			t.Errorf("the acknowledgement bound %v leaves no room before Slack's 3 s", socketAckWithin)
		}
		got, _ := a.payload("slow-form")
		if !strings.Contains(got, `"response_action":"errors"`) || !strings.Contains(got, `"basis":"Still working`) {
			t.Errorf("acknowledged with %s, want the form kept open saying it is still working", got)
		}
		// The line is written beside the acknowledgement, not before it:
		// wait for it rather than read it at once.
		slackfake.WaitFor(t, "the log line for the late work", func() bool {
			return strings.Contains(logs.String(), "acknowledged before the work finished")
		})
	})

	t.Run("form work finishing after the acknowledgement", func(t *testing.T) {
		rec := newStuckRecords()
		in, logs := stuckInteractions(t, rec)
		a := &acks{}
		events := newSocketEvents(in, a)
		events.ackWithin = 50 * time.Millisecond

		events.handle(t.Context(), consentSubmission("slow-form"))
		if got, _ := a.payload("slow-form"); !strings.Contains(got, "Still working") {
			t.Fatalf("acknowledged with %s", got)
		}
		close(rec.release)
		slackfake.WaitFor(t, "the work to finish", func() bool { return events.running.Load() == 0 })
		if n := a.count("slow-form"); n != 1 {
			t.Errorf("acknowledged %d times", n)
		}
		if !strings.Contains(logs.String(), "work finished after its acknowledgement") {
			t.Errorf("no log line for the late finish: %s", logs)
		}
	})

	t.Run("command", func(t *testing.T) {
		var mu sync.Mutex
		var late []string
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			late = append(late, string(body))
			mu.Unlock()
		}))
		defer hook.Close()

		rec := newStuckRecords()
		in, _ := stuckInteractions(t, rec)
		a := &acks{}
		events := newSocketEvents(in, a)
		events.ackWithin = 50 * time.Millisecond

		events.handle(t.Context(), slashCommand("status", "U-MARIA", "status DSR-1042", hook.URL))
		if got, _ := a.payload("status"); !strings.Contains(got, "Still working on that") || !strings.Contains(got, `"response_type":"ephemeral"`) {
			t.Fatalf("acknowledged with %s", got)
		}
		close(rec.release)
		slackfake.WaitFor(t, "the answer at the response_url", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(late) == 1
		})
		if !strings.Contains(late[0], "No person DSR-1042 on the register") || !strings.Contains(late[0], `"response_type":"ephemeral"`) {
			t.Errorf("response_url got %s", late[0])
		}
		slackfake.WaitFor(t, "the work to finish", func() bool { return events.running.Load() == 0 })
		if n := a.count("status"); n != 1 {
			t.Errorf("acknowledged %d times", n)
		}
	})
}

// TestSocketModeSaturated: with every slot taken by stuck work, an event
// waits for one until its deadline and is then told the register is busy
// (and a log line says so); once the work finishes, events are worked again.
func TestSocketModeSaturated(t *testing.T) {
	rec := newStuckRecords()
	in, logs := stuckInteractions(t, rec)
	a := &acks{}
	events := newSocketEvents(in, a)
	events.slots = make(chan struct{}, 1)
	events.ackWithin = 200 * time.Millisecond

	go events.handle(t.Context(), consentSubmission("stuck"))
	rec.waitEntered(t)
	events.handle(t.Context(), slashCommand("waits", "U-ALICE", "help", ""))
	if got, _ := a.payload("waits"); !strings.Contains(got, commandBusy) {
		t.Errorf("with no slot free, acknowledged with %s", got)
	}
	if !strings.Contains(logs.String(), "every handler is busy") {
		t.Errorf("no log line when saturated: %s", logs)
	}

	close(rec.release)
	slackfake.WaitFor(t, "the stuck work to finish", func() bool { return events.running.Load() == 0 })
	events.handle(t.Context(), slashCommand("after", "U-ALICE", "help", ""))
	if got, _ := a.payload("after"); !strings.Contains(got, "/dsr refer") {
		t.Errorf("once a slot was free, acknowledged with %s", got)
	}
}

// TestSocketModeDrain: when the context ends, serve waits for the events
// still being worked, up to its bound.
func TestSocketModeDrain(t *testing.T) {
	start := func(t *testing.T, drainWithin time.Duration) (*stuckRecords, *acks, context.CancelFunc, chan int64) {
		rec := newStuckRecords()
		in, _ := stuckInteractions(t, rec)
		a := &acks{}
		events := newSocketEvents(in, a)
		events.ackWithin, events.drainWithin = time.Minute, drainWithin
		ch := make(chan socketmode.Event, 1)
		ctx, cancel := context.WithCancel(t.Context())
		served := make(chan int64, 1)
		go func() { served <- events.serve(ctx, ch) }()
		ch <- consentSubmission("in-flight")
		rec.waitEntered(t)
		return rec, a, cancel, served
	}

	t.Run("waits", func(t *testing.T) {
		rec, a, cancel, served := start(t, time.Minute)
		cancel()
		close(rec.release)
		if n := <-served; n != 0 {
			t.Errorf("%d still running", n)
		}
		// serve returned only after the event was worked and answered.
		if a.count("in-flight") != 1 {
			t.Errorf("serve returned before the event in flight was answered")
		}
	})

	t.Run("bounded", func(t *testing.T) {
		rec, _, cancel, served := start(t, 50*time.Millisecond)
		defer close(rec.release)
		cancel()
		select {
		case n := <-served:
			if n != 1 {
				t.Errorf("serve reported %d still running, want 1", n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("serve waited without bound for stuck work")
		}
	})
}

// auditedListings is the real store, noting who each audited list was for.
type auditedListings struct {
	*store.Store
	mu   sync.Mutex
	whom []string
}

func (a *auditedListings) RecordListing(ctx context.Context, l store.Listing) error {
	a.mu.Lock()
	a.whom = append(a.whom, l.Actor)
	a.mu.Unlock()
	return a.Store.RecordListing(ctx, l)
}

func (a *auditedListings) who() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := append([]string(nil), a.whom...)
	slices.Sort(out)
	return out
}
