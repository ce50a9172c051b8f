package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/workflows"
)

// A person on the register: the coordinator's writes on them (consent,
// rating, review, removal, assignment), each answered with the person's
// standing afterwards, and the reads of their record.

// personAction is a write on one person: the body decoded into Req, then
// do; answered with the person's standing afterwards.
func personAction[Req any](d Deps, do func(r *http.Request, id int64, req Req) (workflows.PersonStatus, error)) http.Handler {
	return handleAction(personID, http.StatusOK, shownAs(d.Now, do, toStatusView))
}

type consentRequest struct {
	Basis     string `json:"basis"`
	GivenBy   string `json:"given_by"`
	DecidedOn string `json:"decided_on"`
	Notes     string `json:"notes"`
}

func handleConsent(d Deps) http.Handler {
	return personAction(d, func(r *http.Request, id int64, req consentRequest) (workflows.PersonStatus, error) {
		errs := register.FieldErrors{}
		decided := parseDate(req.DecidedOn, "decided_on", errs)
		if err := invalidInput(errs); err != nil {
			return workflows.PersonStatus{}, err
		}
		return d.Casework.RecordConsent(r.Context(), id, casework.ConsentRequest{
			Basis: register.ConsentBasis(req.Basis), GivenBy: req.GivenBy, DecidedOn: decided, Notes: req.Notes,
		}, action(r))
	})
}

func handleWithdraw(d Deps) http.Handler {
	return personAction(d, func(r *http.Request, id int64, req struct {
		Reason string `json:"reason"`
	}) (workflows.PersonStatus, error) {
		if strings.TrimSpace(req.Reason) == "" {
			return workflows.PersonStatus{}, invalidInput(register.FieldErrors{"reason": "is required: record what the person said"})
		}
		return d.Casework.WithdrawConsent(r.Context(), id, req.Reason, action(r))
	})
}

type rateRequest struct {
	Rating          string `json:"rating"`
	Rationale       string `json:"rationale"`
	SecurePlacement bool   `json:"secure_placement"`
}

func handleRate(d Deps) http.Handler {
	return personAction(d, func(r *http.Request, id int64, req rateRequest) (workflows.PersonStatus, error) {
		return d.Casework.Rate(r.Context(), id, casework.RateRequest{
			Rating: register.Rating(req.Rating), Rationale: strings.TrimSpace(req.Rationale), SecurePlacement: req.SecurePlacement,
		}, action(r))
	})
}

type reviewRequest struct {
	Outcome string `json:"outcome"`
	Notes   string `json:"notes"`
}

func handleReview(d Deps) http.Handler {
	return personAction(d, func(r *http.Request, id int64, req reviewRequest) (workflows.PersonStatus, error) {
		if req.Outcome != "unchanged" {
			return workflows.PersonStatus{}, invalidInput(register.FieldErrors{"outcome": `must be "unchanged"; to change the rating, POST /people/{id}/rating`})
		}
		return d.Casework.ConfirmReview(r.Context(), id, req.Notes, action(r))
	})
}

type removalRequest struct {
	Reason string `json:"reason"`
	Notes  string `json:"notes"`
}

func handleRemoval(d Deps) http.Handler {
	return personAction(d, func(r *http.Request, id int64, req removalRequest) (workflows.PersonStatus, error) {
		return d.Casework.Remove(r.Context(), id, register.RemovalReason(req.Reason), req.Notes, action(r))
	})
}

func handleAssign(d Deps) http.Handler {
	return personAction(d, func(r *http.Request, id int64, req struct {
		Coordinator string `json:"coordinator"`
	}) (workflows.PersonStatus, error) {
		return d.Casework.Assign(r.Context(), id, strings.TrimSpace(req.Coordinator), action(r))
	})
}

// statusView is the answer to a write: the person's standing afterwards.
type statusView struct {
	PersonID         int64                  `json:"person_id"`
	Reference        string                 `json:"reference"`
	Stage            register.Stage         `json:"stage"`
	Rating           register.Rating        `json:"rating,omitempty"`
	RatedAt          *time.Time             `json:"rated_at,omitempty"`
	NextReviewDue    *time.Time             `json:"next_review_due,omitempty"`
	ReviewOverdue    bool                   `json:"review_overdue"`
	ConsentBasis     register.ConsentBasis  `json:"consent_basis,omitempty"`
	ConsentExpiresAt *time.Time             `json:"consent_expires_at,omitempty"`
	RemovalReason    register.RemovalReason `json:"removal_reason,omitempty"`
	OpenTasks        []taskRefView          `json:"open_tasks"`
	// OpenEscalation is the number of the escalation running (red).
	OpenEscalation      int        `json:"open_escalation,omitempty"`
	HeldAtRedUntil      *time.Time `json:"held_at_red_until,omitempty"`
	SecurePlacement     bool       `json:"secure_placement,omitempty"`
	NextInpatientCTRDue *time.Time `json:"next_inpatient_ctr_due,omitempty"`
}

func toStatusView(s workflows.PersonStatus, now time.Time) statusView {
	return statusView{
		PersonID: s.PersonID, Reference: register.Reference(s.PersonID), Stage: s.Stage, Rating: s.Rating,
		RatedAt: timePtr(s.RatedAt), NextReviewDue: timePtr(s.NextReviewDue),
		ReviewOverdue: register.Snapshot{Stage: s.Stage, NextReviewDue: s.NextReviewDue}.ReviewOverdue(now),
		ConsentBasis:  s.ConsentBasis, ConsentExpiresAt: timePtr(s.ConsentExpiresAt), RemovalReason: s.RemovalReason,
		OpenTasks:      toTaskRefViews(s.OpenTasks, now),
		OpenEscalation: s.OpenEscalation, HeldAtRedUntil: timePtr(s.HeldAtRedUntil),
		SecurePlacement: s.SecurePlacement, NextInpatientCTRDue: timePtr(s.NextInpatientCTRDue),
	}
}

// personView is one person's full record for coordinators and managers.
type personView struct {
	store.PersonRecord
	// Calendar dates are shown as dates, not midnight timestamps (these
	// shadow the record's fields of the same JSON name).
	DateOfBirth      string             `json:"date_of_birth"`
	ConsentDecidedOn string             `json:"consent_decided_on,omitempty"`
	Reference        string             `json:"reference"`
	ReviewOverdue    bool               `json:"review_overdue"`
	OpenTasks        []store.Task       `json:"open_tasks"`
	Ratings          []store.AuditEntry `json:"ratings"`
	History          []store.AuditEntry `json:"history"`
}

func handleGetPerson(d Deps) http.Handler {
	return handleWithID(personID, func(w http.ResponseWriter, r *http.Request, id int64) {
		p, ok := personOr404(w, r, d, id)
		if !ok {
			return
		}
		ctx, now := r.Context(), d.Now()
		tasks, err := d.Store.ListTasks(ctx, store.TaskFilter{Status: string(register.TaskStatusOpen), PersonID: id, Now: now})
		if err != nil {
			writeStoreError(w, d, err)
			return
		}
		ratings, err := d.Store.RatingHistory(ctx, id)
		if err != nil {
			writeStoreError(w, d, err)
			return
		}
		history, err := d.Store.History(ctx, id)
		if err != nil {
			writeStoreError(w, d, err)
			return
		}
		decided := ""
		if p.ConsentDecidedOn != nil {
			decided = p.ConsentDecidedOn.Format("2006-01-02")
		}
		if !auditView(w, r, d, id, "record") {
			return
		}
		writeJSON(w, http.StatusOK, personView{
			PersonRecord:     p,
			DateOfBirth:      dateOrEmpty(p.DateOfBirth),
			ConsentDecidedOn: decided,
			Reference:        register.Reference(id),
			ReviewOverdue:    p.Snapshot().ReviewOverdue(now),
			OpenTasks:        nonNil(tasks),
			Ratings:          nonNil(ratings),
			History:          nonNil(history),
		})
	})
}

func handleListPeople(d Deps) http.Handler {
	return handleList(d, "people", func(f listFilters) store.PeopleFilter {
		return store.PeopleFilter{Rating: string(parsedFilter(f, "rating", register.ParseRating)),
			Stage: string(parsedFilter(f, "stage", register.ParseStage)), Now: d.Now()}
	}, d.Store.ListPeople)
}
