// Package workflows holds the register's durable processes. PersonWorkflow is
// one person's time on the register, from referral to removal, years long.
// Workflow code decides; activities (package activities) do.
package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/dsr-register/dsr/internal/register"
)

// PersonWorkflowID is the workflow ID for a person: opaque, no personal data.
func PersonWorkflowID(personID int64) string {
	return fmt.Sprintf("dsr-person-%d", personID)
}

// EscalationWorkflowID names a person's nth escalation: opaque, no personal
// data, and unique per spell at red so every one stays in history.
func EscalationWorkflowID(personID int64, number int) string {
	return fmt.Sprintf("dsr-escalation-%d-%d", personID, number)
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
// as the CLI and operator API name their types.
var SearchAttributeTypes = [][2]string{
	{"DsrStage", "Keyword"},
	{"DsrRating", "Keyword"},
	{"DsrNextReview", "Datetime"},
	{"DsrConsentExpires", "Datetime"},
}

// Error types an Update can fail with. Callers map them to answers: an
// invalid input names its fields (400), a conflict no longer applies (409).
const (
	ErrInvalidInput    = "InvalidInput"
	ErrNoLongerApplies = "NoLongerApplies"
)

// noLongerApplies is the error for an action that the person's current state
// rules out: a stale click, a removed person, withdrawn consent.
func noLongerApplies(format string, args ...any) error {
	return temporal.NewApplicationErrorWithOptions(fmt.Sprintf(format, args...), ErrNoLongerApplies,
		temporal.ApplicationErrorOptions{NonRetryable: true})
}

// invalidInput is the error for input that names bad fields; the details
// carry the register.FieldErrors.
func invalidInput(fields map[string]string) error {
	return temporal.NewApplicationErrorWithOptions("invalid input", ErrInvalidInput,
		temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{fields}})
}

// refuseBadFields is a validator's answer: nil when no field is bad,
// otherwise invalidInput naming each one.
func refuseBadFields(errs register.FieldErrors) error {
	if len(errs) == 0 {
		return nil
	}
	return invalidInput(errs)
}

// actorErrors names the actor field when an Update does not say who acts:
// every change is audited under a name.
func actorErrors(actor string) register.FieldErrors {
	if strings.TrimSpace(actor) == "" {
		return register.FieldErrors{"actor": "is required"}
	}
	return nil
}

// requireActor refuses an Update that does not say who acts.
func requireActor(actor string) error { return refuseBadFields(actorErrors(actor)) }
