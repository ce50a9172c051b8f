package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// DefaultTimeout bounds every API answer when Deps.Timeout is not set
// (DSR_API_TIMEOUT).
const DefaultTimeout = 10 * time.Second

// healthTimeout bounds /healthz: a container healthcheck or a load balancer
// must hear quickly that something is not answering.
const healthTimeout = 2 * time.Second

// bounded answers within limit whatever the handler's dependencies do. The
// handler's context ends a little earlier, so it usually answers itself,
// saying what did not answer; if it still has not answered at limit (a call
// that ignores its context), onTimeout answers for it and the handler's
// answer is dropped.
func bounded(limit time.Duration, onTimeout func(http.ResponseWriter, *http.Request), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), handlerShare(limit))
		defer cancel()
		rec := newRecorder()
		done := make(chan any, 1)
		go func() {
			defer func() { done <- recover() }()
			next.ServeHTTP(rec, r.WithContext(ctx))
		}()
		timer := time.NewTimer(limit)
		defer timer.Stop()
		select {
		case p := <-done:
			if p != nil {
				panic(p) // net/http's own recovery logs it and drops the connection
			}
			rec.copyTo(w)
		case <-timer.C:
			onTimeout(w, r)
		}
	})
}

// handlerShare is the part of the bound a handler's calls may use, leaving
// time to answer.
func handlerShare(limit time.Duration) time.Duration {
	margin := min(limit/10, time.Second)
	return limit - margin
}

// timedOut is the API's answer when its bound passes: 503, Retry-After,
// and whether the action may have been recorded.
func timedOut(limit time.Duration) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		writeUnavailable(w, timeoutMessage(r, limit))
	}
}

// timeoutMessage is the answer when the bound passes before the handler
// answers.
func timeoutMessage(r *http.Request, limit time.Duration) string {
	if r.Method == http.MethodGet {
		return fmt.Sprintf("the register did not answer within %s; nothing was changed: retrying is safe", limit)
	}
	return fmt.Sprintf("the register did not answer within %s: the action may have been recorded", limit) + retryAdvice(r)
}

// healthTimedOut is /healthz's answer when its bound passes.
func healthTimedOut(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "the health check did not finish in time"})
}
