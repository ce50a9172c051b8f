package store

import (
	"context"
	"errors"
	"fmt"
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
	kept, text := splitFreeText(detail)
	d, err := detailJSON(kept)
	if err != nil {
		return false, err
	}
	var id int64
	err = tx.QueryRow(ctx, `insert into audit_log (at, actor, action, person_id, detail, event_key)
		values (coalesce($1, now()), $2, $3, $4, $5, $6) on conflict (event_key) do nothing returning id`,
		nullTime(at), actor, action, nullID(personID), d, nullText(eventKey)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for field, body := range text {
		if _, err := tx.Exec(ctx, `insert into audit_free_text (audit_id, field, body) values ($1, $2, $3)`, id, field, body); err != nil {
			return false, fmt.Errorf("keeping the entry's %s: %w", field, err)
		}
	}
	return true, nil
}

// auditDetailSQL is an entry's detail with its free text put back.
const auditDetailSQL = `(audit_log.detail || coalesce((select jsonb_object_agg(t.field, t.body) from audit_free_text t
	where t.audit_id = audit_log.id), '{}'::jsonb))`
