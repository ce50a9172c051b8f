package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/store/storetest"
)

const token = "alice-coordinator-token-0123"

// apiOverRealStore is the API on a real, migrated PostgreSQL with one
// person referred, and Temporal unreachable.
func apiOverRealStore(t *testing.T, timeout time.Duration) (*httptest.Server, *store.Store, int64) {
	t.Helper()
	st, rc := storetest.WithOneReferral(t, time.Time{})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cw := &casework.Casework{Store: st, Temporal: devstacktest.UnreachableTemporal(t), TaskQueue: "dsr-test", Logger: logger, Now: time.Now}
	srv := httptest.NewServer(NewHandler(Deps{
		Casework: cw, Store: st, Logger: logger, Now: time.Now, Timeout: timeout,
		Tokens: config.Tokens{{Name: "alice", Role: config.RoleCoordinator, Token: token}},
	}))
	t.Cleanup(srv.Close)
	return srv, st, rc.PersonID
}

type answer struct {
	code       int
	retryAfter string
	body       map[string]any
	raw        string
}

// post sends a request with a client that gives up long after the API's
// bound: an answer at all is what matters, not how fast.
func send(t *testing.T, method, url, key, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: no answer: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// TestTemporalUnreachable: with the workflow service not answering, a
// write answers 503 with Retry-After, saying the action may have been
// recorded and that a retry with the same key is safe (never "nothing was
// changed"); the key stays in flight so the retry asks the workflow again;
// the same key with a different request is 409 naming it.
func TestTemporalUnreachable(t *testing.T) {
	srv, st, id := apiOverRealStore(t, 2*time.Second)
	rate := srv.URL + "/api/v1/people/" + register.Reference(id) + "/rating"

	a := send(t, "POST", rate, "retry-me-1", `{"rating": "red", "rationale": "crisis at home"}`)
	if a.code != http.StatusServiceUnavailable || a.retryAfter == "" {
		t.Fatalf("rating with Temporal unreachable: %d, Retry-After %q, %s; want 503 with Retry-After", a.code, a.retryAfter, a.raw)
	}
	msg, _ := a.body["error"].(string)
	if !strings.Contains(msg, "may have been recorded") || !strings.Contains(msg, "same Idempotency-Key is safe") || strings.Contains(msg, "nothing was changed") {
		t.Errorf("answer after a timeout: %q; want 'may have been recorded' and that a retry with the key is safe", msg)
	}

	// Same request, same key: not replayed (the outcome is unknown), so
	// it goes to Temporal again and again answers 503.
	if again := send(t, "POST", rate, "retry-me-1", `{"rationale": "crisis at home", "rating": "red"}`); again.code != http.StatusServiceUnavailable {
		t.Errorf("retry with the same key while unreachable: %d %s", again.code, again.raw)
	}
	other := send(t, "POST", rate, "retry-me-1", `{"rating": "amber", "rationale": "crisis at home"}`)
	if other.code != http.StatusConflict || !strings.Contains(other.raw, "Idempotency-Key retry-me-1 was already used for a different request; use a new key") {
		t.Errorf("same key, different request: %d %s; want 409 naming the key", other.code, other.raw)
	}

	// Without a key the answer says how to make a retry safe.
	bare := send(t, "POST", rate, "", `{"rating": "red", "rationale": "crisis at home"}`)
	if bare.code != http.StatusServiceUnavailable || !strings.Contains(bare.raw, "send an Idempotency-Key header") {
		t.Errorf("keyless rating while unreachable: %d %s", bare.code, bare.raw)
	}

	// A request refused before anything is attempted frees its key for the
	// corrected request.
	bad := send(t, "POST", rate, "fix-me", `{"rating": "purple", "rationale": "x"}`)
	if bad.code != http.StatusBadRequest || !strings.Contains(bad.raw, `"rating"`) {
		t.Fatalf("bad rating: %d %s", bad.code, bad.raw)
	}
	if fixed := send(t, "POST", rate, "fix-me", `{"rating": "red", "rationale": "x"}`); fixed.code != http.StatusServiceUnavailable {
		t.Errorf("corrected request with the released key: %d %s; want it attempted (503 here)", fixed.code, fixed.raw)
	}

	// Reads answer as before: the database is up.
	if got := send(t, "GET", srv.URL+"/api/v1/people/"+register.Reference(id), "", ""); got.code != http.StatusOK {
		t.Errorf("read while Temporal is unreachable: %d %s", got.code, got.raw)
	}
	_ = st
}

// TestDatabaseDown: with the database gone, a keyed write is refused before
// anything reaches the workflow, so the answer says nothing was changed; a
// read says the same; both 503 with Retry-After.
func TestDatabaseDown(t *testing.T) {
	srv, st, id := apiOverRealStore(t, 2*time.Second)
	st.Close()
	person := srv.URL + "/api/v1/people/" + register.Reference(id)
	for _, a := range []answer{
		send(t, "POST", person+"/rating", "k-db-down", `{"rating": "red", "rationale": "crisis"}`),
		send(t, "POST", person+"/rating", "", `{"rating": "red", "rationale": "crisis"}`),
		send(t, "GET", person, "", ""),
	} {
		if a.code != http.StatusServiceUnavailable || a.retryAfter == "" || !strings.Contains(a.raw, "nothing was changed") {
			t.Errorf("database down: %d, Retry-After %q, %s; want 503 with Retry-After saying nothing was changed", a.code, a.retryAfter, a.raw)
		}
	}
}

// TestBoundedAnswersWhateverTheHandlerDoes: a handler stuck in a call that
// ignores its context is answered for at the bound, 503 with Retry-After.
func TestBoundedAnswersWhateverTheHandlerDoes(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stuck := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // deaf to r.Context(), like a call with no deadline
		w.WriteHeader(http.StatusOK)
	})
	for _, method := range []string{"POST", "GET"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, "/api/v1/people/1001/rating", strings.NewReader(`{}`))
		req.Header.Set("Idempotency-Key", "k")
		bounded(100*time.Millisecond, timedOut(100*time.Millisecond), stuck).ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s to a stuck handler: %d, Retry-After %q; want 503 with Retry-After", method, rec.Code, rec.Header().Get("Retry-After"))
		}
		want := "the action may have been recorded; retrying with the same Idempotency-Key is safe"
		if method == "GET" {
			want = "nothing was changed: retrying is safe"
		}
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s to a stuck handler: %s; want %q", method, rec.Body.String(), want)
		}
	}
}
