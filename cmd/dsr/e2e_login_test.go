package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/devstack"
	"github.com/dsr-register/dsr/internal/login/devprovider"
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
	cfg, err := loadConfig(context.Background(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
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

// webBrowser is an http.Client with a cookie jar that follows redirects,
// recording them.
type webBrowser struct {
	t      *testing.T
	c      *http.Client
	visits []string
}

func newWebBrowser(t *testing.T) *webBrowser {
	jar, _ := cookiejar.New(nil)
	b := &webBrowser{t: t}
	b.c = &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		b.visits = append(b.visits, req.URL.String())
		if len(via) >= 20 {
			return fmt.Errorf("stopped after %d redirects", len(via))
		}
		return nil
	}}
	return b
}

// webPage is where a request ended: status, URL after redirects, body.
type webPage struct {
	code int
	url  string
	body string
}

func (b *webBrowser) do(method, u string, form url.Values, origin string) webPage {
	b.t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	b.visits = nil
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return webPage{code: resp.StatusCode, url: resp.Request.URL.String(), body: string(body)}
}

var (
	providerRequestID = regexp.MustCompile(`name="id" value="([^"]+)"`)
	pageFormToken     = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// signIn opens path signed out, checks it is sent through /login to the
// provider's form, and signs in there as acct.
func (s *loginStack) signIn(b *webBrowser, path string, acct devprovider.Account) webPage {
	s.t.Helper()
	p := b.do("GET", s.Web+path, nil, "")
	if len(b.visits) == 0 || !strings.HasPrefix(b.visits[0], s.Web+"/login?next="+url.QueryEscape(path)) ||
		!strings.HasPrefix(p.url, s.Issuer+"/login/username") {
		s.t.Fatalf("signed out, %s went through %d redirects (first %.300q) and ended at %.300s (%d); want /login, then the provider's form",
			path, len(b.visits), b.visits, p.url, p.code)
	}
	m := providerRequestID.FindStringSubmatch(p.body)
	if m == nil {
		s.t.Fatalf("the provider's form has no request ID:\n%s", p.body)
	}
	return b.do("POST", s.Issuer+"/login/username",
		url.Values{"id": {m[1]}, "username": {acct.Username}, "password": {acct.Password}}, s.Issuer)
}

func TestEndToEndSignIn(t *testing.T) {
	s := startStackWithLogin(t, nil)

	// The coordinator opens the dashboard, signs in, and is back on it,
	// named in its header with a sign-out form carrying the form token.
	b := newWebBrowser(t)
	p := s.signIn(b, "/", s.Coordinator)
	if p.code != http.StatusOK || p.url != s.Web+"/" || !strings.Contains(p.body, "Dev Coordinator (coordinator)") {
		t.Fatalf("after signing in: %d at %s:\n%.2000s", p.code, p.url, p.body)
	}
	m := pageFormToken.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("the dashboard has no form token:\n%.2000s", p.body)
	}
	token := m[1]
	if p := b.do("GET", s.Web+"/auth/whoami", nil, ""); !strings.Contains(p.body, "Signed in as Dev Coordinator (coordinator)") {
		t.Errorf("/auth/whoami: %d %q", p.code, p.body)
	}

	// A web form posted without its token is refused before any page runs.
	if p := b.do("POST", s.Web+"/tasks", url.Values{"outcome": {"done"}}, s.Web); p.code != http.StatusForbidden || !strings.Contains(p.body, "did not come from this page") {
		t.Errorf("POST /tasks without the form token: %d %.300q, want 403", p.code, p.body)
	}

	// A sign-out without the form token is refused; the session stays.
	if p := b.do("POST", s.Web+"/logout", url.Values{}, s.Web); p.code != http.StatusForbidden || !strings.Contains(p.body, "did not come from this page") {
		t.Errorf("POST /logout without the form token: %d %q, want 403", p.code, p.body)
	}
	if p := b.do("GET", s.Web+"/", nil, ""); p.url != s.Web+"/" || p.code != http.StatusOK {
		t.Fatalf("a refused sign-out ended the session: now at %s (%d)", p.url, p.code)
	}
	// With it, the session ends here and at the provider.
	p = b.do("POST", s.Web+"/logout", url.Values{"csrf_token": {token}}, s.Web)
	if p.code != http.StatusOK || p.url != s.Web+"/signed-out" || !strings.Contains(p.body, "You have signed out") {
		t.Fatalf("sign-out: %d at %s", p.code, p.url)
	}
	if len(b.visits) == 0 || !strings.HasPrefix(b.visits[0], s.Issuer+"/end_session") {
		t.Errorf("sign-out went %v, want through the provider's end_session", b.visits)
	}
	if p := b.do("GET", s.Web+"/", nil, ""); !strings.HasPrefix(p.url, s.Issuer) {
		t.Errorf("signed out, / ended at %s, want the provider's sign-in", p.url)
	}

	// The manager's role arrives as manager.
	p = s.signIn(newWebBrowser(t), "/people", s.Manager)
	if p.code != http.StatusOK || p.url != s.Web+"/people" || !strings.Contains(p.body, "Dev Manager (manager)") {
		t.Fatalf("manager: %d at %s:\n%.2000s", p.code, p.url, p.body)
	}

	// The JSON API is as it was: tokens, not sessions.
	s.call("GET", "/api/v1/people", coordToken, nil).expect(t, http.StatusOK, "API with a token beside the web app")
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
