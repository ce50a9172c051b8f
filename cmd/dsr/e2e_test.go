package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dsr-register/dsr/internal/devstack"
	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
	"github.com/dsr-register/dsr/internal/logtest"
	"github.com/dsr-register/dsr/internal/polltest"
	"github.com/dsr-register/dsr/workflows"
)

// These end-to-end tests run the real `dsr serve` command in-process against
// a real Temporal dev server and a real PostgreSQL cluster, and talk to it
// over HTTP like any client would.

// testPayloadKey is a fixed key for tests only, so a history recorded here
// can be replayed by workflows/replay_test.go.
const testPayloadKey = "test1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

const (
	coordToken   = "coordinator-token-0123456789"
	managerToken = "manager-token-0123456789ab"
	referToken   = "referrer-token-0123456789ab"
)

// stack is a running dsr with its real dependencies.
type stack struct {
	t        *testing.T
	api      string
	temporal client.Client
	served   *served           // to stop and start it again
	env      map[string]string // its environment
}

func startStack(t *testing.T, extraEnv map[string]string) *stack {
	t.Helper()
	hostPort, dbURL := localStack(t)
	env := serveEnv(t, hostPort, dbURL, "dsr-e2e")
	for k, v := range extraEnv {
		env[k] = v
	}
	srv := serveInProcess(t, env)
	tc, err := dialTestClient(hostPort)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	return &stack{t: t, api: srv.api, temporal: tc, served: srv, env: env}
}

// localStack starts the real Temporal dev server (with dsr's search
// attributes and eager activities, as `dsr dev` runs it) and a throwaway
// PostgreSQL, both stopped when the test ends.
func localStack(tb testing.TB) (hostPort, dbURL string) {
	tb.Helper()
	var attrs []devstack.SearchAttribute
	for _, sa := range workflows.SearchAttributeTypes {
		attrs = append(attrs, devstack.SearchAttribute{Name: sa[0], Type: sa[1]})
	}
	srv := devstacktest.TemporalWith(tb, devstacktest.TemporalConfig{
		SearchAttributes: attrs,
		DynamicConfig:    []string{"system.enableActivityEagerExecution=true"},
	})
	return srv.FrontendHostPort(), devstacktest.Postgres(tb)
}

// serveEnv is `dsr serve`'s environment against the local stack, with the
// tests' tokens and payload key.
func serveEnv(tb testing.TB, hostPort, dbURL, taskQueue string) map[string]string {
	return map[string]string{
		"DATABASE_URL":       dbURL,
		"TEMPORAL_ADDRESS":   hostPort,
		"DSR_HTTP_ADDR":      "127.0.0.1:0",
		"DSR_PAYLOAD_KEYS":   testPayloadKey,
		"DSR_LOG_LEVEL":      "warn",
		"DSR_TASK_QUEUE":     taskQueue,
		"DSR_API_TOKENS":     "alice:coordinator:" + coordToken + ",maria:manager:" + managerToken + ",gp:referrer:" + referToken,
		"DSR_STATE_DIR":      tb.TempDir(),
		"TEMPORAL_NAMESPACE": "default",
	}
}

// served is a `dsr serve` running in-process.
type served struct {
	api  string // without /api/v1
	logs *logtest.Buffer
	stop func()
}

// envLookup reads the environment a test gives dsr.
func envLookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// serveInProcess runs `dsr serve` with env and waits until its API
// answers; stop (also run at cleanup) cancels it and waits for it to end.
func serveInProcess(tb testing.TB, env map[string]string) *served {
	tb.Helper()
	lookup := envLookup(env)
	ctx, cancel := context.WithCancel(context.Background())
	out, logs := &logtest.Buffer{}, &logtest.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, lookup, out, logs) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("dsr serve ended with %v", err)
				}
			case <-time.After(30 * time.Second):
				tb.Error("dsr serve did not stop within 30s of cancel")
			}
			if tb.Failed() {
				tb.Logf("dsr stdout:\n%s\ndsr logs:\n%s", out.String(), tail(logs.String(), 64<<10))
			}
		})
	}
	tb.Cleanup(stop)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if i := strings.Index(out.String(), "dsr: API"); i >= 0 {
			f := strings.Fields(strings.SplitN(out.String()[i:], "\n", 2)[0])
			return &served{api: strings.TrimSuffix(f[len(f)-1], "/api/v1"), logs: logs, stop: stop}
		}
		select {
		case err := <-done:
			tb.Fatalf("dsr serve exited early: %v\nstdout:\n%s\nlogs:\n%s", err, out.String(), logs.String())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("dsr serve did not start in 60s:\n%s\n%s", out.String(), logs.String())
		}
	}
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// dialTestClient is a plain client: it reads histories as stored, that is,
// encrypted, which is what the personal-data check must look at.
func dialTestClient(hostPort string) (client.Client, error) {
	return client.Dial(client.Options{HostPort: hostPort, Namespace: "default"})
}

func referral(given, family, dob, nhs string) map[string]any {
	return map[string]any{
		"person": map[string]any{
			"given_name": given, "family_name": family, "date_of_birth": dob, "nhs_number": nhs,
			"diagnoses": []string{"autism", "learning_disability"}, "local_authority": "Staffordshire", "postcode": "ST16 1AA",
		},
		"referrer": map[string]any{"kind": "professional", "name": "Sam Jones", "organisation": "Community LD Team", "email": "sam@example.nhs.uk"},
		"channel":  "email",
		"reason":   "Placement at risk of breakdown",
	}
}

// today is today's date in the stack's team time zone, as the API takes
// it: one notion of "today", the team's (the zone dsr itself reads from
// the stack's configuration).
func (s *stack) today() string { return s.day(0) }

// day is the date days after today (before, if negative), in the team's
// time zone as today is.
func (s *stack) day(days int) string {
	s.t.Helper()
	cfg, err := loadConfig(context.Background(), envLookup(s.env))
	if err != nil {
		s.t.Fatal(err)
	}
	return time.Now().In(teamZone(cfg)).AddDate(0, 0, days).Format("2006-01-02")
}

// referWithConsent refers someone through the API and records their own
// consent as of today: how most journeys put a person on the register. It
// returns their ID and their record's path in the API.
func (s *stack) referWithConsent(given, family, dob, nhs string) (id int64, path string) {
	s.t.Helper()
	ref := s.call("POST", "/api/v1/referrals", coordToken, referral(given, family, dob, nhs)).expect(s.t, 201, "referral")
	id = int64(ref.Body["person_id"].(float64))
	path = fmt.Sprintf("/api/v1/people/%d", id)
	s.call("POST", path+"/consent", coordToken, map[string]any{"basis": "self", "decided_on": s.today()}).expect(s.t, 200, "consent")
	return id, path
}

func TestEndToEndRegister(t *testing.T) {
	s := startStack(t, nil)
	today := s.today()

	// Health, and the healthcheck command containers use.
	s.call("GET", "/healthz", "", nil).expect(t, 200, "healthz")
	addr := strings.TrimPrefix(s.api, "http://")
	if err := run(context.Background(), []string{"healthcheck"}, func(k string) (string, bool) {
		if k == "DSR_HTTP_ADDR" {
			return addr, true
		}
		return "", false
	}, io.Discard, io.Discard); err != nil {
		t.Errorf("dsr healthcheck against a healthy service: %v", err)
	}

	// Auth: no token, wrong token, wrong role.
	s.call("GET", "/api/v1/people", "", nil).expect(t, 401, "no token")
	s.call("GET", "/api/v1/people", "not-a-real-token-at-all", nil).expect(t, 401, "unknown token")
	s.call("POST", "/api/v1/referrals", managerToken, referral("Ada", "Lovelace", "1990-03-01", "9434765919")).expect(t, 403, "manager cannot refer")
	s.call("GET", "/api/v1/people", referToken, nil).expect(t, 403, "referrer cannot list")

	// Bad referrals name their fields and record nothing.
	bad := s.call("POST", "/api/v1/referrals", coordToken, referral("Ada", "Lovelace", "1990-03-01", "9434765918")).expect(t, 400, "bad check digit")
	if f, _ := bad.Body["fields"].(map[string]any); f == nil || !strings.Contains(fmt.Sprint(f["person.nhs_number"]), "check digit") {
		t.Errorf("bad NHS number answer should name person.nhs_number: %s", bad.Raw)
	}
	bad = s.call("POST", "/api/v1/referrals", coordToken, `{"person": {"given_name": 7}}`).expect(t, 400, "wrong type")
	if !strings.Contains(bad.Raw, "person.given_name") {
		t.Errorf("type error should name the field: %s", bad.Raw)
	}
	s.call("POST", "/api/v1/referrals", coordToken, `{"person":`).expect(t, 400, "truncated JSON")
	if got := s.call("GET", "/api/v1/people", coordToken, nil); !strings.Contains(got.Raw, `"people":[]`) {
		t.Errorf("bad referrals must record nothing: %s", got.Raw)
	}

	// Refer, then refer again: one person.
	// (A referrer is told only a receipt: e2e_identity_test.go.)
	first := s.call("POST", "/api/v1/referrals", coordToken, referral("Ada", "Lovelace", "1990-03-01", "943 476 5919")).expect(t, 201, "referral")
	id := int64(first.Body["person_id"].(float64))
	if first.Body["stage"] != "referred" || first.Body["referral_id"] == nil {
		t.Errorf("referral answer: %s", first.Raw)
	}
	again := s.call("POST", "/api/v1/referrals", coordToken, referral("Ada", "Lovelace", "1990-03-01", "9434765919")).expect(t, 200, "re-referral")
	if int64(again.Body["person_id"].(float64)) != id {
		t.Errorf("re-referral made a new person: %s", again.Raw)
	}
	pp := fmt.Sprintf("/api/v1/people/%d", id)

	// Unknown person, bad id.
	s.call("GET", "/api/v1/people/999999", coordToken, nil).expect(t, 404, "unknown person")
	s.call("POST", "/api/v1/people/999999/rating", coordToken, map[string]any{"rating": "red", "rationale": "x"}).expect(t, 404, "rate unknown person")
	s.call("GET", "/api/v1/people/abc", coordToken, nil).expect(t, 400, "bad id")

	// Rating before consent no longer applies; consent basis checked by age.
	s.call("POST", pp+"/rating", coordToken, map[string]any{"rating": "red", "rationale": "x"}).expect(t, 409, "rate before consent")
	bad = s.call("POST", pp+"/consent", coordToken, map[string]any{"basis": "parental", "given_by": "Mum", "decided_on": today}).expect(t, 400, "parental for adult")
	if !strings.Contains(bad.Raw, `"basis"`) {
		t.Errorf("basis error should name the field: %s", bad.Raw)
	}
	s.call("POST", pp+"/consent", coordToken, map[string]any{"basis": "self", "decided_on": "01/02/2026"}).expect(t, 400, "bad date")
	s.call("POST", pp+"/consent", managerToken, map[string]any{"basis": "self", "decided_on": today}).expect(t, 403, "manager cannot consent")

	consent := s.call("POST", pp+"/consent", coordToken, map[string]any{"basis": "self", "decided_on": today, "notes": "agreed at home visit"}).expect(t, 200, "consent")
	if consent.Body["stage"] != "active" || consent.Body["consent_expires_at"] == nil {
		t.Errorf("consent answer: %s", consent.Raw)
	}

	// The first rating is due at once: a task.
	// The workflow opens it just after answering the consent Update.
	s.eventually("an open review_due task after consent", func() bool {
		tasks := s.call("GET", fmt.Sprintf("/api/v1/tasks?status=open&person_id=%d", id), managerToken, nil).expect(t, 200, "tasks")
		return strings.Contains(tasks.Raw, `"review_due"`)
	})

	s.call("POST", pp+"/rating", coordToken, map[string]any{"rating": "purple", "rationale": "x"}).expect(t, 400, "bad rating")
	rated := s.call("POST", pp+"/rating", coordToken, map[string]any{"rating": "amber", "rationale": "no crisis plan yet"}).expect(t, 200, "rate")
	if rated.Body["rating"] != "amber" || rated.Body["next_review_due"] == nil {
		t.Errorf("rate answer: %s", rated.Raw)
	}
	s.call("POST", pp+"/review", coordToken, map[string]any{"outcome": "changed"}).expect(t, 400, "bad review outcome")
	s.call("POST", pp+"/review", coordToken, map[string]any{"outcome": "unchanged", "notes": "stable"}).expect(t, 200, "review")

	// Status and history as a manager sees them.
	person := s.call("GET", pp, managerToken, nil).expect(t, 200, "get person")
	if person.Body["rating"] != "amber" || person.Body["stage"] != "active" || person.Body["consent_basis"] != "self" ||
		person.Body["date_of_birth"] != "1990-03-01" || person.Body["consent_decided_on"] != today {
		t.Errorf("person: %s", person.Raw)
	}
	if ratings, _ := person.Body["ratings"].([]any); len(ratings) != 2 {
		t.Errorf("want rating history of 2 (rated, confirmed): %s", person.Raw)
	}
	if !strings.Contains(person.Raw, `"actor":"alice"`) {
		t.Errorf("history should name the actor: %s", person.Raw)
	}
	list := s.call("GET", "/api/v1/people?rating=amber&stage=active", managerToken, nil).expect(t, 200, "list")
	if !strings.Contains(list.Raw, fmt.Sprintf(`"id":%d`, id)) && !strings.Contains(list.Raw, fmt.Sprintf(`"person_id":%d`, id)) {
		t.Errorf("list by rating/stage misses the person: %s", list.Raw)
	}
	if l := s.call("GET", "/api/v1/people?rating=red", managerToken, nil); strings.Contains(l.Raw, fmt.Sprintf(`"id":%d`, id)) || !strings.Contains(l.Raw, `"people":[]`) {
		t.Errorf("red list should not include an amber person: %s", l.Raw)
	}
	s.call("GET", "/api/v1/people?rating=pink", managerToken, nil).expect(t, 400, "bad filter")

	// Withdrawal removes at once and closes every prompt.
	s.call("POST", pp+"/consent/withdraw", coordToken, map[string]any{"reason": "no longer wishes to be on the register"}).expect(t, 200, "withdraw")
	person = s.call("GET", pp, coordToken, nil).expect(t, 200, "get person after withdrawal")
	if person.Body["stage"] != "removed" || person.Body["removal_reason"] != "consent_withdrawn" {
		t.Errorf("after withdrawal: %s", person.Raw)
	}
	if open := s.call("GET", fmt.Sprintf("/api/v1/tasks?status=open&person_id=%d", id), coordToken, nil); !strings.Contains(open.Raw, `"tasks":[]`) {
		t.Errorf("withdrawal must close every task: %s", open.Raw)
	}
	s.call("POST", pp+"/rating", coordToken, map[string]any{"rating": "red", "rationale": "x"}).expect(t, 409, "rate removed person")
	s.call("POST", pp+"/consent", coordToken, map[string]any{"basis": "self", "decided_on": today}).expect(t, 409, "renew withdrawn consent")

	// A second person: removal with a reason; a bad reason changes nothing.
	second := s.call("POST", "/api/v1/referrals", coordToken, referral("Grace", "Hopper", "2012-05-05", "4010232137")).expect(t, 201, "second referral")
	id2 := int64(second.Body["person_id"].(float64))
	pp2 := fmt.Sprintf("/api/v1/people/%d", id2)
	s.call("POST", pp2+"/consent", coordToken, map[string]any{"basis": "self", "decided_on": today}).expect(t, 400, "self consent under 16")
	s.call("POST", pp2+"/consent", coordToken, map[string]any{"basis": "parental", "given_by": "Mary Hopper", "decided_on": today}).expect(t, 200, "parental consent")
	s.call("POST", pp2+"/assignment", coordToken, map[string]any{"coordinator": "alice"}).expect(t, 200, "assign")
	// The refusal's message is sealed in Temporal and reaches the API whole.
	if r := s.call("POST", pp2+"/assignment", coordToken, map[string]any{"coordinator": "alice"}).expect(t, 409, "assign twice"); !strings.Contains(r.Raw, "already assigned to alice") {
		t.Errorf("assigning twice should say to whom it is already assigned: %s", r.Raw)
	}
	s.call("POST", pp2+"/assignment", coordToken, map[string]any{"coordinator": ""}).expect(t, 400, "assign nobody")
	if p := s.call("GET", pp2, managerToken, nil); p.Body["assigned_to"] != "alice" {
		t.Errorf("assignment not in the record: %s", p.Raw)
	}
	// An Update refused in its handler is stored in the history: the
	// personal-data check below must find its failure sealed.
	s.refuseInHandler(id2, "Ottoline Marchbanks")
	s.call("POST", pp2+"/removal", coordToken, map[string]any{"reason": "bored"}).expect(t, 400, "bad removal reason")
	s.call("POST", pp2+"/removal", coordToken, map[string]any{"reason": "moved_out_of_area", "notes": "moved to Wales"}).expect(t, 200, "removal")
	s.call("POST", pp2+"/removal", coordToken, map[string]any{"reason": "other"}).expect(t, 409, "remove twice")

	// What Temporal holds: no name, NHS number (with or without spaces),
	// date of birth or other personal detail in clear in any history,
	// search attribute, memo or failure; every payload and failure sealed;
	// and the search attributes carry the stage.
	s.assertNothingPersonalInTemporal([]string{
		"Lovelace", "9434765919", "943 476 5919", "1990-03-01",
		"Hopper", "4010232137", "401 023 2137", "2012-05-05",
		"Staffordshire", "ST16 1AA", "Sam Jones", "sam@example.nhs.uk", "Placement at risk",
		"agreed at home visit", "no crisis plan yet", "no longer wishes", "moved to Wales",
		"Ottoline Marchbanks", "already assigned",
	}, workflows.PersonWorkflowID(id), workflows.PersonWorkflowID(id2))
	for _, pid := range []int64{id, id2} {
		desc, err := s.temporal.DescribeWorkflowExecution(context.Background(), workflows.PersonWorkflowID(pid), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["DsrStage"]; !ok {
			t.Errorf("person %d: search attributes lack DsrStage", pid)
		}
	}
	raw, err := protojson.Marshal(s.history(id))
	if err != nil {
		t.Fatal(err)
	}
	recordHistory(t, "person_withdrawn.json", raw)

	// Re-referral after removal: the same person, a new spell (a new run of
	// the same workflow ID), numbering its changes after the old ones.
	re := s.call("POST", "/api/v1/referrals", coordToken, referral("Grace", "Hopper", "2012-05-05", "4010232137")).expect(t, 200, "re-referral after removal")
	if int64(re.Body["person_id"].(float64)) != id2 || re.Body["stage"] != "referred" {
		t.Errorf("re-referral after removal: %s", re.Raw)
	}
	s.eventually("a new consent task for the new spell", func() bool {
		open := s.call("GET", fmt.Sprintf("/api/v1/tasks?status=open&person_id=%d", id2), coordToken, nil)
		return strings.Contains(open.Raw, `"consent_needed"`)
	})
	if p := s.call("GET", pp2, coordToken, nil); p.Body["stage"] != "referred" {
		t.Errorf("after re-referral the projection should say referred: %s", p.Raw)
	}
}

// eventually polls cond for up to 10 s: for what a workflow does just after
// it answers an Update.
func (s *stack) eventually(what string, cond func() bool) {
	s.t.Helper()
	polltest.Until(s.t, what, 10*time.Second, 50*time.Millisecond, cond)
}
