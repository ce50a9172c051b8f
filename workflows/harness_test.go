package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
)

// The harness runs PersonWorkflow in Temporal's test environment with time
// skipping, over the real activities backed by an in-memory record, so a
// test can walk years of timers in milliseconds and then look at what was
// written: audit actions, task rows, notifications.

const day = 24 * time.Hour

var start = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC) // a Monday

type memTask struct {
	ID        int64
	Key       string
	Kind      register.TaskKind
	Status    register.TaskStatus
	DueAt     time.Time
	Outcome   string
	ClosedBy  string
	Reminders int
}

// memRecord is an in-memory activities.Recorder with the store's idempotency
// rules: a change (and the change recorded with it) is applied once per
// (person, seq), and what it tells is kept in notified, once per key.
type memRecord struct {
	mu           sync.Mutex
	applied      map[string]bool
	changes      []register.Change
	tasks        map[string]*memTask
	order        []string
	notified     []notify.Notification
	notifiedKeys map[string]bool
	snapshot     register.Snapshot
	// Retention (retention_test.go): erased once erased, and the
	// children's period for the person, if any.
	erased            bool
	childRecordsUntil time.Time
	// outage, while above zero, fails that many RecordChange calls as a
	// database outage would; answerLost then fails one more after it has
	// been applied, as a commit whose answer never came back would.
	outage     int
	answerLost bool
}

func newMemRecord() *memRecord {
	return &memRecord{applied: map[string]bool{}, tasks: map[string]*memTask{}, notifiedKeys: map[string]bool{}}
}

func (m *memRecord) RecordChange(_ context.Context, c register.Change) (map[string]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.outage > 0 {
		m.outage--
		return nil, errors.New("the database is not answering")
	}
	ids := m.apply(c)
	if c.Also != nil {
		maps.Copy(ids, m.apply(*c.Also))
	}
	if m.answerLost {
		m.answerLost = false
		return nil, errors.New("the connection closed before the commit was answered")
	}
	return ids, nil
}

func (m *memRecord) LastRecorded(_ context.Context, personID int64) (seq int64, escalations int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.changes {
		if c.PersonID != personID {
			continue
		}
		if c.Escalation != nil {
			escalations = max(escalations, c.Escalation.Number)
		} else if c.Meeting == nil {
			seq = max(seq, c.Seq)
		}
	}
	return seq, escalations, nil
}

func (m *memRecord) apply(c register.Change) map[string]int64 {
	ids := map[string]int64{}
	k := fmt.Sprintf("%d-%d", c.PersonID, c.Seq)
	if c.Escalation != nil {
		k = fmt.Sprintf("%d-e%d-%d", c.PersonID, c.Escalation.Number, c.Seq)
	}
	if c.Meeting != nil {
		k = fmt.Sprintf("%d-m%d-%d", c.PersonID, c.Meeting.Number, c.Seq)
	}
	if !m.applied[k] {
		m.applied[k] = true
		m.changes = append(m.changes, c)
		if c.Escalation == nil && c.Meeting == nil {
			m.snapshot = c.Snapshot
		}
		for _, o := range c.Open {
			if _, ok := m.tasks[o.Key]; !ok {
				m.tasks[o.Key] = &memTask{ID: int64(len(m.order) + 1), Key: o.Key, Kind: o.Kind, Status: register.TaskStatusOpen, DueAt: o.DueAt}
				m.order = append(m.order, o.Key)
			}
		}
		for _, cl := range c.Close {
			if t := m.tasks[cl.Key]; t != nil && t.Status == register.TaskStatusOpen {
				t.Status, t.Outcome, t.ClosedBy = cl.Status, cl.Outcome, c.Actor
			}
		}
		for _, r := range c.Remind {
			m.tasks[r].Reminders++
		}
	}
	kinds := map[string]register.TaskKind{}
	for _, key := range append(append(append(keysOf(c.Open), closeKeys(c.Close)...), c.Remind...), c.Managers...) {
		if t := m.tasks[key]; t != nil {
			ids[key], kinds[key] = t.ID, t.Kind
		}
	}
	for _, n := range notify.ForChange(c, ids, kinds) {
		if !m.notifiedKeys[n.Key] {
			m.notifiedKeys[n.Key] = true
			m.notified = append(m.notified, n)
		}
	}
	return ids
}

func keysOf(o []register.TaskOpen) []string {
	var out []string
	for _, t := range o {
		out = append(out, t.Key)
	}
	return out
}

func closeKeys(c []register.TaskClose) []string {
	var out []string
	for _, t := range c {
		out = append(out, t.Key)
	}
	return out
}

// continuedAsNew fails the test unless the workflow run in env continued
// as new, and decodes the input it continued with into next.
func continuedAsNew(t *testing.T, env *testsuite.TestWorkflowEnvironment, next any) {
	t.Helper()
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new, got %v", err)
	}
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, next); err != nil {
		t.Fatal(err)
	}
}

// where lists the items keep keeps, in order (nil when none).
func where[T any](items []T, keep func(T) bool) []T {
	var out []T
	for _, it := range items {
		if keep(it) {
			out = append(out, it)
		}
	}
	return out
}

// changesWhere lists the recorded changes keep keeps, in order.
func (m *memRecord) changesWhere(keep func(register.Change) bool) []register.Change {
	m.mu.Lock()
	defer m.mu.Unlock()
	return where(m.changes, keep)
}

// notifiedWhere lists the notifications keep keeps, in order.
func (m *memRecord) notifiedWhere(keep func(notify.Notification) bool) []notify.Notification {
	m.mu.Lock()
	defer m.mu.Unlock()
	return where(m.notified, keep)
}

// tasksWhere lists the task rows keep keeps, open or closed, in the order
// they were opened.
func (m *memRecord) tasksWhere(keep func(memTask) bool) []memTask {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []memTask
	for _, k := range m.order {
		if t := *m.tasks[k]; keep(t) {
			out = append(out, t)
		}
	}
	return out
}

// openTasks lists open task rows of a kind (all kinds when kind is "").
func (m *memRecord) openTasks(kind register.TaskKind) []memTask {
	return m.tasksWhere(func(t memTask) bool {
		return t.Status == register.TaskStatusOpen && (kind == "" || t.Kind == kind)
	})
}

func (m *memRecord) allTasks() []memTask {
	return m.tasksWhere(func(memTask) bool { return true })
}

// actions lists the audited actions in order.
func (m *memRecord) actions() []string {
	var out []string
	for _, c := range m.changesWhere(func(c register.Change) bool { return c.Action != "" }) {
		out = append(out, c.Action)
	}
	return out
}

type harness struct {
	t      *testing.T
	suite  testsuite.WorkflowTestSuite
	env    *testsuite.TestWorkflowEnvironment
	rec    *memRecord
	mu     sync.Mutex
	policy register.Policy
}

func newHarness(t *testing.T) *harness {
	return newHarnessWith(t, newMemRecord())
}

// newHarnessWith shares a record with an earlier run (a new spell, or the
// run after continue-as-new).
func newHarnessWith(t *testing.T, rec *memRecord) *harness {
	h := &harness{t: t, rec: rec, policy: register.DefaultPolicy()}
	h.suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	h.env = h.suite.NewTestWorkflowEnvironment()
	h.env.SetStartTime(start)
	h.env.RegisterWorkflow(PersonWorkflow)
	h.env.RegisterWorkflow(EscalationWorkflow)
	h.env.RegisterWorkflow(RetentionWorkflow)
	// The retention timer a removal starts outlives the person's workflow
	// and waits years; retention_test.go runs it on its own.
	h.env.OnWorkflow(RetentionWorkflow, mock.Anything, mock.Anything).Return(RetentionResult{Outcome: "mocked"}, nil).Maybe()
	h.env.RegisterActivity(&activities.Activities{Store: h.rec, Policy: h.currentPolicy})
	return h
}

func (h *harness) currentPolicy() register.Policy {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.policy
}

func (h *harness) setPolicy(f func(*register.Policy)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(&h.policy)
}

// at runs f when the workflow clock reaches start+d.
func (h *harness) at(d time.Duration, f func()) {
	h.env.RegisterDelayedCallback(f, d)
}

// updateResult is filled in when an Update completes or is rejected.
type updateResult struct {
	name     string
	done     bool
	rejected bool
	status   PersonStatus
	err      error
}

// send sends an Update; look at the result in a later callback or after
// the run.
func (h *harness) send(name string, arg any) *updateResult {
	r := &updateResult{name: name}
	h.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { r.done, r.rejected, r.err = true, true, err },
		OnComplete: func(v any, err error) {
			r.done, r.err = true, err
			if st, ok := v.(PersonStatus); ok {
				r.status = st
			}
		},
	}, arg)
	return r
}

// refer sends the first referral (the test environment has started the
// workflow, as Update-with-Start does in production).
func (h *harness) refer(dob time.Time) *updateResult {
	return h.send(UpdateRefer, ReferInput{ReferralID: 1, DateOfBirth: dob, ReceivedAt: start, Actor: "referrer"})
}

func (h *harness) status() PersonStatus {
	v, err := h.env.QueryWorkflow(QueryStatus)
	if err != nil {
		h.t.Fatalf("query status: %v", err)
	}
	var st PersonStatus
	if err := v.Get(&st); err != nil {
		h.t.Fatalf("decode status: %v", err)
	}
	return st
}

func (h *harness) run(in PersonWorkflowInput) {
	if in.PersonID == 0 {
		in.PersonID = 1001
	}
	h.env.ExecuteWorkflow(PersonWorkflow, in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
}

func (h *harness) result() (PersonResult, error) {
	var res PersonResult
	if err := h.env.GetWorkflowError(); err != nil {
		return res, err
	}
	err := h.env.GetWorkflowResult(&res)
	return res, err
}

// wantRemovedForLapse checks that the run ended with the person removed
// because consent lapsed, at at (described as when).
func (h *harness) wantRemovedForLapse(when string, at time.Time) {
	h.t.Helper()
	res, err := h.result()
	if err != nil {
		h.t.Fatal(err)
	}
	if res.RemovalReason != register.RemovedConsentLapsed || !res.RemovedAt.Equal(at) {
		h.t.Errorf("want removal for lapse at %s (%v), got %+v", when, at, res)
	}
}

// expectOK fails unless the Update completed without error.
func (h *harness) expectOK(r *updateResult) {
	h.t.Helper()
	if !r.done || r.err != nil {
		h.t.Errorf("%s: done=%v err=%v", r.name, r.done, r.err)
	}
}

// expectError fails unless the Update failed with the given error type.
func (h *harness) expectError(r *updateResult, errType string) {
	h.t.Helper()
	var appErr *temporal.ApplicationError
	if !r.done || !errors.As(r.err, &appErr) || appErr.Type() != errType {
		h.t.Errorf("%s: want %s, got done=%v err=%v", r.name, errType, r.done, r.err)
	}
}
