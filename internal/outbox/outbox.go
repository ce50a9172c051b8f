// Package outbox delivers notifications after the change that raised them is
// recorded. RecordChange queues them (Queue) and returns; a Dispatcher sends
// them on. So a busy Slack channel (a burst of red alerts paced at one a
// second) or a Slack outage never holds up a workflow or the coordinator's
// Update waiting on it, and no notification is lost: each waits in
// PostgreSQL until it is delivered.
//
// One dispatcher runs at a time across every dsr process (it holds an
// advisory lock; another takes over within seconds if it dies), which also
// keeps Slack's pace per channel in one place. It delivers each person's
// notifications in the order they were queued, and different people's side
// by side, so an alert is never stuck behind another person's routine
// prompt: the Slack pacer then sends alerts ahead of routine writes.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/store"
)

// Queue is the notify.Notifier that activities use: it queues.
type Queue struct {
	Store *store.Store
}

// Notify queues n for delivery; a key already queued adds nothing.
func (q Queue) Notify(ctx context.Context, n notify.Notification) error {
	payload, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("outbox: encode notification %s: %w", n.Key, err)
	}
	return q.Store.QueueNotification(ctx, n.Key, n.PersonID, payload)
}

// Defaults for a Dispatcher's timings.
const (
	DefaultPoll         = 5 * time.Second
	DefaultStandby      = 5 * time.Second
	DefaultRetryBackoff = time.Second
	DefaultMaxBackoff   = 5 * time.Minute
	// DefaultRefusedRetry is how long a refused notification waits before
	// it is tried again (doubling, up to DefaultRefusedMax).
	DefaultRefusedRetry = 5 * time.Minute
	DefaultRefusedMax   = time.Hour
	// DefaultKeep is how long delivered notifications are kept.
	DefaultKeep = 30 * 24 * time.Hour
)

// Dispatcher delivers queued notifications to Deliver until its context
// ends.
type Dispatcher struct {
	Store   *store.Store
	Deliver notify.Notifier
	Logger  *slog.Logger
	Now     func() time.Time

	// Poll is how often the outbox is read when no NOTIFY has come: a
	// safety net, since a queued notification wakes the dispatcher at once.
	Poll time.Duration
	// Standby is how often a process that does not hold the outbox tries
	// to take it over.
	Standby time.Duration
	// RetryBackoff is the wait after a failed delivery; it doubles after
	// each further failure, up to MaxBackoff. Failures never drop a
	// notification: it is retried until it goes.
	RetryBackoff, MaxBackoff time.Duration
	// RefusedRetry is how long a notification the destination refused
	// (notify.IsRefused) is set aside before it is tried again; it doubles
	// with each refusal, up to RefusedMax. Meanwhile the person's later
	// notifications go on: a manager's wrong Slack ID must not hold back
	// the next red alert.
	RefusedRetry, RefusedMax time.Duration
	// Keep is how long a delivered notification stays in the outbox
	// (pruned hourly by the dispatcher).
	Keep time.Duration
}

// Run dispatches while this process holds the outbox, and stands by
// otherwise. It returns when ctx ends, after every delivery in flight has
// stopped.
func (d *Dispatcher) Run(ctx context.Context) {
	for ctx.Err() == nil {
		lease, err := d.Store.HoldOutbox(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			d.Logger.Warn("notification outbox: cannot take it", "error", err)
		case lease != nil:
			d.Logger.Debug("notification outbox: dispatching from this process")
			err := d.dispatch(ctx, lease)
			lease.Release()
			if ctx.Err() != nil {
				return
			}
			d.Logger.Warn("notification outbox: dispatching stopped; taking it again", "error", err)
			continue
		}
		sleep(ctx, orDefault(d.Standby, DefaultStandby))
	}
}

// dispatch reads what is waiting whenever woken and hands each notification
// to its person's line, until ctx ends or the lease is lost.
func (d *Dispatcher) dispatch(ctx context.Context, lease *store.OutboxLease) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	var mu sync.Mutex
	lines := map[int64][]store.OutboxItem{} // person → waiting, in order; present while a goroutine drains it
	inFlight := map[int64]bool{}            // outbox IDs held in lines

	drain := func(person int64) {
		defer wg.Done()
		for {
			mu.Lock()
			line := lines[person]
			if len(line) == 0 {
				delete(lines, person)
				mu.Unlock()
				return
			}
			item := line[0]
			mu.Unlock()
			if !d.deliver(ctx, item) {
				return // ctx ended; the rest wait in the outbox for the next dispatcher
			}
			mu.Lock()
			lines[person] = lines[person][1:]
			delete(inFlight, item.ID)
			mu.Unlock()
		}
	}

	var pruned time.Time
	for {
		if d.now().Sub(pruned) >= time.Hour {
			if _, err := d.Store.PruneNotifications(ctx, d.now().Add(-orDefault(d.Keep, DefaultKeep))); err != nil {
				return err
			}
			pruned = d.now()
		}
		mu.Lock()
		inHand := make([]int64, 0, len(inFlight))
		for id := range inFlight {
			inHand = append(inHand, id)
		}
		mu.Unlock()
		waiting, err := d.Store.WaitingNotifications(ctx, inHand, 1000)
		if err != nil {
			return err
		}
		mu.Lock()
		for _, item := range waiting {
			if inFlight[item.ID] {
				continue
			}
			inFlight[item.ID] = true
			_, draining := lines[item.PersonID]
			lines[item.PersonID] = append(lines[item.PersonID], item)
			if !draining {
				wg.Add(1)
				go drain(item.PersonID)
			}
		}
		mu.Unlock()
		if err := lease.Wait(ctx, orDefault(d.Poll, DefaultPoll)); err != nil {
			return err
		}
	}
}

// deliver sends one notification, retrying until it goes or is set aside
// as refused; false if ctx ended first.
func (d *Dispatcher) deliver(ctx context.Context, item store.OutboxItem) bool {
	var n notify.Notification
	decodeErr := json.Unmarshal(item.Payload, &n)
	backoff := orDefault(d.RetryBackoff, DefaultRetryBackoff)
	for {
		err := decodeErr
		if err == nil {
			err = d.Deliver.Notify(ctx, n)
		}
		if err == nil {
			// Sent: record it even if we are being stopped, so it is not
			// sent again (the notifiers' own keys are the second guard).
			mark := context.WithoutCancel(ctx)
			for try := 0; ; try++ {
				if err := d.Store.NotificationDelivered(mark, item.ID, d.now()); err == nil || try == 4 {
					if err != nil {
						d.Logger.Error("notification outbox: delivered but not marked; it may be offered again",
							"key", item.Key, "error", err)
					}
					return true
				}
				time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
			}
		}
		if ctx.Err() != nil {
			return false
		}
		if notify.IsRefused(err) {
			wait := orDefault(d.RefusedRetry, DefaultRefusedRetry) << min(item.Attempts, 10)
			wait = min(wait, orDefault(d.RefusedMax, DefaultRefusedMax))
			attempts, markErr := d.Store.NotificationSetAside(ctx, item.ID, err.Error(), d.now().Add(wait))
			if markErr != nil {
				// Not recorded as set aside: keep trying it here instead.
				d.Logger.Warn("notification outbox: cannot set a refused notification aside", "key", item.Key, "error", markErr)
			} else {
				d.Logger.Error("notification refused; set aside, the person's next notifications go on",
					"key", item.Key, "person_id", item.PersonID, "attempts", attempts, "retry_in", wait, "error", err)
				return true
			}
		}
		attempts, markErr := d.Store.NotificationFailed(ctx, item.ID, err.Error())
		if markErr != nil {
			d.Logger.Warn("notification outbox: cannot count a failed attempt", "key", item.Key, "error", markErr)
		}
		level := slog.LevelWarn
		if attempts >= 5 {
			level = slog.LevelError // a minute or more of failures: someone should look
		}
		d.Logger.Log(ctx, level, "notification not delivered; will retry",
			"key", item.Key, "person_id", item.PersonID, "attempts", attempts, "retry_in", backoff, "error", err)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, orDefault(d.MaxBackoff, DefaultMaxBackoff))
	}
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// sleep waits for d or ctx; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
