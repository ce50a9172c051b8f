package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/internal/devstack"
	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
	"github.com/dsr-register/dsr/internal/login/devprovider"
	"github.com/dsr-register/dsr/internal/login/logintest"
)

// loginStack is `dsr serve` with the web app's sign-in on, against the
// local OpenID provider started the way `dsr dev` starts it.
type loginStack struct {
	*stack
	// Web is the service's base URL (DSR_PUBLIC_URL), e.g.
	// http://127.0.0.1:41234; the API is under Web + "/api/v1".
	Web string
	// Issuer is the provider's URL; its sign-in form is at
	// Issuer + "/login/username".
	Issuer string
	// Coordinator and Manager are the development sign-ins (Username,
	// Password; the provider names them "Dev Coordinator", "Dev Manager").
	Coordinator devprovider.Account
	Manager     devprovider.Account
}

// startStackWithLogin starts the real stack (Temporal dev server,
// PostgreSQL, `dsr serve` in-process) with sign-in configured against the
// local provider, started by startDevLogin as `dsr dev` does, and returns
// the URLs and the two development sign-ins. extraEnv adds to or overrides
// serve's environment (OIDC_ROLES_CLAIM etc. also reach the provider).
// Everything stops when the test ends. For browser tests: open Web + "/",
// fill the provider's form (fields "username", "password", button
// "Login"), and you are back where you started, signed in.
func startStackWithLogin(t *testing.T, extraEnv map[string]string) *loginStack {
	t.Helper()
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	web := fmt.Sprintf("http://127.0.0.1:%d", port)
	hostPort, dbURL := localStack(t)
	env := serveEnv(t, hostPort, dbURL, "dsr-e2e-login")
	env["DSR_HTTP_ADDR"] = fmt.Sprintf("127.0.0.1:%d", port)
	env["DSR_PUBLIC_URL"] = web
	for k, v := range extraEnv {
		env[k] = v
	}
	cfg, err := loadConfig(context.Background(), envLookup(env))
	if err != nil {
		t.Fatal(err)
	}
	dev, err := startDevLogin(&cfg, env["DSR_STATE_DIR"], 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Close)
	env["OIDC_ISSUER"] = cfg.Login.Issuer
	env["OIDC_CLIENT_ID"] = cfg.Login.ClientID
	env["OIDC_CLIENT_SECRET"] = cfg.Login.ClientSecret
	env["DSR_SESSION_KEY"] = cfg.Login.SessionKey

	srv := serveInProcess(t, env)
	tc, err := dialTestClient(hostPort)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	return &loginStack{
		stack: &stack{t: t, api: srv.api, temporal: tc, served: srv, env: env},
		Web:   web, Issuer: cfg.Login.Issuer,
		Coordinator: dev.accounts.Coordinator, Manager: dev.accounts.Manager,
	}
}

var (
	providerRequestID = regexp.MustCompile(`name="id" value="([^"]+)"`)
	pageFormToken     = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// signIn opens path signed out, checks it is sent through /login to the
// provider's form, and signs in there as acct.
func (s *loginStack) signIn(b *logintest.Browser, path string, acct devprovider.Account) logintest.Page {
	s.t.Helper()
	p := b.Get(s.Web + path)
	if len(b.Visits) == 0 || !strings.HasPrefix(b.Visits[0], s.Web+"/login?next="+url.QueryEscape(path)) ||
		!strings.HasPrefix(p.URL, s.Issuer+"/login/username") {
		s.t.Fatalf("signed out, %s went through %d redirects (first %.300q) and ended at %.300s (%d); want /login, then the provider's form",
			path, len(b.Visits), b.Visits, p.URL, p.Code)
	}
	m := providerRequestID.FindStringSubmatch(p.Body)
	if m == nil {
		s.t.Fatalf("the provider's form has no request ID:\n%s", p.Body)
	}
	return b.Post(s.Issuer+"/login/username",
		url.Values{"id": {m[1]}, "username": {acct.Username}, "password": {acct.Password}}, s.Issuer)
}

func TestEndToEndSignIn(t *testing.T) {
	s := startStackWithLogin(t, nil)

	// The coordinator opens the dashboard, signs in, and is back on it,
	// named in its header with a sign-out form carrying the form token.
	b := logintest.NewBrowser(t, time.Minute)
	p := s.signIn(b, "/", s.Coordinator)
	if p.Code != http.StatusOK || p.URL != s.Web+"/" || !strings.Contains(p.Body, "Dev Coordinator (coordinator)") {
		t.Fatalf("after signing in: %d at %s:\n%.2000s", p.Code, p.URL, p.Body)
	}
	m := pageFormToken.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("the dashboard has no form token:\n%.2000s", p.Body)
	}
	token := m[1]
	if p := b.Get(s.Web + "/auth/whoami"); !strings.Contains(p.Body, "Signed in as Dev Coordinator (coordinator)") {
		t.Errorf("/auth/whoami: %d %q", p.Code, p.Body)
	}

	// A web form posted without its token is refused before any page runs.
	if p := b.Post(s.Web+"/tasks", url.Values{"outcome": {"done"}}, s.Web); p.Code != http.StatusForbidden || !strings.Contains(p.Body, "did not come from this page") {
		t.Errorf("POST /tasks without the form token: %d %.300q, want 403", p.Code, p.Body)
	}

	// A sign-out without the form token is refused; the session stays.
	if p := b.Post(s.Web+"/logout", url.Values{}, s.Web); p.Code != http.StatusForbidden || !strings.Contains(p.Body, "did not come from this page") {
		t.Errorf("POST /logout without the form token: %d %q, want 403", p.Code, p.Body)
	}
	if p := b.Get(s.Web + "/"); p.URL != s.Web+"/" || p.Code != http.StatusOK {
		t.Fatalf("a refused sign-out ended the session: now at %s (%d)", p.URL, p.Code)
	}
	// With it, the session ends here and at the provider.
	p = b.Post(s.Web+"/logout", url.Values{"csrf_token": {token}}, s.Web)
	if p.Code != http.StatusOK || p.URL != s.Web+"/signed-out" || !strings.Contains(p.Body, "You have signed out") {
		t.Fatalf("sign-out: %d at %s", p.Code, p.URL)
	}
	if len(b.Visits) == 0 || !strings.HasPrefix(b.Visits[0], s.Issuer+"/end_session") {
		t.Errorf("sign-out went %v, want through the provider's end_session", b.Visits)
	}
	if p := b.Get(s.Web + "/"); !strings.HasPrefix(p.URL, s.Issuer) {
		t.Errorf("signed out, / ended at %s, want the provider's sign-in", p.URL)
	}

	// The manager's role arrives as manager.
	p = s.signIn(logintest.NewBrowser(t, time.Minute), "/people", s.Manager)
	if p.Code != http.StatusOK || p.URL != s.Web+"/people" || !strings.Contains(p.Body, "Dev Manager (manager)") {
		t.Fatalf("manager: %d at %s:\n%.2000s", p.Code, p.URL, p.Body)
	}

	// The JSON API is as it was: tokens, not sessions.
	s.call("GET", "/api/v1/people", coordToken, nil).expect(t, http.StatusOK, "API with a token beside the web app")

	// The audit log holds each sign-in and the sign-out (not the refused
	// one), by the name the register knows each user by, about no person.
	rows, err := devstacktest.Connect(t, s.env["DATABASE_URL"]).Query(context.Background(),
		`select actor || ' ' || action || ' ' || coalesce(person_id::text, 'no-one') || ' ' || (detail->>'role')
		 from audit_log where action in ('signed_in', 'signed_out', 'sign_in_refused') order by id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Dev Coordinator (web) signed_in no-one coordinator", "Dev Coordinator (web) signed_out no-one coordinator",
		"Dev Manager (web) signed_in no-one manager"}
	if !slices.Equal(got, want) {
		t.Errorf("sign-ins audited as %q, want %q", got, want)
	}
}

// `dsr dev`'s sign-ins are made once and kept: a second start finds the
// same users, session key and client secret, and prints them.
func TestDevSignInsAreKept(t *testing.T) {
	dir := t.TempDir()
	start := func() (*devLogin, string) {
		cfg, err := loadConfig(context.Background(), func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		d, err := startDevLogin(&cfg, dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		return d, cfg.Login.SessionKey
	}
	first, key1 := start()
	second, key2 := start()
	if first.accounts != second.accounts || key1 != key2 || key1 == "" {
		t.Errorf("a second start made new sign-ins or a new key:\n%+v\n%+v", first.accounts, second.accounts)
	}
	banner := first.banner("http://127.0.0.1:8080")
	for _, want := range []string{"Web: http://127.0.0.1:8080/", "coordinator: " + first.accounts.Coordinator.Username + " / " + first.accounts.Coordinator.Password,
		"manager: " + first.accounts.Manager.Username + " / " + first.accounts.Manager.Password} {
		if !strings.Contains(banner, want) {
			t.Errorf("dev banner %q lacks %q", banner, want)
		}
	}
}
