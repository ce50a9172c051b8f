package config

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
)

func TestDefaults(t *testing.T) {
	c, err := Load(context.Background(), envconfig.MapLookuper(nil))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Policy.Register()
	if p.ConsentPeriod != 365*24*time.Hour || p.ReviewGreen != 91*24*time.Hour || p.ConsentGrace != 28*24*time.Hour {
		t.Errorf("defaults: %+v", p)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || c.StateDir != ".dsr" || c.DevTemporalPort != 7233 {
		t.Errorf("defaults: %+v", c)
	}
}

func TestDurationsAndTokens(t *testing.T) {
	c, err := Load(context.Background(), envconfig.MapLookuper(map[string]string{
		"DSR_CONSENT_PERIOD":         "2h",
		"DSR_CONSENT_RENEWAL_NOTICE": "30m",
		"DSR_REVIEW_RED":             "3",
		"DSR_REVIEW_AMBER":           "1.5d",
		"DSR_API_TOKENS":             "alice:coordinator:aaaaaaaaaaaaaaaaaaaa, bob:manager:bbbbbbbbbbbbbbbbbbbb",
		"DATABASE_URL":               "postgres://u:secretpw@db/dsr",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.Policy.ConsentPeriod) != 2*time.Hour || time.Duration(c.Policy.ReviewRed) != 72*time.Hour ||
		time.Duration(c.Policy.ReviewAmber) != 36*time.Hour {
		t.Errorf("durations: %+v", c.Policy)
	}
	if len(c.APITokens) != 2 || c.APITokens[1].Role != RoleManager {
		t.Errorf("tokens: %+v", c.APITokens)
	}
	var out bytes.Buffer
	c.Print(&out)
	for _, secret := range []string{"secretpw", "aaaaaaaa", "bbbbbbbb"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("printed config shows a secret:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), "DSR_CONSENT_PERIOD") || !strings.Contains(out.String(), "2h0m0s") {
		t.Errorf("printed config:\n%s", out.String())
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	for env, want := range map[string]string{
		"DSR_REVIEW_RED":        "DSR_REVIEW_RED",
		"DSR_API_TOKENS":        "DSR_API_TOKENS",
		"DSR_DEV_TEMPORAL_PORT": "DSR_DEV_TEMPORAL_PORT",
		"DSR_LOG_LEVEL":         "DSR_LOG_LEVEL",
	} {
		_, err := Load(context.Background(), envconfig.MapLookuper(map[string]string{env: "nonsense:x"}))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=nonsense: err %v, want it to name %s", env, err, want)
		}
	}
}
