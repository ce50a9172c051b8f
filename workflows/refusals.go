package workflows

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/dsr-register/dsr/internal/register"
)

// How an Update's validator refuses it, and how a caller reads the refusal
// back: both ends of the error's shape in one place.

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

// Refusal is an Update refused by its validator, as the caller reads it
// back from the error Temporal answers with.
type Refusal struct {
	// Type is ErrInvalidInput or ErrNoLongerApplies.
	Type    string
	Message string
	// Fields names each bad field of an ErrInvalidInput (nil if they could
	// not be read).
	Fields register.FieldErrors
}

// Refused reads err as a validator's refusal (invalidInput or
// noLongerApplies); ok is false for any other failure.
func Refused(err error) (r Refusal, ok bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return Refusal{}, false
	}
	r = Refusal{Type: appErr.Type(), Message: appErr.Message()}
	switch r.Type {
	case ErrInvalidInput:
		var fields map[string]string
		if appErr.HasDetails() && appErr.Details(&fields) == nil {
			r.Fields = fields
		}
		return r, true
	case ErrNoLongerApplies:
		return r, true
	}
	return Refusal{}, false
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
