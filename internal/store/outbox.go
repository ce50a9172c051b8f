package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/internal/notify"
)

// outboxLockID is the session advisory lock the notification dispatcher
// holds; it spells "dsr-out". outboxChannel is what PostgreSQL NOTIFYs when
// a notification is queued, so the dispatcher wakes at once.
const (
	outboxLockID  int64 = 0x6473722d6f7574
	outboxChannel       = "dsr_notification_outbox"
)

// OutboxItem is one notification waiting to be delivered.
type OutboxItem struct {
	ID       int64
	Key      string
	PersonID int64
	// Line names the notifications that must go in order (one task's);
	// Urgent ones are read, and delivered, first.
	Line   string
	Urgent bool
	// Edit: the notification changes a message already posted (a task
	// closed), which Slack paces apart from posts.
	Edit bool
	// Payload is the notification as JSON (IDs, kinds and times only).
	Payload  []byte
	Attempts int
}

// QueueNotifications adds notifications to the outbox and wakes the
// dispatcher. A key already queued (a retried activity) adds nothing.
func (s *Store) QueueNotifications(ctx context.Context, ns ...notify.Notification) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error { return queueNotifications(ctx, tx, ns) })
	if err != nil {
		return fmt.Errorf("store: queue notifications: %w", err)
	}
	return nil
}

// queueNotifications writes ns into the outbox within tx. The NOTIFY that
// wakes the dispatcher is sent by PostgreSQL when tx commits, so it never
// wakes it for a row it cannot yet see.
func queueNotifications(ctx context.Context, tx pgx.Tx, ns []notify.Notification) error {
	_, err := queueAndPickAlerts(ctx, tx, ns)
	return err
}

// queueAndPickAlerts is queueNotifications, also returning the alerts
// among ns it queued (a key already queued is not returned), for
// Store.HandAlertsTo. An alert here is an urgent message being posted for
// the first time (notify.TaskOpened): its task was opened by the change
// queueing it, so it is always the first of its line and can be delivered
// before anything queued after it without breaking the line's order.
func queueAndPickAlerts(ctx context.Context, tx pgx.Tx, ns []notify.Notification) (alerts []OutboxItem, err error) {
	if len(ns) == 0 {
		return nil, nil
	}
	var w writes
	for _, n := range ns {
		if n.Key == "" {
			return nil, errors.New("a notification needs a key")
		}
		payload, err := json.Marshal(n)
		if err != nil {
			return nil, fmt.Errorf("encoding notification %s: %w", n.Key, err)
		}
		item := OutboxItem{Key: n.Key, PersonID: n.PersonID, Line: n.Line(), Urgent: n.Urgent, Payload: payload}
		var pick func(pgx.Row) error
		if n.Urgent && n.Event == notify.TaskOpened {
			pick = func(row pgx.Row) error {
				err := row.Scan(&item.ID)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil // queued before: a retry
				}
				if err == nil {
					alerts = append(alerts, item)
				}
				return err
			}
		}
		w.addReading("queueing notification "+n.Key, pick, `insert into notification_outbox (key, person_id, line, urgent, payload)
			values ($1, $2, $3, $4, $5) on conflict (key) do nothing returning id`,
			item.Key, item.PersonID, item.Line, item.Urgent, payload)
	}
	w.add("waking the dispatcher", `select pg_notify($1, '')`, outboxChannel)
	return alerts, w.send(ctx, tx)
}

// WaitingNotifications returns up to limit undelivered notifications,
// urgent ones first and then oldest first, leaving out those whose IDs are
// in hand (being delivered already) and those set aside as needing
// attention. Not a cursor on id: ids are taken before commit, so a lower
// one can commit after a higher one has been read.
func (s *Store) WaitingNotifications(ctx context.Context, inHand []int64, limit int) ([]OutboxItem, error) {
	if inHand == nil {
		inHand = []int64{}
	}
	return queryAll(ctx, s.pool, "waiting notifications", func(r pgx.CollectableRow) (OutboxItem, error) {
		var it OutboxItem
		err := r.Scan(&it.ID, &it.Key, &it.PersonID, &it.Line, &it.Urgent, &it.Edit, &it.Payload, &it.Attempts)
		return it, err
	}, `select id, key, person_id, line, urgent, coalesce(payload->>'Event' = $3, false), payload, attempts from notification_outbox
		where sent_at is null and needs_attention_at is null and not (id = any($1))
			and (retry_after is null or retry_after <= now())
		order by urgent desc, id limit $2`, inHand, limit, string(notify.TaskClosed))
}

// NotificationDelivered marks a notification sent.
func (s *Store) NotificationDelivered(ctx context.Context, id int64, at time.Time) error {
	if _, err := s.pool.Exec(ctx, `update notification_outbox set sent_at = $2, attempts = attempts + 1, last_error = null
		where id = $1`, id, at); err != nil {
		return fmt.Errorf("store: notification %d delivered: %w", id, err)
	}
	return nil
}

// NotificationFailed counts a failed attempt and keeps why.
func (s *Store) NotificationFailed(ctx context.Context, id int64, why string) (attempts int, err error) {
	err = s.pool.QueryRow(ctx, `update notification_outbox set attempts = attempts + 1, last_error = $2
		where id = $1 returning attempts`, id, why).Scan(&attempts)
	if err != nil {
		return 0, fmt.Errorf("store: notification %d failed: %w", id, err)
	}
	return attempts, nil
}

// NotificationSetAside counts a refused attempt, keeps why, and leaves the
// notification until retryAfter.
func (s *Store) NotificationSetAside(ctx context.Context, id int64, why string, retryAfter time.Time) (attempts int, err error) {
	err = s.pool.QueryRow(ctx, `update notification_outbox set attempts = attempts + 1, last_error = $2, retry_after = $3
		where id = $1 returning attempts`, id, why, retryAfter).Scan(&attempts)
	if err != nil {
		return 0, fmt.Errorf("store: notification %d set aside: %w", id, err)
	}
	return attempts, nil
}

// NotificationNeedsAttention sets a notification aside for good: it is not
// tried again on its own, /healthz counts it, and (unless it is itself a
// NeedsAttention notification) the managers are told once, by a
// notification queued in the same transaction.
func (s *Store) NotificationNeedsAttention(ctx context.Context, item OutboxItem, why string, at time.Time, tell *notify.Notification) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `update notification_outbox set attempts = attempts + 1, last_error = $2,
				needs_attention_at = $3 where id = $1 and sent_at is null and needs_attention_at is null`,
			item.ID, why, at)
		if err != nil || tag.RowsAffected() == 0 || tell == nil {
			return err
		}
		return queueNotifications(ctx, tx, []notify.Notification{*tell})
	})
	if err != nil {
		return fmt.Errorf("store: notification %d needs attention: %w", item.ID, err)
	}
	return nil
}

// PruneNotifications deletes notifications delivered before before: the
// audit log is the record; these are kept a while only to answer "did that
// alert go out, and when".
func (s *Store) PruneNotifications(ctx context.Context, before time.Time) (int64, error) {
	return s.prune(ctx, "notifications", `delete from notification_outbox where sent_at < $1`, before)
}

// OutboxBacklog is what the outbox holds undelivered: how many, and the
// oldest's age (zero when empty). A health check and the managers read it.
type OutboxBacklog struct {
	Waiting int `json:"waiting"`
	Failing int `json:"failing"`
	// NeedsAttention counts notifications set aside for good: someone must
	// look (a channel archived, a Slack user gone). They are not in Waiting.
	NeedsAttention int           `json:"needs_attention"`
	Oldest         time.Duration `json:"-"`
}

// NotificationBacklog reads the outbox's backlog at now.
func (s *Store) NotificationBacklog(ctx context.Context, now time.Time) (OutboxBacklog, error) {
	var b OutboxBacklog
	var oldest *time.Time
	err := s.pool.QueryRow(ctx, `select
			count(*) filter (where needs_attention_at is null),
			count(*) filter (where needs_attention_at is null and attempts > 0),
			count(*) filter (where needs_attention_at is not null),
			min(created_at) filter (where needs_attention_at is null)
		from notification_outbox where sent_at is null`).Scan(&b.Waiting, &b.Failing, &b.NeedsAttention, &oldest)
	if err != nil {
		return OutboxBacklog{}, fmt.Errorf("store: notification backlog: %w", err)
	}
	if oldest != nil {
		b.Oldest = now.Sub(*oldest)
	}
	return b, nil
}

// OutboxLease is the dispatcher's hold on the outbox: a connection of its
// own (not one of the pool's, which the API and activities need) holding
// the advisory lock and listening for new notifications. The lock goes with
// the connection, so a dispatcher that dies hands over at once.
type OutboxLease struct {
	conn *pgx.Conn
}

// HoldOutbox tries to become the one dispatcher. It returns (nil, nil) when
// another process holds the outbox.
func (s *Store) HoldOutbox(ctx context.Context) (*OutboxLease, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("store: hold outbox: %w", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `select pg_try_advisory_lock($1)`, outboxLockID).Scan(&got); err != nil || !got {
		conn.Close(context.WithoutCancel(ctx))
		if err != nil {
			return nil, fmt.Errorf("store: hold outbox: %w", err)
		}
		return nil, nil
	}
	if _, err := conn.Exec(ctx, `listen `+outboxChannel); err != nil {
		conn.Close(context.WithoutCancel(ctx)) // closing ends the session, and the lock
		return nil, fmt.Errorf("store: hold outbox: %w", err)
	}
	return &OutboxLease{conn: conn}, nil
}

// Wait returns when a notification is queued, or after timeout. Any other
// error means the lease's connection is gone, and the lock with it.
func (l *OutboxLease) Wait(ctx context.Context, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := l.conn.WaitForNotification(wctx)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil && !l.conn.IsClosed() {
		return nil // timed out waiting; pgx keeps the connection after a read deadline
	}
	if err != nil {
		return fmt.Errorf("store: waiting on the outbox: %w", err)
	}
	return nil
}

// Release gives the outbox up: closing the connection ends the lock and
// the LISTEN with it.
func (l *OutboxLease) Release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.conn.Close(ctx)
}
