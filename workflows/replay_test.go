package workflows

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/dsr-register/dsr/internal/encryption"
)

// testPayloadKey is the tests' fixed payload key (cmd/dsr/e2e_test.go uses
// the same one), so recorded histories can be decoded here. Never a real key.
const testPayloadKey = "test1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// TestReplayRecordedHistories replays histories recorded from the real dev
// server against today's workflow code. A change that is not replay-safe
// (new commands in a different order without workflow.GetVersion) fails
// here before it can break people already on the register.
//
// To record again: DSR_RECORD_HISTORY=<file>.json go test ./cmd/dsr -run TestEndToEnd (only the files named: the older histories are from before workflow changes and must stay)
func TestReplayRecordedHistories(t *testing.T) {
	keys, err := encryption.ParseKeys(testPayloadKey)
	if err != nil {
		t.Fatal(err)
	}
	sealing, err := encryption.NewConverters(keys)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: sealing.Data, FailureConverter: sealing.Failure})
			if err != nil {
				t.Fatal(err)
			}
			r.RegisterWorkflow(PersonWorkflow)
			r.RegisterWorkflow(EscalationWorkflow)
			r.RegisterWorkflow(DigestWorkflow)
			r.RegisterWorkflow(MeetingWorkflow)
			r.RegisterWorkflow(FeedbackWorkflow)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
