package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/internal/register"
)

// PersonRecord is everything stored about a person: who they are, and the
// projection of where they stand as their workflow last recorded it.
type PersonRecord struct {
	ID             int64                `json:"id"`
	NHSNumber      string               `json:"nhs_number"`
	GivenName      string               `json:"given_name"`
	FamilyName     string               `json:"family_name"`
	DateOfBirth    time.Time            `json:"date_of_birth"`
	Diagnoses      []register.Diagnosis `json:"diagnoses"`
	LocalAuthority string               `json:"local_authority"`
	Postcode       string               `json:"postcode"`
	CreatedAt      time.Time            `json:"created_at"`

	Stage            register.Stage         `json:"stage"`
	Rating           register.Rating        `json:"rating,omitempty"`
	RatedAt          *time.Time             `json:"rated_at,omitempty"`
	NextReviewDue    *time.Time             `json:"next_review_due,omitempty"`
	ConsentBasis     register.ConsentBasis  `json:"consent_basis,omitempty"`
	ConsentGivenBy   string                 `json:"consent_given_by,omitempty"`
	ConsentDecidedOn *time.Time             `json:"consent_decided_on,omitempty"`
	ConsentExpiresAt *time.Time             `json:"consent_expires_at,omitempty"`
	RemovalReason    register.RemovalReason `json:"removal_reason,omitempty"`
	RemovedAt        *time.Time             `json:"removed_at,omitempty"`
	AssignedTo       string                 `json:"assigned_to,omitempty"`
	// NHSNumberDisputed: a coordinator found a referral carrying this
	// record's NHS number (or, DisputedNHSNumber, the one this record's
	// referral gave) to be about someone else: check it with the Spine.
	NHSNumberDisputed bool   `json:"nhs_number_disputed,omitempty"`
	DisputedNHSNumber string `json:"disputed_nhs_number,omitempty"`
	// MergedInto is the record this one was merged into (the same person).
	MergedInto int64 `json:"merged_into,omitempty"`
	// ErasedAt is set once the person's identifying details were erased
	// (retention or on request): the names, NHS number, date of birth and
	// postcode are then empty, the rest is an anonymous skeleton.
	ErasedAt *time.Time `json:"erased_at,omitempty"`
	// ProjectionSeq is the Seq of the last change applied to the projection.
	ProjectionSeq int64     `json:"projection_seq"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Snapshot returns the projection in the register's own terms.
func (p PersonRecord) Snapshot() register.Snapshot {
	return register.Snapshot{
		Stage: p.Stage, Rating: p.Rating, RatedAt: deref(p.RatedAt), NextReviewDue: deref(p.NextReviewDue),
		ConsentBasis: p.ConsentBasis, ConsentGivenBy: p.ConsentGivenBy, ConsentDecidedOn: deref(p.ConsentDecidedOn),
		ConsentExpiresAt: deref(p.ConsentExpiresAt), RemovalReason: p.RemovalReason, RemovedAt: deref(p.RemovedAt),
		AssignedTo: p.AssignedTo,
	}
}

// Person returns who the person is, as the register's domain type.
func (p PersonRecord) Person() register.Person {
	return register.Person{
		GivenName: p.GivenName, FamilyName: p.FamilyName, DateOfBirth: p.DateOfBirth, NHSNumber: p.NHSNumber,
		Diagnoses: p.Diagnoses, LocalAuthority: p.LocalAuthority, Postcode: p.Postcode,
	}
}

// Person returns the person's record, or ErrNotFound.
func (s *Store) Person(ctx context.Context, id int64) (PersonRecord, error) {
	return scanPerson(s.pool.QueryRow(ctx, personQuery, id), id)
}

// personQuery reads one person's record by ID ($1), for scanPerson.
const personQuery = `
	select id, coalesce(nhs_number, ''), given_name, family_name, date_of_birth, diagnoses, local_authority, postcode, created_at,
	       stage, rating, rated_at, next_review_due, consent_basis, consent_given_by, consent_decided_on,
	       consent_expires_at, removal_reason, removed_at, projection_seq, updated_at, assigned_to,
	       nhs_number_disputed, coalesce(disputed_nhs_number, ''), coalesce(merged_into, 0), erased_at
	from people where id = $1`

// scanPerson reads personQuery's row for person id, or ErrNotFound.
func scanPerson(row pgx.Row, id int64) (PersonRecord, error) {
	var p PersonRecord
	var diagnoses []string
	var rating, basis, givenBy, reason, assigned *string
	var dob *time.Time // null once erased
	err := row.Scan(&p.ID, &p.NHSNumber, &p.GivenName, &p.FamilyName, &dob, &diagnoses, &p.LocalAuthority, &p.Postcode, &p.CreatedAt,
		&p.Stage, &rating, &p.RatedAt, &p.NextReviewDue, &basis, &givenBy, &p.ConsentDecidedOn,
		&p.ConsentExpiresAt, &reason, &p.RemovedAt, &p.ProjectionSeq, &p.UpdatedAt, &assigned,
		&p.NHSNumberDisputed, &p.DisputedNHSNumber, &p.MergedInto, &p.ErasedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return PersonRecord{}, fmt.Errorf("store: person %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return PersonRecord{}, fmt.Errorf("store: person %d: %w", id, err)
	}
	p.Diagnoses = typed[register.Diagnosis](diagnoses)
	p.Rating, p.ConsentBasis = register.Rating(str(rating)), register.ConsentBasis(str(basis))
	p.ConsentGivenBy, p.RemovalReason = str(givenBy), register.RemovalReason(str(reason))
	p.AssignedTo = str(assigned)
	p.DateOfBirth, p.CreatedAt, p.UpdatedAt = deref(dob), p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	p.ErasedAt = utc(p.ErasedAt)
	p.RatedAt, p.NextReviewDue, p.ConsentDecidedOn = utc(p.RatedAt), utc(p.NextReviewDue), utc(p.ConsentDecidedOn)
	p.ConsentExpiresAt, p.RemovedAt = utc(p.ConsentExpiresAt), utc(p.RemovedAt)
	return p, nil
}

// PeopleFilter narrows ListPeople. Empty fields match everything.
type PeopleFilter struct {
	Rating string
	Stage  string
	// Now is the time reviews are judged overdue against; zero means the
	// database's now(). Callers with a clock pass it, so tests can move time.
	Now time.Time
}

// PersonSummary is one line of the register for dashboards and lists. It
// carries initials, not names: lists are seen by more people than records.
type PersonSummary struct {
	ID            int64           `json:"id"`
	Initials      string          `json:"initials"`
	Stage         register.Stage  `json:"stage"`
	Rating        register.Rating `json:"rating,omitempty"`
	NextReviewDue *time.Time      `json:"next_review_due,omitempty"`
	// ReviewOverdue: active, and the next review was due before Now. Reviews
	// stop when consent lapses or the person is removed, so only active
	// people can be overdue.
	ReviewOverdue    bool       `json:"review_overdue"`
	ConsentExpiresAt *time.Time `json:"consent_expires_at,omitempty"`
	OpenTasks        int        `json:"open_tasks"`
}

// ListPeople lists the people matching the filter, by ID. A filter value that
// is not a rating or stage is refused with register.FieldErrors naming it.
func (s *Store) ListPeople(ctx context.Context, f PeopleFilter) ([]PersonSummary, error) {
	errs := register.FieldErrors{}
	if f.Rating != "" {
		if _, err := register.ParseRating(f.Rating); err != nil {
			errs.Add("rating", err.Error())
		}
	}
	if f.Stage != "" {
		if _, err := register.ParseStage(f.Stage); err != nil {
			errs.Add("stage", err.Error())
		}
	}
	if errs.OrNil() != nil {
		return nil, errs
	}
	return queryAll(ctx, s.pool, "list people", func(row pgx.CollectableRow) (PersonSummary, error) {
		var p PersonSummary
		var given, family, stage, rating string
		err := row.Scan(&p.ID, &given, &family, &stage, &rating, &p.NextReviewDue, &p.ReviewOverdue, &p.ConsentExpiresAt, &p.OpenTasks)
		p.Initials = register.Person{GivenName: given, FamilyName: family}.Initials()
		p.Stage, p.Rating = register.Stage(stage), register.Rating(rating)
		p.NextReviewDue, p.ConsentExpiresAt = utc(p.NextReviewDue), utc(p.ConsentExpiresAt)
		return p, err
	}, `
		select p.id, p.given_name, p.family_name, p.stage, coalesce(p.rating, ''), p.next_review_due,
		       coalesce(p.stage = 'active' and p.next_review_due < coalesce($3, now()), false),
		       p.consent_expires_at,
		       (select count(*) from tasks t where t.person_id = p.id and t.status = 'open')
		from people p
		where ($1 = '' or p.rating = $1) and ($2 = '' or p.stage = $2)
		order by p.id`, f.Rating, f.Stage, nullTime(f.Now))
}
