package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/register"
)

// Retention and erasure. Past the retention period after removal (or on
// request) a removed person's identifying details are erased: names, NHS
// number, date of birth, postcode, who gave consent, referrers' contact
// details, the referrals' free text, the free text of their audit entries,
// the details their identity checks held, and the notifications already
// delivered about them. What is left is an anonymous skeleton — reference,
// dates, ratings, stage, tasks, escalations, the audit entries themselves —
// so reports and the audit still add up. The erasure is audited.

// ActionErased is the audit action of an erasure.
const ActionErased = "erased"

// Why an erasure was refused.
var (
	// ErrNotRemoved: the person is on the register; only someone removed
	// is erased (remove them first).
	ErrNotRemoved = errors.New("the person is on the register: remove them before erasing their details")
	// ErrAlreadyErased: there is nothing left to erase.
	ErrAlreadyErased = errors.New("the person's details were already erased")
	// ErrReferredAgain: a referral for the person is waiting to be taken
	// in, or the removal the erasure was for is no longer the latest: they
	// are coming back on the register.
	ErrReferredAgain = errors.New("the person has been referred again")
)

// Erasure asks for one person's details to be erased.
type Erasure struct {
	PersonID int64
	// Actor is who erased: a coordinator, or the retention timer.
	Actor string
	Via   Surface
	// Notes is the coordinator's reason (free text, kept beside the audit
	// entry); empty for the retention timer.
	Notes string
	// RemovedAt, when set, is the removal the erasure is for: the retention
	// timer's. Someone removed again since is not erased by it.
	RemovedAt time.Time
	// At is when it happens; zero means now.
	At time.Time
}

// Erase erases a removed person's identifying details, in one transaction
// with the person's row locked (so a change recorded for them cannot
// interleave). It returns when they were erased.
func (s *Store) Erase(ctx context.Context, e Erasure) (time.Time, error) {
	if e.PersonID <= 0 || e.Actor == "" || e.Via == "" {
		return time.Time{}, errors.New("store: erase: person, actor and surface are required")
	}
	at := e.At
	if at.IsZero() {
		at = time.Now()
	}
	at = at.UTC()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var stage string
		var removedAt, erasedAt *time.Time
		err := tx.QueryRow(ctx, `select stage, removed_at, erased_at from people where id = $1 for update`, e.PersonID).
			Scan(&stage, &removedAt, &erasedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("person %d: %w", e.PersonID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		switch {
		case erasedAt != nil:
			return ErrAlreadyErased
		case stage != string(register.Removed) || removedAt == nil:
			return ErrNotRemoved
		case !e.RemovedAt.IsZero() && !removedAt.Equal(e.RemovedAt):
			return ErrReferredAgain
		}
		var pending bool
		if err := tx.QueryRow(ctx, `select exists (select 1 from referrals where person_id = $1 and accepted_at is null)`,
			e.PersonID).Scan(&pending); err != nil {
			return err
		}
		if pending {
			return ErrReferredAgain
		}
		return eraseDetails(ctx, tx, e, at, *removedAt)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("store: erase person %d: %w", e.PersonID, err)
	}
	return at, nil
}

func eraseDetails(ctx context.Context, tx pgx.Tx, e Erasure, at, removedAt time.Time) error {
	statements := []struct{ what, sql string }{
		{"the person's details", `update people set nhs_number = null, given_name = '', family_name = '', date_of_birth = null,
			postcode = '', consent_given_by = null, disputed_nhs_number = null, import_key = null, erased_at = $2 where id = $1`},
		// The keys are hashes, but of the NHS number or the name: erased too.
		{"the referrals' details", `update referrals set referrer_name = '', referrer_email = '', referrer_phone = '',
			reason = '', nhs_number_given = null, idempotency_key = null where person_id = $1`},
		{"the identity checks' details", `update identity_checks set given_name = '', family_name = '', date_of_birth = null,
			nhs_number = null, postcode = '' where person_id = $1`},
		{"the audit entries' free text", `delete from audit_free_text where audit_id in (select id from audit_log where person_id = $1)`},
		{"the notifications delivered", `delete from notification_outbox where person_id = $1 and sent_at is not null`},
	}
	for _, st := range statements {
		args := []any{e.PersonID}
		if st.what == "the person's details" {
			args = append(args, at)
		}
		if _, err := tx.Exec(ctx, st.sql, args...); err != nil {
			return fmt.Errorf("erasing %s: %w", st.what, err)
		}
	}
	onRequest := "false"
	if e.RemovedAt.IsZero() {
		onRequest = "true"
	}
	_, err := insertAudit(ctx, tx, at, e.Actor, ActionErased, e.PersonID, map[string]string{
		"via": string(e.Via), "on_request": onRequest, "removed_at": removedAt.UTC().Format(time.RFC3339), "notes": e.Notes,
	}, fmt.Sprintf("%d-erased", e.PersonID))
	if err != nil {
		return fmt.Errorf("auditing the erasure: %w", err)
	}
	return nil
}

// RetentionStanding is what the retention timer needs to know about a
// person: whether they are still removed, since when, and whether a child's
// records must be kept longer.
type RetentionStanding = activities.RetentionStanding

var _ activities.RetentionKeeper = (*Store)(nil)

// RetentionActor is the audit actor of an erasure the retention timer made.
const RetentionActor = "dsr:retention"

// RetentionOf reads where a person stands for retention.
func (s *Store) RetentionOf(ctx context.Context, personID int64) (RetentionStanding, error) {
	var stage string
	var removedAt, erasedAt, dob *time.Time
	err := s.pool.QueryRow(ctx, `select stage, removed_at, erased_at, date_of_birth from people where id = $1`, personID).
		Scan(&stage, &removedAt, &erasedAt, &dob)
	if errors.Is(err, pgx.ErrNoRows) {
		return RetentionStanding{}, fmt.Errorf("store: retention of person %d: %w", personID, ErrNotFound)
	}
	if err != nil {
		return RetentionStanding{}, fmt.Errorf("store: retention of person %d: %w", personID, err)
	}
	r := RetentionStanding{Removed: stage == string(register.Removed) && removedAt != nil, Erased: erasedAt != nil}
	if r.Removed {
		r.RemovedAt = removedAt.UTC()
		r.ChildRecordsUntil = register.ChildRecordsKeptUntil(deref(dob), r.RemovedAt)
	}
	return r, nil
}

// EraseAfterRetention erases the person for the retention timer, if they
// are still removed by the removal at removedAt. Someone referred again,
// removed again since, or erased already is left alone: erased is false.
func (s *Store) EraseAfterRetention(ctx context.Context, personID int64, removedAt time.Time) (bool, error) {
	_, err := s.Erase(ctx, Erasure{PersonID: personID, Actor: RetentionActor, Via: "retention", RemovedAt: removedAt})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrReferredAgain), errors.Is(err, ErrAlreadyErased), errors.Is(err, ErrNotRemoved):
		return false, nil
	}
	return false, err
}
