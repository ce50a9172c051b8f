package config

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/workinghours"
)

// load is the Config from env alone, failing the test if env is refused.
func load(t *testing.T, env map[string]string) Config {
	t.Helper()
	c, err := Load(context.Background(), envconfig.MapLookuper(env))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// loadError is why Load refuses env, or nil.
func loadError(env map[string]string) error {
	_, err := Load(context.Background(), envconfig.MapLookuper(env))
	return err
}

func TestDefaults(t *testing.T) {
	c := load(t, nil)
	p := c.Policy.Register()
	if p.ConsentPeriod != 365*24*time.Hour || p.ReviewGreen != 91*24*time.Hour || p.ConsentGrace != 28*24*time.Hour {
		t.Errorf("defaults: %+v", p)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || c.StateDir != ".dsr" || c.DevTemporalPort != 7233 {
		t.Errorf("defaults: %+v", c)
	}
}

func TestDurationsAndTokens(t *testing.T) {
	c := load(t, map[string]string{
		"DSR_CONSENT_PERIOD":         "2h",
		"DSR_CONSENT_RENEWAL_NOTICE": "30m",
		"DSR_REVIEW_RED":             "3",
		"DSR_REVIEW_AMBER":           "1.5d",
		"DSR_API_TOKENS":             "alice:coordinator:aaaaaaaaaaaaaaaaaaaa, bob:manager:bbbbbbbbbbbbbbbbbbbb",
		"DATABASE_URL":               "postgres://u:secretpw@db/dsr",
	})
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
		err := loadError(map[string]string{env: "nonsense:x"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=nonsense: err %v, want it to name %s", env, err, want)
		}
	}
}

func TestPolicyDefaultsAreRegisterDefaults(t *testing.T) {
	c := load(t, nil)
	got, want := c.Policy.Register(), register.DefaultPolicy()

	// The configured working week is spelt out, so that `dsr` prints it.
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	spelt := workinghours.Options{Location: "Europe/London", Start: "09:00", End: "17:00", Days: weekdays, Holidays: "england-wales"}
	if !reflect.DeepEqual(got.WorkingHours, spelt) {
		t.Errorf("default working hours %+v, want %+v", got.WorkingHours, spelt)
	}

	// Everything else is exactly register.DefaultPolicy.
	gotHours, wantHours := got.WorkingHours, want.WorkingHours
	got.WorkingHours, want.WorkingHours = workinghours.Options{}, workinghours.Options{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PolicyConfig defaults differ from register.DefaultPolicy:\nconfig   %+v\nregister %+v", got, want)
	}

	// DefaultPolicy may leave WorkingHours zero, which workinghours reads
	// as its own defaults: the two must mean the same calendar.
	if !reflect.DeepEqual(resolveHours(gotHours), resolveHours(wantHours)) {
		t.Errorf("default working hours %+v, register.DefaultPolicy's %+v", gotHours, wantHours)
	}
	gotCal, err := workinghours.New(gotHours)
	if err != nil {
		t.Fatal(err)
	}
	wantCal, err := workinghours.New(wantHours)
	if err != nil {
		t.Fatal(err)
	}
	for year := 2024; year <= 2027; year++ {
		if g, w := gotCal.Holidays(year), wantCal.Holidays(year); !reflect.DeepEqual(g, w) || len(g) == 0 {
			t.Errorf("%d: holidays %v, register.DefaultPolicy's %v", year, g, w)
		}
	}
	london, _ := time.LoadLocation("Europe/London")
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, london)
	for at := start; at.Before(start.AddDate(1, 0, 0)); at = at.Add(30 * time.Minute) {
		if gotCal.IsWorking(at) != wantCal.IsWorking(at) {
			t.Fatalf("%s: working %v, register.DefaultPolicy's calendar says %v", at, gotCal.IsWorking(at), wantCal.IsWorking(at))
		}
	}
	// A red rating at 16:30 on the Thursday before Easter 2025 (Good
	// Friday and Easter Monday are bank holidays) is due four working
	// hours later, on Tuesday.
	due, err := gotCal.AddWorking(time.Date(2025, 4, 17, 16, 30, 0, 0, london), got.EscalationAckWithin)
	if err != nil || !due.Equal(time.Date(2025, 4, 22, 12, 30, 0, 0, london)) {
		t.Errorf("ack due %v (%v), want Tuesday 22 April 2025 12:30", due, err)
	}
}

// resolveHours fills in what workinghours.New does for zero fields.
func resolveHours(o workinghours.Options) workinghours.Options {
	if o.Location == "" {
		o.Location = workinghours.DefaultLocation
	}
	if o.Start == "" {
		o.Start = workinghours.DefaultStart
	}
	if o.End == "" {
		o.End = workinghours.DefaultEnd
	}
	if o.Days == nil {
		o.Days = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	}
	if o.Holidays == "" {
		o.Holidays = workinghours.DefaultHolidays
	}
	return o
}

func TestPolicyOverrides(t *testing.T) {
	c := load(t, map[string]string{
		"DSR_WORKING_DAYS":          "Mon,Tue,sat",
		"DSR_DISCHARGE_HOLD":        "0",
		"DSR_WORKING_HOURS_START":   "08:30",
		"DSR_WORKING_HOURS_END":     "16:00",
		"DSR_WORKING_TIMEZONE":      "Europe/Dublin",
		"DSR_BANK_HOLIDAYS":         "none",
		"DSR_KEYWORKER_MAX_AGE":     "18",
		"DSR_ESCALATION_ACK_WITHIN": "2h",
		"DSR_RED_CTR_WITHIN":        "10",
		"DSR_INPATIENT_CTR_SECURE":  "182d",
	})
	p := c.Policy.Register()
	want := workinghours.Options{Location: "Europe/Dublin", Start: "08:30", End: "16:00",
		Days: []time.Weekday{time.Monday, time.Tuesday, time.Saturday}, Holidays: "none"}
	if !reflect.DeepEqual(p.WorkingHours, want) {
		t.Errorf("working hours %+v, want %+v", p.WorkingHours, want)
	}
	if p.DischargeHold != 0 || p.KeyworkerMaxAge != 18 || p.EscalationAckWithin != 2*time.Hour ||
		p.RedCTRWithin != 10*24*time.Hour || p.InpatientCTRSecure != 182*24*time.Hour {
		t.Errorf("policy %+v", p)
	}
	if p.RedMeetingWithin != register.DefaultPolicy().RedMeetingWithin {
		t.Errorf("an unset timing changed: %v", p.RedMeetingWithin)
	}
	var out bytes.Buffer
	c.Print(&out)
	if !strings.Contains(out.String(), "DSR_WORKING_DAYS") || !strings.Contains(out.String(), "mon,tue,sat") {
		t.Errorf("printed config:\n%s", out.String())
	}
}

func TestWeekdays(t *testing.T) {
	for in, want := range map[string]Weekdays{
		"mon,tue,wed,thu,fri":        {time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
		"Mon,Tue,sat":                {time.Monday, time.Tuesday, time.Saturday},
		" Monday , TUESDAY,sunday ,": {time.Monday, time.Tuesday, time.Sunday},
	} {
		var w Weekdays
		if err := w.EnvDecode(in); err != nil || !reflect.DeepEqual(w, want) {
			t.Errorf("%q: %v (%v), want %v", in, w, err, want)
		}
	}
	for in, want := range map[string]string{
		"mon,tues":    `entry 2 "tues"`,
		"mon,,funday": `entry 3 "funday"`,
		"mon,Mon":     `entry 2 "Mon"`,
		"":            "at least one",
		" , ":         "at least one",
	} {
		var w Weekdays
		if err := w.EnvDecode(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want it to say %s", in, err, want)
		}
	}
	if s := (Weekdays{time.Monday, time.Sunday}).String(); s != "mon,sun" {
		t.Errorf("String %q", s)
	}
}

func TestBadPolicyAndChannelsNameTheVariable(t *testing.T) {
	slack := func(kv ...string) map[string]string {
		m := map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SLACK_CHANNEL_COORDINATORS": "C0123ABCD"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"DSR_WORKING_DAYS": "mon,funday"}, []string{"DSR_WORKING_DAYS", "funday"}},
		{map[string]string{"DSR_WORKING_DAYS": ""}, []string{"DSR_WORKING_DAYS"}},
		{map[string]string{"DSR_WORKING_HOURS_START": "25:00"}, []string{"DSR_WORKING_HOURS_START", "25:00"}},
		{map[string]string{"DSR_WORKING_HOURS_START": "9:00"}, []string{"DSR_WORKING_HOURS_START", "HH:MM"}},
		{map[string]string{"DSR_WORKING_HOURS_END": "5pm"}, []string{"DSR_WORKING_HOURS_END"}},
		{map[string]string{"DSR_WORKING_HOURS_START": "10:00", "DSR_WORKING_HOURS_END": "08:00"},
			[]string{"DSR_WORKING_HOURS_END", "DSR_WORKING_HOURS_START", "after"}},
		{map[string]string{"DSR_WORKING_TIMEZONE": "Europe/Narnia"}, []string{"DSR_WORKING_TIMEZONE", "Europe/Narnia"}},
		{map[string]string{"DSR_WORKING_TIMEZONE": "Local"}, []string{"DSR_WORKING_TIMEZONE"}},
		{map[string]string{"DSR_BANK_HOLIDAYS": "scotland"}, []string{"DSR_BANK_HOLIDAYS", "scotland"}},
		{map[string]string{"DSR_KEYWORKER_MAX_AGE": "twenty"}, []string{"DSR_KEYWORKER_MAX_AGE"}},
		{map[string]string{"DSR_KEYWORKER_MAX_AGE": "-1"}, []string{"DSR_KEYWORKER_MAX_AGE"}},
		{map[string]string{"DSR_DISCHARGE_HOLD": "-1d"}, []string{"DSR_DISCHARGE_HOLD"}},
		{map[string]string{"DSR_ESCALATION_ACK_WITHIN": "soon"}, []string{"DSR_ESCALATION_ACK_WITHIN"}},
		{map[string]string{"SLACK_CHANNEL_ALERTS": "#dsr-red"}, []string{"SLACK_CHANNEL_ALERTS", "channel ID"}},
		{slack("SLACK_CHANNEL_ALERTS", "dsr-red"), []string{"SLACK_CHANNEL_ALERTS", "channel ID"}},
		{slack("SLACK_CHANNEL_MANAGERS", "managers"), []string{"SLACK_CHANNEL_MANAGERS", "channel ID"}},
	} {
		err := loadError(tc.env)
		if err == nil {
			t.Errorf("%v: loaded, want an error naming %v", tc.env, tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: err %q, want it to say %s", tc.env, err, w)
			}
		}
		if strings.Contains(err.Error(), "Options.") || strings.Contains(err.Error(), "Policy:") {
			t.Errorf("%v: err %q names a Go field, not the variable", tc.env, err)
		}
	}
}

func TestAlertsTo(t *testing.T) {
	c := load(t, map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SLACK_CHANNEL_COORDINATORS": "C0123ABCD",
	})
	if got := c.Slack.AlertsTo(); got != "C0123ABCD" {
		t.Errorf("no SLACK_CHANNEL_ALERTS: alerts go to %q, want the coordinators' channel", got)
	}
	c = load(t, map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SLACK_CHANNEL_COORDINATORS": "C0123ABCD",
		"SLACK_CHANNEL_ALERTS": "G0RED", "SLACK_CHANNEL_MANAGERS": "C0MGRS",
	})
	if got := c.Slack.AlertsTo(); got != "G0RED" || c.Slack.ManagersChannel != "C0MGRS" {
		t.Errorf("alerts to %q, managers %q", got, c.Slack.ManagersChannel)
	}
}

// TestAPITimeout: 10 s by default; seconds or minutes as given; a bare
// number (which would mean days) or a bound too short to answer in is
// refused naming the variable.
func TestAPITimeout(t *testing.T) {
	c, err := Load(context.Background(), envconfig.MapLookuper(nil))
	if err != nil || time.Duration(c.APITimeout) != 10*time.Second {
		t.Fatalf("default DSR_API_TIMEOUT: %s, %v; want 10s", c.APITimeout, err)
	}
	c, err = Load(context.Background(), envconfig.MapLookuper(map[string]string{"DSR_API_TIMEOUT": "3s"}))
	if err != nil || time.Duration(c.APITimeout) != 3*time.Second {
		t.Fatalf("DSR_API_TIMEOUT=3s: %s, %v", c.APITimeout, err)
	}
	for _, bad := range []string{"10", "500ms", "1h", "soon"} {
		err := loadError(map[string]string{"DSR_API_TIMEOUT": bad})
		if err == nil || !strings.Contains(err.Error(), "DSR_API_TIMEOUT") {
			t.Errorf("DSR_API_TIMEOUT=%s: %v, want a refusal naming the variable", bad, err)
		}
	}
}

// TestReferralsAtOnce: 4 by default; a number from 1 to 64; anything else is
// refused naming the variable.
// TestReferralsAtOnce: env tags cannot name a constant, so the default is
// written in the setting's tag and in casework (for a Casework built without
// configuration); the first check keeps the two one.
func TestReferralsAtOnce(t *testing.T) {
	if c := load(t, nil); c.ReferralsAtOnce != casework.DefaultReferralsAtOnce {
		t.Fatalf("default DSR_REFERRALS_AT_ONCE: %d; want casework's %d", c.ReferralsAtOnce, casework.DefaultReferralsAtOnce)
	}
	if c := load(t, map[string]string{"DSR_REFERRALS_AT_ONCE": "8"}); c.ReferralsAtOnce != 8 {
		t.Fatalf("DSR_REFERRALS_AT_ONCE=8: %d", c.ReferralsAtOnce)
	}
	for _, bad := range []string{"0", "-1", "65", "many"} {
		err := loadError(map[string]string{"DSR_REFERRALS_AT_ONCE": bad})
		if err == nil || !strings.Contains(err.Error(), "DSR_REFERRALS_AT_ONCE") {
			t.Errorf("DSR_REFERRALS_AT_ONCE=%s: %v, want a refusal naming the variable", bad, err)
		}
	}
}
