package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SlackMessage is where a task's prompt was posted.
type SlackMessage struct {
	TaskID  int64
	Channel string
	TS      string
}

// SlackMessageFor returns where the task's prompt was posted, or
// ErrNotFound if it has not been posted.
func (s *Store) SlackMessageFor(ctx context.Context, taskID int64) (SlackMessage, error) {
	m := SlackMessage{TaskID: taskID}
	err := s.pool.QueryRow(ctx, `select channel, ts from slack_messages where task_id = $1`, taskID).Scan(&m.Channel, &m.TS)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, fmt.Errorf("store: slack message for task %d: %w", taskID, ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("store: slack message for task %d: %w", taskID, err)
	}
	return m, nil
}

// SaveSlackMessage records where a task's prompt was posted. The first
// record wins: a second post for the same task is never recorded over it.
func (s *Store) SaveSlackMessage(ctx context.Context, m SlackMessage) error {
	_, err := s.pool.Exec(ctx, `insert into slack_messages (task_id, channel, ts) values ($1, $2, $3)
		on conflict (task_id) do nothing`, m.TaskID, m.Channel, m.TS)
	if err != nil {
		return fmt.Errorf("store: save slack message for task %d: %w", m.TaskID, err)
	}
	return nil
}

// SlackReplyPosted reports whether the threaded message with this
// notification key was already posted.
func (s *Store) SlackReplyPosted(ctx context.Context, key string) (bool, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `select count(*) from slack_replies where notification_key = $1`, key).Scan(&n); err != nil {
		return false, fmt.Errorf("store: slack reply %s: %w", key, err)
	}
	return n > 0, nil
}

// SaveSlackReply records a posted threaded message under its key.
func (s *Store) SaveSlackReply(ctx context.Context, key string, m SlackMessage) error {
	_, err := s.pool.Exec(ctx, `insert into slack_replies (notification_key, task_id, channel, ts) values ($1, $2, $3, $4)
		on conflict (notification_key) do nothing`, key, nullID(m.TaskID), m.Channel, m.TS)
	if err != nil {
		return fmt.Errorf("store: save slack reply %s: %w", key, err)
	}
	return nil
}

// nullID maps 0 to SQL null, for a reference that is optional.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// SlackPostAttempt notes that a post under key is about to be sent to
// channel at at. It returns when the first attempt was made if this is not
// the first: the caller must then look in Slack before posting again.
func (s *Store) SlackPostAttempt(ctx context.Context, key, channel string, at time.Time) (earlier *time.Time, err error) {
	earlier, err = scanPostAttempt(s.pool.QueryRow(ctx, slackPostAttemptStatement, key, channel, at))
	if err != nil {
		return nil, fmt.Errorf("store: slack post attempt %s: %w", key, err)
	}
	return earlier, nil
}

// slackPostAttemptStatement notes an attempt ($1 key, $2 channel, $3 at)
// and returns the first attempt's time and whether there was one before.
const slackPostAttemptStatement = `insert into slack_post_attempts (post_key, channel, first_at, last_at) values ($1, $2, $3, $3)
	on conflict (post_key) do update set last_at = excluded.last_at
	returning first_at, xmax <> 0`

// scanPostAttempt reads slackPostAttemptStatement's answer: the first
// attempt's time, or nil if this is the first.
func scanPostAttempt(row pgx.Row) (*time.Time, error) {
	var first time.Time
	var existed bool
	if err := row.Scan(&first, &existed); err != nil || !existed {
		return nil, err
	}
	return &first, nil
}
