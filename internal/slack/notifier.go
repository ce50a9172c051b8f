package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/slack/pacer"
	"github.com/dsr-register/dsr/internal/store"
)

// Poster sends messages to Slack; the Pacer is the real one (it paces per
// channel and honours 429 Retry-After).
type Poster interface {
	PostMessage(ctx context.Context, channel string, prio pacer.Priority, opts ...slackapi.MsgOption) (channelID, ts string, err error)
	UpdateMessage(ctx context.Context, channel, ts string, prio pacer.Priority, opts ...slackapi.MsgOption) error
}

// Records is what the notifier reads and writes in the register.
type Records interface {
	Task(ctx context.Context, id int64) (store.Task, error)
	Person(ctx context.Context, id int64) (store.PersonRecord, error)
	SlackMessageFor(ctx context.Context, taskID int64) (store.SlackMessage, error)
	SaveSlackMessage(ctx context.Context, m store.SlackMessage) error
	SlackReplyPosted(ctx context.Context, key string) (bool, error)
	SaveSlackReply(ctx context.Context, key string, m store.SlackMessage) error
	SlackPostAttempt(ctx context.Context, key, channel string, at time.Time) (*time.Time, error)
	PrepareAlertPost(ctx context.Context, taskID, personID int64, attempt store.PostAttempt) (store.AlertPost, error)
	ListTasks(ctx context.Context, f store.TaskFilter) ([]store.Task, error)
}

// Permalinker finds a message's permalink; *slackapi.Client is one
// (chat.getPermalink needs no scope).
type Permalinker interface {
	GetPermalinkContext(ctx context.Context, params *slackapi.PermalinkParameters) (string, error)
}

// Notifier turns task notifications into Slack messages: a message when a
// task opens, a threaded reminder when it is chased, and an edit in place
// when it closes. Red alerts go to the alerts channel ahead of routine
// writes; what goes unanswered is told to the managers.
type Notifier struct {
	Records Records
	Poster  Poster
	// Channel is the coordinators' channel, for prompts.
	Channel string
	// AlertsChannel is where red alerts go, never a DM: an alert must
	// reach whoever is on duty. Empty means Channel.
	AlertsChannel string
	// ManagersChannel, if set, is told about unacknowledged alerts and
	// overdue actions, as is each of Managers directly.
	ManagersChannel string
	// Managers maps the managers' Slack user IDs to their names.
	Managers map[string]string
	// Coordinators maps Slack user IDs to coordinator names: a person
	// assigned to one of them has their prompts sent to that user directly.
	Coordinators map[string]string
	ShowNames    bool
	// PublicURL is the service's base URL, for links to the record.
	PublicURL string
	// Links, if set, links the managers' messages to the prompt in
	// question; without it they go unlinked.
	Links Permalinker
	// History, if set, lets a post that may already have gone (dsr
	// stopped between Slack accepting it and dsr recording it) be found
	// instead of posted twice.
	History History
	// Zone is the team's time zone (DSR_WORKING_TIMEZONE): every date in
	// a message is shown in it. nil means the register's default.
	Zone   *time.Location
	Logger *slog.Logger
	Now    func() time.Time
}

// Notify handles one notification. It is safe to call again with the same
// notification (activities retry): a task posted once is never posted again.
func (n *Notifier) Notify(ctx context.Context, note notify.Notification) error {
	if note.Event == notify.Digest || note.Event == notify.ImportSummary {
		post := n.postDigest
		if note.Event == notify.ImportSummary {
			post = n.postImportSummary
		}
		err := post(ctx, note)
		if code, ok := refused(err); ok {
			return notify.RefusedBecause(code, err)
		}
		return err
	}
	if note.TaskID == 0 && note.Event != notify.NeedsAttention {
		return nil // stage changes show through their tasks
	}
	var err error
	switch note.Event {
	case notify.NeedsAttention:
		err = n.tellManagersNeedsAttention(ctx, note)
	case notify.TaskOpened:
		err = n.post(ctx, note)
	case notify.TaskClosed:
		err = n.close(ctx, note.TaskID)
	case notify.TaskReminder:
		err = n.remind(ctx, note)
	case notify.ManagersAlerted:
		err = n.alertManagers(ctx, note)
	}
	if code, ok := refused(err); ok {
		return notify.RefusedBecause(code, err)
	}
	return err
}

// refused reports whether Slack answered and said no (not_in_channel,
// user_not_found, is_archived, …): the same request will fail the same way
// until someone acts. Slack's own passing troubles are not refusals.
func refused(err error) (code string, ok bool) {
	se, ok := errors.AsType[slackapi.SlackErrorResponse](err)
	if !ok {
		return "", false
	}
	switch se.Err {
	case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
		return "", false
	}
	return se.Err, true
}

// priority puts alerts, and everything done to their messages, ahead of
// routine writes queued for the same channel.
func priority(p Prompt) pacer.Priority {
	if p.IsAlert() {
		return pacer.PriorityAlert
	}
	return pacer.PriorityRoutine
}

func (n *Notifier) prompt(ctx context.Context, taskID int64) (Prompt, error) {
	task, err := n.Records.Task(ctx, taskID)
	if err != nil {
		return Prompt{}, fmt.Errorf("slack: read task %d: %w", taskID, err)
	}
	if task.PersonID == 0 {
		return n.personlessPrompt(task), nil
	}
	person, err := n.Records.Person(ctx, task.PersonID)
	if err != nil {
		return Prompt{}, fmt.Errorf("slack: read person for task %d: %w", taskID, err)
	}
	p := n.personPrompt(task, person)
	if p.IsAlert() {
		if p.Expected, err = n.expected(ctx, task); err != nil {
			return Prompt{}, err
		}
	}
	return p, nil
}

// alertPrompt is prompt for a new alert, whose notification names its
// person. Whether it was posted already, the task, the person and the
// escalation's open actions are read, and the post about to be tried is
// noted (as postOnce would), in one round trip (store.PrepareAlertPost):
// an alert waits for one trip to the database, not two.
func (n *Notifier) alertPrompt(ctx context.Context, note notify.Notification, key string) (p Prompt, posted bool, earlier *time.Time, err error) {
	a, err := n.Records.PrepareAlertPost(ctx, note.TaskID, note.PersonID, store.PostAttempt{Key: key, Channel: n.alertsTo(), At: n.Now()})
	switch {
	case err != nil:
		return Prompt{}, false, nil, fmt.Errorf("slack: read alert task %d: %w", note.TaskID, err)
	case a.Posted:
		return Prompt{}, true, nil, nil
	case a.Task.PersonID != note.PersonID || a.Task.Kind != register.TaskEscalationAlert:
		// Not what the notification said: read it the long way.
		p, err = n.prompt(ctx, note.TaskID)
		return p, false, a.EarlierAttempt, err
	}
	p = n.personPrompt(a.Task, a.Person)
	p.Expected = actionsOf(a.Task, a.Open)
	return p, false, a.EarlierAttempt, nil
}

// posted reports whether the task's message was posted already.
func (n *Notifier) posted(ctx context.Context, taskID int64) (bool, error) {
	_, err := n.Records.SlackMessageFor(ctx, taskID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// personPrompt is the prompt of a person's task.
func (n *Notifier) personPrompt(task store.Task, person store.PersonRecord) Prompt {
	p := Prompt{Task: task, PersonID: person.ID, Initials: person.Person().Initials(), Rating: person.Rating, AssignedTo: person.AssignedTo, Zone: n.Zone}
	if n.ShowNames {
		p.FullName = person.GivenName + " " + person.FamilyName
	}
	if n.PublicURL != "" {
		p.RecordURL = fmt.Sprintf("%s/api/v1/people/%d", n.PublicURL, person.ID)
	}
	return p
}

// personlessPrompt is the prompt of a task that belongs to no person yet
// (an MbE decision, an identity check): there is no person to read, and
// its details are on the task's web page, linked.
func (n *Notifier) personlessPrompt(task store.Task) Prompt {
	p := Prompt{Task: task, Zone: n.Zone}
	if n.PublicURL != "" {
		p.TaskURL = fmt.Sprintf("%s/tasks/%d", n.PublicURL, task.ID)
	}
	return p
}

// expected lists the alert's escalation's required actions still open.
func (n *Notifier) expected(ctx context.Context, alert store.Task) ([]store.Task, error) {
	open, err := n.Records.ListTasks(ctx, openTasksOf(alert.PersonID))
	if err != nil {
		return nil, fmt.Errorf("slack: read the actions of alert %d: %w", alert.ID, err)
	}
	return actionsOf(alert, open), nil
}

func openTasksOf(personID int64) store.TaskFilter {
	return store.TaskFilter{Status: string(register.TaskStatusOpen), PersonID: personID}
}

// actionsOf picks, from a person's open tasks, the alert's escalation's
// required actions.
func actionsOf(alert store.Task, open []store.Task) []store.Task {
	var out []store.Task
	for _, t := range open {
		if t.Escalation == alert.Escalation && t.ID != alert.ID && t.Kind.Completable() {
			out = append(out, t)
		}
	}
	return out
}

// post sends an open task's message once and records where it went.
func (n *Notifier) post(ctx context.Context, note notify.Notification) error {
	taskID := note.TaskID
	key := fmt.Sprintf("task-%d", taskID)
	var (
		p       Prompt
		posted  bool
		earlier *time.Time
		noted   bool
		err     error
	)
	if note.TaskKind == register.TaskEscalationAlert && note.PersonID != 0 {
		p, posted, earlier, err = n.alertPrompt(ctx, note, key)
		noted = err == nil
	} else if posted, err = n.posted(ctx, taskID); err == nil && !posted {
		p, err = n.prompt(ctx, taskID)
	}
	if posted {
		return nil // already posted: a retry
	}
	if err != nil {
		return err
	}
	text, blocks := OpenBlocks(p, n.Now())
	if p.Task.Status != register.TaskStatusOpen {
		// Closed before we got to it (a fast click, a retry after close):
		// post the outcome, not buttons that no longer apply.
		text, blocks = ClosedBlocks(p)
	}
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(text, false), slackapi.MsgOptionBlocks(blocks...)}
	var channel, ts string
	if noted {
		channel, ts, err = n.postAttempted(ctx, key, n.destination(p), "", priority(p), earlier, opts...)
	} else {
		channel, ts, err = n.postOnce(ctx, key, n.destination(p), "", priority(p), opts...)
	}
	if err != nil {
		return fmt.Errorf("slack: post task %d: %w", taskID, err)
	}
	return n.Records.SaveSlackMessage(ctx, store.SlackMessage{TaskID: taskID, Channel: channel, TS: ts})
}

// destination is the alerts channel for an alert; otherwise the assigned
// coordinator's DM if they are on Slack, else the team channel.
func (n *Notifier) destination(p Prompt) string {
	if p.IsAlert() {
		return n.alertsTo()
	}
	if p.AssignedTo == "" {
		return n.Channel
	}
	var ids []string
	for id, name := range n.Coordinators {
		if name == p.AssignedTo {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return n.Channel
	}
	slices.Sort(ids) // one name, several Slack accounts: pick one stably
	return ids[0]
}

func (n *Notifier) alertsTo() string {
	if n.AlertsChannel != "" {
		return n.AlertsChannel
	}
	return n.Channel
}

// close edits the task's message to show the outcome, with no buttons.
func (n *Notifier) close(ctx context.Context, taskID int64) error {
	msg, err := n.Records.SlackMessageFor(ctx, taskID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // never posted (Slack was off then): nothing to edit
	}
	if err != nil {
		return err
	}
	p, err := n.prompt(ctx, taskID)
	if err != nil {
		return err
	}
	text, blocks := ClosedBlocks(p)
	if err := n.Poster.UpdateMessage(ctx, msg.Channel, msg.TS, priority(p),
		slackapi.MsgOptionText(text, false), slackapi.MsgOptionBlocks(blocks...)); err != nil {
		return fmt.Errorf("slack: update task %d: %w", taskID, err)
	}
	return nil
}

// remind posts a chaser in the task message's thread, once per
// notification key. A re-alert is also broadcast to the channel: a reply
// seen only by those who open the thread would not raise anyone.
func (n *Notifier) remind(ctx context.Context, note notify.Notification) error {
	msg, err := n.Records.SlackMessageFor(ctx, note.TaskID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if posted, err := n.Records.SlackReplyPosted(ctx, note.Key); err != nil || posted {
		return err
	}
	p, err := n.prompt(ctx, note.TaskID)
	if err != nil {
		return err
	}
	p.Alerts = note.Alerts
	text, opts := ReminderText(p, n.Now()), []slackapi.MsgOption{}
	if p.IsAlert() {
		if p.Task.Status != register.TaskStatusOpen {
			return nil // acknowledged since the re-alert was decided: no false alarm
		}
		text, opts = AlertReminderText(p), append(opts, slackapi.MsgOptionBroadcast())
	}
	channel, ts, err := n.postOnce(ctx, note.Key, msg.Channel, msg.TS, priority(p), append(opts, slackapi.MsgOptionText(text, false))...)
	if err != nil {
		return fmt.Errorf("slack: remind task %d: %w", note.TaskID, err)
	}
	return n.Records.SaveSlackReply(ctx, note.Key, store.SlackMessage{TaskID: note.TaskID, Channel: channel, TS: ts})
}

// alertManagers tells the managers' channel and each manager directly that
// a red alert went unacknowledged or a required action is overdue. Each
// destination is told once per notification, however often the activity
// retries (the reply key is the notification key at the destination).
func (n *Notifier) alertManagers(ctx context.Context, note notify.Notification) error {
	dests := n.managerDestinations()
	if len(dests) == 0 {
		return nil
	}
	p, err := n.prompt(ctx, note.TaskID)
	if err != nil {
		return err
	}
	p.Alerts = note.Alerts
	if p.Task.Status != register.TaskStatusOpen {
		return nil // answered since: nothing to escalate
	}
	text := ""
	for _, dest := range dests {
		err := n.postMessageOnce(ctx, note.Key+"@"+dest, dest, pacer.PriorityAlert, note.TaskID, func() string {
			if text == "" {
				text = ManagersText(p, n.permalink(ctx, note.TaskID))
			}
			return text
		})
		if err != nil {
			return fmt.Errorf("slack: tell managers (%s) about task %d: %w", dest, note.TaskID, err)
		}
	}
	return nil
}

// tellManagersNeedsAttention tells the managers, once at each destination,
// that a notification was set aside for good. Without managers on Slack,
// the log line (always written) is what is left.
func (n *Notifier) tellManagersNeedsAttention(ctx context.Context, note notify.Notification) error {
	text := NeedsAttentionText(note.PersonID, string(note.TaskKind), note.Problem, n.PublicURL)
	for _, dest := range n.managerDestinations() {
		if err := n.postMessageOnce(ctx, note.Key+"@"+dest, dest, pacer.PriorityAlert, note.TaskID, func() string { return text }); err != nil {
			return fmt.Errorf("slack: tell managers (%s) a notification needs attention: %w", dest, err)
		}
	}
	return nil
}

// managerDestinations are the managers' channel, then each manager's DM in
// a stable order.
func (n *Notifier) managerDestinations() []string {
	var dests []string
	if n.ManagersChannel != "" {
		dests = append(dests, n.ManagersChannel)
	}
	ids := make([]string, 0, len(n.Managers))
	for id := range n.Managers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return append(dests, ids...)
}

// permalink links to the task's Slack message, or is "" when there is
// none or Slack will not say: the managers are told either way.
func (n *Notifier) permalink(ctx context.Context, taskID int64) string {
	if n.Links == nil {
		return ""
	}
	msg, err := n.Records.SlackMessageFor(ctx, taskID)
	if err != nil {
		return ""
	}
	link, err := n.Links.GetPermalinkContext(ctx, &slackapi.PermalinkParameters{Channel: msg.Channel, Ts: msg.TS})
	if err != nil {
		return ""
	}
	return link
}
