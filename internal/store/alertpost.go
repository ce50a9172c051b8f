package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AlertPost is what posting a new red alert to Slack needs from the
// register, read in one round trip (PrepareAlertPost).
type AlertPost struct {
	// Posted: the alert's message is in Slack already (a retry); nothing
	// else is read then.
	Posted bool
	Task   Task
	Person PersonRecord
	// Open are the person's open tasks, the escalation's actions among
	// them, soonest due first as ListTasks orders them.
	Open []Task
	// EarlierAttempt is when a post under the attempt's key was first
	// tried, if this is not the first try (as SlackPostAttempt).
	EarlierAttempt *time.Time
}

// PostAttempt names the post about to be sent, as SlackPostAttempt's
// arguments do.
type PostAttempt struct {
	Key, Channel string
	At           time.Time
}

// PrepareAlertPost reads, for the alert task taskID of person personID,
// whether it was posted already, the task, the person and their open tasks
// (not to be used when the task turns out not to be theirs), and notes
// the post about to be tried (SlackPostAttempt): one pipelined round trip
// on one connection, where four reads side by side on four pooled
// connections and then the note took two. A red alert is the one
// message that must not wait, and on a busy morning each round trip is
// time spent queuing for the database and the CPU with everyone else's
// prompts. The attempt is noted even when the alert turns out to be posted
// already: a note with no post after it only makes a later try look in
// Slack first, which is what a retry does anyway.
func (s *Store) PrepareAlertPost(ctx context.Context, taskID, personID int64, attempt PostAttempt) (AlertPost, error) {
	var (
		a                  AlertPost
		b                  pgx.Batch
		taskErr, personErr error
	)
	b.Queue(`select exists (select 1 from slack_messages where task_id = $1)`, taskID).QueryRow(func(row pgx.Row) error {
		return row.Scan(&a.Posted)
	})
	b.Queue(`select `+taskColumns+` from tasks where id = $2`, nil, taskID).Query(func(rows pgx.Rows) error {
		a.Task, taskErr = pgx.CollectExactlyOneRow(rows, scanTask)
		if errors.Is(taskErr, pgx.ErrNoRows) {
			taskErr = ErrNotFound
		}
		return nil // reported below, after the other reads
	})
	b.Queue(personQuery, personID).QueryRow(func(row pgx.Row) error {
		a.Person, personErr = scanPerson(row, personID)
		return nil // reported below, only if the task is theirs
	})
	b.Queue(`select `+taskColumns+` from tasks where status = 'open' and person_id = $2
		order by due_at nulls last, id`, nil, personID).Query(func(rows pgx.Rows) (err error) {
		a.Open, err = pgx.CollectRows(rows, scanTask)
		return err
	})
	b.Queue(slackPostAttemptStatement, attempt.Key, attempt.Channel, attempt.At).QueryRow(func(row pgx.Row) (err error) {
		a.EarlierAttempt, err = scanPostAttempt(row)
		return err
	})
	if err := s.pool.SendBatch(ctx, &b).Close(); err != nil {
		return AlertPost{}, fmt.Errorf("store: alert task %d: %w", taskID, err)
	}
	if a.Posted {
		return AlertPost{Posted: true}, nil
	}
	if taskErr != nil {
		return AlertPost{}, fmt.Errorf("store: alert task %d: %w", taskID, taskErr)
	}
	if a.Task.PersonID != personID {
		// Not the person the caller named: what was read of them is
		// nothing to go on, and the caller reads the task the long way.
		return a, nil
	}
	if personErr != nil {
		return AlertPost{}, personErr // "store: person P: …"
	}
	return a, nil
}
