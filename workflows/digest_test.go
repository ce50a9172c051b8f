package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/workinghours"
)

// digestRecord is an in-memory activities.DigestStore: it answers counts
// as told and keeps what is queued, once per key, as the outbox does.
type digestRecord struct {
	mu      sync.Mutex
	counts  notify.DigestCounts
	queued  []notify.Notification
	keys    map[string]bool
	sinceAt map[time.Time]time.Time
}

func (d *digestRecord) DigestCounts(_ context.Context, since, at time.Time) (notify.DigestCounts, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sinceAt[at] = since
	c := d.counts
	c.Since = since
	return c, nil
}

func (d *digestRecord) QueueNotifications(_ context.Context, ns ...notify.Notification) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range ns {
		if !d.keys[n.Key] {
			d.keys[n.Key] = true
			d.queued = append(d.queued, n)
		}
	}
	return nil
}

// runDigest runs DigestWorkflow from begin with time skipping for fires
// scheduled fires (it then continues as new, which ends the test run).
func runDigest(t *testing.T, begin time.Time, settings activities.DigestSettings, counts notify.DigestCounts, fires int) *digestRecord {
	t.Helper()
	rec := &digestRecord{counts: counts, keys: map[string]bool{}, sinceAt: map[time.Time]time.Time{}}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(begin)
	env.RegisterWorkflow(DigestWorkflow)
	env.RegisterActivity(&activities.Digests{Store: rec, Settings: func() activities.DigestSettings { return settings }})
	env.ExecuteWorkflow(DigestWorkflow, DigestInput{FiresPerRun: fires})
	if !env.IsWorkflowCompleted() {
		t.Fatal("digest workflow did not reach continue-as-new")
	}
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new after %d fires, got %v", fires, err)
	}
	return rec
}

func londonDigest(skipBankHolidays bool) activities.DigestSettings {
	return activities.DigestSettings{
		Schedule:         "CRON_TZ=Europe/London 0 8 * * MON-FRI",
		SkipBankHolidays: skipBankHolidays,
		Calendar:         workinghours.Options{Location: "Europe/London", Holidays: "england-wales"},
	}
}

func queuedAt(rec *digestRecord) []time.Time {
	var out []time.Time
	for _, n := range rec.queued {
		out = append(out, n.At.UTC())
	}
	return out
}

func sameTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// The clocks go back on Sunday 26 October 2025: 08:00 London is 07:00 UTC
// before and 08:00 UTC after. The digest stays at 08:00 local, weekdays
// only, and each counts new reds from the one before.
func TestDigestStaysAtEightLondonAcrossTheClockChange(t *testing.T) {
	begin := time.Date(2025, 10, 22, 12, 0, 0, 0, time.UTC) // Wednesday
	rec := runDigest(t, begin, londonDigest(true), notify.DigestCounts{NewReds: 1}, 4)
	want := []time.Time{
		time.Date(2025, 10, 23, 7, 0, 0, 0, time.UTC), // Thu 08:00 BST
		time.Date(2025, 10, 24, 7, 0, 0, 0, time.UTC), // Fri 08:00 BST
		time.Date(2025, 10, 27, 8, 0, 0, 0, time.UTC), // Mon 08:00 GMT
		time.Date(2025, 10, 28, 8, 0, 0, 0, time.UTC), // Tue 08:00 GMT
	}
	if got := queuedAt(rec); !sameTimes(got, want) {
		t.Fatalf("digests at %v, want %v", got, want)
	}
	if got := rec.sinceAt[want[2]]; !got.Equal(want[1]) {
		t.Errorf("Monday's digest counts new reds since %s, want Friday's digest %s", got, want[1])
	}
	if got := rec.sinceAt[want[0]]; !got.Equal(begin) {
		t.Errorf("the first digest counts since %s, want the digest's start %s", got, begin)
	}
	for i, n := range rec.queued {
		if n.Event != notify.Digest || n.Digest == nil || n.Digest.NewReds != 1 || n.PersonID != 0 {
			t.Errorf("digest %d: %+v", i, n)
		}
	}
	if k := rec.queued[2].Key; k != "digest-2025-10-27T08:00:00" {
		t.Errorf("Monday's key %q names the local scheduled time", k)
	}
}

// Monday 25 August 2025 is the summer bank holiday: no digest that day,
// and Tuesday's counts new reds from Friday's.
func TestDigestSkipsABankHoliday(t *testing.T) {
	begin := time.Date(2025, 8, 21, 12, 0, 0, 0, time.UTC) // Thursday
	fri := time.Date(2025, 8, 22, 7, 0, 0, 0, time.UTC)
	mon := time.Date(2025, 8, 25, 7, 0, 0, 0, time.UTC)
	tue := time.Date(2025, 8, 26, 7, 0, 0, 0, time.UTC)

	rec := runDigest(t, begin, londonDigest(true), notify.DigestCounts{OverdueReviews: 2}, 3)
	if got, want := queuedAt(rec), []time.Time{fri, tue}; !sameTimes(got, want) {
		t.Fatalf("digests at %v, want %v (none on the bank holiday)", got, want)
	}
	if got := rec.sinceAt[tue]; !got.Equal(fri) {
		t.Errorf("Tuesday's digest counts since %s, want Friday's %s", got, fri)
	}

	// With skipping off, the holiday is a day like another.
	rec = runDigest(t, begin, londonDigest(false), notify.DigestCounts{OverdueReviews: 2}, 3)
	if got, want := queuedAt(rec), []time.Time{fri, mon, tue}; !sameTimes(got, want) {
		t.Fatalf("without skipping, digests at %v, want %v", got, want)
	}
}

// Nothing to act on: the activity runs, nothing is queued.
func TestDigestWithNothingToSayPostsNothing(t *testing.T) {
	rec := runDigest(t, time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC), londonDigest(true), notify.DigestCounts{}, 2)
	if len(rec.sinceAt) != 2 || len(rec.queued) != 0 {
		t.Fatalf("counted %d times, queued %v; want 2 counts and nothing queued", len(rec.sinceAt), rec.queued)
	}
}

// Settings that cannot be read (a spec, then a calendar, start-up would
// have refused) stop no digest for good: the workflow waits and reads them
// again, and once corrected sends the digest that fell due meanwhile, once.
func TestDigestWaitsForCorrectedSettings(t *testing.T) {
	begin := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC) // Monday
	var mu sync.Mutex
	settings := londonDigest(true)
	settings.Schedule = "not a schedule"
	set := func(f func(*activities.DigestSettings)) func() {
		return func() { mu.Lock(); defer mu.Unlock(); f(&settings) }
	}
	rec := &digestRecord{counts: notify.DigestCounts{NewReds: 1}, keys: map[string]bool{}, sinceAt: map[time.Time]time.Time{}}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(begin)
	env.RegisterWorkflow(DigestWorkflow)
	env.RegisterActivity(&activities.Digests{Store: rec, Settings: func() activities.DigestSettings {
		mu.Lock()
		defer mu.Unlock()
		return settings
	}})
	// Tuesday: the spec is fixed, the calendar broken; Wednesday: both
	// fixed. Each an hour before the workflow reads them again, so the
	// test does not depend on which of two things due at once goes first.
	env.RegisterDelayedCallback(set(func(d *activities.DigestSettings) {
		d.Schedule = londonDigest(true).Schedule
		d.Calendar.Location = "Nowhere/Atlantis"
	}), 23*time.Hour)
	env.RegisterDelayedCallback(set(func(d *activities.DigestSettings) { d.Calendar = londonDigest(true).Calendar }), 47*time.Hour)
	env.ExecuteWorkflow(DigestWorkflow, DigestInput{FiresPerRun: 2})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new after 2 fires, got %v", err)
	}
	// Read again a day after each failure: Tuesday and Wednesday 12:00 UTC.
	// Wednesday's digest is for Tuesday 08:00 (the first fire after the
	// start), sent at once; the next is Thursday's.
	late := begin.Add(48 * time.Hour)
	thu := time.Date(2026, 1, 8, 8, 0, 0, 0, time.UTC)
	if got, want := queuedAt(rec), []time.Time{late, thu}; !sameTimes(got, want) {
		t.Fatalf("digests at %v, want %v", got, want)
	}
	if k := rec.queued[0].Key; k != "digest-2026-01-06T08:00:00" {
		t.Errorf("the late digest's key %q, want Tuesday's scheduled time", k)
	}
	if got := rec.sinceAt[late]; !got.Equal(begin) {
		t.Errorf("the late digest counts since %s, want the digest's start %s", got, begin)
	}
}
