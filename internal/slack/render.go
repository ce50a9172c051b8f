// Package slack puts the register's tasks in front of coordinators in Slack:
// each task is one message whose buttons drive the person's workflow, edited
// in place when the task closes, so the channel reads as a live log.
//
// Slack text carries the register reference (DSR-1042), initials and the
// rating, and a link to the record. Full names only when the deployment
// opts in (SLACK_SHOW_NAMES); never NHS numbers or dates of birth.
package slack

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/London without relying on the image's zone files

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
	// AssignedTo is the coordinator the person is assigned to, if any.
	AssignedTo string
}

// ActionAssignMe is the Slack-only action that assigns the person to
// whoever clicks; it is offered on every open prompt.
const ActionAssignMe = "assign_me"

// Reference is the register reference shown to people.
func (p Prompt) Reference() string { return register.Reference(p.PersonID) }

// who names the person as far as Slack may: reference, then initials or
// the full name where the deployment allows it.
func (p Prompt) who() string {
	name := p.Initials
	if p.FullName != "" {
		name = p.FullName
	}
	ref := p.Reference()
	if p.RecordURL != "" {
		ref = fmt.Sprintf("<%s|%s>", p.RecordURL, ref)
	}
	if name == "" {
		return ref
	}
	return ref + " (" + name + ")"
}

// london is loaded once: every message formats dates with it. time/tzdata
// is embedded, so it never falls back to UTC for want of zone files.
var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return loc
}()

// londonDay formats a due date the way a coordinator reads it.
func londonDay(t time.Time) string {
	return t.In(london).Format("Mon 2 Jan 2006 15:04")
}

// closedBy says who closed a task and when, in words: the register itself
// for what its timers did.
func closedBy(t store.Task) (by, when string) {
	by = t.ClosedBy
	if by == workflows.TimerActor {
		by = "the register"
	}
	if t.ClosedAt != nil {
		when = " at " + londonDay(*t.ClosedAt)
	}
	return by, when
}

func ratingLabel(r register.Rating) string {
	if r == "" {
		return "not yet rated"
	}
	return strings.ToUpper(string(r))
}

// headline and why say what is needed and why, per kind of task.
func (p Prompt) headline() (title, why string) {
	due := ""
	if p.Task.DueAt != nil {
		due = londonDay(*p.Task.DueAt)
	}
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
		return "Rating review due", "The " + ratingLabel(p.Rating) + " rating is due for review by " + due + ". Confirm it or change it."
	case register.TaskConsentRenewal:
		return "Consent renewal due", "Consent expires on " + due + ". Renew it, or the person's reviews stop when it lapses."
	case register.TaskConsentLapsed:
		return "Consent has lapsed", "Reviews have stopped. Renew consent by " + due + " or the person is removed from the register."
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
}

// OpenBlocks renders an open task: what, by when, why, and a button per
// action the task allows. text is the notification fallback.
func OpenBlocks(p Prompt, now time.Time) (text string, blocks []slackapi.Block) {
	title, why := p.headline()
	text = fmt.Sprintf("%s: %s", title, p.Reference())
	header := fmt.Sprintf("*%s* · %s · %s", title, p.who(), ratingLabel(p.Rating))
	if p.Task.Overdue || (p.Task.DueAt != nil && now.After(*p.Task.DueAt)) {
		header += " · :warning: *overdue*"
	}
	if p.AssignedTo != "" {
		why += " Assigned to " + p.AssignedTo + "."
	}
	blocks = []slackapi.Block{
		slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, header, false, false), nil, nil),
		slackapi.NewContextBlock("", slackapi.NewTextBlockObject(slackapi.MarkdownType, why, false, false)),
	}
	var buttons []slackapi.BlockElement
	for _, a := range p.Task.Actions {
		b, ok := buttonLabels[a]
		if !ok {
			continue
		}
		btn := slackapi.NewButtonBlockElement(ActionIDPrefix+string(a), strconv.FormatInt(p.Task.ID, 10),
			slackapi.NewTextBlockObject(slackapi.PlainTextType, b.label, false, false))
		btn.Style = b.style
		buttons = append(buttons, btn)
	}
	if len(buttons) > 0 {
		if p.AssignedTo == "" {
			buttons = append(buttons, slackapi.NewButtonBlockElement(ActionIDPrefix+ActionAssignMe, strconv.FormatInt(p.Task.ID, 10),
				slackapi.NewTextBlockObject(slackapi.PlainTextType, "Assign to me", false, false)))
		}
		blocks = append(blocks, slackapi.NewActionBlock(fmt.Sprintf("task-%d", p.Task.ID), buttons...))
	}
	return text, blocks
}

// ClosedBlocks renders a closed task: the outcome, who and when, and no
// buttons, so a late click has nothing to press.
func ClosedBlocks(p Prompt) (text string, blocks []slackapi.Block) {
	title, _ := p.headline()
	mark := ":white_check_mark:"
	if p.Task.Status == register.TaskStatusCancelled {
		mark = ":heavy_multiplication_x:"
	}
	by, when := closedBy(p.Task)
	text = fmt.Sprintf("%s: %s — %s", title, p.Reference(), p.Task.Outcome)
	blocks = []slackapi.Block{
		slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType,
			fmt.Sprintf("%s ~%s~ · %s · %s", mark, title, p.who(), ratingLabel(p.Rating)), false, false), nil, nil),
		slackapi.NewContextBlock("", slackapi.NewTextBlockObject(slackapi.MarkdownType,
			fmt.Sprintf("%s by %s%s", capitalise(p.Task.Outcome), by, when), false, false)),
	}
	return text, blocks
}

// ReminderText is the threaded chaser under an overdue task's message.
func ReminderText(p Prompt, now time.Time) string {
	title, _ := p.headline()
	if p.Task.DueAt != nil && now.After(*p.Task.DueAt) {
		return fmt.Sprintf(":bell: Reminder: %s for %s was due %s and is overdue.", strings.ToLower(title), p.Reference(), londonDay(*p.Task.DueAt))
	}
	return fmt.Sprintf(":bell: Reminder: %s for %s.", strings.ToLower(title), p.Reference())
}

func capitalise(s string) string {
	if s == "" {
		return "Closed"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
