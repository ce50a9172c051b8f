package workflows

import (
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/register"
)

// TestRemovedAsMerged: merging two records removes the one merged away
// with the reason merged (never a coordinator's choice of reason, but the
// merge's): its tasks close, the workflow ends, and a red escalation
// would end with it as with any removal.
func TestRemovedAsMerged(t *testing.T) {
	h := newHarness(t)
	var bogus, merged *updateResult
	h.at(0, func() { h.refer(adultDOB) })
	h.at(time.Hour, func() {
		bogus = h.send(UpdateRemove, RemoveInput{Reason: "duplicate", Actor: "alice"})
		merged = h.send(UpdateRemove, RemoveInput{Reason: register.RemovedMerged, Notes: "merged into DSR-1002", Actor: "alice"})
	})
	h.at(2*time.Hour, func() {
		if open := h.rec.openTasks(""); len(open) != 0 {
			t.Errorf("tasks left open after the merge: %+v", open)
		}
	})
	h.run(PersonWorkflowInput{})
	h.expectError(bogus, ErrInvalidInput)
	h.expectOK(merged)
	if res, _ := h.result(); res.Stage != register.Removed || res.RemovalReason != register.RemovedMerged {
		t.Errorf("result %+v", res)
	}
}
