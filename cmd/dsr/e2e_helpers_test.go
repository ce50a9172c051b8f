package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"

	"github.com/dsr-register/dsr/internal/mail/devmail"
	"github.com/dsr-register/dsr/workflows"
)

// The steps every end-to-end test takes against a running stack: calling
// the API, reading a workflow's history, reading a devmail mailbox.

// response is the API's answer: its status, its body as sent and, where
// the body is a JSON object, decoded.
type response struct {
	Code   int
	Body   map[string]any
	Raw    string
	Header http.Header
}

// apiClient gives up on a request after a minute, so a request the
// service never answers (an Update stuck behind something) fails the test
// saying which, instead of hanging it until go test's own timeout.
var apiClient = &http.Client{Timeout: time.Minute}

// send sends req to dsr and reads the whole answer.
func (s *stack) send(req *http.Request) response {
	s.t.Helper()
	resp, err := apiClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL.RequestURI(), err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{Code: resp.StatusCode, Raw: string(raw), Header: resp.Header}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

// call sends body (JSON, or a string as it is) with token as the bearer,
// if there is one.
func (s *stack) call(method, path, token string, body any) response {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		if str, ok := body.(string); ok {
			rd = strings.NewReader(str)
		} else {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
	}
	req, _ := http.NewRequest(method, s.api+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	return s.send(req)
}

// keyedRequest is a request as alice with an Idempotency-Key, body sent
// as JSON.
func (s *stack) keyedRequest(method, path, key string, body any) *http.Request {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.api+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+coordToken)
	req.Header.Set("Idempotency-Key", key)
	return req
}

// withKey is call as alice with an Idempotency-Key.
func (s *stack) withKey(method, path, key string, body any) response {
	s.t.Helper()
	req := s.keyedRequest(method, path, key, body)
	req.Header.Set("Content-Type", "application/json")
	return s.send(req)
}

type keyedAnswer struct {
	code     int
	raw      string
	replayed string
	body     map[string]any
}

// keyed sends a request with an Idempotency-Key as alice, and no
// Content-Type, and says whether the answer was a replay.
func (s *stack) keyed(method, path, key string, body any) keyedAnswer {
	s.t.Helper()
	r := s.send(s.keyedRequest(method, path, key, body))
	return keyedAnswer{code: r.Code, raw: r.Raw, replayed: r.Header.Get("Idempotent-Replayed"), body: r.Body}
}

// expect fails the test unless the answer has the given status code.
func (r response) expect(t *testing.T, code int, what string) response {
	t.Helper()
	if r.Code != code {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.Code, code, r.Raw)
	}
	return r
}

// history reads a person workflow's (latest run's) history.
func (s *stack) history(id int64) *historypb.History {
	s.t.Helper()
	return s.workflowHistory(workflows.PersonWorkflowID(id))
}

// workflowHistory reads any workflow's (latest run's) history.
func (s *stack) workflowHistory(workflowID string) *historypb.History {
	s.t.Helper()
	it := s.temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			s.t.Fatalf("history of %s: %v", workflowID, err)
		}
		h.Events = append(h.Events, ev)
	}
	return h
}

// sendingMailEnv is extra, plus what sends dsr's email through srv's SMTP
// server from the team's address.
func sendingMailEnv(srv *devmail.Server, extra map[string]string) map[string]string {
	env := map[string]string{
		"DSR_SMTP_HOST": "127.0.0.1", "DSR_SMTP_PORT": fmt.Sprint(srv.SMTPPort()), "DSR_SMTP_TLS": "none",
		"DSR_MAIL_FROM": "DSR team <" + devmail.TeamAddress + ">",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// readMailbox reads a devmail folder's messages, whole and as sent,
// without marking them read. A folder that does not exist yet is empty.
func readMailbox(t *testing.T, srv *devmail.Server, user, password, folder string) [][]byte {
	t.Helper()
	stored, err := srv.ReadFolder(user, password, folder)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range stored {
		out = append(out, m.Raw)
	}
	return out
}
