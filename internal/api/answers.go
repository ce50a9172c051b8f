package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
)

// Answers are JSON (but for the CSV report and the HTML export); every
// refusal is {"error": ..., "fields": {...}}.

type errorBody struct {
	Error  string               `json:"error"`
	Fields register.FieldErrors `json:"fields,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg string, fields register.FieldErrors) {
	writeJSON(w, code, errorBody{Error: msg, Fields: fields})
}

// writePersonNotFound is the 404 for a person the register does not hold.
func writePersonNotFound(w http.ResponseWriter, id int64) {
	writeError(w, http.StatusNotFound, casework.PersonNotFound(id).Message, nil)
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

// nonNil shows an empty list as [], never null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// retryAfter is what a 503 tells the client to wait, in seconds: about as
// long as Temporal or PostgreSQL take to come back from a restart.
const retryAfter = 5

// writeUnavailable answers 503 with Retry-After.
func writeUnavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	writeError(w, http.StatusServiceUnavailable, msg, nil)
}
