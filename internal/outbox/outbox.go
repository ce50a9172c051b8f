// Package outbox delivers notifications after the change that raised them is
// recorded. The store queues them in the transaction that records the change
// (store.RecordChange); a Dispatcher sends them on. So a busy Slack channel or
// a Slack outage never holds up a workflow or the coordinator's Update
// waiting on it, and no notification is lost: each waits in PostgreSQL until
// it is delivered.
//
// One dispatcher runs at a time across every dsr process (it holds an
// advisory lock; another takes over within seconds if it dies), which also
// keeps Slack's pace per channel in one place.
//
// Alerts first. Order is kept only where it matters: a task's message before
// its edits and thread replies (a notification's Line). Lines go side by side;
// urgent notifications (everything about a red alert, and what the managers
// are told) are read first and never wait for a routine slot, and routine
// lines are delivered a bounded number at a time, so a burst of routine
// prompts cannot crowd the database or the pacer in front of an alert. The
// Slack pacer then sends alerts ahead of routine writes to any channel.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/urgent"
)

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
	// DefaultRoutineAtOnce bounds the routine lines delivered at once. Slack
	// takes about one post a second per channel, so more in hand would only
	// wait in the pacer while holding database connections.
	DefaultRoutineAtOnce = 16
	// DefaultAttentionAfter is how many refusals set a notification aside
	// for good. With DefaultRefusedRetry doubling, about 2½ hours.
	DefaultAttentionAfter = 5
	// DefaultUrgentHeadStart is the longest a routine notification waits
	// for urgent ones read before it to be tried (see slots.urgent). An
	// alert's first attempt takes tens of milliseconds; past this bound
	// the routine ones go on whatever the urgent ones are doing.
	DefaultUrgentHeadStart = 2 * time.Second
	// DefaultReadHeadStart is the longest a read of the outbox waits for
	// the urgent notifications in hand to be tried (see dispatch). The
	// read mostly finds routine ones; an urgent one queued by another
	// process waits for it by no more than this.
	DefaultReadHeadStart = 100 * time.Millisecond
	// DefaultDeliveryTimeout bounds one delivery attempt: a Slack write
	// waits its turn in the pacer (at most the routine slots ahead of it, a
	// second each) and any Retry-After; past this something is wrong, and
	// the attempt is counted as failed and tried again.
	DefaultDeliveryTimeout = 5 * time.Minute
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
	// RoutineAtOnce bounds how many routine notifications are being
	// delivered at once; urgent ones are not bounded by it.
	RoutineAtOnce int
	// AttentionAfter is how many times a notification may be refused
	// before it is set aside for good as needing attention (shown on
	// /healthz, the managers told once). One that cannot be read is set
	// aside at once.
	AttentionAfter int
	// DeliveryTimeout bounds one delivery attempt.
	DeliveryTimeout time.Duration
	// UrgentHeadStart bounds how long routine notifications wait for the
	// urgent ones read before them to be tried once.
	UrgentHeadStart time.Duration
	// ReadHeadStart bounds how long a read of the outbox waits for the
	// urgent notifications in hand to be tried once.
	ReadHeadStart time.Duration

	// take, while this process dispatches, hands notifications to their
	// lines (TakeAlerts); handIn guards it.
	handIn sync.RWMutex
	take   func([]store.OutboxItem) <-chan struct{}
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
// to its line, until ctx ends or the lease is lost.
func (d *Dispatcher) dispatch(ctx context.Context, lease *store.OutboxLease) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	// Routine posts and routine edits take slots of their own: Slack paces
	// them in different lanes (a post a second per channel; chat.update by
	// its tier), so an edit must not wait for a slot held by a post that is
	// waiting for its channel's turn.
	routine := slots{
		post:    make(chan struct{}, orDefaultInt(d.RoutineAtOnce, DefaultRoutineAtOnce)),
		edit:    make(chan struct{}, orDefaultInt(d.RoutineAtOnce, DefaultRoutineAtOnce)),
		urgent:  &urgent.InFlight{},
		waitFor: orDefault(d.UrgentHeadStart, DefaultUrgentHeadStart),
	}
	var mu sync.Mutex
	lines := map[string][]store.OutboxItem{} // line → waiting, in order; present while a goroutine drains it
	inFlight := map[int64]bool{}             // outbox IDs held in lines
	// finished keeps when each notification's delivery ended (delivered,
	// or set aside), for a while, so neither a read nor a hand-in takes it
	// again: a read that began before it was marked sent may still return
	// it (what was in flight when the read began, the read leaves out
	// itself), and a hand-in can come late, after the read took it and
	// delivered it.
	finished := map[int64]time.Time{}
	var readStarted time.Time
	// untried holds each notification in lines until its first attempt
	// is over, with what to call then: the hand-ins waiting for it.
	untried := map[int64][]func(){}
	triedOnce := func(id int64) {
		mu.Lock()
		waiting := untried[id]
		delete(untried, id)
		mu.Unlock()
		for _, done := range waiting {
			done()
		}
	}
	defer func() {
		// Stopped before some were tried: their hand-ins wait no more.
		cancel()
		wg.Wait()
		for id := range untried {
			triedOnce(id)
		}
	}()

	drain := func(line string) {
		defer wg.Done()
		for {
			mu.Lock()
			waiting := lines[line]
			if len(waiting) == 0 {
				delete(lines, line)
				mu.Unlock()
				return
			}
			item := waiting[0]
			mu.Unlock()
			if !d.deliverInTurn(ctx, item, routine, func() { triedOnce(item.ID) }) {
				return // ctx ended; the rest wait in the outbox for the next dispatcher
			}
			mu.Lock()
			lines[line] = lines[line][1:]
			delete(inFlight, item.ID)
			finished[item.ID] = time.Now()
			mu.Unlock()
		}
	}
	// take hands each item not already taken to the end of its line.
	// Items read are skipped if they finished during the read; items
	// handed in, if they finished at all. Its answer closes once every
	// item handed in has been tried once (nil if none is waiting for that).
	take := func(items []store.OutboxItem, read bool) <-chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		var handedIn sync.WaitGroup
		waits := 0
		waitFor := func(id int64) {
			if waiting, ok := untried[id]; ok && !read {
				waits++
				handedIn.Add(1)
				untried[id] = append(waiting, handedIn.Done)
			}
		}
		for _, item := range items {
			ended, done := finished[item.ID]
			if inFlight[item.ID] || (done && (!read || !ended.Before(readStarted))) {
				waitFor(item.ID)
				continue
			}
			inFlight[item.ID] = true
			untried[item.ID] = nil
			waitFor(item.ID)
			if item.Urgent {
				routine.urgent.Add()
			}
			_, draining := lines[item.Line]
			lines[item.Line] = append(lines[item.Line], item)
			if !draining {
				wg.Add(1)
				go drain(item.Line)
			}
		}
		if waits == 0 {
			return nil
		}
		tried := make(chan struct{})
		go func() { handedIn.Wait(); close(tried) }()
		return tried
	}
	// Alerts handed in by this process's changes (TakeAlerts) are taken
	// like those read, until dispatching stops; that is before the
	// deliveries are waited for, so nothing is added to them after.
	d.handIn.Lock()
	d.take = func(alerts []store.OutboxItem) <-chan struct{} { return take(alerts, false) }
	d.handIn.Unlock()
	defer func() {
		d.handIn.Lock()
		d.take = nil
		d.handIn.Unlock()
	}()

	var pruned time.Time
	for {
		if d.now().Sub(pruned) >= time.Hour {
			if _, err := d.Store.PruneNotifications(ctx, d.now().Add(-orDefault(d.Keep, DefaultKeep))); err != nil {
				return err
			}
			pruned = d.now()
		}
		// The read, and taking what it finds, take the database and the
		// CPU for a moment, longer with a backlog of routine prompts; a
		// red rating's own commit wakes it just as its alert is handed in.
		// So it waits, bounded, while an alert in hand has not been tried.
		if !routine.urgent.Wait(ctx, orDefault(d.ReadHeadStart, DefaultReadHeadStart)) {
			return ctx.Err()
		}
		mu.Lock()
		inHand := make([]int64, 0, len(inFlight))
		for id := range inFlight {
			inHand = append(inHand, id)
		}
		readStarted = time.Now()
		for id, ended := range finished {
			if readStarted.Sub(ended) > handInLate {
				delete(finished, id)
			}
		}
		mu.Unlock()
		// Urgent first: an alert queued behind a thousand routine prompts
		// is still in this read.
		waiting, err := d.Store.WaitingNotifications(ctx, inHand, 1000)
		if err != nil {
			return err
		}
		take(waiting, true)
		if err := lease.Wait(ctx, orDefault(d.Poll, DefaultPoll)); err != nil {
			return err
		}
	}
}

// handInLate bounds how late a hand-in is still recognised as one already
// delivered (see finished). Later than that, the notifier's own guard
// (a task's message is posted once) is what stops a second post.
const handInLate = time.Minute

// TakeAlerts takes alerts just queued (store.HandAlertsTo) straight to
// delivery, if this process holds the outbox; otherwise it does nothing:
// the dispatcher that holds it reads them. Each notification is taken once
// however it arrives. Its answer closes once each of them has been tried
// once, here (nil when none is waiting for that, or nothing was taken).
func (d *Dispatcher) TakeAlerts(alerts []store.OutboxItem) <-chan struct{} {
	d.handIn.RLock()
	defer d.handIn.RUnlock()
	if d.take == nil {
		return nil
	}
	return d.take(alerts)
}

// slots bound the routine notifications being delivered at once (edits of
// messages already posted apart from everything else), and hold each one
// back while urgent notifications read before it have not been tried.
type slots struct {
	post, edit chan struct{}
	// urgent counts the urgent notifications read but not yet tried once;
	// routine ones wait (up to waitFor) until there are none. It lets them
	// go first through everything they share with routine ones, not only
	// the Slack pacer: a red rating queues its alert with the routine
	// prompts for the escalation's actions, all read at once, and
	// delivering each means reading the record and noting the attempt
	// before posting. Started together, the routine deliveries' reads would
	// take turns with the alert's for the database and the CPU.
	urgent  *urgent.InFlight
	waitFor time.Duration
}

func (s slots) forItem(item store.OutboxItem) chan struct{} {
	if item.Edit {
		return s.edit
	}
	return s.post
}

// deliverInTurn delivers item, taking one of the routine slots first unless
// it is urgent, and letting the urgent ones already read go first; false if
// ctx ended first. tried is called once, when the first attempt is over.
func (d *Dispatcher) deliverInTurn(ctx context.Context, item store.OutboxItem, routine slots, tried func()) bool {
	if item.Urgent {
		return d.deliver(ctx, item, func() { routine.urgent.Done(); tried() })
	}
	slot := routine.forItem(item)
	select {
	case slot <- struct{}{}:
		defer func() { <-slot }()
	case <-ctx.Done():
		return false
	}
	if !routine.urgent.Wait(ctx, routine.waitFor) {
		return false
	}
	return d.deliver(ctx, item, tried)
}

// deliver sends one notification, retrying until it goes or is set aside
// (refused, or unreadable); false if ctx ended first. tried is called once,
// when the first attempt is over.
func (d *Dispatcher) deliver(ctx context.Context, item store.OutboxItem, tried func()) bool {
	var n notify.Notification
	if err := json.Unmarshal(item.Payload, &n); err != nil {
		tried()
		// It will never read better: set it aside at once.
		return d.setAsideForGood(ctx, item, n, fmt.Errorf("cannot read the notification: %w", err))
	}
	backoff := orDefault(d.RetryBackoff, DefaultRetryBackoff)
	for first := true; ; first = false {
		err := d.attempt(ctx, n)
		if first {
			tried()
		}
		if err == nil {
			d.markDelivered(ctx, item)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if notify.IsRefused(err) {
			if item.Attempts+1 >= orDefaultInt(d.AttentionAfter, DefaultAttentionAfter) {
				return d.setAsideForGood(ctx, item, n, err)
			}
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

// attempt delivers n once, within the delivery timeout.
func (d *Dispatcher) attempt(ctx context.Context, n notify.Notification) error {
	ctx, cancel := context.WithTimeout(ctx, orDefault(d.DeliveryTimeout, DefaultDeliveryTimeout))
	defer cancel()
	return d.Deliver.Notify(ctx, n)
}

// markDelivered records item as sent, even if we are being stopped, so it
// is not sent again (the notifiers' own keys are the second guard).
func (d *Dispatcher) markDelivered(ctx context.Context, item store.OutboxItem) {
	mark := context.WithoutCancel(ctx)
	for try := 0; ; try++ {
		err := d.Store.NotificationDelivered(mark, item.ID, d.now())
		if err == nil {
			return
		}
		if try == 4 {
			d.Logger.Error("notification outbox: delivered but not marked; it may be offered again",
				"key", item.Key, "error", err)
			return
		}
		time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
	}
}

// setAsideForGood stops trying item on its own and tells the managers once
// (unless item is itself such a message: that would never end). It never
// blocks the line: the next notification goes on. False only if ctx ended
// before it was recorded.
func (d *Dispatcher) setAsideForGood(ctx context.Context, item store.OutboxItem, n notify.Notification, why error) bool {
	var tell *notify.Notification
	if n.Event != notify.NeedsAttention {
		tell = &notify.Notification{
			Key: "attention:" + item.Key, Event: notify.NeedsAttention, PersonID: item.PersonID,
			TaskID: n.TaskID, TaskKind: n.TaskKind, At: d.now(), Urgent: true,
			About: item.Key, Problem: problem(why),
		}
	}
	backoff := orDefault(d.RetryBackoff, DefaultRetryBackoff)
	for {
		err := d.Store.NotificationNeedsAttention(ctx, item, why.Error(), d.now(), tell)
		if err == nil {
			d.Logger.Error("notification set aside: it needs attention (see /healthz); the managers are told",
				"key", item.Key, "person_id", item.PersonID, "error", why)
			return true
		}
		d.Logger.Warn("notification outbox: cannot set a notification aside; will retry", "key", item.Key, "error", err)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, orDefault(d.MaxBackoff, DefaultMaxBackoff))
	}
}

// problem is what the managers are told went wrong: the destination's own
// error code where it gives one (Slack's "channel_not_found"), else the
// error's first 200 characters. Errors carry IDs and codes, never names.
func problem(err error) string {
	var coded interface{ Code() string }
	if errors.As(err, &coded) && coded.Code() != "" {
		return coded.Code()
	}
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func orDefaultInt(n, def int) int {
	if n > 0 {
		return n
	}
	return def
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
