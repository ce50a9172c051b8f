package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// Every POST is a coordinator action (or a referral) that a client may
// send again after losing the answer. The Idempotency-Key header names the
// action: namespaced by actor and hashed (casework.ActionID), it is the
// Temporal UpdateID and the row in store's idempotency_keys.
//
//   - a key whose first request has been answered: that answer again, same
//     status and body, and nothing else happens;
//   - a key whose first request's outcome is unknown (a timeout): the request
//     goes to the workflow again with the same UpdateID, which Temporal
//     records at most once, answering with the first outcome;
//   - a key used before for a different request: 409 naming the key.
//
// Without the header the request gets a fresh random key: it works as
// before, but a client that loses the answer cannot safely retry.

const idempotencyHeader = "Idempotency-Key"

// maxBody is the largest request body read.
const maxBody = 1 << 20

type actionCtxKey struct{}

// action is the request's coordinator action: who, and the ID that makes a
// retry of it safe (set by idempotent).
func action(r *http.Request) casework.Action {
	a, _ := r.Context().Value(actionCtxKey{}).(casework.Action)
	if a.By == "" {
		a.By = actor(r)
	}
	return a
}

// keyed reports whether the caller named the action with an
// Idempotency-Key.
func keyed(r *http.Request) bool { return r.Header.Get(idempotencyHeader) != "" }

// referralAction is a referral's action: its ID is the store's idempotency
// key, so only a caller's own key is used (none: no deduplication, as
// before).
func referralAction(r *http.Request) casework.Action {
	a := action(r)
	if !keyed(r) {
		a.ID = ""
	}
	return a
}

// idempotent makes a POST safe to retry with the same Idempotency-Key.
func idempotent(d Deps, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			writeError(w, http.StatusBadRequest, "the request body could not be read", nil)
			return
		}
		if len(body) > maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, "the request body is larger than 1 MiB", nil)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		who := actor(r)
		key := r.Header.Get(idempotencyHeader)
		if key == "" {
			a := casework.Action{By: who, ID: casework.ActionID("api", who, freshKey())}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actionCtxKey{}, a)))
			return
		}
		if problem := checkKey(key); problem != "" {
			writeError(w, http.StatusBadRequest, "invalid "+idempotencyHeader, register.FieldErrors{idempotencyHeader: problem})
			return
		}
		id := casework.ActionID("api", who, key)
		first, err := d.Store.ClaimIdempotencyKey(r.Context(), store.IdempotencyClaim{
			Key: id, Actor: who, Fingerprint: fingerprint(r, body), At: d.Now(),
		})
		switch {
		case errors.Is(err, store.ErrIdempotencyKeyMismatch):
			writeError(w, http.StatusConflict, fmt.Sprintf("%s %s was already used for a different request; use a new key", idempotencyHeader, key), nil)
			return
		case err != nil:
			d.Logger.Error("idempotency key claim failed", "error", err)
			writeUnavailable(w, "the register's database did not answer: nothing was changed; retrying is safe")
			return
		case first != nil:
			// Answered before: the same answer, and nothing else.
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(first.Status)
			_, _ = w.Write(first.Body)
			return
		}
		rec := newRecorder()
		a := casework.Action{By: who, ID: id}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), actionCtxKey{}, a)))
		settle(r.Context(), d, id, rec)
		rec.copyTo(w)
	})
}

// settle remembers how a keyed request ended: an answer that decided
// something (done, or refused as no longer applying) is kept for retries; a
// request refused before anything was attempted (bad input, unknown person)
// frees its key for the corrected request; an unknown outcome (503) keeps the
// key in flight, so a retry goes to the workflow with the same UpdateID.
func settle(ctx context.Context, d Deps, id string, rec *recorder) {
	// The request's own context may have run out; the bookkeeping gets a
	// short bound of its own. If it fails the key stays in flight, which is
	// safe: a retry asks the workflow again.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	var err error
	switch {
	case rec.status >= 200 && rec.status < 300, rec.status == http.StatusConflict:
		err = d.Store.AnswerIdempotencyKey(ctx, id, store.IdempotencyAnswer{Status: rec.status, Body: rec.body.Bytes()}, d.Now())
	case rec.status == http.StatusBadRequest, rec.status == http.StatusNotFound:
		err = d.Store.ReleaseIdempotencyKey(ctx, id)
	}
	if err != nil {
		d.Logger.Warn("idempotency key bookkeeping failed; a retry will ask the workflow again", "error", err)
	}
}

// checkKey says what is wrong with a key, or "".
func checkKey(key string) string {
	if len(key) > 255 {
		return "must be at most 255 characters (a UUID is a good key)"
	}
	for _, c := range key {
		if c < 0x21 || c > 0x7e {
			return "must be printable ASCII without spaces (a UUID is a good key)"
		}
	}
	return ""
}

// fingerprint identifies the request a key was first used for: the route,
// the person it is about (1042 and DSR-1042 are the same) and the body as
// canonical JSON (key order and spacing do not matter).
func fingerprint(r *http.Request, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", r.Method, r.Pattern)
	if id, err := register.ParseReference(r.PathValue("id")); err == nil {
		fmt.Fprintf(h, "person %d\n", id)
	}
	h.Write(canonicalJSON(body))
	return hex.EncodeToString(h.Sum(nil))
}

// canonicalJSON re-encodes a JSON body with sorted keys and no spacing; a
// body that is not JSON is used as it is.
func canonicalJSON(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return body
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

// freshKey is a random key for a request that brought none.
func freshKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// retryAdvice completes an answer whose outcome is unknown: whether a retry
// is safe depends on whether the caller named the action.
func retryAdvice(r *http.Request) string {
	if keyed(r) {
		return "; retrying with the same " + idempotencyHeader + " is safe: it will not be recorded twice"
	}
	return "; check the person's record before trying again, and send an " + idempotencyHeader +
		" header so that a retry is always safe"
}
