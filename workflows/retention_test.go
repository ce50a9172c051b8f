package workflows

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	sdklog "go.temporal.io/sdk/log"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/register"
)

// The in-memory record keeps retention like the store: a removed person is
// erased by the removal they are still removed by.
var _ activities.RetentionKeeper = (*memRecord)(nil)

func (m *memRecord) RetentionOf(_ context.Context, _ int64) (activities.RetentionStanding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := activities.RetentionStanding{Erased: m.erased, Removed: m.snapshot.Stage == register.Removed}
	if st.Removed {
		st.RemovedAt, st.ChildRecordsUntil = m.snapshot.RemovedAt, m.childRecordsUntil
	}
	return st, nil
}

func (m *memRecord) EraseAfterRetention(_ context.Context, _ int64, removedAt time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.erased || m.snapshot.Stage != register.Removed || !m.snapshot.RemovedAt.Equal(removedAt) {
		return false, nil
	}
	m.erased = true
	return true, nil
}

func (m *memRecord) isErased() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.erased
}

// retentionHarness is a harness whose record says the person was removed
// at start, with a short policy recheck so the timer wakes often.
func retentionHarness(t *testing.T, childRecordsUntil time.Time) *harness {
	h := &harness{t: t, rec: newMemRecord(), policy: register.DefaultPolicy()}
	h.suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	h.env = h.suite.NewTestWorkflowEnvironment()
	h.env.SetStartTime(start)
	h.env.RegisterWorkflow(RetentionWorkflow)
	h.env.RegisterActivity(&activities.Activities{Store: h.rec, Policy: h.currentPolicy})
	h.rec.snapshot = register.Snapshot{Stage: register.Removed, RemovedAt: start, RemovalReason: register.RemovedRiskReduced}
	h.rec.childRecordsUntil = childRecordsUntil
	h.policy.Recheck = 30 * day
	return h
}

func (h *harness) runRetention() RetentionResult {
	h.t.Helper()
	h.env.ExecuteWorkflow(RetentionWorkflow, RetentionInput{PersonID: 1001, ContinueAsNewAfterEvents: 0})
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("retention workflow did not complete")
	}
	var res RetentionResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		h.t.Fatal(err)
	}
	return res
}

// TestRetentionErasesWhenThePeriodEnds: an adult removed is erased
// DSR_RETENTION_AFTER_REMOVAL after removal, not a day before, through a
// durable timer that wakes at least every policy recheck.
func TestRetentionErasesWhenThePeriodEnds(t *testing.T) {
	h := retentionHarness(t, time.Time{})
	retention := h.policy.RetentionAfterRemoval
	h.at(retention-day, func() {
		if h.rec.isErased() {
			t.Error("erased a day before the retention period ended")
		}
	})
	res := h.runRetention()
	if !res.Erased || !h.rec.isErased() {
		t.Fatalf("after the retention period: %+v, want erased", res)
	}
	if now := h.env.Now(); now.Before(start.Add(retention)) || now.After(start.Add(retention).Add(time.Minute)) {
		t.Errorf("erased at %v, want when the period ended (%v)", now, start.Add(retention))
	}
}

// TestRetentionKeepsAChildsRecordsToTwentyFive: someone removed as a child
// is kept until the children's period ends, even past the adult period.
func TestRetentionKeepsAChildsRecordsToTwentyFive(t *testing.T) {
	until := start.Add(5 * 365 * day)
	h := retentionHarness(t, until)
	h.policy.RetentionAfterRemoval = 2 * 365 * day
	h.at(h.policy.RetentionAfterRemoval+day, func() {
		if h.rec.isErased() {
			t.Error("a child's records were erased at the adult period, before the 25th birthday")
		}
	})
	res := h.runRetention()
	if !res.Erased || h.env.Now().Before(until) {
		t.Errorf("child: %+v at %v, want erased at %v", res, h.env.Now(), until)
	}
}

// TestRetentionEndsWhenReferredAgain: a person back on the register is not
// erased; the timer ends, and a shortened setting reaches a running timer.
func TestRetentionEndsWhenReferredAgain(t *testing.T) {
	h := retentionHarness(t, time.Time{})
	h.at(100*day, func() {
		h.rec.mu.Lock()
		h.rec.snapshot = register.Snapshot{Stage: register.Referred}
		h.rec.mu.Unlock()
	})
	res := h.runRetention()
	if res.Erased || h.rec.isErased() || res.Outcome != "on the register again" {
		t.Errorf("referred again: %+v, want the timer ended without erasing", res)
	}
	if h.env.Now().After(start.Add(100*day + h.policy.Recheck)) {
		t.Errorf("ended at %v: want within a policy recheck of the re-referral", h.env.Now())
	}
}
