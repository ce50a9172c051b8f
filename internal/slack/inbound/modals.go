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

func options(values ...[2]string) []*slackapi.OptionBlockObject {
	var out []*slackapi.OptionBlockObject
	for _, v := range values {
		out = append(out, slackapi.NewOptionBlockObject(v[0], plain(v[1]), nil))
	}
	return out
}

func input(block, label string, el slackapi.BlockElement, optional bool) *slackapi.InputBlock {
	b := slackapi.NewInputBlock(block, plain(label), nil, el)
	b.Optional = optional
	return b
}

// choice is a drop-down of fixed options, each {value, label}.
func choice(placeholder string, values ...[2]string) *slackapi.SelectBlockElement {
	return slackapi.NewOptionsSelectBlockElement(slackapi.OptTypeStatic, plain(placeholder), "value", options(values...)...)
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
	basis := choice("Choose the basis",
		[2]string{"self", "The person consents (has capacity)"},
		[2]string{"best_interest", "Best-interest decision (MCA 2005)"},
		[2]string{"parental", "Parent or guardian (under 16)"},
		[2]string{"gillick", "Gillick competent (under 16)"})
	return modal(modalConsent, "Consent "+register.Reference(task.PersonID), "Record consent", task,
		input("basis", "Basis", basis, false),
		input("given_by", "Given by (who decided, or the parent)", slackapi.NewPlainTextInputBlockElement(nil, "value"), true),
		// The team's today, as the register dates it.
		input("decided_on", "Decided on", datePicker(today), false),
		optionalNotes())
}

func ratingModal(task store.Task) slackapi.ModalViewRequest {
	rating := choice("Choose a rating",
		[2]string{"blue", "Blue: in a mental health hospital"},
		[2]string{"red", "Red: immediate risk of admission"},
		[2]string{"amber", "Amber: at risk without community services"},
		[2]string{"green", "Green: at risk, team in place"})
	return modal(modalRating, "Rate "+register.Reference(task.PersonID), "Save rating", task,
		input("rating", "Rating", rating, false),
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
	reason := choice("Choose a reason",
		[2]string{"risk_reduced", "Risk reduced"},
		[2]string{"moved_out_of_area", "Moved out of area"},
		[2]string{"aged_out", "Aged out"},
		[2]string{"deceased", "Deceased"},
		[2]string{"other", "Other (say why in notes)"})
	return modal(modalRemoval, "Remove "+register.Reference(task.PersonID), "Remove", task,
		input("reason", "Reason", reason, false),
		optionalNotes())
}

// declineModal asks why an MbE request is declined: the requester is
// emailed the reason, so it is required.
func declineModal(task store.Task) slackapi.ModalViewRequest {
	return modal(modalDecline, "Decline MbE request", "Decline", task,
		slackapi.NewSectionBlock(plain("The requester is emailed this reason."), nil, nil),
		input("reason", "Reason", textArea("Why the team will not hold it"), false))
}
