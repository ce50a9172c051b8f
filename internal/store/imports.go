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

// ImportedPerson is one row of an imported register, validated.
type ImportedPerson struct {
	Person register.Person
	// Key is the row's stable key (see 0020_import.sql); it names the
	// person across re-runs of the import.
	Key string
	// Actor is who ran the import, for the referral row.
	Actor      string
	ReceivedAt time.Time
}

// ImportReceipt says what the register holds for an imported row.
type ImportReceipt struct {
	// PersonID and ReferralID are the person the row created (now or in an
	// earlier run) and their import referral; zero for a duplicate.
	PersonID    int64
	ReferralID  int64
	DateOfBirth time.Time
	// ProjectionSeq is the person's last change number.
	ProjectionSeq int64
	// Created: this call created the person. Accepted: their workflow has
	// taken the import in (a finished row: nothing more to do).
	Created  bool
	Accepted bool
	// DuplicateOf is someone already on the register who is, or may be,
	// the row's person: the row is not imported until a coordinator
	// resolves it. DuplicateBy says how they matched: "nhs_number" or
	// "likely" (register.LikelySamePerson).
	DuplicateOf int64
	DuplicateBy string
}

// CheckImport says, writing nothing, what importing the row would meet: the
// person an earlier run created for its key, or a duplicate on the
// register, or neither (the row would create someone).
func (s *Store) CheckImport(ctx context.Context, in ImportedPerson) (ImportReceipt, error) {
	var rc ImportReceipt
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		rc, _, err = matchImport(ctx, tx, in)
		return err
	})
	if err != nil {
		return ImportReceipt{}, fmt.Errorf("store: check import: %w", err)
	}
	return rc, nil
}

// ImportPerson records an imported row, idempotently by its key: the
// person (with the key) and a referral on channel import (keyed
// "import:<key>"), whose acceptance by the person's workflow marks the row
// done. A row whose key is already recorded answers with that person; a
// row that duplicates someone on the register (by NHS number, or likely by
// name, date of birth and postcode) creates nothing and names them.
func (s *Store) ImportPerson(ctx context.Context, in ImportedPerson) (ImportReceipt, error) {
	if strings.TrimSpace(in.Actor) == "" || in.Key == "" || in.Person.DateOfBirth.IsZero() {
		return ImportReceipt{}, errors.New("store: import person: actor, key and date of birth are required")
	}
	receipt, err := newReceipt()
	if err != nil {
		return ImportReceipt{}, fmt.Errorf("store: import person: %w", err)
	}
	var rc ImportReceipt
	for attempt := 0; attempt < 2; attempt++ {
		err = s.inTx(ctx, func(tx pgx.Tx) error {
			var decided bool
			var err error
			if rc, decided, err = matchImport(ctx, tx, in); err != nil || decided {
				return err
			}
			return insertImported(ctx, tx, in, receipt, &rc)
		})
		if !errors.Is(err, errKeyRaced) {
			break
		}
		// Another run inserted this key (or NHS number) and committed:
		// match again, and find it.
	}
	if err != nil {
		return ImportReceipt{}, fmt.Errorf("store: import person: %w", err)
	}
	return rc, nil
}

// matchImport finds the person an earlier run created for the row's key,
// or someone on the register the row duplicates. decided is false when the
// row would create a new person.
func matchImport(ctx context.Context, tx pgx.Tx, in ImportedPerson) (rc ImportReceipt, decided bool, err error) {
	err = tx.QueryRow(ctx, `
		select p.id, r.id, p.date_of_birth, p.projection_seq, r.accepted_at is not null
		from people p join referrals r on r.person_id = p.id and r.idempotency_key = 'import:' || p.import_key
		where p.import_key = $1`, in.Key,
	).Scan(&rc.PersonID, &rc.ReferralID, &rc.DateOfBirth, &rc.ProjectionSeq, &rc.Accepted)
	if err == nil {
		rc.DateOfBirth = rc.DateOfBirth.UTC()
		return rc, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return rc, false, fmt.Errorf("finding the row's person: %w", err)
	}
	p := in.Person
	if p.NHSNumber != "" {
		var id int64
		err := tx.QueryRow(ctx, `select coalesce(merged_into, id) from people where nhs_number = $1`, p.NHSNumber).Scan(&id)
		if err == nil {
			return ImportReceipt{DuplicateOf: id, DuplicateBy: "nhs_number"}, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return rc, false, fmt.Errorf("finding the NHS number: %w", err)
		}
	}
	id, found, err := likelyDuplicate(ctx, tx, p)
	if err != nil || !found {
		return ImportReceipt{}, false, err
	}
	return ImportReceipt{DuplicateOf: id, DuplicateBy: "likely"}, true, nil
}

// insertImported writes the person and their import referral.
func insertImported(ctx context.Context, tx pgx.Tx, in ImportedPerson, receipt string, rc *ImportReceipt) error {
	p := in.Person
	err := tx.QueryRow(ctx, `
		insert into people (nhs_number, given_name, family_name, date_of_birth, diagnoses, local_authority, postcode, import_key)
		values ($1, $2, $3, $4, $5, $6, $7, $8)
		on conflict do nothing
		returning id, date_of_birth, projection_seq`,
		nullText(p.NHSNumber), strings.TrimSpace(p.GivenName), strings.TrimSpace(p.FamilyName), p.DateOfBirth,
		stringsOf(p.Diagnoses), strings.TrimSpace(p.LocalAuthority), p.Postcode, in.Key,
	).Scan(&rc.PersonID, &rc.DateOfBirth, &rc.ProjectionSeq)
	if errors.Is(err, pgx.ErrNoRows) {
		return errKeyRaced
	}
	if err != nil {
		return fmt.Errorf("recording the person: %w", err)
	}
	err = tx.QueryRow(ctx, `
		insert into referrals (person_id, referrer_kind, referrer_name, channel, reason, received_at, received_by,
		                       idempotency_key, receipt, nhs_number_given)
		values ($1, 'professional', $2, $3, 'imported from the team''s existing register', coalesce($4, now()), $2, $5, $6, $7)
		returning id`,
		rc.PersonID, in.Actor, string(register.ChannelImport), nullTime(in.ReceivedAt), "import:"+in.Key, receipt, nullText(p.NHSNumber),
	).Scan(&rc.ReferralID)
	if err != nil {
		return fmt.Errorf("recording the import referral: %w", err)
	}
	rc.DateOfBirth = rc.DateOfBirth.UTC()
	rc.Created = true
	return nil
}

// ImportStanding is an imported person's standing as recorded, for the
// import's summary.
type ImportStanding struct {
	Stage  register.Stage
	Rating register.Rating
	// OpenTasks are the person's open tasks: kind, and whether overdue.
	OpenTasks []ImportTask
}

// ImportTask is one open task in an ImportStanding.
type ImportTask struct {
	Kind    register.TaskKind
	Overdue bool
}

// ImportedStanding reads a person's stage, rating and open tasks.
func (s *Store) ImportedStanding(ctx context.Context, personID int64, now time.Time) (ImportStanding, error) {
	var st ImportStanding
	var stage string
	var rating *string
	if err := s.pool.QueryRow(ctx, `select stage, rating from people where id = $1`, personID).Scan(&stage, &rating); err != nil {
		return st, fmt.Errorf("store: standing of person %d: %w", personID, err)
	}
	st.Stage = register.Stage(stage)
	if rating != nil {
		st.Rating = register.Rating(*rating)
	}
	var err error
	st.OpenTasks, err = queryAll(ctx, s.pool, fmt.Sprintf("standing of person %d", personID), func(r pgx.CollectableRow) (ImportTask, error) {
		var t ImportTask
		var kind string
		err := r.Scan(&kind, &t.Overdue)
		t.Kind = register.TaskKind(kind)
		return t, err
	}, `select kind, coalesce(due_at < $2, false) from tasks where person_id = $1 and status = 'open'`, personID, now)
	if err != nil {
		return st, err
	}
	return st, nil
}
