package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

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
