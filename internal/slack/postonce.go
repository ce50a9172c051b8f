package slack

import (
	"context"
	"fmt"
	"strconv"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/dsr-register/dsr/internal/slack/pacer"
	"github.com/dsr-register/dsr/internal/store"
)

// Slack's chat.postMessage has no idempotency key: if dsr is stopped after
// Slack accepted a post but before dsr recorded where it went, the outbox
// delivers the notification again and the prompt would appear twice. So
// every message dsr posts carries its key in Slack's message metadata, each
// attempt is noted before it is sent, and an attempt that finds an earlier
// one looks for the message in Slack before posting again.

// History finds dsr's own messages in Slack; *slackapi.Client is one. It
// needs the channels:history, groups:history and im:history scopes; without
// them (or on any error) the post goes ahead, as before.
type History interface {
	GetConversationHistoryContext(ctx context.Context, params *slackapi.GetConversationHistoryParameters) (*slackapi.GetConversationHistoryResponse, error)
	GetConversationRepliesContext(ctx context.Context, params *slackapi.GetConversationRepliesParameters) ([]slackapi.Message, bool, string, error)
}

// postMetadataType marks a message as dsr's; its payload's "key" is the
// post's key.
const postMetadataType = "dsr_post"

// lookBack is how far before the first attempt the search starts, for
// clocks that disagree.
const lookBack = 5 * time.Minute

// postOnce posts a message under key to channel (in threadTS's thread when
// set), at most once: a key attempted before is looked for in Slack first.
func (n *Notifier) postOnce(ctx context.Context, key, channel, threadTS string, prio pacer.Priority, opts ...slackapi.MsgOption) (channelID, ts string, err error) {
	earlier, err := n.Records.SlackPostAttempt(ctx, key, channel, n.Now())
	if err != nil {
		return "", "", err
	}
	return n.postAttempted(ctx, key, channel, threadTS, prio, earlier, opts...)
}

// postAttempted is postOnce once the attempt is noted: earlier is when the
// key was first attempted, if before this attempt.
func (n *Notifier) postAttempted(ctx context.Context, key, channel, threadTS string, prio pacer.Priority, earlier *time.Time, opts ...slackapi.MsgOption) (channelID, ts string, err error) {
	if earlier != nil && n.History != nil {
		if ch, ts, ok := n.findPosted(ctx, key, channel, threadTS, earlier.Add(-lookBack)); ok {
			return ch, ts, nil
		}
	}
	opts = append(opts, slackapi.MsgOptionMetadata(slackapi.SlackMetadata{
		EventType: postMetadataType, EventPayload: map[string]any{"key": key}}))
	if threadTS != "" {
		opts = append(opts, slackapi.MsgOptionTS(threadTS))
	}
	return n.Poster.PostMessage(ctx, channel, prio, opts...)
}

// postMessageOnce posts a top-level message under key to dest, once: a key
// already posted is skipped, and an attempt interrupted before it was
// recorded is found rather than posted again (postOnce). text is built only
// when it is needed. taskID, if any, is what the message is about.
func (n *Notifier) postMessageOnce(ctx context.Context, key, dest string, prio pacer.Priority, taskID int64, text func() string) error {
	if posted, err := n.Records.SlackReplyPosted(ctx, key); err != nil || posted {
		return err
	}
	channel, ts, err := n.postOnce(ctx, key, dest, "", prio, slackapi.MsgOptionText(text(), false))
	if err != nil {
		return err
	}
	return n.Records.SaveSlackReply(ctx, key, store.SlackMessage{TaskID: taskID, Channel: channel, TS: ts})
}

// findPosted looks for dsr's message under key in channel (or threadTS's
// thread) since since. Any error means "not found": posting again risks a
// duplicate, never a lost prompt.
func (n *Notifier) findPosted(ctx context.Context, key, channel, threadTS string, since time.Time) (channelID, ts string, ok bool) {
	oldest := strconv.FormatFloat(float64(since.UnixMicro())/1e6, 'f', 6, 64)
	var msgs []slackapi.Message
	if threadTS != "" {
		got, _, _, err := n.History.GetConversationRepliesContext(ctx, &slackapi.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: threadTS, Oldest: oldest, Limit: 200, IncludeAllMetadata: true})
		if err != nil {
			n.logLookup(key, err)
			return "", "", false
		}
		msgs = got
	} else {
		res, err := n.History.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{
			ChannelID: channel, Oldest: oldest, Limit: 200, IncludeAllMetadata: true})
		if err != nil {
			n.logLookup(key, err)
			return "", "", false
		}
		msgs = res.Messages
	}
	for _, m := range msgs {
		if m.Metadata.EventType == postMetadataType && fmt.Sprint(m.Metadata.EventPayload["key"]) == key {
			ch := m.Channel
			if ch == "" {
				ch = channel
			}
			return ch, m.Timestamp, true
		}
	}
	return "", "", false
}

func (n *Notifier) logLookup(key string, err error) {
	if n.Logger != nil {
		n.Logger.Warn("slack: could not look for an earlier post; posting again", "key", key, "error", err)
	}
}
