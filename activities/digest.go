package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/workinghours"
)

// DigestStore is the part of the store the managers' digest reads and
// queues through.
type DigestStore interface {
	// DigestCounts counts, at at, what a manager must act on, with red
	// alerts started after since.
	DigestCounts(ctx context.Context, since, at time.Time) (notify.DigestCounts, error)
	// QueueNotifications queues notifications in the outbox, once per key.
	QueueNotifications(ctx context.Context, ns ...notify.Notification) error
}

// Digests holds the digest's activities. They are registered beside
// Activities; their names (DigestSettings, SendDigest) are their own.
type Digests struct {
	Store DigestStore
	// Settings returns the digest's settings in force now, read on every
	// call so a restart with a new schedule reaches the running workflow.
	Settings func() DigestSettings
}

// DigestSettings is how the digest is scheduled.
type DigestSettings struct {
	// Schedule is the cron spec (DSR_DIGEST_SCHEDULE), parsed in the
	// workflow: parsing is pure, and the next time comes from workflow.Now.
	Schedule string
	// SkipBankHolidays leaves out a fire on a bank holiday of Calendar.
	SkipBankHolidays bool
	// Calendar is the team's working calendar: its zone dates the digest
	// (its key) and its bank holidays are the ones skipped.
	Calendar workinghours.Options
}

// DigestSettingsInput asks for the digest's settings.
type DigestSettingsInput struct{}

// DigestSettings returns the settings in force. The workflow calls it as a
// local activity whenever it works out the next time.
func (d *Digests) DigestSettings(ctx context.Context, _ DigestSettingsInput) (DigestSettings, error) {
	return d.Settings(), nil
}

// SendDigestInput is one scheduled digest.
type SendDigestInput struct {
	// Scheduled is the time the schedule named; it keys the notification.
	Scheduled time.Time
	// At is when it ran (Scheduled, or later after an outage): counts are
	// as of then.
	At time.Time
	// Since is when the last digest was sent: new reds are counted from it.
	Since time.Time
	// Zone is the team's time zone (IANA), for the key's date.
	Zone string
}

// SendDigestResult says whether a digest was queued, and what it counted.
type SendDigestResult struct {
	Queued bool
	Counts notify.DigestCounts
}

// SendDigest counts what the managers must act on and, if there is
// anything, queues one digest notification for the managers' channel. A
// retry queues nothing more: the key is the scheduled time's.
func (d *Digests) SendDigest(ctx context.Context, in SendDigestInput) (SendDigestResult, error) {
	loc, err := time.LoadLocation(in.Zone)
	if err != nil {
		return SendDigestResult{}, fmt.Errorf("digest: time zone %q: %w", in.Zone, err)
	}
	counts, err := d.Store.DigestCounts(ctx, in.Since, in.At)
	if err != nil {
		return SendDigestResult{}, fmt.Errorf("digest: count: %w", err)
	}
	if counts.Empty() {
		return SendDigestResult{Counts: counts}, nil
	}
	if err := d.Store.QueueNotifications(ctx, notify.ForDigest(counts, in.Scheduled, in.At, loc)); err != nil {
		return SendDigestResult{}, fmt.Errorf("digest: queue: %w", err)
	}
	return SendDigestResult{Queued: true, Counts: counts}, nil
}
