package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

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
		status := r.URL.Query().Get("status")
		if status != "" && status != "open" && status != "resolved" {
			writeError(w, http.StatusBadRequest, "invalid filter", register.FieldErrors{"status": "must be open or resolved"})
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
		if !auditListing(w, r, d, "identity_checks", map[string]string{"status": status}, len(out)) {
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

func handleResolveIdentityCheck(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			writeError(w, http.StatusBadRequest, "invalid identity check id", register.FieldErrors{"id": "must be the identity check's number"})
			return
		}
		var req struct {
			Decision string `json:"decision"`
			Notes    string `json:"notes"`
		}
		if !decode(w, r, &req) {
			return
		}
		res, err := d.Casework.ResolveIdentityCheck(r.Context(), id, register.IdentityDecision(req.Decision), strings.TrimSpace(req.Notes), action(r))
		writeResult(w, r, http.StatusOK, res, err)
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

func handleMerge(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, ok := personID(w, r)
		if !ok {
			return
		}
		var req struct {
			Into   json.RawMessage `json:"into"`
			Reason string          `json:"reason"`
		}
		if !decode(w, r, &req) {
			return
		}
		var into personRef
		if len(req.Into) > 0 {
			if err := into.UnmarshalJSON(req.Into); err != nil {
				writeError(w, http.StatusBadRequest, "invalid input", register.FieldErrors{"into": err.Error()})
				return
			}
		}
		res, err := d.Casework.Merge(r.Context(), from, int64(into), req.Reason, action(r))
		writeResult(w, r, http.StatusOK, res, err)
	})
}
