// Package inbound is what Slack sends the register: button clicks, modal
// submissions and /dsr slash commands, turned into the same casework calls
// the API makes; over HTTP with Slack's v0 request signatures checked
// (verify.go), or over Socket Mode (socketmode.go). Only Slack users mapped
// to coordinators may act. The words it answers with come from package
// slack, which also posts the prompts; pacing is package pacer's.
package inbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/slack"
	"github.com/dsr-register/dsr/internal/store"
)

// Interactions turns clicks and modal submissions into the same casework
// calls the API makes. Only Slack users mapped to coordinators may act;
// every action is audited as "<actor> (slack <user ID>)".
type Interactions struct {
	Casework *casework.Casework
	Records  slack.Records
	Client   *slackapi.Client
	// Coordinators maps Slack user IDs to the actor names the audit trail
	// records.
	Coordinators map[string]string
	// Managers may view (status, tasks) but not act.
	Managers map[string]string
	// Zone is the team's time zone (DSR_WORKING_TIMEZONE): dates shown and
	// "today" in a date picker are the team's. nil means the register's
	// default.
	Zone   *time.Location
	Logger *slog.Logger
	Now    func() time.Time
}

// Slack's bounds. A click is acknowledged at once and worked after, so its
// work gets a bound of its own; a modal submission and a slash command are
// answered in Slack's 3 seconds, so they get less.
const (
	clickTimeout  = 20 * time.Second
	answerTimeout = 2500 * time.Millisecond
)

// Modal callback IDs; private_metadata carries the task ID.
const (
	modalConsent = "dsr:consent"
	modalRating  = "dsr:rating"
	modalRemoval = "dsr:removal"
	modalDone    = "dsr:done"
	modalDecline = "dsr:mbe_decline"
)

// Handler serves POST /slack/interactions (form field "payload"). Wrap it
// in the Verifier's Middleware: it trusts the request.
func (in *Interactions) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cb slackapi.InteractionCallback
		if err := json.Unmarshal([]byte(r.FormValue("payload")), &cb); err != nil {
			http.Error(w, "payload is not an interaction", http.StatusBadRequest)
			return
		}
		switch cb.Type {
		case slackapi.InteractionTypeBlockActions:
			// Acknowledge at once (Slack allows 3 seconds); the work goes
			// on and any failure is told to the user.
			w.WriteHeader(http.StatusOK)
			go in.HandleBlockAction(context.Background(), cb)
		case slackapi.InteractionTypeViewSubmission:
			// A submission's answer is its response: errors against fields,
			// or close the modal. Updates take milliseconds, well inside 3 s;
			// HandleViewSubmission bounds itself.
			resp := in.HandleViewSubmission(r.Context(), cb)
			w.Header().Set("Content-Type", "application/json")
			if resp == nil {
				w.WriteHeader(http.StatusOK)
				return
			}
			_ = json.NewEncoder(w).Encode(resp)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
}

// actor maps the Slack user to a coordinator, or says why not.
func (in *Interactions) actor(userID string) (string, bool) {
	name, ok := in.Coordinators[userID]
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%s (slack %s)", name, userID), true
}

// clickAction names one click for the register: a block action's
// action_ts (when the user clicked) with the button and the user. It is the
// same when Slack delivers the payload again (Socket Mode redelivers an
// envelope it did not see acknowledged) and different for every new click,
// so a redelivery is recorded once and a second click is a new action
// (which the workflow answers as already done). trigger_id stands in if
// action_ts is missing; with neither the click gets a fresh ID.
func clickAction(cb slackapi.InteractionCallback, act *slackapi.BlockAction, actor string) casework.Action {
	at := act.ActionTs
	if at == "" {
		at = cb.TriggerID
	}
	if at == "" {
		return casework.Action{By: actor}
	}
	return casework.Action{By: actor, ID: casework.ActionID("slack", cb.User.ID, "click:"+act.ActionID+":"+act.Value+":"+at)}
}

// submissionAction names one form: the modal's view ID, which Slack keeps
// for the modal's life. A form submitted again (after a timeout, or after
// an error shown in it) is the same action: recorded at most once.
func submissionAction(cb slackapi.InteractionCallback, actor string) casework.Action {
	if cb.View.ID == "" {
		return casework.Action{By: actor}
	}
	return casework.Action{By: actor, ID: casework.ActionID("slack", cb.User.ID, "view:"+cb.View.ID)}
}

// tell sends the user an ephemeral message in the channel they clicked in.
func (in *Interactions) tell(ctx context.Context, cb slackapi.InteractionCallback, text string) {
	if _, err := in.Client.PostEphemeralContext(ctx, cb.Channel.ID, cb.User.ID, slackapi.MsgOptionText(text, false)); err != nil {
		in.Logger.Warn("slack: ephemeral reply failed", "user", cb.User.ID, "error", err)
	}
}

// HandleBlockAction handles one button click, within clickTimeout.
func (in *Interactions) HandleBlockAction(ctx context.Context, cb slackapi.InteractionCallback) {
	ctx, cancel := context.WithTimeout(ctx, clickTimeout)
	defer cancel()
	if len(cb.ActionCallback.BlockActions) == 0 {
		return
	}
	act := cb.ActionCallback.BlockActions[0]
	action, ok := strings.CutPrefix(act.ActionID, slack.ActionIDPrefix)
	if !ok {
		return
	}
	actor, ok := in.actor(cb.User.ID)
	if !ok {
		in.tell(ctx, cb, "Sorry, only DSR coordinators can act on register prompts. Ask your DSR manager if you need access.")
		return
	}
	taskID, err := strconv.ParseInt(act.Value, 10, 64)
	if err != nil {
		return
	}
	task, err := in.Records.Task(ctx, taskID)
	if errors.Is(err, store.ErrNotFound) {
		in.tell(ctx, cb, "That prompt could not be found on the register.")
		return
	}
	if err != nil {
		in.Logger.Warn("slack: reading a clicked task failed", "task_id", taskID, "error", err)
		in.tell(ctx, cb, unreadable)
		return
	}
	if task.Status != register.TaskStatusOpen {
		in.tell(ctx, cb, slack.AlreadyDoneText(task, in.Zone))
		return
	}
	by := clickAction(cb, act, actor)
	switch register.Action(action) {
	case slack.ActionAssignMe:
		if _, err := in.Casework.Assign(ctx, task.PersonID, in.Coordinators[cb.User.ID], by); err != nil {
			in.tell(ctx, cb, explain(err))
			return
		}
		in.tell(ctx, cb, register.Reference(task.PersonID)+" is now assigned to you: their prompts will come to you directly.")
	case register.ActionConfirmRating:
		if _, err := in.Casework.ConfirmReview(ctx, task.PersonID, "confirmed from Slack", by); err != nil {
			in.tell(ctx, cb, explain(err))
		}
	case register.ActionRecordConsent, register.ActionRenewConsent:
		in.openModal(ctx, cb, consentModal(task, slack.TeamToday(in.Zone, in.Now())))
	case register.ActionRate, register.ActionChangeRating:
		in.openModal(ctx, cb, ratingModal(task))
	case register.ActionCloseReferral, register.ActionRemove:
		in.openModal(ctx, cb, removalModal(task))
	case register.ActionAcknowledge:
		// One click: the alert's whole point is how fast someone answers.
		if _, err := in.Casework.AcknowledgeTask(ctx, task.ID, "acknowledged from Slack", by); err != nil {
			in.tell(ctx, cb, explain(err))
		}
	case register.ActionNotNeeded:
		if _, err := in.Casework.CompleteTask(ctx, task.ID, casework.CompleteActionRequest{NotNeeded: true, Notes: "closed as not needed from Slack"}, by); err != nil {
			in.tell(ctx, cb, explain(err))
		}
	case register.ActionMarkDone:
		// The date it happened matters (a C(E)TR held last week), so ask.
		in.openModal(ctx, cb, doneModal(task, slack.TeamToday(in.Zone, in.Now())))
	case slack.ActionHoldMbE:
		in.decideMbE(ctx, cb, task, "hold", "", by)
	case slack.ActionDeclineMbE:
		// The requester is told why, so the reason is asked for first.
		in.openModal(ctx, cb, declineModal(task))
	}
}

// decideMbE records the team's decision on the request the task is about,
// through the same casework call as the API's.
func (in *Interactions) decideMbE(ctx context.Context, cb slackapi.InteractionCallback, task store.Task, decision, reason string, by casework.Action) {
	id, ok := store.MbERequestOfTask(task)
	if !ok {
		in.tell(ctx, cb, "That prompt is not about an MbE request; nothing was changed.")
		return
	}
	if _, err := in.Casework.DecideMbE(ctx, id, decision, reason, by); err != nil {
		in.tell(ctx, cb, explain(err))
	}
}

func (in *Interactions) openModal(ctx context.Context, cb slackapi.InteractionCallback, v slackapi.ModalViewRequest) {
	if _, err := in.Client.OpenViewContext(ctx, cb.TriggerID, v); err != nil {
		in.Logger.Warn("slack: open modal failed", "user", cb.User.ID, "error", err)
		in.tell(ctx, cb, "Slack would not open the form (it allows 3 seconds); please click again.")
	}
}

// unreadable answers a click or a form whose task could not be read: the
// database did not answer, so nothing was attempted.
const unreadable = "The register could not be read just now; nothing was changed. Please try again in a moment."

// explain turns a casework error into words for the coordinator. Only when
// it is known that nothing was recorded does it say so.
func explain(err error) string {
	var ce *casework.Error
	if errors.As(err, &ce) {
		switch ce.Kind {
		case casework.Conflict:
			return "That no longer applies: " + slack.EscapeText(ce.Message)
		case casework.Invalid:
			return "That was not accepted: " + slack.EscapeText(ce.Error())
		case casework.NotFound:
			return slack.EscapeText(ce.Message)
		case casework.Unavailable:
			// The message says what is known: nothing changed, or (a
			// referral) recorded and on its way.
			return slack.Capitalise(slack.EscapeText(ce.Message)) + ". Please try again in a moment."
		}
	}
	return "The register did not answer in time: that may have been recorded. " +
		"Check the prompt (it shows who did what once it is recorded) before trying again."
}

// HandleViewSubmission handles a modal's submission within Slack's 3
// seconds. It returns nil to close the modal (only when the action was
// recorded), or a response that shows errors against fields: a form whose
// task cannot be read, or whose action did not go through, stays open
// saying why.
func (in *Interactions) HandleViewSubmission(ctx context.Context, cb slackapi.InteractionCallback) *slackapi.ViewSubmissionResponse {
	ctx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	actor, ok := in.actor(cb.User.ID)
	if !ok {
		return slackapi.NewErrorsViewSubmissionResponse(map[string]string{firstBlock(cb.View.CallbackID): "Only DSR coordinators can act on register prompts."})
	}
	by := submissionAction(cb, actor)
	if cb.View.CallbackID == modalRefer {
		return in.submitReferral(ctx, by, cb.View.State)
	}
	formError := func(msg string) *slackapi.ViewSubmissionResponse {
		return slackapi.NewErrorsViewSubmissionResponse(map[string]string{firstBlock(cb.View.CallbackID): msg})
	}
	if _, known := modalBlocks[cb.View.CallbackID]; !known {
		return formError("This form is not one the register knows; nothing was recorded. Close it and click the prompt again.")
	}
	if cb.View.State == nil {
		return formError("The form came without its answers; nothing was recorded. Please submit it again.")
	}
	taskID, err := strconv.ParseInt(cb.View.PrivateMetadata, 10, 64)
	if err != nil {
		return formError("This form does not say which prompt it is for; nothing was recorded. Close it and click the prompt again.")
	}
	task, err := in.Records.Task(ctx, taskID)
	if errors.Is(err, store.ErrNotFound) {
		return formError("This prompt is no longer on the register; nothing was recorded.")
	}
	if err != nil {
		in.Logger.Warn("slack: reading a form's task failed", "task_id", taskID, "error", err)
		return formError(unreadable)
	}
	value := func(block string) string { return stateValue(cb.View.State.Values, block) }
	switch cb.View.CallbackID {
	case modalConsent:
		decided, perr := time.Parse("2006-01-02", value("decided_on"))
		if perr != nil {
			return slackapi.NewErrorsViewSubmissionResponse(map[string]string{"decided_on": "Pick the date the decision was made."})
		}
		_, err = in.Casework.RecordConsent(ctx, task.PersonID, casework.ConsentRequest{
			Basis: register.ConsentBasis(value("basis")), GivenBy: value("given_by"), DecidedOn: decided, Notes: value("notes"),
		}, by)
	case modalRating:
		_, err = in.Casework.Rate(ctx, task.PersonID, casework.RateRequest{Rating: register.Rating(value("rating")), Rationale: value("rationale")}, by)
	case modalRemoval:
		_, err = in.Casework.Remove(ctx, task.PersonID, register.RemovalReason(value("reason")), value("notes"), by)
	case modalDone:
		doneOn, perr := doneDate(value("done_on"), slack.TeamToday(in.Zone, in.Now()))
		if perr != nil {
			return slackapi.NewErrorsViewSubmissionResponse(map[string]string{"done_on": "Pick the date it happened."})
		}
		_, err = in.Casework.CompleteTask(ctx, task.ID, casework.CompleteActionRequest{DoneOn: doneOn, Notes: value("notes")}, by)
	case modalDecline:
		id, ok := store.MbERequestOfTask(task)
		if !ok {
			return formError("This form is not about an MbE request; nothing was recorded.")
		}
		_, err = in.Casework.DecideMbE(ctx, id, string(slack.ActionDeclineMbE), value("reason"), by)
	}
	if err == nil {
		return nil
	}
	return fieldErrors(cb.View.CallbackID, err)
}

// stateValue reads a modal input (block ID, action ID "value"): a selected
// option, a picked date, or typed text.
func stateValue(values map[string]map[string]slackapi.BlockAction, block string) string {
	a := values[block]["value"]
	switch {
	case a.SelectedOption.Value != "":
		return a.SelectedOption.Value
	case a.SelectedDate != "":
		return a.SelectedDate
	}
	return strings.TrimSpace(a.Value)
}

// fieldErrors shows a casework error against the modal's fields.
func fieldErrors(callbackID string, err error) *slackapi.ViewSubmissionResponse {
	out := map[string]string{}
	var ce *casework.Error
	if errors.As(err, &ce) && ce.Kind == casework.Invalid && len(ce.Fields) > 0 {
		for field, problem := range ce.Fields {
			block := field
			if !modalHasBlock(callbackID, block) {
				block = firstBlock(callbackID)
			}
			out[block] = slack.Capitalise(strings.ReplaceAll(field, "_", " ")) + " " + problem
		}
		return slackapi.NewErrorsViewSubmissionResponse(out)
	}
	out[firstBlock(callbackID)] = explain(err)
	if !errors.As(err, &ce) || ce.Kind == casework.OutcomeUnknown {
		out[firstBlock(callbackID)] = casework.FormUnanswered
	}
	return slackapi.NewErrorsViewSubmissionResponse(out)
}

var modalBlocks = map[string][]string{
	modalConsent: {"basis", "given_by", "decided_on", "notes"},
	modalRating:  {"rating", "rationale"},
	modalRemoval: {"reason", "notes"},
	modalDone:    {"done_on", "notes"},
	modalDecline: {"reason"},
}

func firstBlock(callbackID string) string {
	if b := modalBlocks[callbackID]; len(b) > 0 {
		return b[0]
	}
	return "value"
}

func modalHasBlock(callbackID, block string) bool {
	for _, b := range modalBlocks[callbackID] {
		if b == block {
			return true
		}
	}
	return false
}

// doneDate reads the picked date. The team's today is sent as "today"
// (zero), which the register dates itself at the moment it records it, so
// a form opened before midnight and sent after still means the day it was
// done.
func doneDate(picked, today string) (time.Time, error) {
	d, err := time.Parse("2006-01-02", picked)
	if err != nil {
		return time.Time{}, err
	}
	if picked == today {
		return time.Time{}, nil
	}
	return d, nil
}
