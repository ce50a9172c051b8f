// Package config reads the service's one Config from the environment.
// Every timing the register acts on is here, with its documented default,
// because areas differ; README.md lists them all.
package config

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/dsr-register/dsr/internal/register"
)

// Config is the whole configuration. Fields tagged mask are secrets: they
// are never printed.
type Config struct {
	StateDir        string `env:"DSR_STATE_DIR, default=.dsr"`
	HTTPAddr        string `env:"DSR_HTTP_ADDR, default=127.0.0.1:8080"`
	DevTemporalPort int    `env:"DSR_DEV_TEMPORAL_PORT, default=7233"`
	LogLevel        string `env:"DSR_LOG_LEVEL, default=info"`

	TemporalAddress   string `env:"TEMPORAL_ADDRESS, default=127.0.0.1:7233"`
	TemporalNamespace string `env:"TEMPORAL_NAMESPACE, default=default"`
	TaskQueue         string `env:"DSR_TASK_QUEUE, default=dsr"`
	// mTLS to a Temporal cluster or Temporal Cloud: file paths.
	TemporalTLSCert string `env:"TEMPORAL_TLS_CERT"`
	TemporalTLSKey  string `env:"TEMPORAL_TLS_KEY"`
	TemporalTLSCA   string `env:"TEMPORAL_TLS_CA"`

	DatabaseURL string `env:"DATABASE_URL" mask:"true"`
	// APITokens are "name:role:token" triples, comma separated.
	APITokens Tokens `env:"DSR_API_TOKENS" mask:"true"`
	// PayloadKeys are "keyid:base64-32-bytes" pairs, comma separated; the
	// first encrypts, all decrypt, so keys can rotate.
	PayloadKeys string `env:"DSR_PAYLOAD_KEYS" mask:"true"`
	// RedeliverAfter is how long a referral may sit recorded but not taken
	// in by its workflow before the service delivers it again.
	RedeliverAfter Duration `env:"DSR_REFERRAL_REDELIVER_AFTER, default=1m"`

	// PublicURL is where people reach this service, for links to a
	// person's record in Slack messages.
	PublicURL string `env:"DSR_PUBLIC_URL, default=http://127.0.0.1:8080"`

	Slack SlackConfig

	Policy PolicyConfig
}

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

// PolicyConfig holds the register's timings. Values are days ("28d" or
// "28") or any Go duration ("90m", "36h").
type PolicyConfig struct {
	ConsentPeriod           Duration `env:"DSR_CONSENT_PERIOD, default=365d"`
	RenewalNotice           Duration `env:"DSR_CONSENT_RENEWAL_NOTICE, default=30d"`
	RenewalReminderEvery    Duration `env:"DSR_CONSENT_RENEWAL_REMINDER_EVERY, default=7d"`
	ConsentGrace            Duration `env:"DSR_CONSENT_GRACE, default=28d"`
	ReferralConsentDeadline Duration `env:"DSR_REFERRAL_CONSENT_DEADLINE, default=28d"`
	ReviewRed               Duration `env:"DSR_REVIEW_RED, default=7d"`
	ReviewAmber             Duration `env:"DSR_REVIEW_AMBER, default=28d"`
	ReviewGreen             Duration `env:"DSR_REVIEW_GREEN, default=91d"`
	ReviewBlue              Duration `env:"DSR_REVIEW_BLUE, default=28d"`
	ReviewNotice            Duration `env:"DSR_REVIEW_NOTICE, default=2d"`
	ChaseEvery              Duration `env:"DSR_CHASE_EVERY, default=3d"`
	Recheck                 Duration `env:"DSR_POLICY_RECHECK, default=1d"`
}

// Register converts the timings to the domain's Policy.
func (p PolicyConfig) Register() register.Policy {
	return register.Policy{
		ConsentPeriod:           time.Duration(p.ConsentPeriod),
		RenewalNotice:           time.Duration(p.RenewalNotice),
		RenewalReminderEvery:    time.Duration(p.RenewalReminderEvery),
		ConsentGrace:            time.Duration(p.ConsentGrace),
		ReferralConsentDeadline: time.Duration(p.ReferralConsentDeadline),
		ReviewRed:               time.Duration(p.ReviewRed),
		ReviewAmber:             time.Duration(p.ReviewAmber),
		ReviewGreen:             time.Duration(p.ReviewGreen),
		ReviewBlue:              time.Duration(p.ReviewBlue),
		ReviewNotice:            time.Duration(p.ReviewNotice),
		ChaseEvery:              time.Duration(p.ChaseEvery),
		Recheck:                 time.Duration(p.Recheck),
	}
}

// Load reads the configuration through lookup (os environment in main, a
// map in tests). A bad value is an error naming the variable.
func Load(ctx context.Context, lookup envconfig.Lookuper) (Config, error) {
	var c Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: lookup}); err != nil {
		return Config{}, fmt.Errorf("configuration: %s", nameVariable(err.Error()))
	}
	if err := c.Policy.Register().Validate(); err != nil {
		return Config{}, fmt.Errorf("configuration: DSR_* timings: %w", err)
	}
	if c.DevTemporalPort <= 0 || c.DevTemporalPort > 64535 {
		return Config{}, fmt.Errorf("configuration: DSR_DEV_TEMPORAL_PORT: %d is not a usable port (the UI takes port+1000)", c.DevTemporalPort)
	}
	if (c.TemporalTLSCert == "") != (c.TemporalTLSKey == "") {
		return Config{}, fmt.Errorf("configuration: TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together")
	}
	if c.Slack.Enabled() {
		ch := c.Slack.CoordinatorsChannel
		if ch == "" {
			return Config{}, fmt.Errorf("configuration: SLACK_CHANNEL_COORDINATORS is required when SLACK_BOT_TOKEN is set")
		}
		// An ID, not a name: names can be renamed, and posts and edits must
		// share one pacing queue per channel.
		if !strings.HasPrefix(ch, "C") && !strings.HasPrefix(ch, "G") {
			return Config{}, fmt.Errorf("configuration: SLACK_CHANNEL_COORDINATORS: %q must be a channel ID such as C0123ABCD (in Slack: channel details, at the bottom)", ch)
		}
		if c.Slack.AppToken == "" && c.Slack.SigningSecret == "" {
			return Config{}, fmt.Errorf("configuration: set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) so Slack buttons can reach dsr")
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return Config{}, fmt.Errorf("configuration: DSR_LOG_LEVEL: %q must be debug, info, warn or error", c.LogLevel)
	}
	return c, nil
}

// nameVariable rewrites envconfig's error, which names the Go field
// ("Policy: ReviewRed: …"), to name the variable an operator sets.
func nameVariable(msg string) string {
	var walk func(t reflect.Type, path string) string
	walk = func(t reflect.Type, path string) string {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			p := f.Name
			if path != "" {
				p = path + ": " + f.Name
			}
			if f.Type.Kind() == reflect.Struct && f.Tag.Get("env") == "" {
				if r := walk(f.Type, p); r != "" {
					return r
				}
				continue
			}
			if rest, ok := strings.CutPrefix(msg, p+": "); ok {
				return strings.TrimSpace(strings.Split(f.Tag.Get("env"), ",")[0]) + ": " + rest
			}
		}
		return ""
	}
	if r := walk(reflect.TypeOf(Config{}), ""); r != "" {
		return r
	}
	return msg
}

// Print writes every variable and its value, secrets masked, one a line.
func (c Config) Print(w io.Writer) {
	printStruct(w, reflect.ValueOf(c))
}

func printStruct(w io.Writer, v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Tag.Get("env") == "" {
			printStruct(w, v.Field(i))
			continue
		}
		name := strings.TrimSpace(strings.Split(f.Tag.Get("env"), ",")[0])
		val := fmt.Sprint(v.Field(i).Interface())
		switch {
		case val == "" || val == "[]":
			val = "(unset)"
		case f.Tag.Get("mask") == "true":
			val = "******** (set)"
		}
		fmt.Fprintf(w, "  %-36s %s\n", name, val)
	}
}

// Duration is a timing given in days ("28d", or a bare "28") or as a Go
// duration ("90m").
type Duration time.Duration

// EnvDecode parses a Duration.
func (d *Duration) EnvDecode(val string) error {
	val = strings.TrimSpace(val)
	days := strings.TrimSuffix(val, "d")
	if n, err := strconv.ParseFloat(days, 64); err == nil {
		if n < 0 {
			return fmt.Errorf("%q: cannot be negative", val)
		}
		*d = Duration(n * float64(24*time.Hour))
		return nil
	}
	p, err := time.ParseDuration(val)
	if err != nil {
		return fmt.Errorf("%q is not a number of days (\"28d\") or a duration (\"36h\", \"90m\")", val)
	}
	if p < 0 {
		return fmt.Errorf("%q: cannot be negative", val)
	}
	*d = Duration(p)
	return nil
}

// String prints whole days as "Nd".
func (d Duration) String() string {
	td := time.Duration(d)
	if td != 0 && td%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", td/(24*time.Hour))
	}
	return td.String()
}

// Role is what an API caller may do.
type Role string

const (
	RoleCoordinator Role = "coordinator"
	RoleManager     Role = "manager"
	RoleReferrer    Role = "referrer"
)

// Token is one API credential; Name is the actor the audit trail records.
type Token struct {
	Name  string
	Role  Role
	Token string
}

// Tokens are the API credentials.
type Tokens []Token

// EnvDecode parses "name:role:token,name:role:token".
func (ts *Tokens) EnvDecode(val string) error {
	var out Tokens
	for i, part := range strings.Split(val, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.SplitN(part, ":", 3)
		if len(f) != 3 || f[0] == "" || f[2] == "" {
			return fmt.Errorf("entry %d must be name:role:token", i+1)
		}
		role := Role(f[1])
		if role != RoleCoordinator && role != RoleManager && role != RoleReferrer {
			return fmt.Errorf("entry %d (%s): role %q must be coordinator, manager or referrer", i+1, f[0], f[1])
		}
		if len(f[2]) < 16 {
			return fmt.Errorf("entry %d (%s): token must be at least 16 characters", i+1, f[0])
		}
		out = append(out, Token{Name: f[0], Role: role, Token: f[2]})
	}
	*ts = out
	return nil
}

// String never shows the secrets.
func (ts Tokens) String() string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name + ":" + string(t.Role)
	}
	return strings.Join(names, ",")
}
