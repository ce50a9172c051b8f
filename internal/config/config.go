// Package config reads the service's one Config from the environment.
// Every timing the register acts on is here, with its documented default,
// because areas differ; README.md lists them all.
package config

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/sethvargo/go-envconfig"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/workinghours"
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

// PortalConfig is the public self-referral portal's: what it promises and
// how hard it is to abuse. It needs no sign-in, so its limits are per
// client address.
type PortalConfig struct {
	// Enabled serves /refer; false leaves the portal off.
	Enabled bool `env:"DSR_PORTAL_ENABLED, default=true"`
	// ReplyDays is the promise on the confirmation page: the team phones
	// or writes within this many working days.
	ReplyDays int `env:"DSR_PORTAL_REPLY_DAYS, default=5"`
	// Key seals the portal's answers between pages (a cookie): base64 of
	// 32 random bytes. Unset, it is derived from DSR_SESSION_KEY, or made
	// at start (answers half-way through are then lost on a restart, and
	// every replica needs the same key).
	Key string `env:"DSR_PORTAL_KEY" mask:"true"`
	// SubmissionsPerHour and PagesPerMinute are each client address's
	// token buckets: completed referrals, and every page and answer.
	SubmissionsPerHour int `env:"DSR_PORTAL_SUBMISSIONS_PER_HOUR, default=10"`
	PagesPerMinute     int `env:"DSR_PORTAL_PAGES_PER_MINUTE, default=60"`
	// ClientIPHeader names a header a trusted reverse proxy sets to the
	// client's address (X-Forwarded-For: its last entry). Unset, the
	// connection's own address is the client.
	ClientIPHeader string `env:"DSR_PORTAL_CLIENT_IP_HEADER"`
	// LocalAuthorities are offered as a short list (comma separated), with
	// "somewhere else" to type one; empty asks for free text only.
	LocalAuthorities []string `env:"DSR_PORTAL_LOCAL_AUTHORITIES, default=Staffordshire,Stoke-on-Trent"`
}

// check reports a portal setting that cannot work, naming it.
func (p PortalConfig) check() error {
	if p.Key != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(p.Key))
		if err != nil || len(key) != 32 {
			return fmt.Errorf("configuration: DSR_PORTAL_KEY must be base64 of 32 random bytes (openssl rand -base64 32)")
		}
	}
	for _, v := range []struct {
		variable string
		n, max   int
	}{
		{"DSR_PORTAL_REPLY_DAYS", p.ReplyDays, 60},
		{"DSR_PORTAL_SUBMISSIONS_PER_HOUR", p.SubmissionsPerHour, 100000},
		{"DSR_PORTAL_PAGES_PER_MINUTE", p.PagesPerMinute, 100000},
	} {
		if v.n < 1 || v.n > v.max {
			return fmt.Errorf("configuration: %s: %d must be between 1 and %d", v.variable, v.n, v.max)
		}
	}
	return nil
}

// DigestConfig schedules the managers' daily digest in Slack.
type DigestConfig struct {
	// Schedule is a cron spec (robfig/cron's standard form: five fields,
	// an optional CRON_TZ=<zone> prefix, or @daily / @every 1h).
	Schedule CronSpec `env:"DSR_DIGEST_SCHEDULE, default=CRON_TZ=Europe/London 0 8 * * MON-FRI"`
	// SkipBankHolidays leaves out a fire that falls on a bank holiday of
	// DSR_BANK_HOLIDAYS in DSR_WORKING_TIMEZONE: nobody reads it that day,
	// and the next digest counts from the last one, so nothing is lost.
	SkipBankHolidays bool `env:"DSR_DIGEST_SKIP_BANK_HOLIDAYS, default=true"`
}

// CodecConfig is `dsr codec-server`'s: it decodes payloads for the
// Temporal UI, for signed-in coordinators only.
type CodecConfig struct {
	Addr string `env:"DSR_CODEC_ADDR, default=127.0.0.1:8089"`
	// CORSOrigin is the Temporal UI's origin, exactly (scheme, host, port):
	// the only origin whose browser requests are answered.
	CORSOrigin string `env:"DSR_CODEC_CORS_ORIGIN, default=http://127.0.0.1:8233"`
	// ClientID is the client the Temporal UI signs users in as: the
	// audience its tokens are issued for. Empty means OIDC_CLIENT_ID.
	ClientID string `env:"DSR_CODEC_CLIENT_ID"`
}

// CodecAudience is the client ID the codec server accepts tokens for.
func (c Config) CodecAudience() string {
	if c.Codec.ClientID != "" {
		return c.Codec.ClientID
	}
	return c.Login.ClientID
}

// check reports a codec setting that cannot work, naming it.
func (c CodecConfig) check() error {
	u, err := url.Parse(c.CORSOrigin)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("configuration: DSR_CODEC_CORS_ORIGIN: %q must be the Temporal UI's origin, such as https://temporal.example.nhs.uk (scheme, host and port only)", c.CORSOrigin)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("configuration: DSR_CODEC_ADDR: %q must be host:port (%v)", c.Addr, err)
	}
	return nil
}

// CronSpec is a cron schedule, checked when read so that a bad spec stops
// start-up naming the variable. The spec string itself is what a workflow
// is given: parsing is pure, so the workflow computes each next time from
// it and workflow.Now deterministically.
type CronSpec string

// ParseCron parses a spec as DSR_DIGEST_SCHEDULE is parsed.
func ParseCron(spec string) (cron.Schedule, error) {
	return cron.ParseStandard(spec)
}

// EnvDecode checks the spec.
func (c *CronSpec) EnvDecode(val string) error {
	val = strings.TrimSpace(val)
	if _, err := ParseCron(val); err != nil {
		return fmt.Errorf("%q is not a cron schedule (%v); for example \"CRON_TZ=Europe/London 0 8 * * MON-FRI\"", val, err)
	}
	*c = CronSpec(val)
	return nil
}

// LoginConfig signs staff in to the web app with OpenID Connect (Microsoft
// Entra ID in production; `dsr dev` runs a local provider). Without an
// issuer the web app is off and only the JSON API is served.
type LoginConfig struct {
	Issuer       string `env:"OIDC_ISSUER"`
	ClientID     string `env:"OIDC_CLIENT_ID"`
	ClientSecret string `env:"OIDC_CLIENT_SECRET" mask:"true"`
	// RolesClaim is the ID token claim listing the user's roles: Entra's
	// app roles ("roles"), or "groups".
	RolesClaim string `env:"OIDC_ROLES_CLAIM, default=roles"`
	// CoordinatorRole and ManagerRole are the claim values that make a
	// user a coordinator or a manager; a user with neither is refused.
	CoordinatorRole string `env:"OIDC_COORDINATOR_ROLE, default=DSR.Coordinator"`
	ManagerRole     string `env:"OIDC_MANAGER_ROLE, default=DSR.Manager"`
	// NameClaim is the claim the audit trail names the user by.
	NameClaim string `env:"OIDC_NAME_CLAIM, default=name"`
	// SessionKey seals the session cookie: base64 of 32 random bytes.
	// Changing it signs everyone out. `dsr dev` keeps one in its state dir.
	SessionKey string `env:"DSR_SESSION_KEY" mask:"true"`
	// DevOIDCPort is where `dsr dev`'s local OpenID provider listens.
	DevOIDCPort int `env:"DSR_DEV_OIDC_PORT, default=9998"`
}

// Enabled reports whether the web app's sign-in is configured.
func (l LoginConfig) Enabled() bool { return l.Issuer != "" }

// check reports the first sign-in setting that cannot work, naming it.
func (l LoginConfig) check() error {
	if l.SessionKey != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(l.SessionKey))
		if err != nil || len(key) != 32 {
			return fmt.Errorf("configuration: DSR_SESSION_KEY must be base64 of 32 random bytes (openssl rand -base64 32)")
		}
	}
	if l.DevOIDCPort <= 0 || l.DevOIDCPort > 65535 {
		return fmt.Errorf("configuration: DSR_DEV_OIDC_PORT: %d is not a usable port", l.DevOIDCPort)
	}
	if !l.Enabled() {
		return nil
	}
	if u, err := url.Parse(l.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("configuration: OIDC_ISSUER: %q must be the provider's https URL (Entra: https://login.microsoftonline.com/<tenant id>/v2.0)", l.Issuer)
	}
	for _, v := range []struct{ variable, value string }{
		{"OIDC_CLIENT_ID", l.ClientID},
		{"OIDC_ROLES_CLAIM", l.RolesClaim},
		{"OIDC_COORDINATOR_ROLE", l.CoordinatorRole},
		{"OIDC_MANAGER_ROLE", l.ManagerRole},
		{"OIDC_NAME_CLAIM", l.NameClaim},
	} {
		if strings.TrimSpace(v.value) == "" {
			return fmt.Errorf("configuration: %s is required when OIDC_ISSUER is set", v.variable)
		}
	}
	if l.CoordinatorRole == l.ManagerRole {
		return fmt.Errorf("configuration: OIDC_COORDINATOR_ROLE and OIDC_MANAGER_ROLE are both %q; they must differ", l.CoordinatorRole)
	}
	return nil
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

// checkChannelID rejects a channel name where Slack needs an ID: names can
// be renamed, and posts and edits must share one pacing queue per channel.
func checkChannelID(variable, ch string) error {
	if !strings.HasPrefix(ch, "C") && !strings.HasPrefix(ch, "G") {
		return fmt.Errorf("configuration: %s: %q must be a channel ID such as C0123ABCD (in Slack: channel details, at the bottom)", variable, ch)
	}
	return nil
}

// PolicyConfig holds the register's timings. Values are days ("28d" or
// "28") or any Go duration ("90m", "36h"). The defaults are
// register.DefaultPolicy's; README.md says where each comes from.
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

	// Escalation when someone turns red, counted in working time.
	EscalationAckWithin    Duration `env:"DSR_ESCALATION_ACK_WITHIN, default=4h"`
	EscalationRealertEvery Duration `env:"DSR_ESCALATION_REALERT_EVERY, default=1h"`
	// Deadlines from turning red or amber.
	RedCTRWithin         Duration `env:"DSR_RED_CTR_WITHIN, default=14d"`
	RedKeyworkerWithin   Duration `env:"DSR_RED_KEYWORKER_WITHIN, default=5d"`
	RedMeetingWithin     Duration `env:"DSR_RED_MEETING_WITHIN, default=5d"`
	AmberMeetingWithin   Duration `env:"DSR_AMBER_MEETING_WITHIN, default=28d"`
	AmberKeyworkerWithin Duration `env:"DSR_AMBER_KEYWORKER_WITHIN, default=28d"`
	// KeyworkerMaxAge is the oldest age, in whole years, referred to the
	// keyworker service.
	KeyworkerMaxAge int `env:"DSR_KEYWORKER_MAX_AGE, default=25"`
	// C(E)TRs for people admitted to hospital (blue).
	PostAdmissionCTRAdult Duration `env:"DSR_POST_ADMISSION_CTR_ADULT, default=28d"`
	PostAdmissionCTRChild Duration `env:"DSR_POST_ADMISSION_CTR_CHILD, default=14d"`
	InpatientCTRAdult     Duration `env:"DSR_INPATIENT_CTR_ADULT, default=182d"`
	InpatientCTRChild     Duration `env:"DSR_INPATIENT_CTR_CHILD, default=91d"`
	InpatientCTRSecure    Duration `env:"DSR_INPATIENT_CTR_SECURE, default=365d"`
	CTRNotice             Duration `env:"DSR_CTR_NOTICE, default=28d"`
	// DischargeHold keeps a person at red this long after discharge; 0
	// turns it off.
	DischargeHold Duration `env:"DSR_DISCHARGE_HOLD, default=14d"`

	// The working week that working-time deadlines count in.
	WorkingHoursStart string   `env:"DSR_WORKING_HOURS_START, default=09:00"`
	WorkingHoursEnd   string   `env:"DSR_WORKING_HOURS_END, default=17:00"`
	WorkingDays       Weekdays `env:"DSR_WORKING_DAYS, default=mon,tue,wed,thu,fri"`
	WorkingTimezone   string   `env:"DSR_WORKING_TIMEZONE, default=Europe/London"`
	BankHolidays      string   `env:"DSR_BANK_HOLIDAYS, default=england-wales"`

	// Retention (issue 10): how long a removed person's identifying details
	// are kept before they are erased, leaving an anonymous skeleton.
	// 2922d is 8 years (README "Retention" names the source).
	RetentionAfterRemoval Duration `env:"DSR_RETENTION_AFTER_REMOVAL, default=2922d"`

	// Meetings and feedback from services (issue 13, part 2): the reminder
	// before a meeting, when the managers hear of an overdue meeting
	// action, and when an unanswered feedback request is chased.
	MeetingReminderBefore      Duration `env:"DSR_MEETING_REMINDER_BEFORE, default=1d"`
	MeetingActionEscalateAfter Duration `env:"DSR_MEETING_ACTION_ESCALATE_AFTER, default=14d"`
	FeedbackChaseAfter         Duration `env:"DSR_FEEDBACK_CHASE_AFTER, default=7d"`
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

		EscalationAckWithin:    time.Duration(p.EscalationAckWithin),
		EscalationRealertEvery: time.Duration(p.EscalationRealertEvery),
		RedCTRWithin:           time.Duration(p.RedCTRWithin),
		RedKeyworkerWithin:     time.Duration(p.RedKeyworkerWithin),
		RedMeetingWithin:       time.Duration(p.RedMeetingWithin),
		AmberMeetingWithin:     time.Duration(p.AmberMeetingWithin),
		AmberKeyworkerWithin:   time.Duration(p.AmberKeyworkerWithin),
		KeyworkerMaxAge:        p.KeyworkerMaxAge,
		PostAdmissionCTRAdult:  time.Duration(p.PostAdmissionCTRAdult),
		PostAdmissionCTRChild:  time.Duration(p.PostAdmissionCTRChild),
		InpatientCTRAdult:      time.Duration(p.InpatientCTRAdult),
		InpatientCTRChild:      time.Duration(p.InpatientCTRChild),
		InpatientCTRSecure:     time.Duration(p.InpatientCTRSecure),
		CTRNotice:              time.Duration(p.CTRNotice),
		DischargeHold:          time.Duration(p.DischargeHold),
		WorkingHours:           p.WorkingHours(),
		RetentionAfterRemoval:  time.Duration(p.RetentionAfterRemoval),

		MeetingReminderBefore:      time.Duration(p.MeetingReminderBefore),
		MeetingActionEscalateAfter: time.Duration(p.MeetingActionEscalateAfter),
		FeedbackChaseAfter:         time.Duration(p.FeedbackChaseAfter),
	}
}

// WorkingHours is the working-hours calendar's options.
func (p PolicyConfig) WorkingHours() workinghours.Options {
	var days []time.Weekday
	if p.WorkingDays != nil {
		days = slices.Clone([]time.Weekday(p.WorkingDays))
	}
	return workinghours.Options{
		Location: p.WorkingTimezone,
		Start:    p.WorkingHoursStart,
		End:      p.WorkingHoursEnd,
		Days:     days,
		Holidays: p.BankHolidays,
	}
}

// workingHoursVariables maps the workinghours.Options fields its errors
// name to the variables an operator sets.
var workingHoursVariables = strings.NewReplacer(
	"workinghours: ", "",
	"Options.Location", "DSR_WORKING_TIMEZONE",
	"Options.Start", "DSR_WORKING_HOURS_START",
	"Options.End", "DSR_WORKING_HOURS_END",
	"Options.Days", "DSR_WORKING_DAYS",
	"Options.Holidays", "DSR_BANK_HOLIDAYS",
)

// checkWorkingHours builds the calendar so that a mistake is reported
// naming the variable, not the Go field.
func (p PolicyConfig) checkWorkingHours() error {
	if _, err := workinghours.New(p.WorkingHours()); err != nil {
		msg := workingHoursVariables.Replace(err.Error())
		if !strings.HasPrefix(msg, "DSR_") {
			msg = "DSR_WORKING_HOURS_START, DSR_WORKING_HOURS_END, DSR_WORKING_DAYS, DSR_WORKING_TIMEZONE, DSR_BANK_HOLIDAYS: " + msg
		}
		return fmt.Errorf("configuration: %s", msg)
	}
	return nil
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
	if c.Slack.Enabled() {
		ch := c.Slack.CoordinatorsChannel
		if ch == "" {
			return Config{}, fmt.Errorf("configuration: SLACK_CHANNEL_COORDINATORS is required when SLACK_BOT_TOKEN is set")
		}
		if err := checkChannelID("SLACK_CHANNEL_COORDINATORS", ch); err != nil {
			return Config{}, err
		}
		if c.Slack.AppToken == "" && c.Slack.SigningSecret == "" {
			return Config{}, fmt.Errorf("configuration: set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) so Slack buttons can reach dsr")
		}
	}
	// The optional channels are checked whenever they are set, with or
	// without a bot token, so a name is caught before Slack is switched on.
	for _, ch := range []struct{ variable, id string }{
		{"SLACK_CHANNEL_ALERTS", c.Slack.AlertsChannel},
		{"SLACK_CHANNEL_MANAGERS", c.Slack.ManagersChannel},
	} {
		if ch.id == "" {
			continue
		}
		if err := checkChannelID(ch.variable, ch.id); err != nil {
			return Config{}, err
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

// Weekdays are the working days, given as "mon,tue,wed,thu,fri": comma
// separated English day names, three-letter or in full, in any case.
type Weekdays []time.Weekday

// EnvDecode parses Weekdays, naming the entry it cannot read.
func (w *Weekdays) EnvDecode(val string) error {
	out := Weekdays{}
	for i, part := range strings.Split(val, ",") {
		name := strings.ToLower(strings.TrimSpace(part))
		if name == "" {
			continue
		}
		day, ok := weekdayNames[name]
		if !ok {
			return fmt.Errorf("entry %d %q is not a day of the week (mon, tue, wed, thu, fri, sat, sun, or the full names)", i+1, strings.TrimSpace(part))
		}
		if slices.Contains(out, day) {
			return fmt.Errorf("entry %d %q: %s is listed twice", i+1, strings.TrimSpace(part), day)
		}
		out = append(out, day)
	}
	if len(out) == 0 {
		return fmt.Errorf("%q: at least one working day is required", val)
	}
	*w = out
	return nil
}

// String prints the days the way they are written: "mon,tue,wed".
func (w Weekdays) String() string {
	names := make([]string, len(w))
	for i, d := range w {
		names[i] = strings.ToLower(d.String()[:3])
	}
	return strings.Join(names, ",")
}

var weekdayNames = func() map[string]time.Weekday {
	m := map[string]time.Weekday{}
	for d := time.Sunday; d <= time.Saturday; d++ {
		full := strings.ToLower(d.String())
		m[full] = d
		m[full[:3]] = d
	}
	return m
}()

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
