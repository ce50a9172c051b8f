package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	PersonID int64     `json:"person_id,omitempty"`
	// Detail is what the action recorded: for "rated", from/to/rationale;
	// for "review_confirmed", rating/notes; and so on.
	Detail map[string]string `json:"detail"`
	// EventKey is "<person>-<seq>" for changes recorded by a person's
	// workflow, "<person>-e<number>-<seq>" for an escalation workflow's and
	// "<person>-m<number>-<seq>" for a meeting workflow's (changes.go).
	EventKey string `json:"event_key,omitempty"`
}

// History returns the person's audit entries in the order they were written.
func (s *Store) History(ctx context.Context, personID int64) ([]AuditEntry, error) {
	// Who looked at the record is not part of its history: see Views.
	out, err := s.audit(ctx, `where person_id = $1 and action <> 'viewed'`, personID)
	if err != nil {
		return nil, fmt.Errorf("store: history of person %d: %w", personID, err)
	}
	return out, nil
}

// RatingHistory returns the person's ratings and review confirmations, oldest
// first: the "rated" entries (detail from, to, rationale) and the
// "review_confirmed" entries (detail rating, notes).
func (s *Store) RatingHistory(ctx context.Context, personID int64) ([]AuditEntry, error) {
	out, err := s.audit(ctx, `where person_id = $1 and action in ('rated', 'review_confirmed')`, personID)
	if err != nil {
		return nil, fmt.Errorf("store: rating history of person %d: %w", personID, err)
	}
	return out, nil
}

func (s *Store) audit(ctx context.Context, where string, args ...any) ([]AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `select id, at, actor, action, coalesce(person_id, 0), `+auditDetailSQL+`, coalesce(event_key, '')
		from audit_log `+where+` order by id`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		// detail is jsonb; pgx decodes it straight into the map.
		err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.PersonID, &e.Detail, &e.EventKey)
		e.At = e.At.UTC()
		if e.Detail == nil {
			e.Detail = map[string]string{}
		}
		return e, err
	})
}

// AuditAppend records an event that happened outside any workflow (an export,
// a sign-in, a setting changed). personID 0 means the event is about no one
// in particular. There is no way to change or remove an entry: the database
// refuses UPDATE, DELETE and TRUNCATE on audit_log.
func (s *Store) AuditAppend(ctx context.Context, actor, action string, personID int64, detail map[string]string) error {
	if strings.TrimSpace(actor) == "" || strings.TrimSpace(action) == "" {
		return errors.New("store: audit: actor and action are required")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := insertAudit(ctx, tx, time.Time{}, actor, action, personID, detail, "")
		return err
	})
	if err != nil {
		return fmt.Errorf("store: audit %s: %w", action, err)
	}
	return nil
}
