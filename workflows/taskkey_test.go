package workflows

import (
	"testing"

	"github.com/dsr-register/dsr/internal/register"
)

// TestTaskKeysKeepTheirRecordedShape: task keys make opening a task
// idempotent in the store, so a key must be made exactly as the recorded
// ones were: the person's and the escalation's one past the number of the
// change that opens the task, the meeting's that number.
func TestTaskKeysKeepTheirRecordedShape(t *testing.T) {
	c := &register.Change{PersonID: 1042, Seq: 7}
	if got, want := taskKey(c, register.TaskReviewDue), "1042-8-review_due"; got != want {
		t.Errorf("person's task key = %q, want %q", got, want)
	}
	e := &escalation{in: EscalationInput{PersonID: 1042, Number: 2}}
	if got, want := e.taskKey(c, register.TaskEscalationAlert), "1042-e2-8-escalation_alert"; got != want {
		t.Errorf("escalation's task key = %q, want %q", got, want)
	}
	m := &meeting{in: MeetingInput{PersonID: 1042, Number: 3}}
	if got, want := m.taskKey(c, register.TaskMeetingAction, 1), "1042-m3-7-meeting_action-1"; got != want {
		t.Errorf("meeting's task key = %q, want %q", got, want)
	}
}
