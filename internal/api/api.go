// Package api is the register's JSON API under /api/v1. Handlers are built
// by functions that take their dependencies; every write goes through
// casework, every read through the store's projections.
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/workflows"
)

// Deps are the API's dependencies.
type Deps struct {
	Casework *casework.Casework
	Store    *store.Store
	Tokens   config.Tokens
	Logger   *slog.Logger
	Now      func() time.Time
	// Timeout bounds every answer (DSR_API_TIMEOUT); zero means
	// DefaultTimeout. When Temporal or the database does not answer in
	// time the client gets 503 with Retry-After, never a hang.
	Timeout time.Duration
	// PublicURL is DSR_PUBLIC_URL: the base of the feedback links.
	PublicURL string
}

// NewHandler returns the API's routes.
func NewHandler(d Deps) http.Handler {
	mux := http.NewServeMux()
	coord := []config.Role{config.RoleCoordinator}
	readers := []config.Role{config.RoleCoordinator, config.RoleManager}
	referrers := []config.Role{config.RoleCoordinator, config.RoleReferrer}

	limit := d.Timeout
	if limit <= 0 {
		limit = DefaultTimeout
	}
	// Every read answers within the bound; every write too, and is safe to
	// retry with its Idempotency-Key.
	read := func(roles []config.Role, h http.Handler) http.Handler {
		return requireRole(d.Tokens, roles, bounded(limit, timedOut(limit), h))
	}
	write := func(roles []config.Role, h http.Handler) http.Handler {
		return requireRole(d.Tokens, roles, bounded(limit, timedOut(limit), idempotent(d, h)))
	}
	health := bounded(healthTimeout+time.Second, healthTimedOut, handleHealth(d))

	mux.Handle("GET /healthz", health)
	mux.Handle("GET /api/v1/healthz", health)
	mux.Handle("POST /api/v1/referrals", write(referrers, handleRefer(d)))
	mux.Handle("POST /api/v1/people/{id}/consent", write(coord, handleConsent(d)))
	mux.Handle("POST /api/v1/people/{id}/consent/withdraw", write(coord, handleWithdraw(d)))
	mux.Handle("POST /api/v1/people/{id}/rating", write(coord, handleRate(d)))
	mux.Handle("POST /api/v1/people/{id}/review", write(coord, handleReview(d)))
	mux.Handle("POST /api/v1/people/{id}/removal", write(coord, handleRemoval(d)))
	mux.Handle("POST /api/v1/people/{id}/assignment", write(coord, handleAssign(d)))
	mux.Handle("POST /api/v1/people/{id}/escalation/acknowledge", write(coord, handleAcknowledge(d)))
	mux.Handle("POST /api/v1/people/{id}/actions", write(coord, handleCompleteAction(d)))
	mux.Handle("GET /api/v1/people/{id}/escalations", read(readers, handlePersonEscalations(d)))
	mux.Handle("GET /api/v1/escalations", read(readers, handleListEscalations(d)))
	mux.Handle("GET /api/v1/people/{id}", read(readers, handleGetPerson(d)))
	// Information governance: who has looked, subject access, erasure.
	mux.Handle("GET /api/v1/people/{id}/views", read(coord, handlePersonViews(d)))
	mux.Handle("GET /api/v1/people/{id}/export", read(coord, handleExport(d)))
	mux.Handle("POST /api/v1/people/{id}/erasure", write(coord, handleErasure(d)))
	mux.Handle("GET /api/v1/people", read(readers, handleListPeople(d)))
	mux.Handle("GET /api/v1/tasks", read(readers, handleListTasks(d)))
	// The monthly return: counts only, so coordinators (who often compile
	// it) may fetch it as well as managers; referrers may not.
	mux.Handle("GET /api/v1/reports/monthly", read(readers, handleMonthlyReport(d)))
	mux.Handle("GET /api/v1/identity-checks", read(coord, handleListIdentityChecks(d)))
	mux.Handle("POST /api/v1/identity-checks/{id}/resolve", write(coord, handleResolveIdentityCheck(d)))
	mux.Handle("POST /api/v1/people/{id}/merge", write(coord, handleMerge(d)))
	// MbE requests from the shared mailbox (mbe.go).
	mux.Handle("GET /api/v1/mbe-requests", read(coord, handleListMbE(d)))
	mux.Handle("GET /api/v1/mbe-requests/{id}", read(coord, handleGetMbE(d)))
	mux.Handle("POST /api/v1/mbe-requests/{id}/match", write(coord, handleMatchMbE(d)))
	mux.Handle("POST /api/v1/mbe-requests/{id}/decision", write(coord, handleDecideMbE(d)))
	mux.Handle("POST /api/v1/mbe-requests/{id}/referral", write(coord, handleReferFromMbE(d)))
	// Meetings and feedback from services (meetings.go).
	mux.Handle("POST /api/v1/people/{id}/meetings", write(coord, handleConveneMeeting(d)))
	mux.Handle("GET /api/v1/people/{id}/meetings", read(readers, handlePersonMeetings(d)))
	mux.Handle("GET /api/v1/meetings", read(readers, handleListMeetings(d)))
	mux.Handle("POST /api/v1/meetings/{id}/change", write(coord, handleChangeMeeting(d)))
	mux.Handle("POST /api/v1/meetings/{id}/cancel", write(coord, handleCancelMeeting(d)))
	mux.Handle("POST /api/v1/meetings/{id}/outcome", write(coord, handleMeetingOutcome(d)))
	mux.Handle("POST /api/v1/meeting-actions/{id}/done", write(coord, handleMeetingActionDone(d)))
	mux.Handle("POST /api/v1/people/{id}/feedback-requests", write(coord, handleRequestFeedback(d)))
	mux.Handle("GET /api/v1/people/{id}/feedback-requests", read(coord, handlePersonFeedback(d)))
	mux.Handle("GET /api/v1/reports/mbe", read(readers, handleMbEReport(d)))
	return mux
}

// --- auth ------------------------------------------------------------------

type actorKey struct{}

type roleKey struct{}

// role is the caller's token's role.
func role(r *http.Request) config.Role {
	v, _ := r.Context().Value(roleKey{}).(config.Role)
	return v
}

// actor is the name of the caller's token: who the audit trail records.
func actor(r *http.Request) string {
	s, _ := r.Context().Value(actorKey{}).(string)
	return s
}

func requireRole(tokens config.Tokens, roles []config.Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || raw == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dsr"`)
			writeError(w, http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer <token>)", nil)
			return
		}
		var found *config.Token
		for i := range tokens {
			if subtle.ConstantTimeCompare([]byte(tokens[i].Token), []byte(raw)) == 1 {
				found = &tokens[i]
			}
		}
		if found == nil {
			writeError(w, http.StatusUnauthorized, "the bearer token is not recognised", nil)
			return
		}
		allowed := false
		for _, role := range roles {
			allowed = allowed || found.Role == role
		}
		if !allowed {
			writeError(w, http.StatusForbidden, fmt.Sprintf("the %s role cannot do this", found.Role), nil)
			return
		}
		ctx := context.WithValue(r.Context(), actorKey{}, found.Name)
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, roleKey{}, found.Role)))
	})
}

// --- writes ----------------------------------------------------------------

type referralRequest struct {
	Person struct {
		GivenName      string   `json:"given_name"`
		FamilyName     string   `json:"family_name"`
		DateOfBirth    string   `json:"date_of_birth"`
		NHSNumber      string   `json:"nhs_number"`
		Diagnoses      []string `json:"diagnoses"`
		LocalAuthority string   `json:"local_authority"`
		Postcode       string   `json:"postcode"`
	} `json:"person"`
	Referrer struct {
		Kind         string `json:"kind"`
		Name         string `json:"name"`
		Organisation string `json:"organisation"`
		Email        string `json:"email"`
		Phone        string `json:"phone"`
	} `json:"referrer"`
	Channel string `json:"channel"`
	Reason  string `json:"reason"`
}

// referral is the request as a register.Referral. A date that does not
// parse is answered here (400) with every other bad field too: casework
// validates the rest on the normal path. The parse error is added first,
// so it wins for its field.
func (req referralRequest) referral(w http.ResponseWriter, now time.Time) (register.Referral, bool) {
	errs := register.FieldErrors{}
	dob := parseDate(req.Person.DateOfBirth, "person.date_of_birth", errs)
	ref := register.Referral{
		Person: register.Person{
			GivenName: req.Person.GivenName, FamilyName: req.Person.FamilyName, DateOfBirth: dob,
			NHSNumber: req.Person.NHSNumber, LocalAuthority: req.Person.LocalAuthority, Postcode: req.Person.Postcode,
		},
		Referrer: register.Referrer{
			Kind: register.ReferrerKind(req.Referrer.Kind), Name: req.Referrer.Name,
			Organisation: req.Referrer.Organisation, Email: req.Referrer.Email, Phone: req.Referrer.Phone,
		},
		Channel: register.Channel(req.Channel),
		Reason:  req.Reason,
	}
	for _, dg := range req.Person.Diagnoses {
		ref.Person.Diagnoses = append(ref.Person.Diagnoses, register.Diagnosis(dg))
	}
	if len(errs) > 0 {
		_, more := register.ValidateReferral(ref, now)
		errs.Merge(more)
		writeError(w, http.StatusBadRequest, "the referral has invalid fields", errs)
		return ref, false
	}
	return ref, true
}

func handleRefer(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req referralRequest
		if !decode(w, r, &req) {
			return
		}
		ref, ok := req.referral(w, d.Now())
		if !ok {
			return
		}
		if role(r) == config.RoleReferrer {
			// Referrers learn nothing about who is on the register: one
			// answer for everyone, given once the referral is recorded.
			res, err := d.Casework.Receive(r.Context(), ref, referralAction(r))
			if err != nil {
				writeCaseworkError(w, r, err)
				return
			}
			writeJSON(w, http.StatusAccepted, referralReceived{Receipt: res.Receipt, Status: "received"})
			return
		}
		res, err := d.Casework.Refer(r.Context(), ref, referralAction(r))
		if err != nil {
			writeCaseworkError(w, r, err)
			return
		}
		code := http.StatusCreated
		switch {
		case res.IdentityCheck != nil:
			code = http.StatusAccepted
		case res.Existing:
			code = http.StatusOK
		}
		writeJSON(w, code, res)
	})
}

// referralReceived is all a referrer is told about an accepted referral.
type referralReceived struct {
	Receipt string `json:"receipt"`
	Status  string `json:"status"`
}

func handleConsent(d Deps) http.Handler {
	return personAction(d, func(r *http.Request, id int64) (workflows.PersonStatus, error) {
		var req struct {
			Basis     string `json:"basis"`
			GivenBy   string `json:"given_by"`
			DecidedOn string `json:"decided_on"`
			Notes     string `json:"notes"`
		}
		if err := decodeBody(r, &req); err != nil {
			return workflows.PersonStatus{}, err
		}
		errs := register.FieldErrors{}
		decided := parseDate(req.DecidedOn, "decided_on", errs)
		if len(errs) > 0 {
			return workflows.PersonStatus{}, &casework.Error{Kind: casework.Invalid, Message: "invalid input", Fields: errs}
		}
		return d.Casework.RecordConsent(r.Context(), id, casework.ConsentRequest{
			Basis: register.ConsentBasis(req.Basis), GivenBy: req.GivenBy, DecidedOn: decided, Notes: req.Notes,
		}, action(r))
	})
}

func handleWithdraw(d Deps) http.Handler {
	return personAction(d, func(r *http.Request, id int64) (workflows.PersonStatus, error) {
		var req struct {
			Reason string `json:"reason"`
		}
		if err := decodeBody(r, &req); err != nil {
			return workflows.PersonStatus{}, err
		}
		if strings.TrimSpace(req.Reason) == "" {
			return workflows.PersonStatus{}, &casework.Error{Kind: casework.Invalid, Message: "invalid input",
				Fields: register.FieldErrors{"reason": "is required: record what the person said"}}
		}
		return d.Casework.WithdrawConsent(r.Context(), id, req.Reason, action(r))
	})
}

func handleRate(d Deps) http.Handler {
	return personAction(d, func(r *http.Request, id int64) (workflows.PersonStatus, error) {
		var req struct {
			Rating          string `json:"rating"`
			Rationale       string `json:"rationale"`
			SecurePlacement bool   `json:"secure_placement"`
		}
		if err := decodeBody(r, &req); err != nil {
			return workflows.PersonStatus{}, err
		}
		return d.Casework.Rate(r.Context(), id, casework.RateRequest{
			Rating: register.Rating(req.Rating), Rationale: strings.TrimSpace(req.Rationale), SecurePlacement: req.SecurePlacement,
		}, action(r))
	})
}

func handleReview(d Deps) http.Handler {
	return personAction(d, func(r *http.Request, id int64) (workflows.PersonStatus, error) {
		var req struct {
			Outcome string `json:"outcome"`
			Notes   string `json:"notes"`
		}
		if err := decodeBody(r, &req); err != nil {
			return workflows.PersonStatus{}, err
		}
		if req.Outcome != "unchanged" {
			return workflows.PersonStatus{}, &casework.Error{Kind: casework.Invalid, Message: "invalid input",
				Fields: register.FieldErrors{"outcome": `must be "unchanged"; to change the rating, POST /people/{id}/rating`}}
		}
		return d.Casework.ConfirmReview(r.Context(), id, req.Notes, action(r))
	})
}

func handleRemoval(d Deps) http.Handler {
	return personAction(d, func(r *http.Request, id int64) (workflows.PersonStatus, error) {
		var req struct {
			Reason string `json:"reason"`
			Notes  string `json:"notes"`
		}
		if err := decodeBody(r, &req); err != nil {
			return workflows.PersonStatus{}, err
		}
		return d.Casework.Remove(r.Context(), id, register.RemovalReason(req.Reason), req.Notes, action(r))
	})
}

func handleAssign(d Deps) http.Handler {
	return personAction(d, func(r *http.Request, id int64) (workflows.PersonStatus, error) {
		var req struct {
			Coordinator string `json:"coordinator"`
		}
		if err := decodeBody(r, &req); err != nil {
			return workflows.PersonStatus{}, err
		}
		return d.Casework.Assign(r.Context(), id, strings.TrimSpace(req.Coordinator), action(r))
	})
}

// personAction wraps a write on one person: parse the ID, run it, answer
// with the person's status.
func personAction(d Deps, do func(r *http.Request, id int64) (workflows.PersonStatus, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := personID(w, r)
		if !ok {
			return
		}
		status, err := do(r, id)
		if err != nil {
			writeCaseworkError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, toStatusView(status, d.Now()))
	})
}

// --- reads -----------------------------------------------------------------

func handleHealth(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
		defer cancel()
		if err := d.Store.Ping(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "not answering"})
			return
		}
		if _, err := d.Casework.Temporal.CheckHealth(ctx, nil); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "temporal": "not answering"})
			return
		}
		// Notifications waiting to go out (Slack slow or down) do not make
		// the service unavailable, but someone should know: "degraded"
		// while any has failed a delivery attempt.
		backlog, err := d.Store.NotificationBacklog(ctx, d.Now())
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "not answering"})
			return
		}
		// Set aside for good (a channel archived, a Slack user gone): not
		// retried on their own, so "degraded" until someone looks.
		status := "ok"
		if backlog.Failing > 0 || backlog.NeedsAttention > 0 {
			status = "degraded"
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": status, "notifications": map[string]any{
			"waiting": backlog.Waiting, "failing": backlog.Failing, "needs_attention": backlog.NeedsAttention,
			"oldest_seconds": int(backlog.Oldest.Seconds()),
		}})
	})
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := personID(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		p, err := d.Store.Person(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no person %s on the register", register.Reference(id)), nil)
			return
		}
		if err != nil {
			writeStoreError(w, d, err)
			return
		}
		now := d.Now()
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		errs := register.FieldErrors{}
		if v := q.Get("rating"); v != "" {
			if _, err := register.ParseRating(v); err != nil {
				errs.Add("rating", err.Error())
			}
		}
		if v := q.Get("stage"); v != "" {
			if _, err := register.ParseStage(v); err != nil {
				errs.Add("stage", err.Error())
			}
		}
		if len(errs) > 0 {
			writeError(w, http.StatusBadRequest, "invalid filter", errs)
			return
		}
		people, err := d.Store.ListPeople(r.Context(), store.PeopleFilter{Rating: q.Get("rating"), Stage: q.Get("stage"), Now: d.Now()})
		if err != nil {
			writeStoreError(w, d, err)
			return
		}
		if !auditListing(w, r, d, "people", map[string]string{"rating": q.Get("rating"), "stage": q.Get("stage")}, len(people)) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"people": nonNil(people)})
	})
}

func handleListTasks(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		errs := register.FieldErrors{}
		status := q.Get("status")
		switch register.TaskStatus(status) {
		case "", register.TaskStatusOpen, register.TaskStatusDone, register.TaskStatusCancelled:
		default:
			errs.Add("status", "must be open, done or cancelled")
		}
		var pid int64
		if v := q.Get("person_id"); v != "" {
			n, err := register.ParseReference(v)
			if err != nil {
				errs.Add("person_id", err.Error())
			}
			pid = n
		}
		if len(errs) > 0 {
			writeError(w, http.StatusBadRequest, "invalid filter", errs)
			return
		}
		tasks, err := d.Store.ListTasks(r.Context(), store.TaskFilter{Status: status, PersonID: pid, Now: d.Now()})
		if err != nil {
			writeStoreError(w, d, err)
			return
		}
		// One person's tasks are part of their record; all tasks are a list.
		if pid != 0 && !auditView(w, r, d, pid, "tasks") {
			return
		}
		if pid == 0 && !auditListing(w, r, d, "tasks", map[string]string{"status": status}, len(tasks)) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"tasks": nonNil(tasks)})
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

type taskRefView struct {
	ID      int64             `json:"id"`
	Kind    register.TaskKind `json:"kind"`
	DueAt   time.Time         `json:"due_at"`
	Overdue bool              `json:"overdue"`
}

func toStatusView(s workflows.PersonStatus, now time.Time) statusView {
	v := statusView{
		PersonID: s.PersonID, Reference: register.Reference(s.PersonID), Stage: s.Stage, Rating: s.Rating,
		RatedAt: timePtr(s.RatedAt), NextReviewDue: timePtr(s.NextReviewDue),
		ReviewOverdue: register.Snapshot{Stage: s.Stage, NextReviewDue: s.NextReviewDue}.ReviewOverdue(now),
		ConsentBasis:  s.ConsentBasis, ConsentExpiresAt: timePtr(s.ConsentExpiresAt), RemovalReason: s.RemovalReason,
		OpenTasks:      []taskRefView{},
		OpenEscalation: s.OpenEscalation, HeldAtRedUntil: timePtr(s.HeldAtRedUntil),
		SecurePlacement: s.SecurePlacement, NextInpatientCTRDue: timePtr(s.NextInpatientCTRDue),
	}
	for _, t := range s.OpenTasks {
		v.OpenTasks = append(v.OpenTasks, taskRefView{ID: t.ID, Kind: t.Kind, DueAt: t.DueAt, Overdue: now.After(t.DueAt)})
	}
	return v
}

// --- helpers ---------------------------------------------------------------

func personID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := register.ParseReference(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid person id", register.FieldErrors{"id": err.Error()})
		return 0, false
	}
	return id, true
}

func parseDate(s, field string, errs register.FieldErrors) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		errs.Add(field, "must be a date as YYYY-MM-DD")
		return time.Time{}
	}
	return t
}

// decode reads the JSON body, answering 400 itself when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeBody(r, v); err != nil {
		writeCaseworkError(w, r, err)
		return false
	}
	return true
}

// decodeBody reads a JSON body strictly: unknown fields and wrong types are
// errors naming the field.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	bad := func(msg string, fields register.FieldErrors) error {
		return &casework.Error{Kind: casework.Invalid, Message: msg, Fields: fields}
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return bad("invalid input", register.FieldErrors{typeErr.Field: "must be a " + typeErr.Type.String()})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return bad("invalid input", register.FieldErrors{f: "is not a field of this request: check the spelling"})
	case errors.Is(err, io.EOF):
		return bad("the request body is empty: send a JSON object", nil)
	default:
		return bad("the request body is not valid JSON: "+err.Error(), nil)
	}
}

type errorBody struct {
	Error  string               `json:"error"`
	Fields register.FieldErrors `json:"fields,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg string, fields register.FieldErrors) {
	writeJSON(w, code, errorBody{Error: msg, Fields: fields})
}

func writeCaseworkError(w http.ResponseWriter, r *http.Request, err error) {
	var ce *casework.Error
	if !errors.As(err, &ce) {
		writeError(w, http.StatusInternalServerError, "internal error", nil)
		return
	}
	switch ce.Kind {
	case casework.Invalid:
		writeError(w, http.StatusBadRequest, ce.Message, ce.Fields)
	case casework.NotFound:
		writeError(w, http.StatusNotFound, ce.Message, ce.Fields)
	case casework.Conflict:
		writeError(w, http.StatusConflict, ce.Message, ce.Fields)
	case casework.Unavailable:
		// Known: nothing was changed, or (a referral) it is safely recorded.
		writeUnavailable(w, ce.Message+"; retrying is safe")
	case casework.OutcomeUnknown:
		writeUnavailable(w, ce.Message+retryAdvice(r))
	default:
		writeError(w, http.StatusInternalServerError, "internal error", nil)
	}
}

func writeStoreError(w http.ResponseWriter, d Deps, err error) {
	d.Logger.Error("store read failed", "error", err)
	writeUnavailable(w, "the register's database did not answer; nothing was changed: retrying is safe")
}

// writeResult is the end of a casework call: v with code, or err in the words
// writeCaseworkError gives it.
func writeResult(w http.ResponseWriter, r *http.Request, code int, v any, err error) {
	if err != nil {
		writeCaseworkError(w, r, err)
		return
	}
	writeJSON(w, code, v)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
