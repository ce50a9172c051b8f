// Package config reads the service's one Config from the environment.
// Every timing the register acts on is here, with its documented default,
// because areas differ; README.md lists them all.
package config

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
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
	// APITimeout bounds every API answer: when Temporal or the database
	// does not answer in time the client gets 503 with Retry-After instead
	// of a hang. It also bounds each referral's redelivery.
	APITimeout Duration `env:"DSR_API_TIMEOUT, default=10s"`
	// ReferralsAtOnce bounds the referrals taken in at once, so a batch of
	// them never holds up a red rating arriving meanwhile.
	ReferralsAtOnce int `env:"DSR_REFERRALS_AT_ONCE, default=4"`

	// PublicURL is where people reach this service, for links to a
	// person's record in Slack messages.
	PublicURL string `env:"DSR_PUBLIC_URL, default=http://127.0.0.1:8080"`

	Slack SlackConfig

	Login LoginConfig

	// Oversight: the managers' daily digest and the Temporal UI's codec
	// server (issue 12).
	Digest DigestConfig
	Codec  CodecConfig

	// The public self-referral portal at /refer (issue 14).
	Portal PortalConfig

	// MbE requests by email (issue 13): the shared mailbox read over IMAP,
	// and the SMTP server every email out goes through (mail.go).
	Mailbox MailboxConfig
	SMTP    SMTPConfig

	Policy PolicyConfig
}

// Load reads the configuration through lookup (os environment in main, a
// map in tests). A bad value is an error naming the variable.
func Load(ctx context.Context, lookup envconfig.Lookuper) (Config, error) {
	var c Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: lookup}); err != nil {
		return Config{}, fmt.Errorf("configuration: %s", nameVariable(err.Error()))
	}
	if err := c.Policy.checkWorkingHours(); err != nil {
		return Config{}, err
	}
	if c.Policy.KeyworkerMaxAge < 0 {
		return Config{}, fmt.Errorf("configuration: DSR_KEYWORKER_MAX_AGE: %d cannot be negative", c.Policy.KeyworkerMaxAge)
	}
	if err := c.Policy.Register().Validate(); err != nil {
		return Config{}, fmt.Errorf("configuration: DSR_* timings: %w", err)
	}
	if t := time.Duration(c.APITimeout); t < time.Second || t > 5*time.Minute {
		return Config{}, fmt.Errorf("configuration: DSR_API_TIMEOUT: %s must be between 1s and 5m (give seconds, as \"10s\")", c.APITimeout)
	}
	if c.ReferralsAtOnce < 1 || c.ReferralsAtOnce > 64 {
		return Config{}, fmt.Errorf("configuration: DSR_REFERRALS_AT_ONCE: %d must be between 1 and 64 (a few: more only slows other actions)", c.ReferralsAtOnce)
	}
	if c.DevTemporalPort <= 0 || c.DevTemporalPort > 64535 {
		return Config{}, fmt.Errorf("configuration: DSR_DEV_TEMPORAL_PORT: %d is not a usable port (the UI takes port+1000)", c.DevTemporalPort)
	}
	if err := c.Login.check(); err != nil {
		return Config{}, err
	}
	if err := c.Codec.check(); err != nil {
		return Config{}, err
	}
	if err := c.Portal.check(); err != nil {
		return Config{}, err
	}
	if err := c.Mailbox.check(); err != nil {
		return Config{}, err
	}
	if err := c.SMTP.check(); err != nil {
		return Config{}, err
	}
	if (c.TemporalTLSCert == "") != (c.TemporalTLSKey == "") {
		return Config{}, fmt.Errorf("configuration: TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together")
	}
	if err := c.Slack.check(); err != nil {
		return Config{}, err
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
