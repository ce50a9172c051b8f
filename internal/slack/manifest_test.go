package slack

import (
	"net/url"
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestManifestMatchesService checks the Slack app manifest an admin pastes
// into Slack against what the service serves: the /dsr command, the
// interaction and command paths, and the scopes the code's calls need.
func TestManifestMatchesService(t *testing.T) {
	raw, err := os.ReadFile("../../slack-app-manifest.yml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			SlashCommands []struct {
				Command string `yaml:"command"`
				URL     string `yaml:"url"`
			} `yaml:"slash_commands"`
		} `yaml:"features"`
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
		Settings struct {
			Interactivity struct {
				Enabled    bool   `yaml:"is_enabled"`
				RequestURL string `yaml:"request_url"`
			} `yaml:"interactivity"`
			SocketMode bool `yaml:"socket_mode_enabled"`
		} `yaml:"settings"`
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/dsr" {
		t.Fatalf("want the /dsr command: %+v", m.Features.SlashCommands)
	}
	path := func(s string) string { u, _ := url.Parse(s); return u.Path }
	if p := path(m.Features.SlashCommands[0].URL); p != "/slack/commands" {
		t.Errorf("slash command URL path %q, the service serves /slack/commands", p)
	}
	if p := path(m.Settings.Interactivity.RequestURL); !m.Settings.Interactivity.Enabled || p != "/slack/interactions" {
		t.Errorf("interactivity %+v, the service serves /slack/interactions", m.Settings.Interactivity)
	}
	// chat.postMessage, chat.update and chat.postEphemeral need chat:write;
	// the slash command needs commands.
	for _, scope := range []string{"chat:write", "commands", "channels:history", "groups:history", "im:history"} {
		if !slices.Contains(m.OAuth.Scopes.Bot, scope) {
			t.Errorf("bot scopes %v lack %s", m.OAuth.Scopes.Bot, scope)
		}
	}
	if !m.Settings.SocketMode {
		t.Error("Socket Mode should be the default (no public URL on NHS networks)")
	}
}
