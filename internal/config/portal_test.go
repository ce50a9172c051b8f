package config

import (
	"slices"
	"strings"
	"testing"
)

func TestPortalDefaultsAndMistakes(t *testing.T) {
	c := load(t, map[string]string{})
	p := c.Portal
	if !p.Enabled || p.ReplyDays != 5 || p.SubmissionsPerHour != 10 || p.PagesPerMinute != 60 ||
		!slices.Equal(p.LocalAuthorities, []string{"Staffordshire", "Stoke-on-Trent"}) {
		t.Errorf("portal defaults %+v", p)
	}
	for env, want := range map[string]string{
		"DSR_PORTAL_REPLY_DAYS":           "DSR_PORTAL_REPLY_DAYS",
		"DSR_PORTAL_SUBMISSIONS_PER_HOUR": "DSR_PORTAL_SUBMISSIONS_PER_HOUR",
		"DSR_PORTAL_PAGES_PER_MINUTE":     "DSR_PORTAL_PAGES_PER_MINUTE",
		"DSR_PORTAL_KEY":                  "DSR_PORTAL_KEY",
	} {
		for _, bad := range []string{"0", "-3", "notanumber"} {
			err := loadError(map[string]string{env: bad})
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s=%s: error %v, want it to name %s", env, bad, err, want)
			}
		}
	}
}
