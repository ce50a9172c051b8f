package store

import (
	"context"
	"fmt"
	"time"

	"github.com/dsr-register/dsr/internal/register"
)

// SubjectAccess is everything the register holds about one person, for a
// subject access request: the record, referrals, consent, ratings, tasks,
// escalations, and the whole audit including who looked at the record.
// Every part is read by the person's ID alone, so nobody else's data can be
// in it.
type SubjectAccess struct {
	Reference   string             `json:"reference"`
	GeneratedAt time.Time          `json:"generated_at"`
	Person      PersonRecord       `json:"person"`
	Referrals   []ReferralRecord   `json:"referrals"`
	Consent     []AuditEntry       `json:"consent"`
	Ratings     []AuditEntry       `json:"ratings"`
	Tasks       []Task             `json:"tasks"`
	Escalations []EscalationRecord `json:"escalations"`
	// Audit is every entry about the person, oldest first: changes, reads
	// (viewed) and erasure.
	Audit []AuditEntry `json:"audit"`
}

// consentActions are the audit actions about consent.
var consentActions = map[string]bool{
	"consent_recorded": true, "consent_renewed": true, "consent_renewal_due": true, "consent_lapsed": true,
}

// SubjectAccess gathers everything held about the person, or ErrNotFound.
func (s *Store) SubjectAccess(ctx context.Context, personID int64, now time.Time) (SubjectAccess, error) {
	out := SubjectAccess{Reference: register.Reference(personID), GeneratedAt: now.UTC()}
	var err error
	if out.Person, err = s.Person(ctx, personID); err != nil {
		return SubjectAccess{}, err
	}
	if out.Referrals, err = s.Referrals(ctx, personID); err != nil {
		return SubjectAccess{}, err
	}
	if out.Ratings, err = s.RatingHistory(ctx, personID); err != nil {
		return SubjectAccess{}, err
	}
	if out.Tasks, err = s.ListTasks(ctx, TaskFilter{PersonID: personID, Now: now}); err != nil {
		return SubjectAccess{}, err
	}
	if out.Escalations, err = s.Escalations(ctx, personID); err != nil {
		return SubjectAccess{}, err
	}
	if out.Audit, err = s.audit(ctx, `where person_id = $1`, personID); err != nil {
		return SubjectAccess{}, fmt.Errorf("store: audit of person %d: %w", personID, err)
	}
	for _, e := range out.Audit {
		if consentActions[e.Action] || (e.Action == "removed" && e.Detail["reason"] == string(register.RemovedConsentWithdrawn)) {
			out.Consent = append(out.Consent, e)
		}
	}
	out.Referrals, out.Ratings, out.Tasks = nonNilSlice(out.Referrals), nonNilSlice(out.Ratings), nonNilSlice(out.Tasks)
	out.Escalations, out.Audit, out.Consent = nonNilSlice(out.Escalations), nonNilSlice(out.Audit), nonNilSlice(out.Consent)
	return out, nil
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
