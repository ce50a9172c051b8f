// Package slack puts the register's tasks in front of coordinators in Slack:
// each task is one message whose buttons drive the person's workflow, edited
// in place when the task closes, so the channel reads as a live log.
//
// Slack text carries the register reference (DSR-1042), initials and the
// rating, and a link to the record. Full names only when the deployment
// opts in (SLACK_SHOW_NAMES); never NHS numbers or dates of birth.
//
// This package is what is said and when to say it (rendering, the
// notifier, posting once). Delivery within Slack's limits is package
// pacer; what Slack sends back (clicks, modals, /dsr, request signatures,
// Socket Mode) is package inbound.
package slack

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the team's zone without relying on the image's zone files

	slackapi "github.com/slack-go/slack"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/workflows"
)

// ActionIDPrefix starts every button's action_id: "dsr:<action>". The
// button's value is the task ID.
const ActionIDPrefix = "dsr:"

// Prompt is what a task's message may show.
type Prompt struct {
	Task      store.Task
	PersonID  int64
	Initials  string
	FullName  string // empty unless SLACK_SHOW_NAMES
	Rating    register.Rating
	RecordURL string
	// TaskURL links a task that belongs to no person (an MbE decision, an
	// identity check) to its page on the web (DSR_PUBLIC_URL/tasks/<id>).
	TaskURL string
	// AssignedTo is the coordinator the person is assigned to, if any.
	AssignedTo string
	// Expected, for a red alert, are its escalation's required actions
	// still open: the alert lists them so whoever acknowledges sees what
	// national policy now expects.
	Expected []store.Task
	// Alerts, for a re-alert or the managers' message about one, is the
	// number of alerts as of the notification (0: as the task stands).
	Alerts int
	// Zone is the team's time zone, which every date is shown in; nil
	// means the register's default (Europe/London).
	Zone *time.Location
}

// IsAlert reports whether the prompt is a red alert, which goes to the
// alerts channel ahead of routine messages and is acknowledged, not done.
func (p Prompt) IsAlert() bool { return p.Task.Kind == register.TaskEscalationAlert }

// ActionAssignMe is the Slack-only action that assigns the person to
// whoever clicks; it is offered on every open prompt.
const ActionAssignMe = "assign_me"

// Reference is the register reference shown to people. A task with no
// person yet is named by itself: an MbE decision by its request (MBE-12),
// anything else by the task's number, never by whoever it may be about.
func (p Prompt) Reference() string {
	if p.PersonID != 0 {
		return register.Reference(p.PersonID)
	}
	if id, ok := store.MbERequestOfTask(p.Task); ok {
		return fmt.Sprintf("MBE-%d", id)
	}
	return fmt.Sprintf("task %d", p.Task.ID)
}

// personless reports whether the task belongs to no person (yet): its
// message has no one to name, no rating and nobody to assign.
func (p Prompt) personless() bool { return p.PersonID == 0 }

// ratingPart is " · <rating>" for a person's task, "" for a person-less one.
func (p Prompt) ratingPart() string {
	if p.personless() {
		return ""
	}
	return " · " + RatingLabel(p.Rating)
}

// who names the person as far as Slack may: reference, then initials or
// the full name where the deployment allows it.
func (p Prompt) who() string {
	if p.personless() {
		return link(p.TaskURL, p.Reference())
	}
	name := p.Initials
	if p.FullName != "" {
		name = p.FullName
	}
	ref := link(p.RecordURL, p.Reference())
	if name == "" {
		return ref
	}
	// A name is whatever a referrer typed: as text, never as markup
	// ("<!channel>" or a disguised link stays visible and inert).
	return ref + " (" + EscapeText(name) + ")"
}

// defaultZone is the register's default working time zone
// (DSR_WORKING_TIMEZONE's default), for a Notifier or Interactions given no
// Zone. time/tzdata is embedded, so it never falls back to UTC for want of
// zone files.
var defaultZone = register.DefaultPolicy().Zone()

// teamZone is zone, the team's time zone (DSR_WORKING_TIMEZONE), or the
// default when none was given. Every date in a message is read in it.
func teamZone(zone *time.Location) *time.Location {
	if zone == nil {
		return defaultZone
	}
	return zone
}

// dayAndTime formats a due time the way a coordinator reads it, in the
// team's zone.
func DayAndTime(zone *time.Location, t time.Time) string {
	return t.In(teamZone(zone)).Format("Mon 2 Jan 2006 15:04")
}

// dayOnly formats a deadline counted in days (a C(E)TR, a meeting), where
// the hour would be false precision, in the team's zone.
func dayOnly(zone *time.Location, t time.Time) string {
	return t.In(teamZone(zone)).Format("Mon 2 Jan 2006")
}

// teamToday is the team's calendar date at now, as a date picker shows it.
func TeamToday(zone *time.Location, now time.Time) string {
	return now.In(teamZone(zone)).Format("2006-01-02")
}

// due is the task's due time in words, or "" when it has none.
func (p Prompt) due() string {
	if p.Task.DueAt == nil {
		return ""
	}
	return DayAndTime(p.Zone, *p.Task.DueAt)
}

// closedBy says who closed a task and when, in words: the register itself
// for what its timers did.
func ClosedBy(t store.Task, zone *time.Location) (by, when string) {
	by = EscapeText(t.ClosedBy)
	if t.ClosedBy == workflows.TimerActor {
		by = "the register"
	}
	if t.ClosedAt != nil {
		when = " at " + DayAndTime(zone, *t.ClosedAt)
	}
	return by, when
}

func RatingLabel(r register.Rating) string {
	if r == "" {
		return "not yet rated"
	}
	return strings.ToUpper(string(r))
}

// headline and why say what is needed and why, per kind of task.
func (p Prompt) Headline() (title, why string) {
	due := p.due()
	switch p.Task.Kind {
	case register.TaskConsentNeeded:
		return "New referral needs consent",
			"The register is consent based: record the person's consent (or a best-interest decision, or a parent's consent under 16) by " + due + "."
	case register.TaskReferralChase:
		return "Referral still waiting for consent",
			"No consent has been recorded since the referral. Chase it, or close the referral."
	case register.TaskReviewDue:
		if p.Rating == "" {
			return "First rating needed", "Consent is recorded. Rate the person's risk of admission by " + due + "."
		}
		return "Rating review due", "The " + RatingLabel(p.Rating) + " rating is due for review by " + due + ". Confirm it or change it."
	case register.TaskConsentRenewal:
		return "Consent renewal due", "Consent expires on " + due + ". Renew it, or the person's reviews stop when it lapses."
	case register.TaskConsentLapsed:
		return "Consent has lapsed", "Reviews have stopped. Renew consent by " + due + " or the person is removed from the register."
	case register.TaskEscalationAlert:
		return "RED alert", "Rated red: immediate risk of admission. Acknowledge by " + due + "; until someone does, the alert is re-sent and the managers are told."
	case register.TaskCommunityCTR:
		return "Community C(E)TR needed", "Rated red: a community Care (Education) and Treatment Review must take place by " + due + ". Mark it done with the date it was held."
	case register.TaskKeyworkerReferral:
		return "Keyworker referral needed", "Aged 0–25 and at risk of admission: refer to the keyworker service by " + due + ". Mark it done with the date the referral was made."
	case register.TaskMultiAgencyMeeting:
		return "Multi-agency meeting where needed", "Rated red: hold a multi-agency meeting by " + due + " if one is needed, or close it as not needed."
	case register.TaskAmberMeeting:
		return "Multi-agency meeting or C(E)TR needed", "Rated amber: a multi-agency meeting and/or a community C(E)TR by " + due + ". Mark it done with the date it was held."
	case register.TaskPostAdmissionCTR:
		return "Post-admission C(E)TR needed", "Admitted to hospital (blue): the C(E)TR after admission must take place by " + due + ". Mark it done with the date it was held."
	case register.TaskInpatientCTR:
		return "Inpatient C(E)TR due", "In hospital (blue): the next inpatient C(E)TR is due by " + due + ". Mark it done with the date it was held."
	case register.TaskMeetingAction:
		// What the action is and who owns it stay in the record: follow
		// the link.
		return "Meeting action due", "An action agreed at a meeting is due by " + due + ". The record says what and who; mark it done once it is."
	case store.TaskMbEDecision:
		// The request's details (who it is about, why) stay on the task
		// page: Slack carries the reference only.
		return "MbE request needs a decision", "A complete MbE request is waiting for the team: hold it, or decline it with a reason, by " + due + ". The requester is emailed either way."
	case register.TaskIdentityCheck:
		return "A referral needs an identity check", "A referral may be about someone already on the register. Compare the two on the task page and decide by " + due + "."
	case register.TaskMeetingOutcomeDue:
		return "Meeting outcome needed", "A meeting has passed with no outcome recorded. Record whether it was held, its notes and the actions agreed, by " + due + "."
	}
	return string(p.Task.Kind), ""
}

var buttonLabels = map[register.Action]struct {
	label string
	style slackapi.Style
}{
	register.ActionRecordConsent: {"Record consent", slackapi.StylePrimary},
	register.ActionRenewConsent:  {"Renew consent", slackapi.StylePrimary},
	register.ActionRate:          {"Rate", slackapi.StylePrimary},
	register.ActionConfirmRating: {"Confirm rating", slackapi.StylePrimary},
	register.ActionChangeRating:  {"Change rating", slackapi.StyleDefault},
	register.ActionCloseReferral: {"Close referral", slackapi.StyleDanger},
	register.ActionRemove:        {"Remove from register", slackapi.StyleDanger},
	register.ActionAcknowledge:   {"Acknowledge", slackapi.StylePrimary},
	register.ActionMarkDone:      {"Mark done", slackapi.StylePrimary},
	register.ActionNotNeeded:     {"Not needed", slackapi.StyleDefault},
	ActionHoldMbE:                {"Hold", slackapi.StylePrimary},
	ActionDeclineMbE:             {"Decline", slackapi.StyleDanger},
}

// The MbE decision task's actions (the store opens it with these), which
// casework's DecideMbE takes as its decision.
const (
	ActionHoldMbE    register.Action = "hold"
	ActionDeclineMbE register.Action = "decline"
)

// button is one action's button; its value is the task ID.
func button(a register.Action, taskID int64) (*slackapi.ButtonBlockElement, bool) {
	b, ok := buttonLabels[a]
	if !ok {
		return nil, false
	}
	btn := slackapi.NewButtonBlockElement(ActionIDPrefix+string(a), strconv.FormatInt(taskID, 10),
		slackapi.NewTextBlockObject(slackapi.PlainTextType, b.label, false, false))
	btn.Style = b.style
	return btn, true
}

// OpenBlocks renders an open task: what, by when, why, and a button per
// action the task allows. text is the notification fallback.
func OpenBlocks(p Prompt, now time.Time) (text string, blocks []slackapi.Block) {
	if p.IsAlert() {
		return alertBlocks(p, now)
	}
	title, why := p.Headline()
	text = fmt.Sprintf("%s: %s", title, p.Reference())
	header := fmt.Sprintf("*%s* · %s%s", title, p.who(), p.ratingPart())
	if p.Task.Overdue || (p.Task.DueAt != nil && now.After(*p.Task.DueAt)) {
		header += " · :warning: *overdue*"
	}
	if p.AssignedTo != "" {
		why += " Assigned to " + EscapeText(p.AssignedTo) + "."
	}
	blocks = []slackapi.Block{
		slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, header, false, false), nil, nil),
		slackapi.NewContextBlock("", slackapi.NewTextBlockObject(slackapi.MarkdownType, why, false, false)),
	}
	var buttons []slackapi.BlockElement
	for _, a := range p.Task.Actions {
		if btn, ok := button(a, p.Task.ID); ok {
			buttons = append(buttons, btn)
		}
	}
	if len(buttons) > 0 {
		if p.AssignedTo == "" && !p.personless() {
			buttons = append(buttons, slackapi.NewButtonBlockElement(ActionIDPrefix+ActionAssignMe, strconv.FormatInt(p.Task.ID, 10),
				slackapi.NewTextBlockObject(slackapi.PlainTextType, "Assign to me", false, false)))
		}
		blocks = append(blocks, slackapi.NewActionBlock(fmt.Sprintf("task-%d", p.Task.ID), buttons...))
	}
	return text, blocks
}

// alertTitle is how a red alert reads at a glance, in the channel and in
// the notification.
const alertTitle = "RED — immediate risk of admission"

// expectedActions are the actions national policy expects for red, in the
// order the alert lists them.
var expectedActions = []struct {
	kind register.TaskKind
	line string
}{
	{register.TaskCommunityCTR, "A community C(E)TR must take place"},
	{register.TaskKeyworkerReferral, "Referral to the keyworker service (aged 0–25)"},
	{register.TaskMultiAgencyMeeting, "A multi-agency meeting where needed"},
}

// alertBlocks renders an open red alert: unmistakably red, who, the
// acknowledgement deadline, what national policy expects with each
// deadline, and one button. There is no "Assign to me": the alert asks
// for acknowledgement, and the actions' own prompts offer assignment.
func alertBlocks(p Prompt, now time.Time) (text string, blocks []slackapi.Block) {
	text = fmt.Sprintf(":rotating_light: %s: %s — acknowledge by %s", alertTitle, p.Reference(), p.due())
	header := fmt.Sprintf(":rotating_light: *%s* · %s · Acknowledge by %s", alertTitle, p.who(), p.due())
	if p.Task.Overdue || (p.Task.DueAt != nil && now.After(*p.Task.DueAt)) {
		header += " · :warning: *not acknowledged in time*"
	}
	blocks = []slackapi.Block{slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, header, false, false), nil, nil)}
	if list := expectedList(p.Expected, p.Zone); list != "" {
		blocks = append(blocks, slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType,
			"National policy expects:\n"+list, false, false), nil, nil))
	}
	why := "Acknowledge to show a coordinator has this in hand: until someone does, the alert is re-sent and the managers are told."
	if p.AssignedTo != "" {
		why += " Assigned to " + EscapeText(p.AssignedTo) + "."
	}
	blocks = append(blocks, slackapi.NewContextBlock("", slackapi.NewTextBlockObject(slackapi.MarkdownType, why, false, false)))
	if btn, ok := button(register.ActionAcknowledge, p.Task.ID); ok && slices.Contains(p.Task.Actions, register.ActionAcknowledge) {
		blocks = append(blocks, slackapi.NewActionBlock(fmt.Sprintf("task-%d", p.Task.ID), btn))
	}
	return text, blocks
}

// expectedList is one line per open required action, in policy order:
// "• A community C(E)TR must take place — by Tue 8 Dec 2026".
func expectedList(tasks []store.Task, zone *time.Location) string {
	var lines []string
	for _, e := range expectedActions {
		for _, t := range tasks {
			if t.Kind != e.kind {
				continue
			}
			line := "• " + e.line
			if t.DueAt != nil {
				line += " — by " + dayOnly(zone, *t.DueAt)
			}
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// ClosedBlocks renders a closed task: the outcome, who and when, and no
// buttons, so a late click has nothing to press.
func ClosedBlocks(p Prompt) (text string, blocks []slackapi.Block) {
	title, _ := p.Headline()
	mark := ":white_check_mark:"
	if p.Task.Status == register.TaskStatusCancelled {
		mark = ":heavy_multiplication_x:"
	}
	by, when := ClosedBy(p.Task, p.Zone)
	// The outcome can carry what a coordinator typed (notes, a reason).
	outcome := EscapeText(p.Task.Outcome)
	text = fmt.Sprintf("%s: %s — %s", title, p.Reference(), outcome)
	blocks = []slackapi.Block{
		slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType,
			fmt.Sprintf("%s ~%s~ · %s%s", mark, title, p.who(), p.ratingPart()), false, false), nil, nil),
		slackapi.NewContextBlock("", slackapi.NewTextBlockObject(slackapi.MarkdownType,
			fmt.Sprintf("%s by %s%s", Capitalise(outcome), by, when), false, false)),
	}
	return text, blocks
}

// ReminderText is the threaded chaser under an overdue task's message.
func ReminderText(p Prompt, now time.Time) string {
	title, _ := p.Headline()
	if p.Task.DueAt != nil && now.After(*p.Task.DueAt) {
		return fmt.Sprintf(":bell: Reminder: %s for %s was due %s and is overdue.", lowerFirst(title), p.Reference(), DayAndTime(p.Zone, *p.Task.DueAt))
	}
	return fmt.Sprintf(":bell: Reminder: %s for %s.", lowerFirst(title), p.Reference())
}

// alertNumber is which alert this is: the first, then one per re-alert
// (the store counts re-alerts as the task's reminders).
func (p Prompt) alertNumber() int {
	if p.Alerts > 0 {
		return p.Alerts
	}
	return p.Task.Reminders + 1
}

// AlertReminderText is the re-alert, posted in the alert's thread and
// broadcast to the channel.
func AlertReminderText(p Prompt) string {
	return fmt.Sprintf(":rotating_light: Still not acknowledged: RED alert for %s, due %s. Alert %d.", p.who(), p.due(), p.alertNumber())
}

// actionNames name the required actions in a sentence to managers.
var actionNames = map[register.TaskKind]string{
	register.TaskCommunityCTR:       "the community C(E)TR",
	register.TaskKeyworkerReferral:  "the keyworker referral",
	register.TaskMultiAgencyMeeting: "the multi-agency meeting",
	register.TaskAmberMeeting:       "the amber multi-agency meeting or C(E)TR",
	register.TaskPostAdmissionCTR:   "the post-admission C(E)TR",
	register.TaskInpatientCTR:       "the inpatient C(E)TR",
	register.TaskMeetingAction:      "an action agreed at a meeting",
}

// ManagersText tells the managers what has gone unanswered: a red alert
// nobody acknowledged, or a required action overdue. link, if not empty,
// is the prompt's Slack message.
func ManagersText(p Prompt, permalink string) string {
	var text string
	if p.IsAlert() {
		text = fmt.Sprintf(":warning: Managers: the RED alert for %s has not been acknowledged. It was due %s; %d alerts so far.",
			p.who(), p.due(), p.alertNumber())
	} else {
		name, ok := actionNames[p.Task.Kind]
		if !ok {
			name = "the " + strings.ReplaceAll(string(p.Task.Kind), "_", " ")
		}
		due := "earlier"
		if p.Task.DueAt != nil {
			due = dayOnly(p.Zone, *p.Task.DueAt)
		}
		text = fmt.Sprintf(":warning: Managers: %s for %s was due %s and is overdue.", name, p.who(), due)
	}
	if permalink != "" {
		text += " " + link(permalink, "See the message")
	}
	return text
}

// lowerFirst lowercases a title's first letter for use mid-sentence,
// leaving acronyms ("RED alert", "C(E)TR") as they are.
func lowerFirst(s string) string {
	if len(s) < 2 || strings.ToUpper(s[1:2]) == s[1:2] {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func Capitalise(s string) string {
	if s == "" {
		return "Closed"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// NeedsAttentionText tells the managers that a message could not be
// delivered and has been set aside: who it was about (the register
// reference only), what it was, and Slack's reason, with what to do.
func NeedsAttentionText(personID int64, kind string, problem, publicURL string) string {
	what := "A Slack message"
	if kind != "" {
		what = "A Slack message about a " + strings.ReplaceAll(kind, "_", " ") + " task"
	}
	text := fmt.Sprintf(":rotating_light: Managers: %s for %s could not be delivered (%s) and has been set aside. "+
		"Check the task in the register, then fix the cause (invite the bot to the channel, correct a Slack user ID).",
		what, register.Reference(personID), EscapeText(problem))
	if publicURL != "" {
		text += " " + link(publicURL+"/healthz", "Service health")
	}
	return text
}

// link is Slack's <url|text> with text escaped. The URLs dsr builds are
// the record's (DSR_PUBLIC_URL) and Slack's own permalinks; one that is not
// plain http(s), or carries a character that would end the link early, is
// left out and the text shown alone.
func link(url, text string) string {
	text = EscapeText(text)
	if url == "" || !(strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://")) ||
		strings.ContainsAny(url, "<>| \t\n\r") {
		return text
	}
	return "<" + url + "|" + text + ">"
}

// escapeText makes s plain text in a Slack message: &, < and > are the
// characters Slack reads as markup (links, mentions such as <!channel>).
func EscapeText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// AlreadyDoneText answers a stale or duplicate click with what happened.
func AlreadyDoneText(t store.Task, zone *time.Location) string {
	by, when := ClosedBy(t, zone)
	return fmt.Sprintf("Already done: %s by %s%s. Nothing was changed.", EscapeText(t.Outcome), by, when)
}
