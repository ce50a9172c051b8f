// Package workflows holds the register's durable processes. PersonWorkflow is
// one person's time on the register, from referral to removal, years long.
// Workflow code decides; activities (package activities) do.
package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// Workflow IDs are opaque: numbers (or, for the digest, the task queue's
// name), never personal data.

// PersonWorkflowID is the workflow ID for a person.
func PersonWorkflowID(personID int64) string {
	return fmt.Sprintf("dsr-person-%d", personID)
}

// EscalationWorkflowID names a person's nth escalation: unique per spell at
// red so every one stays in history.
func EscalationWorkflowID(personID int64, number int) string {
	return fmt.Sprintf("dsr-escalation-%d-%d", personID, number)
}

// MeetingWorkflowID names a person's nth meeting.
func MeetingWorkflowID(personID int64, number int) string {
	return fmt.Sprintf("dsr-meeting-%d-%d", personID, number)
}

// FeedbackWorkflowID names a feedback request's workflow.
func FeedbackWorkflowID(requestID int64) string {
	return fmt.Sprintf("dsr-feedback-%d", requestID)
}

// RetentionWorkflowID names a person's retention timer.
func RetentionWorkflowID(personID int64) string {
	return fmt.Sprintf("dsr-retention-%d", personID)
}

// DigestWorkflowID names the team's digest workflow. One per task queue,
// so teams sharing a Temporal namespace (each with its own database and
// task queue) each get their own digest and never another's counts.
func DigestWorkflowID(taskQueue string) string {
	return "dsr-digest-" + taskQueue
}

// Update and query names: the API, Slack and tests use these.
const (
	UpdateRefer           = "refer"
	UpdateRecordConsent   = "record-consent"
	UpdateWithdrawConsent = "withdraw-consent"
	UpdateRate            = "rate"
	UpdateConfirmReview   = "confirm-review"
	UpdateRemove          = "remove"
	UpdateAssign          = "assign"
	// UpdateImport takes an imported person on in their current state
	// (person_import.go).
	UpdateImport = "import"
	// UpdateCompleteAction records a required action done (both workflows).
	UpdateCompleteAction = "complete-action"
	// UpdateAcknowledge acknowledges a red alert (escalation workflow).
	UpdateAcknowledge = "acknowledge"
	QueryStatus       = "status"

	// SignalEndEscalation tells an escalation to end (person → escalation).
	SignalEndEscalation = "end-escalation"
	// SignalActionDone tells the person's workflow that an escalation's
	// required action was done (escalation → person).
	SignalActionDone = "escalation-action-done"

	// UpdateConveneMeeting convenes a meeting (person's workflow).
	UpdateConveneMeeting = "convene-meeting"
	// The meeting's workflow takes these, and answers QueryStatus.
	UpdateChangeMeeting        = "change-meeting"
	UpdateCancelMeeting        = "cancel-meeting"
	UpdateRecordMeetingOutcome = "record-meeting-outcome"
	UpdateMeetingActionDone    = "meeting-action-done"

	// SignalFeedbackAnswered tells a feedback workflow the service has
	// answered.
	SignalFeedbackAnswered = "feedback-answered"
)

// Search attributes for the Temporal UI and operators. Values are opaque:
// stage, rating and two dates, never personal data.
var (
	SearchStage          = temporal.NewSearchAttributeKeyKeyword("DsrStage")
	SearchRating         = temporal.NewSearchAttributeKeyKeyword("DsrRating")
	SearchNextReview     = temporal.NewSearchAttributeKeyTime("DsrNextReview")
	SearchConsentExpires = temporal.NewSearchAttributeKeyTime("DsrConsentExpires")
)

// SearchAttributeTypes lists the attributes to register on a Temporal server,
// each name with its type as the CLI and operator API name it ("Keyword",
// "Datetime"). Read from the keys, so what is registered is what the
// workflows set.
var SearchAttributeTypes = namesAndTypes(SearchStage, SearchRating, SearchNextReview, SearchConsentExpires)

func namesAndTypes(keys ...temporal.SearchAttributeKey) [][2]string {
	out := make([][2]string, len(keys))
	for i, k := range keys {
		out[i] = [2]string{k.GetName(), k.GetValueType().String()}
	}
	return out
}
