package config

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
)

func TestDigestScheduleDefaultIsWeekdaysAtEightLondon(t *testing.T) {
	c := load(t, nil)
	if c.Digest.Schedule != "CRON_TZ=Europe/London 0 8 * * MON-FRI" || !c.Digest.SkipBankHolidays {
		t.Fatalf("digest defaults: %+v", c.Digest)
	}
	sched, err := ParseCron(string(c.Digest.Schedule))
	if err != nil {
		t.Fatal(err)
	}
	// Friday 28 March 2025 09:00 GMT → Monday 31 March 08:00 BST (07:00 UTC).
	got := sched.Next(time.Date(2025, 3, 28, 9, 0, 0, 0, time.UTC))
	if want := time.Date(2025, 3, 31, 7, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("next after Friday 09:00: %s, want %s", got.UTC(), want)
	}
}

func TestBadDigestScheduleNamesTheVariable(t *testing.T) {
	for _, spec := range []string{"every morning", "0 8 * *", "CRON_TZ=Mars/Olympus 0 8 * * *", "0 25 * * *"} {
		err := loadError(map[string]string{"DSR_DIGEST_SCHEDULE": spec})
		if err == nil || !strings.Contains(err.Error(), "DSR_DIGEST_SCHEDULE") {
			t.Errorf("DSR_DIGEST_SCHEDULE=%q: err %v, want it to name DSR_DIGEST_SCHEDULE", spec, err)
		}
	}
	for _, spec := range []string{"@every 5s", "@daily", "30 7 * * 1-5"} {
		c, err := Load(context.Background(), envconfig.MapLookuper(map[string]string{"DSR_DIGEST_SCHEDULE": spec}))
		if err != nil || string(c.Digest.Schedule) != spec {
			t.Errorf("DSR_DIGEST_SCHEDULE=%q: %v (%q)", spec, err, c.Digest.Schedule)
		}
	}
}

func TestBadCodecSettingsNameTheVariable(t *testing.T) {
	for env, val := range map[string]string{
		"DSR_CODEC_CORS_ORIGIN": "*",
		"DSR_CODEC_ADDR":        "8089",
	} {
		err := loadError(map[string]string{env: val})
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%q: err %v, want it to name %s", env, val, err, env)
		}
	}
	for _, origin := range []string{"https://temporal.example.nhs.uk/ui", "https://temporal.example.nhs.uk?x=1"} {
		if err := loadError(map[string]string{"DSR_CODEC_CORS_ORIGIN": origin}); err == nil {
			t.Errorf("DSR_CODEC_CORS_ORIGIN=%q accepted; an origin has no path or query", origin)
		}
	}
}
