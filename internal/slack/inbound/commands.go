package inbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/slack"
	"github.com/dsr-register/dsr/internal/store"
)

// The /dsr slash command:
//
//	/dsr refer              open a modal for a phone referral (coordinators)
//	/dsr status DSR-1042    one person (coordinators and managers)
//	/dsr tasks              open tasks (coordinators and managers)
//	/dsr help

const modalRefer = "dsr:refer"

const commandHelp = "*/dsr* commands:\n" +
	"• `/dsr refer` — record a phone referral\n" +
	"• `/dsr status DSR-1042` — one person's stage, rating, next review and open tasks\n" +
	"• `/dsr tasks` — open tasks, most urgent first\n" +
	"• `/dsr help` — this message"

// CommandsHandler serves POST /slack/commands. Wrap it in the Verifier's
// Middleware.
func (in *Interactions) CommandsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cmd, err := slackapi.SlashCommandParse(r)
		if err != nil {
			http.Error(w, "not a slash command", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(in.HandleCommand(r.Context(), cmd))
	})
}

// HandleCommand answers a slash command with an ephemeral message (the
// refer modal is opened as a side effect), within Slack's 3 seconds.
func (in *Interactions) HandleCommand(ctx context.Context, cmd slackapi.SlashCommand) *slackapi.Msg {
	ctx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	reply := func(text string) *slackapi.Msg {
		return &slackapi.Msg{ResponseType: slackapi.ResponseTypeEphemeral, Text: text}
	}
	verb, arg, _ := strings.Cut(strings.TrimSpace(cmd.Text), " ")
	_, coordinator := in.actor(cmd.UserID)
	_, manager := in.Managers[cmd.UserID]
	switch strings.ToLower(verb) {
	case "", "help":
		return reply(commandHelp)
	case "refer":
		if !coordinator {
			return reply("Sorry, only DSR coordinators can record referrals here.")
		}
		if _, err := in.Client.OpenViewContext(ctx, cmd.TriggerID, referModal(in.Now())); err != nil {
			in.Logger.Warn("slack: open referral modal failed", "user", cmd.UserID, "error", err)
			return reply("Slack would not open the referral form; please try again.")
		}
		return reply("Opening the referral form…")
	case "status":
		if !coordinator && !manager {
			return reply("Sorry, only DSR coordinators and managers can look people up.")
		}
		return reply(in.statusText(ctx, strings.TrimSpace(arg), in.reader(cmd.UserID)))
	case "tasks":
		if !coordinator && !manager {
			return reply("Sorry, only DSR coordinators and managers can see tasks.")
		}
		return reply(in.tasksText(ctx, in.Coordinators[cmd.UserID], in.reader(cmd.UserID)))
	}
	return reply(fmt.Sprintf("I don't know `/dsr %s`.\n%s", slack.EscapeText(verb), commandHelp))
}

// reader names who looks a person up, for the audit: a coordinator as
// their actions are audited, a manager the same way.
func (in *Interactions) reader(userID string) string {
	if name, ok := in.actor(userID); ok {
		return name
	}
	return fmt.Sprintf("%s (slack %s)", in.Managers[userID], userID)
}

// viewRecorder is the register's read audit (the store has it).
type viewRecorder interface {
	RecordView(ctx context.Context, v store.View) error
	RecordListing(ctx context.Context, l store.Listing) error
}

func (in *Interactions) statusText(ctx context.Context, ref, reader string) string {
	id, err := register.ParseReference(ref)
	if err != nil {
		return "Give a register reference, for example `/dsr status DSR-1042`."
	}
	p, err := in.Records.Person(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "No person " + register.Reference(id) + " on the register."
	}
	if err != nil {
		return "The register could not be read just now; please try again."
	}
	// Every read is audited, Slack's too; an unaudited read is not allowed,
	// so if the audit cannot be written nothing is shown.
	views, ok := in.Records.(viewRecorder)
	if !ok || views.RecordView(ctx, store.View{Actor: reader, PersonID: p.ID, Via: store.ViaSlack, What: "record"}) != nil {
		return "The register could not record this look-up, so it shows nothing (every read is audited); please try again."
	}
	lines := []string{fmt.Sprintf("*%s* (%s) · %s · %s", register.Reference(p.ID), slack.EscapeText(p.Person().Initials()), p.Stage, slack.RatingLabel(p.Rating))}
	if p.NextReviewDue != nil && p.Stage == register.Active {
		lines = append(lines, "Next review: "+slack.DayAndTime(in.Zone, *p.NextReviewDue))
	}
	if p.ConsentExpiresAt != nil && p.Stage != register.Removed {
		lines = append(lines, fmt.Sprintf("Consent: %s, expires %s", p.ConsentBasis, slack.DayAndTime(in.Zone, *p.ConsentExpiresAt)))
	}
	if p.RemovalReason != "" {
		lines = append(lines, "Removed: "+string(p.RemovalReason))
	}
	tasks, err := in.Records.ListTasks(ctx, store.TaskFilter{Status: string(register.TaskStatusOpen), PersonID: p.ID, Now: in.Now()})
	if err == nil {
		for _, t := range tasks {
			lines = append(lines, "• "+taskLine(t, in.Zone))
		}
	}
	return strings.Join(lines, "\n")
}

// tasksText lists the caller's open tasks (people assigned to them) and
// counts the team's unassigned ones; a manager, assigned nobody, sees all.
func (in *Interactions) tasksText(ctx context.Context, me, reader string) string {
	filter := store.TaskFilter{Status: string(register.TaskStatusOpen), Now: in.Now()}
	if me != "" {
		filter.AssignedTo = &me
	}
	tasks, err := in.Records.ListTasks(ctx, filter)
	if err != nil {
		return "The register could not be read just now; please try again."
	}
	// A list is audited once, as the API's are; unaudited, nothing is shown.
	mine := "false"
	if me != "" {
		mine = "true"
	}
	audit, ok := in.Records.(viewRecorder)
	if !ok || audit.RecordListing(ctx, store.Listing{Actor: reader, Via: store.ViaSlack, List: "tasks",
		Filters: map[string]string{"status": "open", "mine": mine}, Count: len(tasks)}) != nil {
		return "The register could not record this look-up, so it shows nothing (every read is audited); please try again."
	}
	unassigned := ""
	if me != "" {
		none := ""
		team, err := in.Records.ListTasks(ctx, store.TaskFilter{Status: string(register.TaskStatusOpen), AssignedTo: &none, Now: in.Now()})
		if err == nil && len(team) > 0 {
			unassigned = fmt.Sprintf("\n%d more open for people not yet assigned: see the team channel.", len(team))
		}
	}
	if len(tasks) == 0 {
		return "You have no open tasks. :tada:" + unassigned
	}
	lines := []string{fmt.Sprintf("*Your %d open tasks*, soonest due first:", len(tasks))}
	if me == "" {
		lines[0] = fmt.Sprintf("*%d open tasks*, soonest due first:", len(tasks))
	}
	for i, t := range tasks {
		if i == 20 {
			lines = append(lines, fmt.Sprintf("…and %d more in the task list.", len(tasks)-20))
			break
		}
		ref := register.Reference(t.PersonID)
		if t.PersonID == 0 {
			// An identity check belongs to no one until it is answered.
			ref = "a referral:"
		}
		lines = append(lines, "• "+ref+" "+taskLine(t, in.Zone))
	}
	return strings.Join(lines, "\n") + unassigned
}

func taskLine(t store.Task, zone *time.Location) string {
	s := strings.ReplaceAll(string(t.Kind), "_", " ")
	if t.DueAt != nil {
		s += ", due " + slack.DayAndTime(zone, *t.DueAt)
	}
	if t.Overdue {
		s += " :warning: overdue"
	}
	return s
}

// referModal is the phone referral form.
func referModal(now time.Time) slackapi.ModalViewRequest {
	text := func(block, label string, optional bool) *slackapi.InputBlock {
		return input(block, label, slackapi.NewPlainTextInputBlockElement(nil, "value"), optional)
	}
	dob := slackapi.NewDatePickerBlockElement("value")
	diagnoses := slackapi.NewCheckboxGroupsBlockElement("value", options([]register.Choice{
		{Value: "learning_disability", Label: "Learning disability"}, {Value: "autism", Label: "Autism"}})...)
	kind := choice("Who is referring", []register.Choice{
		{Value: "professional", Label: "A professional"}, {Value: "self", Label: "The person themselves"},
		{Value: "family", Label: "Family or carer"}})
	return slackapi.ModalViewRequest{
		Type: slackapi.VTModal, CallbackID: modalRefer, Title: plain("Phone referral"),
		Submit: plain("Refer"), Close: plain("Cancel"), PrivateMetadata: now.Format(time.RFC3339),
		Blocks: slackapi.Blocks{BlockSet: []slackapi.Block{
			text("given_name", "Given name", false), text("family_name", "Family name", false),
			input("date_of_birth", "Date of birth", dob, false), text("nhs_number", "NHS number", false),
			input("diagnoses", "Diagnoses", diagnoses, false),
			text("local_authority", "Local authority", true), text("postcode", "Postcode", true),
			input("referrer_kind", "Referrer", kind, false), text("referrer_name", "Referrer's name", true),
			text("referrer_organisation", "Referrer's organisation", true), text("referrer_phone", "Referrer's phone", true),
			input("reason", "Reason", textArea("Why the person is at risk of admission"), false),
		}},
	}
}

// submitReferral records a referral from the refer modal. The modal's view
// ID is the referral's idempotency key: the form submitted again after a
// timeout records one referral.
func (in *Interactions) submitReferral(ctx context.Context, by casework.Action, state *slackapi.ViewState) *slackapi.ViewSubmissionResponse {
	if state == nil {
		return slackapi.NewErrorsViewSubmissionResponse(map[string]string{"given_name": "The form came without its answers; nothing was recorded. Please submit it again."})
	}
	values := state.Values
	v := func(block string) string { return stateValue(values, block) }
	dob, _ := time.Parse("2006-01-02", v("date_of_birth"))
	ref := register.Referral{
		Person: register.Person{GivenName: v("given_name"), FamilyName: v("family_name"), DateOfBirth: dob,
			NHSNumber: v("nhs_number"), LocalAuthority: v("local_authority"), Postcode: v("postcode")},
		Referrer: register.Referrer{Kind: register.ReferrerKind(v("referrer_kind")), Name: v("referrer_name"),
			Organisation: v("referrer_organisation"), Phone: v("referrer_phone")},
		Channel: register.ChannelPhone,
		Reason:  v("reason"),
	}
	for _, o := range values["diagnoses"]["value"].SelectedOptions {
		ref.Person.Diagnoses = append(ref.Person.Diagnoses, register.Diagnosis(o.Value))
	}
	_, err := in.Casework.Refer(ctx, ref, by)
	if err == nil {
		return nil
	}
	var ce *casework.Error
	if errors.As(err, &ce) && ce.Kind == casework.Invalid {
		out := map[string]string{}
		for field, problem := range ce.Fields {
			block := strings.NewReplacer("person.", "", "referrer.", "referrer_").Replace(field)
			if block == "referrer_kind" || referBlock(block) {
				out[block] = problem
			} else {
				out["given_name"] = field + " " + problem
			}
		}
		return slackapi.NewErrorsViewSubmissionResponse(out)
	}
	msg := explain(err)
	if ce == nil || ce.Kind == casework.OutcomeUnknown {
		msg = casework.FormUnanswered
	}
	return slackapi.NewErrorsViewSubmissionResponse(map[string]string{"given_name": msg})
}

func referBlock(b string) bool {
	switch b {
	case "given_name", "family_name", "date_of_birth", "nhs_number", "diagnoses", "local_authority", "postcode",
		"referrer_name", "referrer_organisation", "referrer_phone", "reason":
		return true
	}
	return false
}
