package api

import (
	"context"
	"net/http"
)

// handleHealth answers /healthz: unavailable (503) when the database or
// Temporal does not answer, degraded when notifications are failing.
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
