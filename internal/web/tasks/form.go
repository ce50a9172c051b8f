package tasks

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/web/staffpage"
)

// What a task's forms offer and say: the choices, the values sent back
// with a problem, and the words for a refusal.

// option is one radio button (htmlpage's radio-items: the staff forms'
// choices need no hint).
type option struct{ Value, Label, Hint string }

// formOptions are the choices each form offers (register's, which Slack's
// modals offer too).
var formOptions = map[string][]option{
	"basis":  options(register.ConsentBasisChoices),
	"rating": options(register.RatingChoices),
	"reason": options(register.RemovalChoices),
}

func options(choices []register.Choice) []option {
	out := make([]option, len(choices))
	for i, c := range choices {
		out[i] = option{Value: c.Value, Label: c.Label}
	}
	return out
}

// Val is what a form's field shows: what was sent, if this form was.
func (v taskView) Val(action register.Action, field string) string {
	if v.Posted != action {
		return ""
	}
	return v.Values.Get(field)
}

// Err is the message against a form's field, if this form was sent.
func (v taskView) Err(action register.Action, field string) string {
	if v.Posted != action {
		return ""
	}
	return v.Errors[field]
}

// DateVal is a part (day, month, year) of a date input: what was sent, or
// today.
func (v taskView) DateVal(action register.Action, field, part string) string {
	if v.Posted == action {
		return v.Values.Get(field + "-" + part)
	}
	switch part {
	case "day":
		return strconv.Itoa(v.Today.Day())
	case "month":
		return strconv.Itoa(int(v.Today.Month()))
	}
	return strconv.Itoa(v.Today.Year())
}

// problem adds a line to the error summary and the message beside field.
func (v *taskView) problem(action register.Action, field, message string) {
	id := string(action) + "-" + field
	if field == "action" {
		id = string(action) + "-form"
	}
	v.Errors[field] = message
	v.Problems = append(v.Problems, staffpage.Problem{Href: "#" + id, Message: message})
}

// formFields lists the fields each form has, so an error casework names
// against a field the form lacks is shown against the form itself.
var formFields = map[register.Action][]string{
	register.ActionRecordConsent: {"basis", "given_by", "decided_on", "notes"},
	register.ActionRenewConsent:  {"basis", "given_by", "decided_on", "notes"},
	register.ActionRate:          {"rating", "rationale", "secure_placement"},
	register.ActionChangeRating:  {"rating", "rationale", "secure_placement"},
	register.ActionCloseReferral: {"reason", "notes"},
	register.ActionRemove:        {"reason", "notes"},
	register.ActionMarkDone:      {"done_on", "notes"},
}

func fieldOf(action register.Action, field string) string {
	if slices.Contains(formFields[action], field) {
		return field
	}
	return "action"
}

func fieldLabel(field string) string {
	switch field {
	case "basis":
		return "Basis of consent:"
	case "given_by":
		return "Given by:"
	case "decided_on":
		return "Date decided:"
	case "rating":
		return "Rating:"
	case "rationale":
		return "Why this rating:"
	case "secure_placement":
		return "Secure service:"
	case "reason":
		return "Reason:"
	case "done_on":
		return "Date it happened:"
	}
	return staffpage.UpperFirst(strings.ReplaceAll(field, "_", " ")) + ":"
}

// explainCasework turns a casework error into the words a coordinator
// reads. Only when it is known that nothing was recorded does it say so.
func explainCasework(err error) string {
	var ce *casework.Error
	if errors.As(err, &ce) {
		switch ce.Kind {
		case casework.Conflict:
			return "That no longer applies: " + ce.Message + "."
		case casework.NotFound:
			return ce.Message + "."
		case casework.Unavailable:
			return staffpage.UpperFirst(ce.Message) + ". Try again in a moment."
		case casework.Invalid:
			return staffpage.UpperFirst(ce.Error()) + "."
		}
	}
	return casework.FormUnanswered
}
