package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EscalationRecord is where one of a person's escalations (one spell at red)
// stands, as its workflow last recorded it.
type EscalationRecord struct {
	PersonID int64 `json:"person_id"`
	// Number counts the person's escalations from 1.
	Number         int        `json:"number"`
	StartedAt      time.Time  `json:"started_at"`
	AckDueAt       *time.Time `json:"ack_due_at,omitempty"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
	// Alerts counts alerts sent: the first and every re-alert.
	Alerts  int        `json:"alerts"`
	EndedAt *time.Time `json:"ended_at,omitempty"`
	// Outcome says why it ended and what was done, once it has.
	Outcome string `json:"outcome,omitempty"`
	// Open: not ended yet.
	Open bool `json:"open"`
	// Unacknowledged: nobody has acknowledged the alert yet.
	Unacknowledged bool `json:"unacknowledged"`
	// AckOverdue: open, unacknowledged, and the acknowledgement was due
	// before the time asked about.
	AckOverdue bool `json:"ack_overdue"`
}

// EscalationFilter narrows ListEscalations. False fields match everything.
type EscalationFilter struct {
	// Open keeps escalations that have not ended.
	Open bool
	// Unacknowledged keeps escalations nobody has acknowledged.
	Unacknowledged bool
	// Now is the time acknowledgements are judged overdue against; zero
	// means the database's now().
	Now time.Time
}

// escalationColumns are read by scanEscalation; $1 is the time AckOverdue is
// judged against (null for now()).
const escalationColumns = `person_id, number, started_at, ack_due_at, acknowledged_at, coalesce(acknowledged_by, ''),
	alerts, ended_at, coalesce(outcome, ''), ended_at is null, acknowledged_at is null,
	coalesce(ended_at is null and acknowledged_at is null and ack_due_at < coalesce($1, now()), false)`

// Escalations returns every escalation of the person, by number (none is
// an empty list, not an error). AckOverdue is judged against now().
func (s *Store) Escalations(ctx context.Context, personID int64) ([]EscalationRecord, error) {
	return queryAll(ctx, s.pool, fmt.Sprintf("escalations of person %d", personID), scanEscalation, `select `+escalationColumns+` from escalations
		where person_id = $2 order by number`, nil, personID)
}

// OpenEscalation returns the person's open escalation, or an error wrapping
// ErrNotFound when none is open. There should be at most one; should an
// earlier one have been left open (its workflow ended without recording
// it), the latest is the one that stands. AckOverdue is judged against now().
func (s *Store) OpenEscalation(ctx context.Context, personID int64) (EscalationRecord, error) {
	return queryOne(ctx, s.pool, fmt.Sprintf("open escalation of person %d", personID), scanEscalation, `select `+escalationColumns+` from escalations
		where person_id = $2 and ended_at is null order by number desc limit 1`, nil, personID)
}

// ListEscalations lists the escalations matching the filter, across
// everyone, oldest first (by started_at, then person and number): the
// managers' view of who has been at red longest.
func (s *Store) ListEscalations(ctx context.Context, f EscalationFilter) ([]EscalationRecord, error) {
	return queryAll(ctx, s.pool, "list escalations", scanEscalation, `select `+escalationColumns+` from escalations
		where (not $2 or ended_at is null) and (not $3 or acknowledged_at is null)
		order by started_at, person_id, number`, nullTime(f.Now), f.Open, f.Unacknowledged)
}

func scanEscalation(row pgx.CollectableRow) (EscalationRecord, error) {
	var e EscalationRecord
	err := row.Scan(&e.PersonID, &e.Number, &e.StartedAt, &e.AckDueAt, &e.AcknowledgedAt, &e.AcknowledgedBy,
		&e.Alerts, &e.EndedAt, &e.Outcome, &e.Open, &e.Unacknowledged, &e.AckOverdue)
	e.StartedAt = e.StartedAt.UTC()
	e.AckDueAt, e.AcknowledgedAt, e.EndedAt = utc(e.AckDueAt), utc(e.AcknowledgedAt), utc(e.EndedAt)
	return e, err
}

// LastEscalationNumber is the highest escalation number the person has had
// (0 for none), so that a new spell on the register numbers its
// escalations on from the last one and never reuses a workflow ID or an
// audit key.
func (s *Store) LastEscalationNumber(ctx context.Context, personID int64) (int, error) {
	return s.lastNumber(ctx, "escalation", personID)
}

// LastRecorded is how far a person's record has been numbered: the last
// change of theirs recorded (projection_seq) and their last escalation. A
// new spell numbers on from these, so it can never reuse a key.
func (s *Store) LastRecorded(ctx context.Context, personID int64) (seq int64, escalations int, err error) {
	err = s.pool.QueryRow(ctx, `select p.projection_seq,
			(select coalesce(max(number), 0) from escalations e where e.person_id = p.id)
		from people p where p.id = $1`, personID).Scan(&seq, &escalations)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, fmt.Errorf("store: last recorded for person %d: %w", personID, ErrNotFound)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store: last recorded for person %d: %w", personID, err)
	}
	return seq, escalations, nil
}
