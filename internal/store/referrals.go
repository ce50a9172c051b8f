package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/internal/register"
)

// ErrIdempotencyKeyReused is returned when an idempotency key comes back with
// a referral for a different person: the caller reused a key, and replaying
// the first receipt would silently lose the second referral.
var ErrIdempotencyKeyReused = errors.New("idempotency key already used for a referral about a different person")

// NewReferral is a referral to record.
type NewReferral struct {
	// Referral has already been through register.ValidateReferral.
	Referral register.Referral
	// Actor is who entered it (a coordinator, "portal", an API client).
	Actor string
	// IdempotencyKey, when not empty, makes a retried submission return the
	// first receipt instead of recording the referral twice.
	IdempotencyKey string
	// ReceivedAt is when the referral arrived; zero means now.
	ReceivedAt time.Time
}

// ReferralReceipt says what CreateReferral recorded: everything the caller
// needs to deliver the referral to the person's workflow.
type ReferralReceipt struct {
	PersonID   int64 `json:"person_id"`
	ReferralID int64 `json:"referral_id"`
	// Existing: the NHS number was already on the register, so this is a
	// re-referral of a known person (their details were not overwritten).
	Existing bool `json:"existing"`
	// DateOfBirth is the stored one, which for an existing person may
	// differ from what this referral said.
	DateOfBirth time.Time `json:"date_of_birth"`
	// ProjectionSeq and Stage are the person's current standing, so that a
	// new spell after removal numbers its changes on from the last one.
	ProjectionSeq int64          `json:"projection_seq"`
	Stage         register.Stage `json:"stage"`
	// Replayed: the idempotency key was seen before; nothing was inserted
	// and the IDs are those of the first submission.
	Replayed bool `json:"replayed"`
	// AcceptedAt is when a workflow took the referral in; set only on a
	// replay of a referral that was already delivered.
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
}

// CreateReferral records a referral in one transaction: the person is
// inserted, or found by NHS number (a re-referral is not a new person, and
// their recorded details are left as they are); the referral row is
// inserted; and a referral_received audit entry names the actor.
func (s *Store) CreateReferral(ctx context.Context, in NewReferral) (ReferralReceipt, error) {
	if strings.TrimSpace(in.Actor) == "" {
		return ReferralReceipt{}, errors.New("store: create referral: actor is required")
	}
	p := in.Referral.Person
	if n, err := register.NormaliseNHSNumber(p.NHSNumber); err != nil || n != p.NHSNumber {
		return ReferralReceipt{}, errors.New("store: create referral: the NHS number is not normalised: validate the referral with register.ValidateReferral first")
	}
	if p.DateOfBirth.IsZero() {
		return ReferralReceipt{}, errors.New("store: create referral: the date of birth is required")
	}

	var rc ReferralReceipt
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if in.IdempotencyKey != "" {
			var ok bool
			var err error
			rc, ok, err = replayReferral(ctx, tx, in.IdempotencyKey, p.NHSNumber)
			if err != nil || ok {
				return err
			}
		}

		err := tx.QueryRow(ctx, `
			insert into people (nhs_number, given_name, family_name, date_of_birth, diagnoses, local_authority, postcode)
			values ($1, $2, $3, $4, $5, $6, $7)
			on conflict (nhs_number) do nothing
			returning id, date_of_birth, projection_seq, stage`,
			p.NHSNumber, strings.TrimSpace(p.GivenName), strings.TrimSpace(p.FamilyName), p.DateOfBirth,
			stringsOf(p.Diagnoses), strings.TrimSpace(p.LocalAuthority), p.Postcode,
		).Scan(&rc.PersonID, &rc.DateOfBirth, &rc.ProjectionSeq, &rc.Stage)
		if errors.Is(err, pgx.ErrNoRows) {
			// Known already. A concurrent insert of the same person has
			// committed by now (the conflict waited for it), so this
			// statement's fresh snapshot sees it.
			rc.Existing = true
			err = tx.QueryRow(ctx, `select id, date_of_birth, projection_seq, stage from people where nhs_number = $1`,
				p.NHSNumber).Scan(&rc.PersonID, &rc.DateOfBirth, &rc.ProjectionSeq, &rc.Stage)
		}
		if err != nil {
			return fmt.Errorf("recording the person: %w", err)
		}

		r := in.Referral
		err = tx.QueryRow(ctx, `
			insert into referrals (person_id, referrer_kind, referrer_name, referrer_organisation, referrer_email,
			                       referrer_phone, channel, reason, received_at, received_by, idempotency_key)
			values ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, now()), $10, $11)
			on conflict (idempotency_key) do nothing
			returning id`,
			rc.PersonID, string(r.Referrer.Kind), strings.TrimSpace(r.Referrer.Name), strings.TrimSpace(r.Referrer.Organisation),
			strings.TrimSpace(r.Referrer.Email), strings.TrimSpace(r.Referrer.Phone), string(r.Channel), strings.TrimSpace(r.Reason),
			nullTime(in.ReceivedAt), in.Actor, nullText(in.IdempotencyKey),
		).Scan(&rc.ReferralID)
		if errors.Is(err, pgx.ErrNoRows) {
			// Another request with the same key committed between our
			// replay check and this insert. Ours must not count.
			return errKeyRaced
		}
		if err != nil {
			return fmt.Errorf("recording the referral: %w", err)
		}

		detail, err := detailJSON(map[string]string{
			"referral_id":   fmt.Sprint(rc.ReferralID),
			"channel":       string(r.Channel),
			"referrer_kind": string(r.Referrer.Kind),
			"existing":      fmt.Sprint(rc.Existing),
		})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `insert into audit_log (at, actor, action, person_id, detail)
			values (coalesce($1, now()), $2, 'referral_received', $3, $4)`,
			nullTime(in.ReceivedAt), in.Actor, rc.PersonID, detail); err != nil {
			return fmt.Errorf("auditing the referral: %w", err)
		}
		return nil
	})
	if errors.Is(err, errKeyRaced) {
		// The racing transaction has committed; read its receipt.
		rc = ReferralReceipt{}
		err = s.inTx(ctx, func(tx pgx.Tx) error {
			var ok bool
			var err error
			rc, ok, err = replayReferral(ctx, tx, in.IdempotencyKey, p.NHSNumber)
			if err == nil && !ok {
				err = errors.New("the referral recorded under this idempotency key has vanished")
			}
			return err
		})
	}
	if err != nil {
		return ReferralReceipt{}, fmt.Errorf("store: create referral: %w", err)
	}
	rc.DateOfBirth = rc.DateOfBirth.UTC()
	return rc, nil
}

var errKeyRaced = errors.New("idempotency key raced")

// replayReferral finds the referral recorded under key. It answers with the
// first submission's IDs and the person's current standing.
func replayReferral(ctx context.Context, tx pgx.Tx, key, nhsNumber string) (ReferralReceipt, bool, error) {
	var rc ReferralReceipt
	var nhs string
	err := tx.QueryRow(ctx, `
		select r.id, r.person_id, r.accepted_at, p.nhs_number, p.date_of_birth, p.projection_seq, p.stage,
		       exists (select 1 from referrals e where e.person_id = r.person_id and e.id < r.id)
		from referrals r join people p on p.id = r.person_id
		where r.idempotency_key = $1`, key,
	).Scan(&rc.ReferralID, &rc.PersonID, &rc.AcceptedAt, &nhs, &rc.DateOfBirth, &rc.ProjectionSeq, &rc.Stage, &rc.Existing)
	if errors.Is(err, pgx.ErrNoRows) {
		return ReferralReceipt{}, false, nil
	}
	if err != nil {
		return ReferralReceipt{}, false, fmt.Errorf("looking up the idempotency key: %w", err)
	}
	if nhs != nhsNumber {
		return ReferralReceipt{}, false, ErrIdempotencyKeyReused
	}
	rc.Replayed = true
	rc.AcceptedAt = utc(rc.AcceptedAt)
	return rc, true, nil
}

// PendingReferral is a referral recorded but not yet taken in by the
// person's workflow, with what is needed to deliver it again.
type PendingReferral struct {
	PersonID      int64     `json:"person_id"`
	ReferralID    int64     `json:"referral_id"`
	DateOfBirth   time.Time `json:"date_of_birth"`
	ProjectionSeq int64     `json:"projection_seq"`
	ReceivedAt    time.Time `json:"received_at"`
	ReceivedBy    string    `json:"received_by"`
}

// PendingReferrals lists, oldest first, up to limit referrals received before
// olderThan that no workflow has accepted yet. The cut-off keeps redelivery
// away from referrals whose first delivery may still be under way.
func (s *Store) PendingReferrals(ctx context.Context, olderThan time.Time, limit int) ([]PendingReferral, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `
		select r.person_id, r.id, p.date_of_birth, p.projection_seq, r.received_at, r.received_by
		from referrals r join people p on p.id = r.person_id
		where r.accepted_at is null and r.received_at < $1
		order by r.received_at, r.id
		limit $2`, olderThan, limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending referrals: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (PendingReferral, error) {
		var p PendingReferral
		err := row.Scan(&p.PersonID, &p.ReferralID, &p.DateOfBirth, &p.ProjectionSeq, &p.ReceivedAt, &p.ReceivedBy)
		p.DateOfBirth, p.ReceivedAt = p.DateOfBirth.UTC(), p.ReceivedAt.UTC()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: pending referrals: %w", err)
	}
	return out, nil
}

// ReferralRecord is one stored referral.
type ReferralRecord struct {
	ID                   int64                 `json:"id"`
	PersonID             int64                 `json:"person_id"`
	ReferrerKind         register.ReferrerKind `json:"referrer_kind"`
	ReferrerName         string                `json:"referrer_name"`
	ReferrerOrganisation string                `json:"referrer_organisation"`
	ReferrerEmail        string                `json:"referrer_email"`
	ReferrerPhone        string                `json:"referrer_phone"`
	Channel              register.Channel      `json:"channel"`
	Reason               string                `json:"reason"`
	ReceivedAt           time.Time             `json:"received_at"`
	ReceivedBy           string                `json:"received_by"`
	AcceptedAt           *time.Time            `json:"accepted_at"`
	IdempotencyKey       string                `json:"idempotency_key,omitempty"`
}

// Referrals lists a person's referrals, oldest first.
func (s *Store) Referrals(ctx context.Context, personID int64) ([]ReferralRecord, error) {
	rows, err := s.pool.Query(ctx, `
		select id, person_id, referrer_kind, referrer_name, referrer_organisation, referrer_email, referrer_phone,
		       channel, reason, received_at, received_by, accepted_at, coalesce(idempotency_key, '')
		from referrals where person_id = $1 order by id`, personID)
	if err != nil {
		return nil, fmt.Errorf("store: referrals of person %d: %w", personID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ReferralRecord, error) {
		var r ReferralRecord
		var kind, channel string
		err := row.Scan(&r.ID, &r.PersonID, &kind, &r.ReferrerName, &r.ReferrerOrganisation, &r.ReferrerEmail,
			&r.ReferrerPhone, &channel, &r.Reason, &r.ReceivedAt, &r.ReceivedBy, &r.AcceptedAt, &r.IdempotencyKey)
		r.ReferrerKind, r.Channel = register.ReferrerKind(kind), register.Channel(channel)
		r.ReceivedAt, r.AcceptedAt = r.ReceivedAt.UTC(), utc(r.AcceptedAt)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: referrals of person %d: %w", personID, err)
	}
	return out, nil
}
