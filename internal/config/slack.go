package config

import (
	"fmt"
	"strings"
)

// SlackConfig connects the register to Slack. With no bot token Slack is
// off: prompts stay in the task list and the logs.
type SlackConfig struct {
	BotToken      string `env:"SLACK_BOT_TOKEN" mask:"true"`
	AppToken      string `env:"SLACK_APP_TOKEN" mask:"true"`
	SigningSecret string `env:"SLACK_SIGNING_SECRET" mask:"true"`
	// APIURL points the client at any Slack-compatible API (a government
	// Slack, or a test server); empty means Slack itself.
	APIURL string `env:"SLACK_API_URL"`
	// CoordinatorsChannel is where prompts are posted.
	CoordinatorsChannel string `env:"SLACK_CHANNEL_COORDINATORS"`
	// AlertsChannel is where red alerts go; empty means the coordinators'
	// channel (see AlertsTo).
	AlertsChannel string `env:"SLACK_CHANNEL_ALERTS"`
	// ManagersChannel, if set, is where managers are told about
	// unacknowledged alerts and overdue actions; the managers in Managers
	// are also sent a direct message.
	ManagersChannel string `env:"SLACK_CHANNEL_MANAGERS"`
	// ShowNames puts full names in Slack text; otherwise only the register
	// reference and initials. Never NHS numbers or dates of birth.
	ShowNames bool `env:"SLACK_SHOW_NAMES, default=false"`
	// Coordinators maps Slack user IDs to coordinator names
	// ("U012AB3CD:alice,U045EF6GH:bob"): only they can act on prompts, and
	// the name is the actor the audit trail records.
	Coordinators UserMap `env:"SLACK_COORDINATORS"`
	// Managers may look people and tasks up from Slack but not act.
	Managers UserMap `env:"SLACK_MANAGERS"`
}

// UserMap maps Slack user IDs to actor names.
type UserMap map[string]string

// EnvDecode parses "U123:alice,U456:bob".
func (m *UserMap) EnvDecode(val string) error {
	out := UserMap{}
	for i, part := range strings.Split(val, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, name, ok := strings.Cut(part, ":")
		if !ok || id == "" || name == "" {
			return fmt.Errorf("entry %d must be SlackUserID:name", i+1)
		}
		out[id] = name
	}
	*m = out
	return nil
}

// Enabled reports whether Slack is configured.
func (s SlackConfig) Enabled() bool { return s.BotToken != "" }

// AlertsTo is the channel red alerts are posted to: AlertsChannel, or the
// coordinators' channel when that is not set.
func (s SlackConfig) AlertsTo() string {
	if s.AlertsChannel != "" {
		return s.AlertsChannel
	}
	return s.CoordinatorsChannel
}

// check reports the first Slack setting that cannot work, naming it.
func (s SlackConfig) check() error {
	if s.Enabled() {
		if s.CoordinatorsChannel == "" {
			return fmt.Errorf("configuration: SLACK_CHANNEL_COORDINATORS is required when SLACK_BOT_TOKEN is set")
		}
		if err := checkChannelID("SLACK_CHANNEL_COORDINATORS", s.CoordinatorsChannel); err != nil {
			return err
		}
		if s.AppToken == "" && s.SigningSecret == "" {
			return fmt.Errorf("configuration: set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) so Slack buttons can reach dsr")
		}
	}
	// The optional channels are checked whenever they are set, with or
	// without a bot token, so a name is caught before Slack is switched on.
	for _, ch := range []struct{ variable, id string }{
		{"SLACK_CHANNEL_ALERTS", s.AlertsChannel},
		{"SLACK_CHANNEL_MANAGERS", s.ManagersChannel},
	} {
		if ch.id == "" {
			continue
		}
		if err := checkChannelID(ch.variable, ch.id); err != nil {
			return err
		}
	}
	return nil
}

// checkChannelID rejects a channel name where Slack needs an ID: names can
// be renamed, and posts and edits must share one pacing queue per channel.
func checkChannelID(variable, ch string) error {
	if !strings.HasPrefix(ch, "C") && !strings.HasPrefix(ch, "G") {
		return fmt.Errorf("configuration: %s: %q must be a channel ID such as C0123ABCD (in Slack: channel details, at the bottom)", variable, ch)
	}
	return nil
}
