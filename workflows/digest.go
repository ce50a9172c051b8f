package workflows

import (
	"errors"
	"time"

	"github.com/robfig/cron/v3"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/workinghours"
)

// digestFiresPerRun is how many scheduled fires a run handles before it
// continues as new, keeping its history short (about a year of weekdays
// is ~260 fires; this is a few months).
const digestFiresPerRun = 60

// digestRecheck is the longest the digest sleeps without re-reading its
// settings, so a new DSR_DIGEST_SCHEDULE reaches it within a day of a
// restart.
const digestRecheck = 24 * time.Hour

// DigestInput carries the digest across continue-as-new.
type DigestInput struct {
	// After is the time from which the next fire is computed (the last
	// fire, or when the digest began). Zero means now.
	After time.Time
	// Since is when the last digest was sent: new reds count from it.
	// Zero means now.
	Since time.Time
	// FiresPerRun overrides digestFiresPerRun (tests).
	FiresPerRun int
}

// DigestWorkflow posts the managers' digest on the configured cron
// schedule. The next time is the cron spec's next after the last fire,
// worked out from workflow.Now, and waited for with a durable timer, so it
// survives restarts and replays the same. At each fire it asks the
// SendDigest activity to count and, if there is anything to say, queue one
// digest for the managers' channel. A fire on a bank holiday is skipped
// when configured; the next digest then counts new reds from the last one
// sent, so nothing is lost.
func DigestWorkflow(ctx workflow.Context, in DigestInput) error {
	logger := workflow.GetLogger(ctx)
	now := workflow.Now(ctx)
	after, since := in.After, in.Since
	if after.IsZero() {
		after = now
	}
	if since.IsZero() {
		since = now
	}
	perRun := in.FiresPerRun
	if perRun <= 0 {
		perRun = digestFiresPerRun
	}
	for fires := 0; ; {
		plan, err := readDigestPlan(ctx)
		if err != nil {
			return err
		}
		now = workflow.Now(ctx)
		next := plan.next(after)
		if next.IsZero() {
			// Settings unreadable (logged), or a spec that never fires again
			// (a date long past): nothing to wait for but new ones.
			if err := workflow.Sleep(ctx, digestRecheck); err != nil {
				return err
			}
			continue
		}
		if next.After(now) {
			if err := workflow.Sleep(ctx, min(next.Sub(now), digestRecheck)); err != nil {
				return err
			}
			continue
		}
		// Due. After an outage only one digest goes: the next is computed
		// from now, not from each missed fire.
		after = now
		fires++
		if plan.skipBankHolidays && isBankHoliday(plan.calendar, next) {
			logger.Info("digest skipped: bank holiday", "scheduled", next)
		} else {
			if err := sendDigest(ctx, activities.SendDigestInput{Scheduled: next, At: now, Since: since, Zone: plan.calendar.Location().String()}); err != nil {
				return err
			}
			since = now
		}
		if fires >= perRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return workflow.NewContinueAsNewError(ctx, DigestWorkflow, DigestInput{After: after, Since: since, FiresPerRun: in.FiresPerRun})
		}
	}
}

// digestPlan is the digest's settings, parsed. They are read afresh before
// every wait. Its zero value, for settings that could not be read, never
// fires.
type digestPlan struct {
	schedule         cron.Schedule
	calendar         *workinghours.Calendar
	skipBankHolidays bool
}

// next is the first fire after after; zero if there is none.
func (p digestPlan) next(after time.Time) time.Time {
	if p.schedule == nil {
		return time.Time{}
	}
	return p.schedule.Next(after)
}

// readDigestPlan reads the digest's settings and parses them. Config checks
// them at start-up, so settings that fail here are ones start-up accepted
// and this code no longer does: logged, and answered with the zero plan, so
// the digest waits for corrected settings rather than fail for good.
func readDigestPlan(ctx workflow.Context) (digestPlan, error) {
	settings, err := readDigestSettings(ctx)
	if err != nil {
		return digestPlan{}, err
	}
	logger := workflow.GetLogger(ctx)
	schedule, err := cron.ParseStandard(settings.Schedule)
	if err != nil {
		logger.Error("digest schedule unreadable; waiting for a corrected DSR_DIGEST_SCHEDULE", "error", err)
		return digestPlan{}, nil
	}
	calendar, err := workinghours.New(settings.Calendar)
	if err != nil {
		logger.Error("digest calendar unreadable; waiting for corrected settings", "error", err)
		return digestPlan{}, nil
	}
	return digestPlan{schedule: schedule, calendar: calendar, skipBankHolidays: settings.SkipBankHolidays}, nil
}

// isBankHoliday reports whether t falls on a bank holiday of cal, by the
// date in cal's zone.
func isBankHoliday(cal *workinghours.Calendar, t time.Time) bool {
	local := t.In(cal.Location())
	for _, h := range cal.Holidays(local.Year()) {
		hy, hm, hd := h.Date.Date()
		if y, m, d := local.Date(); y == hy && m == hm && d == hd {
			return true
		}
	}
	return false
}

// readDigestSettings fetches the digest's settings (the worker's Digests
// has the settings source).
func readDigestSettings(ctx workflow.Context) (activities.DigestSettings, error) {
	return readLocally[activities.DigestSettings](ctx, "DigestSettings", activities.DigestSettingsInput{}, "digest settings")
}

// sendDigest runs SendDigest, retrying through an outage for up to a day:
// a digest a day late is no longer today's, so after that it is given up
// (logged) and the schedule goes on.
func sendDigest(ctx workflow.Context, in activities.SendDigestInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy:            retryDoubling(5 * time.Minute),
	})
	err := workflow.ExecuteActivity(ctx, "SendDigest", in).Get(ctx, nil)
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		workflow.GetLogger(ctx).Error("digest not sent within a day; skipped", "scheduled", in.Scheduled)
		return nil
	}
	return err
}
