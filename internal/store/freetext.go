package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// The audit log is append-only and must outlive a person's identifying
// details, so it holds none. What coordinators type — notes, a rating's
// rationale, the name of whoever gave consent — is kept in audit_free_text
// beside the entry it belongs to, read back with it, and blanked when the
// person is erased (erasure.go).

// freeTextFields are the audit detail keys that carry free text or
// identifying details: what a coordinator typed, and what an identity check
// changed (the name and date of birth the record had before).
var freeTextFields = []string{"notes", "rationale", "given_by", "given_name_was", "family_name_was", "date_of_birth_was"}

// splitFreeText separates an audit detail into what the entry itself keeps
// and the free text kept beside it (empty text is dropped).
func splitFreeText(detail map[string]string) (kept, text map[string]string) {
	kept, text = map[string]string{}, map[string]string{}
	for k, v := range detail {
		free := false
		for _, f := range freeTextFields {
			free = free || k == f
		}
		switch {
		case !free:
			kept[k] = v
		case v != "":
			text[k] = v
		}
	}
	return kept, text
}

// insertAudit appends an audit entry, its free text beside it. With an
// eventKey it is idempotent: an entry already there adds nothing and
// inserted is false.
func insertAudit(ctx context.Context, tx pgx.Tx, at time.Time, actor, action string, personID int64, detail map[string]string, eventKey string) (inserted bool, err error) {
	sql, args, err := auditStatement(at, actor, action, personID, detail, eventKey)
	if err != nil {
		return false, err
	}
	return auditInserted(tx.QueryRow(ctx, sql, args...))
}

// addAudit queues insertAudit's statement in w, named what in errors; it
// sets *inserted when w is sent.
func (w *writes) addAudit(what string, inserted *bool, at time.Time, actor, action string, personID int64, detail map[string]string, eventKey string) error {
	sql, args, err := auditStatement(at, actor, action, personID, detail, eventKey)
	if err != nil {
		return err
	}
	w.addReading(what, func(row pgx.Row) (err error) {
		*inserted, err = auditInserted(row)
		return err
	}, sql, args...)
	return nil
}

// auditStatement is one statement that writes an audit entry and its free
// text, so an audited change costs no extra round trip. It returns the
// entry's ID, or no row if the entry was there already (auditInserted).
func auditStatement(at time.Time, actor, action string, personID int64, detail map[string]string, eventKey string) (sql string, args []any, err error) {
	kept, text := splitFreeText(detail)
	d, err := detailJSON(kept)
	if err != nil {
		return "", nil, err
	}
	fields, bodies := make([]string, 0, len(text)), make([]string, 0, len(text))
	for field, body := range text {
		fields, bodies = append(fields, field), append(bodies, body)
	}
	return `with entry as (
			insert into audit_log (at, actor, action, person_id, detail, event_key)
			values (coalesce($1, now()), $2, $3, $4, $5, $6) on conflict (event_key) do nothing returning id
		), kept as (
			insert into audit_free_text (audit_id, field, body)
			select entry.id, f.field, f.body from entry, unnest($7::text[], $8::text[]) as f(field, body)
		)
		select id from entry`,
		[]any{nullTime(at), actor, action, nullID(personID), d, nullText(eventKey), fields, bodies}, nil
}

// auditInserted reads auditStatement's answer: whether the entry is new (a
// retry finds it there and adds nothing).
func auditInserted(row pgx.Row) (bool, error) {
	var id int64
	err := row.Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// auditDetailSQL is an entry's detail with its free text put back.
const auditDetailSQL = `(audit_log.detail || coalesce((select jsonb_object_agg(t.field, t.body) from audit_free_text t
	where t.audit_id = audit_log.id), '{}'::jsonb))`
