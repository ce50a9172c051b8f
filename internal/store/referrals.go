package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
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
	// PersonID is who the referral was filed against; 0 while it is held
	// for an identity check.
	PersonID   int64 `json:"person_id"`
	ReferralID int64 `json:"referral_id"`
	// Receipt is the referral's opaque reference, all a referrer is told.
	Receipt string `json:"receipt"`
	// Existing: the NHS number was already on the register with the same
	// name and date of birth, so this is a re-referral of a known person
	// (their details were not overwritten).
	Existing bool `json:"existing"`
	// IdentityCheck, when not nil, is why the referral is held: it could be
	// about someone already on the register, and a coordinator must say.
	IdentityCheck *IdentityCheckRef `json:"identity_check,omitempty"`
	// DateOfBirth is the stored one.
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

// Held reports whether the referral waits for an identity check.
func (rc ReferralReceipt) Held() bool { return rc.PersonID == 0 }

// IdentityCheckRef names the identity check holding a referral.
type IdentityCheckRef struct {
	ID                int64                      `json:"id"`
	Kind              register.IdentityCheckKind `json:"kind"`
	CandidatePersonID int64                      `json:"candidate_person_id"`
	Differences       []string                   `json:"differences"`
	TaskID            int64                      `json:"task_id"`
}

// CreateReferral records a referral in one transaction, with a
// referral_received audit entry naming the actor. Who it is about is
// decided here, and only where nobody needs to be asked:
//
//   - the NHS number is known and the name and date of birth agree (compared
//     normalised): a re-referral of that person, their details left as
//     they are;
//   - the NHS number is known but the name or date of birth differ, or
//     there is no NHS number the register knows and someone on it looks
//     like the same person: the referral is held (no person) and an
//     identity_check task opened; nothing about the known person changes;
//   - otherwise a new person.
func (s *Store) CreateReferral(ctx context.Context, in NewReferral) (ReferralReceipt, error) {
	if strings.TrimSpace(in.Actor) == "" {
		return ReferralReceipt{}, errors.New("store: create referral: actor is required")
	}
	p := in.Referral.Person
	if p.NHSNumber != "" {
		if n, err := register.NormaliseNHSNumber(p.NHSNumber); err != nil || n != p.NHSNumber {
			return ReferralReceipt{}, errors.New("store: create referral: the NHS number is not normalised: validate the referral with register.ValidateReferral first")
		}
	}
	if p.DateOfBirth.IsZero() {
		return ReferralReceipt{}, errors.New("store: create referral: the date of birth is required")
	}
	receipt, err := newReceipt()
	if err != nil {
		return ReferralReceipt{}, fmt.Errorf("store: create referral: %w", err)
	}

	var rc ReferralReceipt
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if in.IdempotencyKey != "" {
			var ok bool
			var err error
			rc, ok, err = replayReferral(ctx, tx, in.IdempotencyKey, p.NHSNumber)
			if err != nil || ok {
				return err
			}
		}
		var check *heldFor
		var err error
		rc, check, err = fileReferral(ctx, tx, p)
		if err != nil {
			return err
		}

		r := in.Referral
		err = tx.QueryRow(ctx, `
			insert into referrals (person_id, referrer_kind, referrer_name, referrer_organisation, referrer_email,
			                       referrer_phone, channel, reason, received_at, received_by, idempotency_key,
			                       receipt, nhs_number_given)
			values ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, now()), $10, $11, $12, $13)
			on conflict (idempotency_key) do nothing
			returning id`,
			nullID(rc.PersonID), string(r.Referrer.Kind), strings.TrimSpace(r.Referrer.Name), strings.TrimSpace(r.Referrer.Organisation),
			strings.TrimSpace(r.Referrer.Email), strings.TrimSpace(r.Referrer.Phone), string(r.Channel), strings.TrimSpace(r.Reason),
			nullTime(in.ReceivedAt), in.Actor, nullText(in.IdempotencyKey), receipt, nullText(p.NHSNumber),
		).Scan(&rc.ReferralID)
		if errors.Is(err, pgx.ErrNoRows) {
			// Another request with the same key committed between our
			// replay check and this insert. Ours must not count.
			return errKeyRaced
		}
		if err != nil {
			return fmt.Errorf("recording the referral: %w", err)
		}
		rc.Receipt = receipt

		detail := map[string]string{
			"referral_id":   fmt.Sprint(rc.ReferralID),
			"channel":       string(r.Channel),
			"referrer_kind": string(r.Referrer.Kind),
			"existing":      fmt.Sprint(rc.Existing),
		}
		if check != nil {
			rc.IdentityCheck, err = openIdentityCheck(ctx, tx, rc.ReferralID, p, *check, in.ReceivedAt, in.Actor)
			if err != nil {
				return err
			}
			detail["identity_check_id"] = fmt.Sprint(rc.IdentityCheck.ID)
		}
		// A held referral is audited against no one: the known person's
		// record (and its history) is not touched until a coordinator says
		// who this is.
		return identityAudit(ctx, tx, in.ReceivedAt, in.Actor, "referral_received", rc.PersonID, detail)
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

// heldFor is why a referral is held for an identity check.
type heldFor struct {
	kind        register.IdentityCheckKind
	candidate   int64
	differences []string
}

// fileReferral decides who a referral is about (see CreateReferral),
// inserting a new person when it is nobody known. A nil heldFor means the
// receipt's person is the one.
func fileReferral(ctx context.Context, tx pgx.Tx, p register.Person) (ReferralReceipt, *heldFor, error) {
	if p.NHSNumber != "" {
		rc, recorded, found, err := personByNHSNumber(ctx, tx, p.NHSNumber)
		if err != nil {
			return rc, nil, err
		}
		if found {
			return matchByNHSNumber(rc, recorded, p)
		}
	}
	candidate, found, err := likelyDuplicate(ctx, tx, p)
	if err != nil {
		return ReferralReceipt{}, nil, err
	}
	if found {
		return ReferralReceipt{}, &heldFor{kind: register.IdentityPossibleDuplicate, candidate: candidate,
			differences: []string{}}, nil
	}
	var rc ReferralReceipt
	err = tx.QueryRow(ctx, `
		insert into people (nhs_number, given_name, family_name, date_of_birth, diagnoses, local_authority, postcode)
		values ($1, $2, $3, $4, $5, $6, $7)
		on conflict (nhs_number) do nothing
		returning id, date_of_birth, projection_seq, stage`,
		nullText(p.NHSNumber), strings.TrimSpace(p.GivenName), strings.TrimSpace(p.FamilyName), p.DateOfBirth,
		stringsOf(p.Diagnoses), strings.TrimSpace(p.LocalAuthority), p.Postcode,
	).Scan(&rc.PersonID, &rc.DateOfBirth, &rc.ProjectionSeq, &rc.Stage)
	if errors.Is(err, pgx.ErrNoRows) {
		// A concurrent referral inserted this NHS number and has committed
		// (the conflict waited for it): this statement's fresh snapshot
		// sees it, and it is compared like any known person.
		rc, recorded, _, err := personByNHSNumber(ctx, tx, p.NHSNumber)
		if err != nil {
			return rc, nil, err
		}
		return matchByNHSNumber(rc, recorded, p)
	}
	if err != nil {
		return rc, nil, fmt.Errorf("recording the person: %w", err)
	}
	return rc, nil, nil
}

func personByNHSNumber(ctx context.Context, tx pgx.Tx, nhs string) (ReferralReceipt, register.Person, bool, error) {
	var rc ReferralReceipt
	var recorded register.Person
	err := tx.QueryRow(ctx, `select id, date_of_birth, projection_seq, stage, given_name, family_name
		from people where nhs_number = $1`, nhs,
	).Scan(&rc.PersonID, &rc.DateOfBirth, &rc.ProjectionSeq, &rc.Stage, &recorded.GivenName, &recorded.FamilyName)
	if errors.Is(err, pgx.ErrNoRows) {
		return rc, recorded, false, nil
	}
	if err != nil {
		return rc, recorded, false, fmt.Errorf("finding the person by NHS number: %w", err)
	}
	recorded.DateOfBirth = rc.DateOfBirth.UTC()
	return rc, recorded, true, nil
}

// matchByNHSNumber files the referral against the person holding its NHS
// number only if the name and date of birth agree; otherwise it is held.
func matchByNHSNumber(rc ReferralReceipt, recorded, referred register.Person) (ReferralReceipt, *heldFor, error) {
	if diff := register.IdentityDifferences(recorded, referred); len(diff) > 0 {
		return ReferralReceipt{}, &heldFor{kind: register.IdentityNHSNumberMismatch, candidate: rc.PersonID, differences: diff}, nil
	}
	rc.Existing = true
	return rc, nil, nil
}

// likelyDuplicate looks for someone on the register who may be the person
// referred: never merged away, with no NHS number that would tell them
// apart, and alike by register.LikelySamePerson. The query narrows by date
// of birth (or day and month swapped) and postcode area; the names are
// compared in Go, allowing for typos, short forms and swapped names.
func likelyDuplicate(ctx context.Context, tx pgx.Tx, p register.Person) (int64, bool, error) {
	swapped := p.DateOfBirth
	if p.DateOfBirth.Day() <= 12 {
		swapped = time.Date(p.DateOfBirth.Year(), time.Month(p.DateOfBirth.Day()), int(p.DateOfBirth.Month()), 0, 0, 0, 0, time.UTC)
	}
	rows, err := tx.Query(ctx, `
		select id, given_name, family_name, date_of_birth, postcode from people
		where merged_into is null and ($1 = '' or nhs_number is null)
		  and (date_of_birth in ($2, $3) or ($4 <> '' and upper(replace(postcode, ' ', '')) like $4 || '%'))
		order by id
		limit 200`, p.NHSNumber, p.DateOfBirth, swapped, register.OutwardCode(p.Postcode))
	if err != nil {
		return 0, false, fmt.Errorf("looking for likely duplicates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var q register.Person
		if err := rows.Scan(&id, &q.GivenName, &q.FamilyName, &q.DateOfBirth, &q.Postcode); err != nil {
			return 0, false, fmt.Errorf("looking for likely duplicates: %w", err)
		}
		q.DateOfBirth = q.DateOfBirth.UTC()
		if register.LikelySamePerson(q, p) {
			return id, true, nil
		}
	}
	return 0, false, rows.Err()
}

// newReceipt is a referrer's receipt: random, so it reveals neither how
// many referrals there are nor whom it is about.
func newReceipt() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a receipt: %w", err)
	}
	return "REF-" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b), nil
}

var errKeyRaced = errors.New("idempotency key raced")

// replayReferral finds the referral recorded under key. It answers with the
// first submission's IDs and the person's current standing (or the
// identity check still holding it).
func replayReferral(ctx context.Context, tx pgx.Tx, key, nhsNumber string) (ReferralReceipt, bool, error) {
	var rc ReferralReceipt
	var nhs string
	var personID *int64
	var dob *time.Time
	var seq *int64
	var stage *string
	var existing bool
	err := tx.QueryRow(ctx, `
		select r.id, r.person_id, r.accepted_at, r.receipt, coalesce(r.nhs_number_given, ''), p.date_of_birth, p.projection_seq, p.stage,
		       exists (select 1 from referrals e where e.person_id = r.person_id and e.id < r.id)
		from referrals r left join people p on p.id = r.person_id
		where r.idempotency_key = $1`, key,
	).Scan(&rc.ReferralID, &personID, &rc.AcceptedAt, &rc.Receipt, &nhs, &dob, &seq, &stage, &existing)
	if errors.Is(err, pgx.ErrNoRows) {
		return ReferralReceipt{}, false, nil
	}
	if err != nil {
		return ReferralReceipt{}, false, fmt.Errorf("looking up the idempotency key: %w", err)
	}
	if nhs != nhsNumber {
		return ReferralReceipt{}, false, ErrIdempotencyKeyReused
	}
	if personID != nil {
		rc.PersonID, rc.DateOfBirth, rc.ProjectionSeq, rc.Stage = *personID, *dob, *seq, register.Stage(*stage)
		rc.Existing = existing
	} else {
		ref, err := identityCheckOfReferral(ctx, tx, rc.ReferralID)
		if err != nil {
			return ReferralReceipt{}, false, err
		}
		rc.IdentityCheck = &ref
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
	return queryAll(ctx, s.pool, "pending referrals", func(row pgx.CollectableRow) (PendingReferral, error) {
		var p PendingReferral
		err := row.Scan(&p.PersonID, &p.ReferralID, &p.DateOfBirth, &p.ProjectionSeq, &p.ReceivedAt, &p.ReceivedBy)
		p.DateOfBirth, p.ReceivedAt = p.DateOfBirth.UTC(), p.ReceivedAt.UTC()
		return p, err
	}, `
		select r.person_id, r.id, p.date_of_birth, p.projection_seq, r.received_at, r.received_by
		from referrals r join people p on p.id = r.person_id
		where r.accepted_at is null and r.received_at < $1
		order by r.received_at, r.id
		limit $2`, olderThan, limit)
}

// ReferralRecord is one stored referral.
type ReferralRecord struct {
	ID                   int64                 `json:"id"`
	PersonID             int64                 `json:"person_id"`
	Receipt              string                `json:"receipt"`
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
	return queryAll(ctx, s.pool, fmt.Sprintf("referrals of person %d", personID), func(row pgx.CollectableRow) (ReferralRecord, error) {
		var r ReferralRecord
		var kind, channel string
		err := row.Scan(&r.ID, &r.PersonID, &r.Receipt, &kind, &r.ReferrerName, &r.ReferrerOrganisation, &r.ReferrerEmail,
			&r.ReferrerPhone, &channel, &r.Reason, &r.ReceivedAt, &r.ReceivedBy, &r.AcceptedAt, &r.IdempotencyKey)
		r.ReferrerKind, r.Channel = register.ReferrerKind(kind), register.Channel(channel)
		r.ReceivedAt, r.AcceptedAt = r.ReceivedAt.UTC(), utc(r.AcceptedAt)
		return r, err
	}, `
		select id, person_id, receipt, referrer_kind, referrer_name, referrer_organisation, referrer_email, referrer_phone,
		       channel, reason, received_at, received_by, accepted_at, coalesce(idempotency_key, '')
		from referrals where person_id = $1 order by id`, personID)
}
