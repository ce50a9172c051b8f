package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// identityCheckView is an identity check with the recorded person it may
// be about, side by side for the coordinator to compare.
type identityCheckView struct {
	store.IdentityCheck
	Candidate candidateView `json:"candidate"`
}

type candidateView struct {
	PersonID          int64          `json:"person_id"`
	Reference         string         `json:"reference"`
	GivenName         string         `json:"given_name"`
	FamilyName        string         `json:"family_name"`
	DateOfBirth       string         `json:"date_of_birth"`
	NHSNumber         string         `json:"nhs_number,omitempty"`
	Postcode          string         `json:"postcode"`
	Stage             register.Stage `json:"stage"`
	NHSNumberDisputed bool           `json:"nhs_number_disputed,omitempty"`
}

func handleListIdentityChecks(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := filtersOf(r)
		status := f.oneOf("status", "open", "resolved")
		if f.refused(w) {
			return
		}
		checks, err := d.Store.IdentityChecks(r.Context(), status)
		if err != nil {
			writeStoreError(w, d, err)
			return
		}
		out := make([]identityCheckView, 0, len(checks))
		for _, c := range checks {
			p, err := d.Store.Person(r.Context(), c.CandidatePersonID)
			if err != nil {
				writeStoreError(w, d, err)
				return
			}
			out = append(out, identityCheckView{IdentityCheck: c, Candidate: candidateView{
				PersonID: p.ID, Reference: register.Reference(p.ID), GivenName: p.GivenName, FamilyName: p.FamilyName,
				DateOfBirth: p.DateOfBirth.Format("2006-01-02"), NHSNumber: p.NHSNumber, Postcode: p.Postcode, Stage: p.Stage,
				NHSNumberDisputed: p.NHSNumberDisputed,
			}})
		}
		// The list shows each candidate's details: audited as a list, and
		// as a look at each candidate's record.
		if !auditListing(w, r, d, "identity_checks", f.given, len(out)) {
			return
		}
		for _, c := range out {
			if !auditView(w, r, d, c.Candidate.PersonID, "identity_check") {
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"identity_checks": out})
	})
}

var identityCheckID = numberedID("identity check", "must be the identity check's number")

type identityDecisionRequest struct {
	Decision string `json:"decision"`
	Notes    string `json:"notes"`
}

func handleResolveIdentityCheck(d Deps) http.Handler {
	return handleAction(identityCheckID, http.StatusOK, func(r *http.Request, id int64, req identityDecisionRequest) (casework.IdentityCheckResult, error) {
		return d.Casework.ResolveIdentityCheck(r.Context(), id, register.IdentityDecision(req.Decision), strings.TrimSpace(req.Notes), action(r))
	})
}

// personRef is a person named by number or reference (1042, "1042" or
// "DSR-1042").
type personRef int64

func (p *personRef) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return errors.New("must be a person's number or reference (DSR-1042)")
		}
		*p = personRef(n)
		return nil
	}
	n, err := register.ParseReference(s)
	if err != nil {
		return err
	}
	*p = personRef(n)
	return nil
}

type mergeRequest struct {
	Into   json.RawMessage `json:"into"`
	Reason string          `json:"reason"`
}

// handleMerge records that the person the path names is the one into
// names: into is kept, the other merged into it.
func handleMerge(d Deps) http.Handler {
	return handleAction(personID, http.StatusOK, func(r *http.Request, from int64, req mergeRequest) (casework.MergeResult, error) {
		var into personRef
		if len(req.Into) > 0 {
			if err := into.UnmarshalJSON(req.Into); err != nil {
				return casework.MergeResult{}, invalidInput(register.FieldErrors{"into": err.Error()})
			}
		}
		return d.Casework.Merge(r.Context(), from, int64(into), req.Reason, action(r))
	})
}
