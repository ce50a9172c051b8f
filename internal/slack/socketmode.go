package slack

import (
	"context"
	"fmt"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Socket Mode needs no public URL (the default for NHS networks): Slack
// sends interactions and slash commands over a websocket the service opens
// with the app-level token, and each is acknowledged on it.

// Acker acknowledges a Socket Mode request; *socketmode.Client is one.
type Acker interface {
	Ack(req socketmode.Request, payload ...any) error
}

// RunSocketMode connects and handles events until ctx ends.
func (in *Interactions) RunSocketMode(ctx context.Context, client *socketmode.Client) error {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt, ok := <-client.Events:
				if !ok {
					return
				}
				in.HandleSocketEvent(ctx, client, evt)
			}
		}
	}()
	if err := client.RunContext(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("slack socket mode: %w", err)
	}
	return nil
}

// HandleSocketEvent handles one Socket Mode event the same way the HTTP
// endpoints do: clicks are acknowledged at once and worked after; modal
// submissions and slash commands are answered in the acknowledgement.
func (in *Interactions) HandleSocketEvent(ctx context.Context, acker Acker, evt socketmode.Event) {
	if evt.Request == nil {
		return // connection lifecycle events
	}
	switch evt.Type {
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slackapi.InteractionCallback)
		if !ok {
			_ = acker.Ack(*evt.Request)
			return
		}
		switch cb.Type {
		case slackapi.InteractionTypeBlockActions:
			_ = acker.Ack(*evt.Request)
			go in.HandleBlockAction(context.WithoutCancel(ctx), cb)
		case slackapi.InteractionTypeViewSubmission:
			if resp := in.HandleViewSubmission(ctx, cb); resp != nil {
				_ = acker.Ack(*evt.Request, resp)
				return
			}
			_ = acker.Ack(*evt.Request)
		default:
			_ = acker.Ack(*evt.Request)
		}
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slackapi.SlashCommand)
		if !ok {
			_ = acker.Ack(*evt.Request)
			return
		}
		_ = acker.Ack(*evt.Request, in.HandleCommand(ctx, cmd))
	default:
		_ = acker.Ack(*evt.Request)
	}
}
