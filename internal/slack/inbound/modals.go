package inbound

import (
	"strconv"

	slackapi "github.com/slack-go/slack"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/slack"
	"github.com/dsr-register/dsr/internal/store"
)

// The modals the register opens in Slack, built from a few form parts.
// Each modal's input blocks are named in modalBlocks, which places a
// refusal's explanation beside the field it is about.

func plain(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, s, false, false)
}

func options(choices []register.Choice) []*slackapi.OptionBlockObject {
	var out []*slackapi.OptionBlockObject
	for _, c := range choices {
		out = append(out, slackapi.NewOptionBlockObject(c.Value, plain(c.Label), nil))
	}
	return out
}

func input(block, label string, el slackapi.BlockElement, optional bool) *slackapi.InputBlock {
	b := slackapi.NewInputBlock(block, plain(label), nil, el)
	b.Optional = optional
	return b
}

// choice is a drop-down of the register's choices for one form field (the
// staff pages offer the same).
func choice(placeholder string, choices []register.Choice) *slackapi.SelectBlockElement {
	return slackapi.NewOptionsSelectBlockElement(slackapi.OptTypeStatic, plain(placeholder), "value", options(choices)...)
}

// textArea is a multi-line text input.
func textArea(placeholder string) *slackapi.PlainTextInputBlockElement {
	el := slackapi.NewPlainTextInputBlockElement(plain(placeholder), "value")
	el.Multiline = true
	return el
}

// datePicker starts at initial, a date as YYYY-MM-DD (the team's today).
func datePicker(initial string) *slackapi.DatePickerBlockElement {
	el := slackapi.NewDatePickerBlockElement("value")
	el.InitialDate = initial
	return el
}

// optionalNotes is the free text most forms end with.
func optionalNotes() *slackapi.InputBlock {
	return input("notes", "Notes", textArea("Optional"), true)
}

func modal(callbackID, title, submit string, task store.Task, blocks ...slackapi.Block) slackapi.ModalViewRequest {
	return slackapi.ModalViewRequest{
		Type:            slackapi.VTModal,
		CallbackID:      callbackID,
		Title:           plain(title),
		Submit:          plain(submit),
		Close:           plain("Cancel"),
		PrivateMetadata: strconv.FormatInt(task.ID, 10),
		Blocks:          slackapi.Blocks{BlockSet: blocks},
	}
}

func consentModal(task store.Task, today string) slackapi.ModalViewRequest {
	return modal(modalConsent, "Consent "+register.Reference(task.PersonID), "Record consent", task,
		input("basis", "Basis", choice("Choose the basis", register.ConsentBasisChoices), false),
		input("given_by", "Given by (who decided, or the parent)", slackapi.NewPlainTextInputBlockElement(nil, "value"), true),
		// The team's today, as the register dates it.
		input("decided_on", "Decided on", datePicker(today), false),
		optionalNotes())
}

func ratingModal(task store.Task) slackapi.ModalViewRequest {
	return modal(modalRating, "Rate "+register.Reference(task.PersonID), "Save rating", task,
		input("rating", "Rating", choice("Choose a rating", register.RatingChoices), false),
		input("rationale", "Rationale", textArea("Why this rating"), false))
}

// doneModal asks when a required action happened (default today) and for
// optional notes.
func doneModal(task store.Task, today string) slackapi.ModalViewRequest {
	title, _ := slack.Prompt{Task: task}.Headline()
	return modal(modalDone, "Done "+register.Reference(task.PersonID), "Mark done", task,
		slackapi.NewSectionBlock(plain(title), nil, nil),
		input("done_on", "Date it happened", datePicker(today), false),
		optionalNotes())
}

func removalModal(task store.Task) slackapi.ModalViewRequest {
	return modal(modalRemoval, "Remove "+register.Reference(task.PersonID), "Remove", task,
		input("reason", "Reason", choice("Choose a reason", register.RemovalChoices), false),
		optionalNotes())
}

// declineModal asks why an MbE request is declined: the requester is
// emailed the reason, so it is required.
func declineModal(task store.Task) slackapi.ModalViewRequest {
	return modal(modalDecline, "Decline MbE request", "Decline", task,
		slackapi.NewSectionBlock(plain("The requester is emailed this reason."), nil, nil),
		input("reason", "Reason", textArea("Why the team will not hold it"), false))
}
