package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
	"github.com/dsr-register/dsr/internal/logtest"
	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/outbox"
	"github.com/dsr-register/dsr/internal/polltest"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/store/storetest"
)

// dbURL is a real PostgreSQL shared by the package's tests, which run one
// after another: the outbox's lock is one per database.
var dbURL string

func TestMain(m *testing.M) {
	u, stop, err := devstacktest.StartPostgresForMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, "outbox tests need PostgreSQL:", err)
		os.Exit(1)
	}
	dbURL = u
	code := m.Run()
	stop()
	os.Exit(code)
}

// openStore migrates the database and empties the outbox.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	s := storetest.MigratedAt(t, dbURL)
	onDatabase(t, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "delete from notification_outbox")
		return err
	})
	return s
}

// onDatabase runs fn on a connection of its own to the tests' database.
func onDatabase(t *testing.T, fn func(context.Context, *pgx.Conn) error) {
	t.Helper()
	ctx := context.Background()
	conn := devstacktest.Connect(t, dbURL)
	defer conn.Close(ctx)
	if err := fn(ctx, conn); err != nil {
		t.Fatal(err)
	}
}

// recorder is a notifier that records what it was given, and can be told
// to fail a key a number of times first or to hang until cancelled.
type recorder struct {
	mu        sync.Mutex
	delivered []notify.Notification
	failFirst map[string]int // key → failures left
	refuse    map[string]int // key → refusals left
	hangFirst map[string]int // key → attempts left that hang until their context ends
	hang      bool
	hanging   bool // a delivery is hanging now
	// holdRoutine, while open, holds every routine delivery until it is
	// closed (Slack's coordinators' channel backed up).
	holdRoutine chan struct{}
	// holdPostsOnly narrows holdRoutine to posts: edits (a task closed) go.
	holdPostsOnly bool
	held          int // routine deliveries being held now
	// holdUrgent, while open, holds every urgent delivery (an alert whose
	// post is slow to be answered).
	holdUrgent chan struct{}
	started    []string // keys, as each attempt began
}

func (r *recorder) Notify(ctx context.Context, n notify.Notification) error {
	r.mu.Lock()
	r.started = append(r.started, n.Key)
	if hold := r.holdUrgent; hold != nil && n.Urgent {
		if err := r.heldUntil(ctx, hold); err != nil {
			r.mu.Unlock()
			return err
		}
	}
	if hold := r.holdRoutine; hold != nil && !n.Urgent && !(r.holdPostsOnly && n.Event == notify.TaskClosed) {
		r.held++
		err := r.heldUntil(ctx, hold)
		r.held--
		if err != nil {
			r.mu.Unlock()
			return err
		}
	}
	if r.hangFirst[n.Key] > 0 {
		r.hangFirst[n.Key]--
		r.mu.Unlock()
		<-ctx.Done() // Slack never answers this attempt
		return ctx.Err()
	}
	if r.hang {
		r.hanging = true
		r.mu.Unlock()
		<-ctx.Done() // a Slack write waiting for its turn when the service stops
		return ctx.Err()
	}
	defer r.mu.Unlock()
	if r.refuse[n.Key] > 0 {
		r.refuse[n.Key]--
		return notify.RefusedBecause("user_not_found", errors.New("slack: tell managers (U-GONE): user_not_found"))
	}
	if r.failFirst[n.Key] > 0 {
		r.failFirst[n.Key]--
		return errors.New("slack: post task: service_unavailable")
	}
	r.delivered = append(r.delivered, n)
	return nil
}

// heldUntil waits, r.mu released, until hold is closed or ctx ends.
func (r *recorder) heldUntil(ctx context.Context, hold chan struct{}) error {
	r.mu.Unlock()
	defer r.mu.Lock()
	select {
	case <-hold:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *recorder) startedKeys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.started)
}

// holding is how many routine deliveries are being held now.
func (r *recorder) holding() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

func (r *recorder) keys(person int64) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.delivered {
		if person == 0 || n.PersonID == person {
			out = append(out, n.Key)
		}
	}
	return out
}

// run starts a dispatcher; the returned stop cancels it and waits for Run
// to return.
func run(t *testing.T, d *outbox.Dispatcher) (stop func()) {
	t.Helper()
	if d.Logger == nil {
		d.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("dispatcher did not stop within 10s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// queue queues a routine notification about person's one task (task ID
// 100×person), so a person's notifications here make one line.
func queue(t *testing.T, s *store.Store, person int64, key string) {
	t.Helper()
	queueNote(t, s, notify.Notification{Key: key, Event: notify.TaskOpened, PersonID: person, TaskID: 100 * person, Alerts: 2})
}

func queueNote(t *testing.T, s *store.Store, n notify.Notification) {
	t.Helper()
	if err := s.QueueNotifications(context.Background(), n); err != nil {
		t.Fatal(err)
	}
}

// eventually polls ok until it holds, failing after 15 s.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	polltest.Until(t, what, 15*time.Second, 10*time.Millisecond, ok)
}

func waiting(t *testing.T, s *store.Store) []store.OutboxItem {
	t.Helper()
	items, err := s.WaitingNotifications(context.Background(), nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// A queued notification wakes the dispatcher (the poll is an hour, so only
// PostgreSQL's NOTIFY can), each person's arrive in the order queued, a key
// queued twice (a retried activity) is delivered once, and everything
// delivered is marked sent.
func TestDeliversEachOnceInOrderPerPerson(t *testing.T) {
	s := openStore(t)
	rec := &recorder{}
	queue(t, s, 1, "p1-first")
	run(t, &outbox.Dispatcher{Store: s, Deliver: rec, Poll: time.Hour})
	eventually(t, "the notification queued before the dispatcher started", func() bool { return len(rec.keys(0)) == 1 })

	for i := range 5 {
		queue(t, s, 1, fmt.Sprintf("p1-%d", i))
		queue(t, s, 2, fmt.Sprintf("p2-%d", i))
	}
	queue(t, s, 1, "p1-0") // again: an activity retried
	eventually(t, "all eleven delivered", func() bool { return len(rec.keys(0)) == 11 })
	time.Sleep(100 * time.Millisecond) // a duplicate would show now

	if got, want := rec.keys(1), []string{"p1-first", "p1-0", "p1-1", "p1-2", "p1-3", "p1-4"}; !slices.Equal(got, want) {
		t.Errorf("person 1 got %v, want %v in that order", got, want)
	}
	if got, want := rec.keys(2), []string{"p2-0", "p2-1", "p2-2", "p2-3", "p2-4"}; !slices.Equal(got, want) {
		t.Errorf("person 2 got %v, want %v in that order", got, want)
	}
	if n := rec.delivered[0]; n.Event != notify.TaskOpened || n.TaskID != 100 || n.Alerts != 2 {
		t.Errorf("the notification should arrive as queued: %+v", n)
	}
	eventually(t, "every row marked sent", func() bool { return len(waiting(t, s)) == 0 })
	b, err := s.NotificationBacklog(context.Background(), time.Now())
	if err != nil || b.Waiting != 0 || b.Failing != 0 {
		t.Errorf("backlog = %+v, %v; want empty", b, err)
	}

	// Delivered ones are pruned after the keep period, waiting ones never.
	queue(t, s, 3, "still-waiting") // delivered soon, but not before this prune
	if n, err := s.PruneNotifications(context.Background(), time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("pruning before any was sent: %d deleted, %v; want 0", n, err)
	}
	eventually(t, "the last one delivered", func() bool { return len(waiting(t, s)) == 0 })
	if n, err := s.PruneNotifications(context.Background(), time.Now().Add(time.Second)); err != nil || n != 12 {
		t.Errorf("pruning all sent: %d deleted, %v; want 12", n, err)
	}
}

// A delivery that fails is retried until it goes, counted and explained in
// the meantime; what follows it in its line (the same task's edit) waits
// behind it, and other lines do not.
func TestRetriesUntilDeliveredKeepingOrder(t *testing.T) {
	s := openStore(t)
	rec := &recorder{failFirst: map[string]int{"alert": 3}}
	queue(t, s, 5, "alert")
	queue(t, s, 5, "action")
	queue(t, s, 6, "other-person")
	var logs logtest.Buffer
	run(t, &outbox.Dispatcher{Store: s, Deliver: rec, RetryBackoff: 20 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})

	eventually(t, "the other person's notification, not held up", func() bool { return slices.Contains(rec.keys(0), "other-person") })
	eventually(t, "the failing one delivered in the end", func() bool { return len(rec.keys(5)) == 2 })
	if got, want := rec.keys(5), []string{"alert", "action"}; !slices.Equal(got, want) {
		t.Errorf("person 5 got %v, want %v: the action must wait behind the alert", got, want)
	}
	conn := devstacktest.Connect(t, dbURL)
	var attempts int
	var lastError *string
	eventually(t, "the alert marked sent", func() bool { return len(waiting(t, s)) == 0 })
	if err := conn.QueryRow(context.Background(), "select attempts, last_error from notification_outbox where key = 'alert'").Scan(&attempts, &lastError); err != nil {
		t.Fatal(err)
	}
	if attempts != 4 || lastError != nil {
		t.Errorf("attempts = %d, last_error = %v; want 4 (three failures, then sent) and no error left", attempts, lastError)
	}
	if got := logs.Count(`"msg":"notification not delivered; will retry"`); got != 3 {
		t.Errorf("%d retry warnings logged, want 3:\n%s", got, logs.String())
	}
}

// A notification the destination refuses (a manager's wrong Slack ID) is
// set aside and tried again later; the person's next notifications, a red
// alert among them, are not held back by it.
func TestRefusedIsSetAsideNotBlocking(t *testing.T) {
	s := openStore(t)
	rec := &recorder{refuse: map[string]int{"managers-dm": 2}}
	queue(t, s, 4, "managers-dm")
	queue(t, s, 4, "next-alert")
	var logs logtest.Buffer
	run(t, &outbox.Dispatcher{Store: s, Deliver: rec, RefusedRetry: 100 * time.Millisecond, Poll: 20 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})

	eventually(t, "the next alert, not held back", func() bool { return slices.Contains(rec.keys(4), "next-alert") })
	// The alert is marked sent just after it is delivered: wait for the
	// state rather than read it at once.
	eventually(t, "the backlog to be the refused one alone: 1 waiting, 1 failing", func() bool {
		b, err := s.NotificationBacklog(context.Background(), time.Now())
		return err == nil && b.Waiting == 1 && b.Failing == 1
	})
	eventually(t, "the refused one delivered once it is accepted", func() bool { return slices.Contains(rec.keys(4), "managers-dm") })
	if got := logs.Count(`"msg":"notification refused; set aside, the person's next notifications go on"`); got != 2 {
		t.Errorf("%d refusals logged, want 2:\n%s", got, logs.String())
	}
	eventually(t, "nothing left waiting", func() bool { return len(waiting(t, s)) == 0 })
}

// Nothing waits without a deadline: an attempt nobody answers is given up
// after DeliveryTimeout, counted as failed, and tried again.
func TestAnAttemptNobodyAnswersIsRetried(t *testing.T) {
	s := openStore(t)
	rec := &recorder{hangFirst: map[string]int{"alert": 2}}
	queue(t, s, 12, "alert")
	run(t, &outbox.Dispatcher{Store: s, Deliver: rec, DeliveryTimeout: 50 * time.Millisecond, RetryBackoff: 10 * time.Millisecond})
	eventually(t, "the alert delivered on the third attempt", func() bool { return slices.Equal(rec.keys(12), []string{"alert"}) })
	eventually(t, "it marked sent", func() bool { return len(waiting(t, s)) == 0 })
}

// An urgent notification (a red alert) is delivered while routine ones are
// backed up: it takes no routine slot and is read first, however many
// routine ones wait before it.
func TestUrgentGoesFirst(t *testing.T) {
	s := openStore(t)
	hold := make(chan struct{})
	rec := &recorder{holdRoutine: hold}
	for i := range 40 {
		queue(t, s, int64(10+i), fmt.Sprintf("routine-%d", i))
	}
	run(t, &outbox.Dispatcher{Store: s, Deliver: rec, RoutineAtOnce: 3, Poll: time.Hour})
	eventually(t, "the routine slots to fill with held deliveries", func() bool { return rec.holding() == 3 })
	queueNote(t, s, notify.Notification{Key: "red-alert", Event: notify.TaskOpened, PersonID: 99, TaskID: 9900, Urgent: true})
	eventually(t, "the red alert, past the held routine ones", func() bool { return slices.Contains(rec.keys(99), "red-alert") })
	held := rec.holding()
	if got := len(rec.keys(0)); got != 1 || held != 3 {
		t.Errorf("delivered %v with %d held; want the alert alone, three routine held (no more than RoutineAtOnce)", rec.keys(0), held)
	}
	close(hold)
	eventually(t, "all forty routine ones in the end", func() bool { return len(rec.keys(0)) == 41 })
}

// A red rating queues its alert together with routine prompts (the
// escalation's actions): the routine deliveries, read with the alert, do not
// begin until the alert has been tried, so its reads and its post do not
// take turns with theirs; but they never wait past UrgentHeadStart.
func TestUrgentHasAHeadStart(t *testing.T) {
	for _, tc := range []struct {
		name       string
		headStart  time.Duration
		releasedAt time.Duration // when the alert's post is answered
		wantBefore bool          // routine ones begin only after that
	}{
		{"the alert is answered first", time.Minute, 300 * time.Millisecond, true},
		{"a slow alert holds them no longer than the bound", 200 * time.Millisecond, 3 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			hold := make(chan struct{})
			rec := &recorder{holdUrgent: hold}
			queueNote(t, s, notify.Notification{Key: "red-alert", Event: notify.TaskOpened, PersonID: 7, TaskID: 700, Urgent: true})
			queue(t, s, 8, "action-keyworker")
			queue(t, s, 9, "action-cetr")
			run(t, &outbox.Dispatcher{Store: s, Deliver: rec, Poll: time.Hour, UrgentHeadStart: tc.headStart})
			released := time.AfterFunc(tc.releasedAt, func() { close(hold) })
			defer released.Stop()
			routineDone := func() bool { return len(rec.keys(8)) == 1 && len(rec.keys(9)) == 1 }
			eventually(t, "the routine prompts delivered", routineDone)
			alertDone := slices.Contains(rec.keys(7), "red-alert")
			if alertDone != tc.wantBefore {
				t.Errorf("routine prompts delivered with the alert delivered = %v, want %v (attempts began: %v)", alertDone, tc.wantBefore, rec.startedKeys())
			}
			if first := rec.startedKeys(); len(first) == 0 || first[0] != "red-alert" {
				t.Errorf("attempts began in the order %v; want the alert first", first)
			}
			eventually(t, "the alert delivered", func() bool { return slices.Contains(rec.keys(7), "red-alert") })
		})
	}
}

// A new alert handed in by the change that queued it (Store.HandAlertsTo)
// goes at once, without a read of the outbox: here nothing else could
// deliver it, since its row is written without a NOTIFY and the poll is an
// hour. Handed in again, while in flight or after it went, it is not
// delivered twice. Each hand-in can wait until the alert's first attempt
// is over (store.RecordChange does). A dispatcher that is not dispatching
// ignores hand-ins.
func TestAlertsHandedInGoAtOnceAndOnce(t *testing.T) {
	s := openStore(t)
	idle := &recorder{}
	if tried := (&outbox.Dispatcher{Store: s, Deliver: idle}).TakeAlerts([]store.OutboxItem{{ID: 1, Key: "nobody-dispatching", Urgent: true,
		Payload: []byte(`{"Key":"nobody-dispatching","Event":"task_opened","Urgent":true}`)}}); tried != nil {
		t.Error("a dispatcher that is not dispatching gave a hand-in something to wait on")
	}
	time.Sleep(50 * time.Millisecond) // a hand-in that went would have started by now
	if got := idle.startedKeys(); len(got) != 0 {
		t.Fatalf("a dispatcher that is not dispatching delivered %v", got)
	}
	hold := make(chan struct{})
	rec := &recorder{holdUrgent: hold}
	d := &outbox.Dispatcher{Store: s, Deliver: rec, Poll: time.Hour}
	queue(t, s, 1, "warm-up")
	run(t, d)
	eventually(t, "the dispatcher dispatching", func() bool { return len(rec.keys(1)) == 1 })

	alert := queueQuietly(t, notify.Notification{Key: "red-alert", Event: notify.TaskOpened, PersonID: 7, TaskID: 700, Urgent: true})
	tried := d.TakeAlerts([]store.OutboxItem{alert})
	if tried == nil {
		t.Fatal("an alert handed in gave nothing to wait on for its first try")
	}
	eventually(t, "the handed-in alert attempted", func() bool { return slices.Contains(rec.startedKeys(), "red-alert") })
	again := d.TakeAlerts([]store.OutboxItem{alert}) // in flight
	for _, ch := range []<-chan struct{}{tried, again} {
		select {
		case <-ch:
			t.Fatal("a hand-in's wait ended while the alert's first attempt was still going")
		default:
		}
	}
	close(hold)
	eventually(t, "the alert delivered", func() bool { return slices.Contains(rec.keys(7), "red-alert") })
	for _, ch := range []<-chan struct{}{tried, again} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("a hand-in's wait did not end once the alert was tried")
		}
	}
	if late := d.TakeAlerts([]store.OutboxItem{alert}); late != nil { // late: delivered already
		t.Error("a hand-in of an alert delivered already gave something to wait on")
	}

	// This edit of the alert's message goes behind anything taken on its
	// line: once it is delivered, a second delivery of the alert would
	// have shown.
	closed := queueQuietly(t, notify.Notification{Key: "red-alert-closed", Event: notify.TaskClosed, PersonID: 7, TaskID: 700, Urgent: true})
	d.TakeAlerts([]store.OutboxItem{closed})
	eventually(t, "the edit delivered", func() bool { return slices.Contains(rec.keys(7), "red-alert-closed") })
	if got, want := rec.keys(7), []string{"red-alert", "red-alert-closed"}; !slices.Equal(got, want) {
		t.Errorf("delivered %v; want %v, each once", got, want)
	}
	eventually(t, "both marked sent", func() bool { return len(waiting(t, s)) == 0 })
}

// queueQuietly writes n into the outbox without waking the dispatcher, and
// returns it as a change hands it in.
func queueQuietly(t *testing.T, n notify.Notification) store.OutboxItem {
	t.Helper()
	payload, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	item := store.OutboxItem{Key: n.Key, PersonID: n.PersonID, Line: n.Line(), Urgent: n.Urgent, Edit: n.Event == notify.TaskClosed, Payload: payload}
	onDatabase(t, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `insert into notification_outbox (key, person_id, line, urgent, payload) values ($1, $2, $3, $4, $5) returning id`,
			item.Key, item.PersonID, item.Line, item.Urgent, payload).Scan(&item.ID)
	})
	return item
}

// An edit (a task's message closed) does not wait for the routine slots
// that posts hold while they wait for their channel's turn.
func TestEditsDoNotWaitForPosts(t *testing.T) {
	s := openStore(t)
	hold := make(chan struct{})
	defer close(hold)
	rec := &recorder{holdRoutine: hold, holdPostsOnly: true}
	for i := range 10 {
		queue(t, s, int64(30+i), fmt.Sprintf("post-%d", i))
	}
	run(t, &outbox.Dispatcher{Store: s, Deliver: rec, RoutineAtOnce: 2, Poll: time.Hour})
	eventually(t, "the routine post slots to fill", func() bool { return rec.holding() == 2 })
	queueNote(t, s, notify.Notification{Key: "edit", Event: notify.TaskClosed, PersonID: 77, TaskID: 7700})
	eventually(t, "the edit, past the held posts", func() bool { return slices.Contains(rec.keys(77), "edit") })
}

// A notification refused every time is set aside for good after
// AttentionAfter tries: not tried again, counted as needing attention, the
// managers told once — and the next notification in its line goes on.
func TestRefusedForGoodNeedsAttention(t *testing.T) {
	s := openStore(t)
	rec := &recorder{refuse: map[string]int{"edit-of-deleted-message": 1000}}
	queue(t, s, 3, "edit-of-deleted-message")
	queue(t, s, 3, "reminder-after-it")
	run(t, &outbox.Dispatcher{Store: s, Deliver: rec, RefusedRetry: 10 * time.Millisecond, AttentionAfter: 3, Poll: 20 * time.Millisecond})

	eventually(t, "the next in its line, not held back", func() bool { return slices.Contains(rec.keys(3), "reminder-after-it") })
	eventually(t, "the managers told", func() bool { return slices.Contains(rec.keys(3), "attention:edit-of-deleted-message") })
	eventually(t, "the backlog to show it as needing attention, nothing waiting", func() bool {
		b, err := s.NotificationBacklog(context.Background(), time.Now())
		return err == nil && b.NeedsAttention == 1 && b.Waiting == 0
	})
	rec.mu.Lock()
	left := rec.refuse["edit-of-deleted-message"]
	var told notify.Notification
	for _, n := range rec.delivered {
		if n.Event == notify.NeedsAttention {
			told = n
		}
	}
	rec.mu.Unlock()
	if tries := 1000 - left; tries != 3 {
		t.Errorf("tried %d times; want 3 (AttentionAfter), then never again", tries)
	}
	if told.About != "edit-of-deleted-message" || told.Problem != "user_not_found" || !told.Urgent || told.TaskID != 300 {
		t.Errorf("the managers' notification = %+v; want it urgent, about the key and task, saying Slack's error code", told)
	}
	time.Sleep(100 * time.Millisecond) // ten retry periods: another try or a second message would show now
	if got := rec.keys(3); len(got) != 2 {
		t.Errorf("delivered %v; want the reminder and one message to the managers", got)
	}
}

// A notification that cannot be read is set aside at once, and the
// managers told.
func TestUnreadableSetAsideAtOnce(t *testing.T) {
	s := openStore(t)
	conn := devstacktest.Connect(t, dbURL)
	if _, err := conn.Exec(context.Background(), `insert into notification_outbox (key, person_id, line, payload)
		values ('garbled', 8, 'task-800', '{"TaskID": "not a number"}')`); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	run(t, &outbox.Dispatcher{Store: s, Deliver: rec, Poll: 20 * time.Millisecond})
	eventually(t, "the managers told", func() bool { return slices.Equal(rec.keys(8), []string{"attention:garbled"}) })
	eventually(t, "it counted as needing attention", func() bool {
		b, err := s.NotificationBacklog(context.Background(), time.Now())
		return err == nil && b.NeedsAttention == 1 && b.Waiting == 0
	})
}

// Only one dispatcher delivers at a time; when it stops, another takes
// over, and what the first was still waiting to send is sent by the second,
// not lost.
func TestOneDispatcherAtATimeAndHandOver(t *testing.T) {
	s := openStore(t)
	first := &recorder{}
	stopFirst := run(t, &outbox.Dispatcher{Store: s, Deliver: first, Poll: 50 * time.Millisecond})
	queue(t, s, 1, "before")
	eventually(t, "the first dispatcher to deliver", func() bool { return len(first.keys(0)) == 1 })

	second := &recorder{}
	run(t, &outbox.Dispatcher{Store: s, Deliver: second, Poll: 50 * time.Millisecond, Standby: 20 * time.Millisecond})
	for i := range 5 {
		queue(t, s, int64(i), fmt.Sprintf("while-both-%d", i))
	}
	eventually(t, "the first dispatcher to deliver all", func() bool { return len(first.keys(0)) == 6 })
	time.Sleep(200 * time.Millisecond) // ten standby rounds
	if got := second.keys(0); len(got) != 0 {
		t.Fatalf("the standby dispatcher delivered %v while the first held the outbox", got)
	}

	// The first hangs on its next delivery (Slack slow), and is stopped.
	first.mu.Lock()
	first.hang = true
	first.mu.Unlock()
	queue(t, s, 9, "in-flight-at-stop")
	eventually(t, "the first dispatcher to be sending it", func() bool {
		first.mu.Lock()
		defer first.mu.Unlock()
		return first.hanging
	})
	stopFirst()
	eventually(t, "the second dispatcher to send what the first was holding", func() bool {
		return slices.Equal(second.keys(0), []string{"in-flight-at-stop"})
	})
	queue(t, s, 9, "after")
	eventually(t, "the second dispatcher to carry on", func() bool { return len(second.keys(0)) == 2 })
}

// A read of the outbox waits while an alert in hand has not been tried:
// woken by the red rating's own commit, it would take turns with the alert
// for the database and the CPU. Here that wait is unbounded (ReadHeadStart
// an hour) and routine deliveries do not wait for the alert themselves
// (UrgentHeadStart a nanosecond), so only the read's wait keeps a routine
// notification queued meanwhile from starting.
func TestReadsWaitForAnAlertInHand(t *testing.T) {
	s := openStore(t)
	hold := make(chan struct{})
	rec := &recorder{holdUrgent: hold}
	d := &outbox.Dispatcher{Store: s, Deliver: rec, Poll: time.Hour, UrgentHeadStart: time.Nanosecond, ReadHeadStart: time.Hour}
	queue(t, s, 1, "warm-up")
	run(t, d)
	eventually(t, "the dispatcher dispatching", func() bool { return len(rec.keys(1)) == 1 })

	alert := queueQuietly(t, notify.Notification{Key: "red-alert", Event: notify.TaskOpened, PersonID: 7, TaskID: 700, Urgent: true})
	d.TakeAlerts([]store.OutboxItem{alert})
	eventually(t, "the handed-in alert attempted", func() bool { return slices.Contains(rec.startedKeys(), "red-alert") })
	queue(t, s, 2, "routine")          // wakes the dispatcher (NOTIFY)
	time.Sleep(300 * time.Millisecond) // a read that did not wait would have started it by now
	if slices.Contains(rec.startedKeys(), "routine") {
		t.Fatal("a routine notification was read and started while the alert in hand was still being tried")
	}
	close(hold)
	eventually(t, "the routine notification delivered once the alert was tried", func() bool { return slices.Contains(rec.keys(2), "routine") })
}
