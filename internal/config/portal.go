package config

import "fmt"

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
	if err := checkKey("DSR_PORTAL_KEY", p.Key); err != nil {
		return err
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
