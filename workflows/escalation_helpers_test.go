package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
)

// Helpers for the escalation and colour tests. They build on the harness in
// harness_test.go: the person's workflow runs as the test environment's
// workflow, its escalations as real child workflows in the same
// environment, over the in-memory record.

// testPerson is the person every harness run is for.
const testPerson int64 = 1001

// london is the default working-hours calendar's zone: deadlines are
// written in it so the expected instants read as the team would say them.
var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	return loc
}()

// redHarness is a harness whose clock starts at t0 and whose workflow has
// the person's real workflow ID, so an escalation's signal back to the
// person (SignalExternalWorkflow by ID) reaches it.
type redHarness struct {
	*harness
	t0        time.Time
	updateIDs int
	setup     []*upd
	// last is the latest callback scheduled, for the watchdog.
	last time.Duration
}

func newRedHarness(t *testing.T, t0 time.Time) *redHarness {
	return newRedHarnessWith(t, t0, newMemRecord())
}

// newRedHarnessWith shares a record with an earlier run.
func newRedHarnessWith(t *testing.T, t0 time.Time, rec *memRecord) *redHarness {
	h := newHarnessWith(t, rec)
	h.env.SetStartTime(t0)
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: PersonWorkflowID(testPerson)})
	return &redHarness{harness: h, t0: t0}
}

// newRatedHarness is how most tests begin: a person aged age, referred and
// consenting, rated at redAfter (the rating must succeed).
func newRatedHarness(t *testing.T, age int, rating register.Rating) *redHarness {
	h := newRedHarness(t, start)
	h.activate(born(age, start))
	h.want(h.rateAt(redAfter, rating))
	return h
}

// born returns a date of birth that makes the person age years old at t
// (their birthday was the day before).
func born(age int, t time.Time) time.Time {
	return register.CalendarDate(t).AddDate(-age, 0, -1)
}

// at runs f when the clock reaches t0+d.
func (h *redHarness) at(d time.Duration, f func()) {
	h.last = max(h.last, d)
	h.harness.at(d, f)
}

// watchdog: the test environment waits for abandoned children, so an
// escalation nobody ends would keep re-alerting for ever and the test would
// hang. A month after the last scheduled step, fail and cancel any still
// running. (It fires only if something is still running then.)
func (h *redHarness) watchdog() {
	h.harness.at(h.last+30*day, func() {
		for n := 1; n <= 10; n++ {
			v, err := h.env.QueryWorkflowByID(EscalationWorkflowID(testPerson, n), QueryStatus)
			if err != nil {
				continue
			}
			var st EscalationStatus
			if err := v.Get(&st); err == nil && !st.Ended {
				h.t.Errorf("escalation %d still running a month after the test's last step: nothing ended it", n)
				h.env.CancelWorkflowByID(EscalationWorkflowID(testPerson, n), "")
			}
		}
	})
}

// upd is an Update sent to the person's or an escalation's workflow.
type upd struct {
	name     string
	done     bool
	rejected bool
	err      error
	person   PersonStatus
	esc      EscalationStatus
}

func (r *upd) callbacks() *testsuite.TestUpdateCallback {
	return &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { r.done, r.rejected, r.err = true, true, err },
		OnComplete: func(v any, err error) {
			r.done, r.err = true, err
			switch st := v.(type) {
			case PersonStatus:
				r.person = st
			case EscalationStatus:
				r.esc = st
			}
		},
	}
}

// sendAt sends an Update to the person's workflow at t0+d.
func (h *redHarness) sendAt(d time.Duration, name string, arg any) *upd {
	r := &upd{name: name}
	h.at(d, func() { h.env.UpdateWorkflow(name, "", r.callbacks(), arg) })
	return r
}

// escAt sends an Update to the person's nth escalation at t0+d, by its
// workflow ID as the API does.
func (h *redHarness) escAt(d time.Duration, n int, name string, arg any) *upd {
	r := &upd{name: fmt.Sprintf("%s on escalation %d", name, n)}
	h.at(d, func() { h.sendEsc(r, n, name, arg) })
	return r
}

func (h *redHarness) sendEsc(r *upd, n int, name string, arg any) {
	// The test environment does not invent an Update ID for Updates by
	// workflow ID, and it dedupes on the ID: make each one unique.
	h.updateIDs++
	id := fmt.Sprintf("test-update-%d", h.updateIDs)
	if err := h.env.UpdateWorkflowByID(EscalationWorkflowID(testPerson, n), name, id, r.callbacks(), arg); err != nil {
		r.done, r.err = true, err
	}
}

// activate refers the person and records consent, so they can be rated
// from t0+2m on.
func (h *redHarness) activate(dob time.Time) {
	consent := RecordConsentInput{Basis: register.ConsentSelf, DecidedOn: register.CalendarDate(h.t0), Actor: "alice"}
	if register.AgeOn(dob, h.t0) < register.AgeOfConsent {
		consent.Basis, consent.GivenBy = register.ConsentParental, "Parent"
	}
	h.setup = append(h.setup,
		h.sendAt(0, UpdateRefer, ReferInput{ReferralID: 1, DateOfBirth: dob, ReceivedAt: h.t0, Actor: "referrer"}),
		h.sendAt(time.Minute, UpdateRecordConsent, consent))
}

func (h *redHarness) rateAt(d time.Duration, rating register.Rating) *upd {
	return h.sendAt(d, UpdateRate, RateInput{Rating: rating, Rationale: "because", Actor: "alice"})
}

func (h *redHarness) removeAt(d time.Duration) *upd {
	return h.sendAt(d, UpdateRemove, RemoveInput{Reason: register.RemovedOther, Actor: "alice"})
}

// runPerson runs the person's workflow to its end (the test removes them)
// and fails if it ended with an error.
func (h *redHarness) runPerson() {
	h.t.Helper()
	h.runPersonFrom(PersonWorkflowInput{PersonID: testPerson})
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("person workflow: %v", err)
	}
}

func (h *redHarness) runPersonFrom(in PersonWorkflowInput) {
	h.t.Helper()
	h.watchdog()
	h.run(in)
	for _, r := range h.setup {
		h.ok(r)
	}
}

// escStatus queries the person's nth escalation.
func (h *redHarness) escStatus(n int) EscalationStatus {
	h.t.Helper()
	v, err := h.env.QueryWorkflowByID(EscalationWorkflowID(testPerson, n), QueryStatus)
	if err != nil {
		h.t.Fatalf("query escalation %d: %v", n, err)
	}
	var st EscalationStatus
	if err := v.Get(&st); err != nil {
		h.t.Fatalf("decode escalation status: %v", err)
	}
	return st
}

// endedRecord is escalation n's record as its end was recorded: the
// outcome, acknowledgement and alerts the store keeps. (The test
// environment's GetWorkflowResultByID answers with the top-level
// workflow's result, not the child's, so the record is where to look.)
func (h *redHarness) endedRecord(n int) register.Escalation {
	h.t.Helper()
	ended := h.rec.escChanges(n, "escalation_ended")
	if len(ended) != 1 {
		h.t.Fatalf("escalation %d: want one escalation_ended, got %d", n, len(ended))
	}
	return *ended[0].Escalation
}

// want makes the run check that the Update succeeded.
func (h *redHarness) want(r *upd) *upd {
	h.setup = append(h.setup, r)
	return r
}

// ok fails unless the Update completed without error.
func (h *redHarness) ok(r *upd) {
	h.t.Helper()
	if r == nil || !r.done || r.err != nil {
		if r == nil {
			h.t.Errorf("update never sent")
			return
		}
		h.t.Errorf("%s: want success, got done=%v err=%v", r.name, r.done, r.err)
	}
}

// fails fails unless the Update failed with errType. For InvalidInput,
// field must be among the named fields and its problem contain want; for
// NoLongerApplies, the message must contain want.
func (h *redHarness) fails(r *upd, errType, field, want string) {
	h.t.Helper()
	var appErr *temporal.ApplicationError
	if r == nil || !r.done || !errors.As(r.err, &appErr) || appErr.Type() != errType {
		if r == nil {
			h.t.Errorf("update never sent")
			return
		}
		h.t.Errorf("%s: want %s, got done=%v err=%v", r.name, errType, r.done, r.err)
		return
	}
	if field != "" {
		fields := map[string]string{}
		if err := appErr.Details(&fields); err != nil {
			h.t.Errorf("%s: decode field errors: %v", r.name, err)
		}
		problem, named := fields[field]
		if !named || !strings.Contains(problem, want) {
			h.t.Errorf("%s: want field %q containing %q, got %v", r.name, field, want, fields)
		}
		return
	}
	if !strings.Contains(appErr.Error(), want) {
		h.t.Errorf("%s: want message containing %q, got %q", r.name, want, appErr.Error())
	}
}

// --- reading the in-memory record -----------------------------------------

// escChanges lists the changes escalation n recorded with the action (all
// its changes when action is "").
func (m *memRecord) escChanges(n int, action string) []register.Change {
	return m.changesWhere(func(c register.Change) bool {
		return c.Escalation != nil && c.Escalation.Number == n && (action == "" || c.Action == action)
	})
}

// personChanges lists the person's own changes with the action.
func (m *memRecord) personChanges(action string) []register.Change {
	return m.changesWhere(func(c register.Change) bool { return c.Escalation == nil && c.Action == action })
}

// tasksOf lists every task row of a kind, open or closed, in order.
func (m *memRecord) tasksOf(kind register.TaskKind) []memTask {
	return m.tasksWhere(func(t memTask) bool { return t.Kind == kind })
}

// escTasks lists escalation n's task rows by kind.
func (m *memRecord) escTasks(n int) map[register.TaskKind]memTask {
	out := map[register.TaskKind]memTask{}
	prefix := fmt.Sprintf("%d-e%d-", testPerson, n)
	for _, t := range m.tasksWhere(func(t memTask) bool { return strings.HasPrefix(t.Key, prefix) }) {
		out[t.Kind] = t
	}
	return out
}

// personTasks lists the person's own task rows of a kind (not an
// escalation's).
func (m *memRecord) personTasks(kind register.TaskKind) []memTask {
	return m.tasksWhere(func(t memTask) bool {
		return t.Kind == kind && !strings.HasPrefix(t.Key, fmt.Sprintf("%d-e", testPerson))
	})
}

// notifiedFor lists the notifications of an event about a task.
func (m *memRecord) notifiedFor(event notify.Event, taskID int64) []notify.Notification {
	return m.notifiedWhere(func(n notify.Notification) bool { return n.Event == event && n.TaskID == taskID })
}

// times lists when each change was made.
func times(cs []register.Change) []time.Time {
	var out []time.Time
	for _, c := range cs {
		out = append(out, c.At)
	}
	return out
}

func sameInstants(a, b []time.Time) bool {
	return slices.EqualFunc(a, b, func(x, y time.Time) bool { return x.Equal(y) })
}

// wantDue fails unless the task exists, is open and falls due at due.
func wantDue(t *testing.T, what string, task memTask, ok bool, due time.Time) {
	t.Helper()
	if !ok {
		t.Errorf("%s: no such task", what)
		return
	}
	if task.Status != register.TaskStatusOpen || !task.DueAt.Equal(due) {
		t.Errorf("%s: want open, due %s; got %s, due %s", what, due.In(london).Format(time.RFC3339),
			task.Status, task.DueAt.In(london).Format(time.RFC3339))
	}
}
