// Package api is the register's JSON API under /api/v1. Handlers are built
// by functions that take their dependencies; every write goes through
// casework, every read through the store's projections.
//
// The routes are here; the shapes handlers share (a write on one thing the
// path names, a read about one person, an audited list) in handlers.go;
// the handlers one file a resource (people, referrals, tasks, meetings,
// feedback, escalation, identity, mbe, access, reports) and /healthz in
// health.go; how a body is read in decode.go, a list's query filters in
// filters.go, and every answer written in answers.go; what wraps them in
// auth.go, deadline.go and idempotency.go (with recorder.go, the answer
// held until it is the one to give).
package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/store"
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
	// Meetings and feedback from services (meetings.go, feedback.go).
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
