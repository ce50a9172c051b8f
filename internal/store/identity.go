package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
)

// IdentityCheckDueWithin is how long a coordinator has to answer an identity
// check before it shows as overdue: the referral waits on it.
const IdentityCheckDueWithin = 2 * 24 * time.Hour

// ErrIdentityCheckResolved: the identity check was already answered the
// other way; its decision stands.
var ErrIdentityCheckResolved = errors.New("the identity check was already resolved")

// ErrMergeRefused: the two records cannot be merged as asked; the error
// says why.
var ErrMergeRefused = errors.New("merge refused")

// IdentityCheck is a referral held until a coordinator says who it is about.
type IdentityCheck struct {
	ID                int64                      `json:"id"`
	ReferralID        int64                      `json:"referral_id"`
	Kind              register.IdentityCheckKind `json:"kind"`
	CandidatePersonID int64                      `json:"candidate_person_id"`
	Differences       []string                   `json:"differences"`
	// Referred is the person as the referral named them.
	Referred IdentityCheckPerson `json:"referred"`
	TaskID   int64               `json:"task_id"`
	Status   string              `json:"status"`
	Decision string              `json:"decision,omitempty"`
	// PersonID is who the referral went to once resolved.
	PersonID   int64      `json:"person_id,omitempty"`
	ResolvedBy string     `json:"resolved_by,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	Notes      string     `json:"notes,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

// IdentityCheckPerson is the referral's person as referred.
type IdentityCheckPerson struct {
	GivenName      string   `json:"given_name"`
	FamilyName     string   `json:"family_name"`
	DateOfBirth    string   `json:"date_of_birth"`
	NHSNumber      string   `json:"nhs_number,omitempty"`
	Diagnoses      []string `json:"diagnoses"`
	LocalAuthority string   `json:"local_authority"`
	Postcode       string   `json:"postcode"`
}

// openIdentityCheck holds a referral: an identity_check task (belonging to
// no person yet) and the check, carrying the referral's own details.
func openIdentityCheck(ctx context.Context, tx pgx.Tx, referralID int64, p register.Person, why heldFor, at time.Time, actor string) (*IdentityCheckRef, error) {
	if at.IsZero() {
		at = time.Now()
	}
	ref := &IdentityCheckRef{Kind: why.kind, CandidatePersonID: why.candidate, Differences: why.differences}
	taskKey, due := identityCheckTaskKey(referralID), at.Add(IdentityCheckDueWithin)
	err := tx.QueryRow(ctx, `
		insert into tasks (task_key, person_id, kind, actions, opened_at, due_at)
		values ($1, null, $2, $3, $4, $5) returning id`,
		taskKey, string(register.TaskIdentityCheck),
		[]string{string(register.ActionSamePerson), string(register.ActionDifferentPerson)}, at, due,
	).Scan(&ref.TaskID)
	if err != nil {
		return nil, fmt.Errorf("opening the identity check task: %w", err)
	}
	if err := queueNotifications(ctx, tx, []notify.Notification{personlessTaskOpened(taskKey, ref.TaskID, register.TaskIdentityCheck, due, at)}); err != nil {
		return nil, err
	}
	err = tx.QueryRow(ctx, `
		insert into identity_checks (referral_id, kind, candidate_person_id, differences, given_name, family_name,
		                             date_of_birth, nhs_number, diagnoses, local_authority, postcode, task_id)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning id`,
		referralID, string(why.kind), why.candidate, why.differences, strings.TrimSpace(p.GivenName), strings.TrimSpace(p.FamilyName),
		p.DateOfBirth, nullText(p.NHSNumber), stringsOf(p.Diagnoses), strings.TrimSpace(p.LocalAuthority), p.Postcode, ref.TaskID,
	).Scan(&ref.ID)
	if err != nil {
		return nil, fmt.Errorf("recording the identity check: %w", err)
	}
	return ref, identityAudit(ctx, tx, at, actor, "identity_check_opened", 0, map[string]string{
		"identity_check_id": fmt.Sprint(ref.ID), "referral_id": fmt.Sprint(referralID), "kind": string(why.kind),
		"candidate_person_id": fmt.Sprint(why.candidate), "differences": strings.Join(why.differences, ","),
	})
}

// identityCheckTaskKey is the key of the task that holds a referral.
func identityCheckTaskKey(referralID int64) string {
	return fmt.Sprintf("identity-check-referral-%d", referralID)
}

func identityCheckOfReferral(ctx context.Context, tx pgx.Tx, referralID int64) (IdentityCheckRef, error) {
	var ref IdentityCheckRef
	var kind string
	err := tx.QueryRow(ctx, `select id, kind, candidate_person_id, differences, task_id from identity_checks where referral_id = $1`,
		referralID).Scan(&ref.ID, &kind, &ref.CandidatePersonID, &ref.Differences, &ref.TaskID)
	if err != nil {
		return ref, fmt.Errorf("reading the identity check of referral %d: %w", referralID, err)
	}
	ref.Kind = register.IdentityCheckKind(kind)
	return ref, nil
}

const identityCheckColumns = `id, referral_id, kind, candidate_person_id, differences, given_name, family_name, date_of_birth,
	coalesce(nhs_number, ''), diagnoses, local_authority, postcode, task_id, status, coalesce(decision, ''),
	coalesce(person_id, 0), coalesce(resolved_by, ''), resolved_at, notes, created_at`

func scanIdentityCheck(row pgx.CollectableRow) (IdentityCheck, error) {
	var c IdentityCheck
	var kind string
	var dob time.Time
	err := row.Scan(&c.ID, &c.ReferralID, &kind, &c.CandidatePersonID, &c.Differences, &c.Referred.GivenName,
		&c.Referred.FamilyName, &dob, &c.Referred.NHSNumber, &c.Referred.Diagnoses, &c.Referred.LocalAuthority,
		&c.Referred.Postcode, &c.TaskID, &c.Status, &c.Decision, &c.PersonID, &c.ResolvedBy, &c.ResolvedAt, &c.Notes, &c.CreatedAt)
	c.Kind, c.Referred.DateOfBirth = register.IdentityCheckKind(kind), dob.Format("2006-01-02")
	c.ResolvedAt, c.CreatedAt = utc(c.ResolvedAt), c.CreatedAt.UTC()
	return c, err
}

// IdentityChecks lists identity checks, oldest first; status "" is all,
// else "open" or "resolved".
func (s *Store) IdentityChecks(ctx context.Context, status string) ([]IdentityCheck, error) {
	return queryAll(ctx, s.pool, "identity checks", scanIdentityCheck, `select `+identityCheckColumns+` from identity_checks
		where ($1 = '' or status = $1) order by id`, status)
}

// IdentityCheck returns one identity check, or ErrNotFound.
func (s *Store) IdentityCheck(ctx context.Context, id int64) (IdentityCheck, error) {
	return queryOne(ctx, s.pool, fmt.Sprintf("identity check %d", id), scanIdentityCheck, `select `+identityCheckColumns+` from identity_checks where id = $1`, id)
}

// IdentityResolution is a coordinator's answer to an identity check.
type IdentityResolution struct {
	CheckID  int64
	Decision register.IdentityDecision
	Notes    string
	Actor    string
	At       time.Time
}

// ResolveIdentityCheck applies a coordinator's decision in one transaction
// and answers with the referral, now filed against a person, to deliver:
//
//   - same_person: the referral goes to the candidate, whose name and date
//     of birth become the referral's where they differed (audited
//     identity_confirmed with the fields changed and what they were); a
//     possible duplicate's NHS number is recorded if the person had none;
//   - different_person: a new person is created for the referral. After an
//     NHS number mismatch the new person does NOT get the number (it stays
//     with the person who has it; the new record keeps it aside in
//     disputed_nhs_number) and both records are flagged nhs_number_disputed
//     and audited, so someone checks the number with the Spine.
//
// The task closes with the decision. Answering again with the same decision
// replays the first outcome; the other decision is ErrIdentityCheckResolved.
func (s *Store) ResolveIdentityCheck(ctx context.Context, in IdentityResolution) (IdentityCheck, PendingReferral, error) {
	if strings.TrimSpace(in.Actor) == "" {
		return IdentityCheck{}, PendingReferral{}, errors.New("store: resolve identity check: actor is required")
	}
	var pending PendingReferral
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select `+identityCheckColumns+` from identity_checks where id = $1 for update`, in.CheckID)
		if err != nil {
			return err
		}
		c, err := pgx.CollectExactlyOneRow(rows, scanIdentityCheck)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("identity check %d: %w", in.CheckID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if c.Status == "resolved" {
			if c.Decision != string(in.Decision) {
				return fmt.Errorf("%w: %s by %s", ErrIdentityCheckResolved, c.Decision, c.ResolvedBy)
			}
			pending, err = pendingOf(ctx, tx, c.ReferralID)
			return err
		}
		var personID int64
		switch in.Decision {
		case register.DecisionSamePerson:
			personID = c.CandidatePersonID
			err = confirmSamePerson(ctx, tx, c, in)
		case register.DecisionDifferentPerson:
			personID, err = createDifferentPerson(ctx, tx, c, in)
		default:
			return fmt.Errorf("unknown decision %q", in.Decision)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `update referrals set person_id = $2 where id = $1`, c.ReferralID, personID); err != nil {
			return fmt.Errorf("filing the referral: %w", err)
		}
		if _, err := tx.Exec(ctx, `update identity_checks set status = 'resolved', decision = $2, person_id = $3,
			resolved_by = $4, resolved_at = $5, notes = $6 where id = $1`,
			c.ID, string(in.Decision), personID, in.Actor, in.At, strings.TrimSpace(in.Notes)); err != nil {
			return fmt.Errorf("resolving the identity check: %w", err)
		}
		outcome := fmt.Sprintf("%s: %s", in.Decision, register.Reference(personID))
		closed, err := tx.Exec(ctx, `update tasks set status = 'done', closed_at = $2, closed_by = $3, outcome = $4
			where id = $1 and status = 'open'`,
			c.TaskID, in.At, in.Actor, outcome)
		if err != nil {
			return fmt.Errorf("closing the identity check task: %w", err)
		}
		if closed.RowsAffected() > 0 {
			note := personlessTaskClosed(identityCheckTaskKey(c.ReferralID), c.TaskID, register.TaskIdentityCheck, outcome, in.Actor, in.At)
			if err := queueNotifications(ctx, tx, []notify.Notification{note}); err != nil {
				return err
			}
		}
		if err := identityAudit(ctx, tx, in.At, in.Actor, "identity_check_resolved", personID, map[string]string{
			"identity_check_id": fmt.Sprint(c.ID), "referral_id": fmt.Sprint(c.ReferralID), "decision": string(in.Decision),
			"candidate_person_id": fmt.Sprint(c.CandidatePersonID), "notes": strings.TrimSpace(in.Notes),
		}); err != nil {
			return err
		}
		pending, err = pendingOf(ctx, tx, c.ReferralID)
		return err
	})
	if err != nil {
		return IdentityCheck{}, PendingReferral{}, fmt.Errorf("store: resolve identity check %d: %w", in.CheckID, err)
	}
	c, err := s.IdentityCheck(ctx, in.CheckID)
	return c, pending, err
}

func confirmSamePerson(ctx context.Context, tx pgx.Tx, c IdentityCheck, in IdentityResolution) error {
	var was register.Person
	var nhs *string
	err := tx.QueryRow(ctx, `select given_name, family_name, date_of_birth, nhs_number from people where id = $1 for update`,
		c.CandidatePersonID).Scan(&was.GivenName, &was.FamilyName, &was.DateOfBirth, &nhs)
	if err != nil {
		return fmt.Errorf("reading the person: %w", err)
	}
	dob, err := time.Parse("2006-01-02", c.Referred.DateOfBirth)
	if err != nil {
		return err
	}
	now := register.Person{GivenName: c.Referred.GivenName, FamilyName: c.Referred.FamilyName, DateOfBirth: dob}
	changed := register.IdentityDifferences(was, now)
	detail := map[string]string{"identity_check_id": fmt.Sprint(c.ID), "changed": strings.Join(changed, ",")}
	for _, f := range changed {
		switch f {
		case "given_name":
			detail["given_name_was"] = was.GivenName
		case "family_name":
			detail["family_name_was"] = was.FamilyName
		case "date_of_birth":
			detail["date_of_birth_was"] = was.DateOfBirth.Format("2006-01-02")
		}
	}
	// A name differing only by case or accents is not changed: the record's
	// spelling stands.
	if len(changed) > 0 {
		if _, err := tx.Exec(ctx, `update people set given_name = $2, family_name = $3, date_of_birth = $4, updated_at = now()
			where id = $1`, c.CandidatePersonID, now.GivenName, now.FamilyName, now.DateOfBirth); err != nil {
			return fmt.Errorf("updating the person's details: %w", err)
		}
	}
	if nhs == nil && c.Referred.NHSNumber != "" {
		if _, err := tx.Exec(ctx, `update people set nhs_number = $2 where id = $1`, c.CandidatePersonID, c.Referred.NHSNumber); err != nil {
			return fmt.Errorf("recording the NHS number: %w", err)
		}
		detail["changed"] = strings.Trim(detail["changed"]+",nhs_number", ",")
	}
	return identityAudit(ctx, tx, in.At, in.Actor, "identity_confirmed", c.CandidatePersonID, detail)
}

func createDifferentPerson(ctx context.Context, tx pgx.Tx, c IdentityCheck, in IdentityResolution) (int64, error) {
	nhs, disputed := c.Referred.NHSNumber, ""
	if c.Kind == register.IdentityNHSNumberMismatch {
		nhs, disputed = "", c.Referred.NHSNumber
	}
	var id int64
	err := tx.QueryRow(ctx, `
		insert into people (nhs_number, given_name, family_name, date_of_birth, diagnoses, local_authority, postcode,
		                    nhs_number_disputed, disputed_nhs_number)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id`,
		nullText(nhs), c.Referred.GivenName, c.Referred.FamilyName, c.Referred.DateOfBirth, c.Referred.Diagnoses,
		c.Referred.LocalAuthority, c.Referred.Postcode, disputed != "", nullText(disputed),
	).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("recording the new person: %w", err)
	}
	detail := map[string]string{"identity_check_id": fmt.Sprint(c.ID), "decision": string(in.Decision)}
	if err := identityAudit(ctx, tx, in.At, in.Actor, "person_created_after_identity_check", id, detail); err != nil {
		return 0, err
	}
	if disputed == "" {
		return id, nil
	}
	if _, err := tx.Exec(ctx, `update people set nhs_number_disputed = true, updated_at = now() where id = $1`, c.CandidatePersonID); err != nil {
		return 0, fmt.Errorf("flagging the NHS number: %w", err)
	}
	for _, p := range []struct {
		id    int64
		other int64
	}{{c.CandidatePersonID, id}, {id, c.CandidatePersonID}} {
		if err := identityAudit(ctx, tx, in.At, in.Actor, "nhs_number_disputed", p.id, map[string]string{
			"identity_check_id": fmt.Sprint(c.ID), "other_person_id": fmt.Sprint(p.other),
		}); err != nil {
			return 0, err
		}
	}
	return id, nil
}

func pendingOf(ctx context.Context, tx pgx.Tx, referralID int64) (PendingReferral, error) {
	var p PendingReferral
	err := tx.QueryRow(ctx, `
		select r.person_id, r.id, p.date_of_birth, p.projection_seq, r.received_at, r.received_by
		from referrals r join people p on p.id = r.person_id where r.id = $1`, referralID,
	).Scan(&p.PersonID, &p.ReferralID, &p.DateOfBirth, &p.ProjectionSeq, &p.ReceivedAt, &p.ReceivedBy)
	if err != nil {
		return p, fmt.Errorf("reading referral %d: %w", referralID, err)
	}
	p.DateOfBirth, p.ReceivedAt = p.DateOfBirth.UTC(), p.ReceivedAt.UTC()
	return p, nil
}

// Merge is two records found to be one person.
type Merge struct {
	From, Into int64
	Reason     string
	Actor      string
	At         time.Time
}

// MergePeople records that From is the same person as Into, in one
// transaction: From's referrals move to Into, From points to Into
// (merged_into), an NHS number only From had moves to Into, and both
// records are audited. It refuses (ErrMergeRefused) merging a record into
// itself or into one already merged, two different NHS numbers (one of
// them is wrong: check with the Spine first), and a person on the register
// into one removed from it (merge the other way). Merging again as before
// changes nothing.
func (s *Store) MergePeople(ctx context.Context, m Merge) error {
	if m.From == m.Into {
		return fmt.Errorf("store: merge: %w: a record cannot be merged into itself", ErrMergeRefused)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		type rec struct {
			nhs    *string
			stage  string
			merged *int64
		}
		var from, into rec
		for _, x := range []struct {
			id int64
			r  *rec
		}{{min(m.From, m.Into), nil}, {max(m.From, m.Into), nil}} {
			// Locked in ID order, so two merges of the same pair never
			// deadlock.
			r := &from
			if x.id == m.Into {
				r = &into
			}
			err := tx.QueryRow(ctx, `select nhs_number, stage, merged_into from people where id = $1 for update`, x.id).
				Scan(&r.nhs, &r.stage, &r.merged)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("person %s: %w", register.Reference(x.id), ErrNotFound)
			}
			if err != nil {
				return err
			}
		}
		if from.merged != nil && *from.merged == m.Into {
			return nil
		}
		switch {
		case from.merged != nil:
			return fmt.Errorf("%w: %s was already merged into %s", ErrMergeRefused, register.Reference(m.From), register.Reference(*from.merged))
		case into.merged != nil:
			return fmt.Errorf("%w: %s was merged into %s: merge into that record", ErrMergeRefused, register.Reference(m.Into), register.Reference(*into.merged))
		case from.nhs != nil && into.nhs != nil && *from.nhs != *into.nhs:
			return fmt.Errorf("%w: the two records have different NHS numbers: check which is right before merging", ErrMergeRefused)
		case into.stage == string(register.Removed) && from.stage != string(register.Removed):
			return fmt.Errorf("%w: %s is on the register and %s is not: merge %s into %s instead", ErrMergeRefused,
				register.Reference(m.From), register.Reference(m.Into), register.Reference(m.Into), register.Reference(m.From))
		}
		if _, err := tx.Exec(ctx, `update referrals set person_id = $2 where person_id = $1`, m.From, m.Into); err != nil {
			return fmt.Errorf("moving the referrals: %w", err)
		}
		if _, err := tx.Exec(ctx, `update people set merged_into = $2, nhs_number = null, updated_at = now() where id = $1`, m.From, m.Into); err != nil {
			return fmt.Errorf("marking the record merged: %w", err)
		}
		if from.nhs != nil && into.nhs == nil {
			if _, err := tx.Exec(ctx, `update people set nhs_number = $2, updated_at = now() where id = $1`, m.Into, *from.nhs); err != nil {
				return fmt.Errorf("moving the NHS number: %w", err)
			}
		}
		if err := identityAudit(ctx, tx, m.At, m.Actor, "merged_into", m.From, map[string]string{
			"into_person_id": fmt.Sprint(m.Into), "reason": m.Reason}); err != nil {
			return err
		}
		return identityAudit(ctx, tx, m.At, m.Actor, "merged_in", m.Into, map[string]string{
			"from_person_id": fmt.Sprint(m.From), "reason": m.Reason})
	})
	if err != nil {
		return fmt.Errorf("store: merge %d into %d: %w", m.From, m.Into, err)
	}
	return nil
}

// identityAudit appends one audit entry; personID 0 is an entry about no person
// yet (a held referral).
func identityAudit(ctx context.Context, tx pgx.Tx, at time.Time, actor, action string, personID int64, d map[string]string) error {
	// Through insertAudit, so the name and date of birth a record had before
	// an identity check changed them are kept beside the entry, erasable,
	// not in the append-only audit row.
	if _, err := insertAudit(ctx, tx, at, actor, action, personID, d, ""); err != nil {
		return fmt.Errorf("auditing %s: %w", action, err)
	}
	return nil
}
