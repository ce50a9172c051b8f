package config

import (
	"fmt"
	"net"
	"net/url"
)

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
