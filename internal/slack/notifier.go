package slack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// Poster sends messages to Slack; the Pacer is the real one (it paces per
// channel and honours 429 Retry-After).
type Poster interface {
	PostMessage(ctx context.Context, channel string, prio Priority, opts ...slackapi.MsgOption) (channelID, ts string, err error)
	UpdateMessage(ctx context.Context, channel, ts string, prio Priority, opts ...slackapi.MsgOption) error
}

// Records is what the notifier reads and writes in the register.
type Records interface {
	Task(ctx context.Context, id int64) (store.Task, error)
	Person(ctx context.Context, id int64) (store.PersonRecord, error)
	SlackMessageFor(ctx context.Context, taskID int64) (store.SlackMessage, error)
	SaveSlackMessage(ctx context.Context, m store.SlackMessage) error
	SlackReplyPosted(ctx context.Context, key string) (bool, error)
	SaveSlackReply(ctx context.Context, key string, m store.SlackMessage) error
	ListTasks(ctx context.Context, f store.TaskFilter) ([]store.Task, error)
}

// Notifier turns task notifications into Slack messages: a message when a
// task opens, a threaded reminder when it is chased, and an edit in place
// when it closes.
type Notifier struct {
	Records Records
	Poster  Poster
	Channel string
	// Coordinators maps Slack user IDs to coordinator names: a person
	// assigned to one of them has their prompts sent to that user directly.
	Coordinators map[string]string
	ShowNames    bool
	// PublicURL is the service's base URL, for links to the record.
	PublicURL string
	Now       func() time.Time
}

// Notify handles one notification. It is safe to call again with the same
// notification (activities retry): a task posted once is never posted again.
func (n *Notifier) Notify(ctx context.Context, note notify.Notification) error {
	if note.TaskID == 0 {
		return nil // stage changes show through their tasks
	}
	switch note.Event {
	case notify.TaskOpened:
		return n.post(ctx, note.TaskID)
	case notify.TaskClosed:
		return n.close(ctx, note.TaskID)
	case notify.TaskReminder:
		return n.remind(ctx, note)
	}
	return nil
}

func (n *Notifier) prompt(ctx context.Context, taskID int64) (Prompt, error) {
	task, err := n.Records.Task(ctx, taskID)
	if err != nil {
		return Prompt{}, fmt.Errorf("slack: read task %d: %w", taskID, err)
	}
	person, err := n.Records.Person(ctx, task.PersonID)
	if err != nil {
		return Prompt{}, fmt.Errorf("slack: read person for task %d: %w", taskID, err)
	}
	p := Prompt{Task: task, PersonID: person.ID, Initials: person.Person().Initials(), Rating: person.Rating, AssignedTo: person.AssignedTo}
	if n.ShowNames {
		p.FullName = person.GivenName + " " + person.FamilyName
	}
	if n.PublicURL != "" {
		p.RecordURL = fmt.Sprintf("%s/api/v1/people/%d", n.PublicURL, person.ID)
	}
	return p, nil
}

// post sends an open task's message once and records where it went.
func (n *Notifier) post(ctx context.Context, taskID int64) error {
	if _, err := n.Records.SlackMessageFor(ctx, taskID); err == nil {
		return nil // already posted: a retry
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	p, err := n.prompt(ctx, taskID)
	if err != nil {
		return err
	}
	text, blocks := OpenBlocks(p, n.Now())
	if p.Task.Status != register.TaskStatusOpen {
		// Closed before we got to it (a fast click, a retry after close):
		// post the outcome, not buttons that no longer apply.
		text, blocks = ClosedBlocks(p)
	}
	channel, ts, err := n.Poster.PostMessage(ctx, n.destination(p), PriorityRoutine,
		slackapi.MsgOptionText(text, false), slackapi.MsgOptionBlocks(blocks...))
	if err != nil {
		return fmt.Errorf("slack: post task %d: %w", taskID, err)
	}
	return n.Records.SaveSlackMessage(ctx, store.SlackMessage{TaskID: taskID, Channel: channel, TS: ts})
}

// destination is the assigned coordinator's DM if they are on Slack, else
// the team channel.
func (n *Notifier) destination(p Prompt) string {
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
	if err := n.Poster.UpdateMessage(ctx, msg.Channel, msg.TS, PriorityRoutine,
		slackapi.MsgOptionText(text, false), slackapi.MsgOptionBlocks(blocks...)); err != nil {
		return fmt.Errorf("slack: update task %d: %w", taskID, err)
	}
	return nil
}

// remind posts a chaser in the task message's thread, once per
// notification key.
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
	channel, ts, err := n.Poster.PostMessage(ctx, msg.Channel, PriorityRoutine,
		slackapi.MsgOptionText(ReminderText(p, n.Now()), false), slackapi.MsgOptionTS(msg.TS))
	if err != nil {
		return fmt.Errorf("slack: remind task %d: %w", note.TaskID, err)
	}
	return n.Records.SaveSlackReply(ctx, note.Key, store.SlackMessage{TaskID: note.TaskID, Channel: channel, TS: ts})
}
