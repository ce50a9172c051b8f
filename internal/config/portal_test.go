package config

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
)

func TestPortalDefaultsAndMistakes(t *testing.T) {
	c, err := Load(context.Background(), envconfig.MapLookuper(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
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
			_, err := Load(context.Background(), envconfig.MapLookuper(map[string]string{env: bad}))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s=%s: error %v, want it to name %s", env, bad, err, want)
			}
		}
	}
}
