package login_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/login/devprovider"
	"github.com/dsr-register/dsr/internal/login/logintest"
)

// These tests drive the whole protocol against a real provider running in
// process (zitadel's OP, as `dsr dev` runs it): the redirect, the
// provider's own sign-in form, the code exchange with PKCE, the signed ID
// token, and sign-out through the provider's end-session endpoint.

type flowEnv struct {
	t        *testing.T
	web      string // the service's base URL
	provider *devprovider.Provider
	accounts devprovider.Accounts
	audit    *logintest.Audit
}

// startFlow runs the local provider and a service with sign-in mounted, a
// page GET /page behind Protect for roles, and POST /page that echoes
// the form. cfg adjusts the service's settings (not the provider's).
func startFlow(t *testing.T, roles []config.Role, adjust func(*config.LoginConfig)) *flowEnv {
	t.Helper()
	var handler http.Handler
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(web.Close)

	accounts, err := devprovider.LoadOrCreateAccounts(t.TempDir() + "/dev-signins.json")
	if err != nil {
		t.Fatal(err)
	}
	base := config.LoginConfig{RolesClaim: "roles", CoordinatorRole: "DSR.Coordinator", ManagerRole: "DSR.Manager", NameClaim: "name"}
	p, err := devprovider.Start(devprovider.Options{
		Accounts: accounts, ClientID: "dsr-test",
		RedirectURI: web.URL + "/auth/callback", PostLogoutRedirectURI: web.URL + "/signed-out",
		RolesClaim: base.RolesClaim, CoordinatorRole: base.CoordinatorRole, ManagerRole: base.ManagerRole,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)

	cfg := base
	cfg.Issuer, cfg.ClientID, cfg.ClientSecret = p.Issuer(), "dsr-test", accounts.ClientSecret
	cfg.SessionKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
	if adjust != nil {
		adjust(&cfg)
	}
	audit := &logintest.Audit{}
	auth, err := login.New(login.Options{Config: cfg, PublicURL: web.URL, Timeout: 10 * time.Second, Audit: audit})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	auth.Mount(mux)
	mux.Handle("/page", auth.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := login.FromContext(r.Context())
		fmt.Fprintf(w, "page for %s (%s) %s token=%s", u.Name, u.Role, r.PostFormValue("outcome"), login.CSRFToken(r))
	}), roles...))
	handler = mux
	return &flowEnv{t: t, web: web.URL, provider: p, accounts: accounts, audit: audit}
}

var authRequestID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// signIn visits /page signed out, is sent to the provider's form, and
// posts acct's username and password to it, returning where that ended.
func (e *flowEnv) signIn(b *logintest.Browser, acct devprovider.Account) logintest.Page {
	e.t.Helper()
	a := b.Get(e.web + "/page")
	if !strings.HasPrefix(a.URL, e.provider.Issuer()+"/login/username") || len(b.Visits) < 2 ||
		!strings.HasPrefix(b.Visits[0], e.web+"/login?next=%2Fpage") {
		e.t.Fatalf("signed out, /page went %v to %s (%d), want /login then the provider's sign-in form", b.Visits, a.URL, a.Code)
	}
	auth, _ := url.Parse(b.Visits[1])
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" ||
		q.Get("redirect_uri") != e.web+"/auth/callback" {
		e.t.Errorf("authorization request %s lacks PKCE S256, state, nonce or the redirect URL", auth)
	}
	m := authRequestID.FindStringSubmatch(a.Body)
	if m == nil {
		e.t.Fatalf("no auth request ID in the provider's form:\n%s", a.Body)
	}
	return b.Post(e.provider.Issuer()+"/login/username",
		url.Values{"id": {m[1]}, "username": {acct.Username}, "password": {acct.Password}}, "")
}

var tokenInPage = regexp.MustCompile(`token=(\S+)`)

// wantNoSession checks that the browser holds no session: /auth/whoami
// sends it to the provider to sign in.
func (e *flowEnv) wantNoSession(b *logintest.Browser, who string) {
	e.t.Helper()
	if a := b.Get(e.web + "/auth/whoami"); !strings.HasPrefix(a.URL, e.provider.Issuer()) {
		e.t.Errorf("%s has a session: /auth/whoami ended at %s", who, a.URL)
	}
}

// wantAudited checks that the audit holds exactly the actions given, in
// order, each by actor, about no person, naming the provider's subject.
func (e *flowEnv) wantAudited(actor string, actions ...string) {
	e.t.Helper()
	got := e.audit.Entries()
	var gotActions []string
	for _, a := range got {
		gotActions = append(gotActions, a.Action)
		if a.Actor != actor || a.PersonID != 0 || a.Detail["subject"] == "" {
			e.t.Errorf("audit entry %+v: want by %q, about no person, naming the subject", a, actor)
		}
	}
	if !slices.Equal(gotActions, actions) {
		e.t.Errorf("audited %v, want %v", gotActions, actions)
	}
}

func TestSignInAsCoordinatorThenSignOut(t *testing.T) {
	e := startFlow(t, []config.Role{config.RoleCoordinator}, nil)
	b := logintest.NewBrowser(t, 30*time.Second)

	a := e.signIn(b, e.accounts.Coordinator)
	if a.Code != http.StatusOK || a.URL != e.web+"/page" || !strings.Contains(a.Body, "page for Dev Coordinator (coordinator)") {
		t.Fatalf("after signing in: %d at %s: %q, want /page for Dev Coordinator", a.Code, a.URL, a.Body)
	}
	token := tokenInPage.FindStringSubmatch(a.Body)[1]
	e.wantAudited("Dev Coordinator (web)", login.ActionSignedIn)
	if got := e.audit.Entries()[0].Detail["role"]; got != "coordinator" {
		t.Errorf("the sign-in's audit says role %q, want coordinator", got)
	}

	// A form without its token, or from another origin, is refused.
	if a := b.Post(e.web+"/page", url.Values{"outcome": {"done"}}, e.web); a.Code != http.StatusForbidden {
		t.Errorf("POST without a form token: %d %q, want 403", a.Code, a.Body)
	}
	if a := b.Post(e.web+"/page", url.Values{"outcome": {"done"}, "csrf_token": {token}}, "https://evil.example"); a.Code != http.StatusForbidden {
		t.Errorf("POST from another origin: %d %q, want 403", a.Code, a.Body)
	}
	if a := b.Post(e.web+"/page", url.Values{"outcome": {"done"}, "csrf_token": {token}}, e.web); a.Code != http.StatusOK || !strings.Contains(a.Body, " done ") {
		t.Errorf("POST with the form token: %d %q, want 200", a.Code, a.Body)
	}

	// Sign-out without the token is refused and leaves the session.
	if a := b.Post(e.web+"/logout", url.Values{}, e.web); a.Code != http.StatusForbidden {
		t.Errorf("sign-out without a form token: %d, want 403", a.Code)
	}
	if a := b.Get(e.web + "/page"); a.URL != e.web+"/page" {
		t.Fatalf("a refused sign-out ended the session: now at %s", a.URL)
	}
	// With it: the session ends, through the provider's end-session page.
	a = b.Post(e.web+"/logout", url.Values{"csrf_token": {token}}, e.web)
	if a.Code != http.StatusOK || a.URL != e.web+"/signed-out" || !strings.Contains(a.Body, "You have signed out") {
		t.Fatalf("sign-out: %d at %s, want /signed-out", a.Code, a.URL)
	}
	if len(b.Visits) == 0 || !strings.HasPrefix(b.Visits[0], e.provider.Issuer()+"/end_session") {
		t.Errorf("sign-out went %v, want through the provider's end_session", b.Visits)
	}
	// The refused sign-out above is not one.
	e.wantAudited("Dev Coordinator (web)", login.ActionSignedIn, login.ActionSignedOut)
	if a := b.Get(e.web + "/page"); !strings.HasPrefix(a.URL, e.provider.Issuer()) {
		t.Errorf("after signing out /page ended at %s, want the provider's sign-in", a.URL)
	}
}

func TestSignInAsManager(t *testing.T) {
	e := startFlow(t, []config.Role{config.RoleCoordinator, config.RoleManager}, nil)
	a := e.signIn(logintest.NewBrowser(t, 30*time.Second), e.accounts.Manager)
	if a.Code != http.StatusOK || !strings.Contains(a.Body, "page for Dev Manager (manager)") {
		t.Fatalf("manager: %d at %s: %q", a.Code, a.URL, a.Body)
	}
}

// A manager on a coordinators-only page is told so.
func TestManagerOnCoordinatorsPage(t *testing.T) {
	e := startFlow(t, []config.Role{config.RoleCoordinator}, nil)
	a := e.signIn(logintest.NewBrowser(t, 30*time.Second), e.accounts.Manager)
	if a.Code != http.StatusForbidden || !strings.Contains(a.Body, "signed in as a manager") {
		t.Fatalf("manager on a coordinators' page: %d %q, want 403", a.Code, a.Body)
	}
}

// A user the provider signs in who holds neither configured role is
// refused politely and given no session.
func TestSignInWithoutARoleIsRefused(t *testing.T) {
	e := startFlow(t, nil, func(c *config.LoginConfig) { c.ManagerRole = "DSR.SomethingElse" })
	b := logintest.NewBrowser(t, 30*time.Second)
	a := e.signIn(b, e.accounts.Manager)
	if a.Code != http.StatusForbidden || !strings.Contains(a.Body, "You are signed in but not allowed to use the register. Ask your DSR team manager.") {
		t.Fatalf("no role: %d %q, want the polite 403", a.Code, a.Body)
	}
	e.wantNoSession(b, "a refused user")
	e.wantAudited("Dev Manager (web)", login.ActionSignInRefused)
}

// A sign-in the audit log cannot record (its database down) does not
// happen: the visitor is told to try again (503) and gets no session.
func TestSignInThatCannotBeAuditedIsRefused(t *testing.T) {
	e := startFlow(t, []config.Role{config.RoleCoordinator}, nil)
	e.audit.FailWith(errors.New("database: not answering"))
	b := logintest.NewBrowser(t, 30*time.Second)
	a := e.signIn(b, e.accounts.Coordinator)
	if a.Code != http.StatusServiceUnavailable || !strings.Contains(a.Body, "could not record your sign-in") {
		t.Fatalf("sign-in with the audit down: %d %q, want 503 saying it could not be recorded", a.Code, a.Body)
	}
	e.wantNoSession(b, "an unaudited sign-in")
}

// A callback that is not the answer to this browser's own sign-in (a
// forged or replayed one) starts no session.
func TestCallbackWithWrongStateIsRefused(t *testing.T) {
	e := startFlow(t, nil, nil)
	b := logintest.NewBrowser(t, 30*time.Second)
	b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	b.Get(e.web + "/login?next=/page") // the flow cookie is set; the provider is never visited
	a := b.Get(e.web + "/auth/callback?code=abc&state=forged")
	if a.Code != http.StatusBadRequest || !strings.Contains(a.Body, "does not belong") {
		t.Errorf("forged callback: %d %q, want 400", a.Code, a.Body)
	}
	// The flow cookie is spent: the real state now fails too.
	if a := b.Get(e.web + "/auth/callback?code=abc&state=anything"); a.Code != http.StatusBadRequest || !strings.Contains(a.Body, "took too long") {
		t.Errorf("second callback: %d %q, want 400 asking to sign in again", a.Code, a.Body)
	}
}

func TestWrongPasswordIsNotASignIn(t *testing.T) {
	e := startFlow(t, nil, nil)
	b := logintest.NewBrowser(t, 30*time.Second)
	acct := e.accounts.Coordinator
	acct.Password += "x"
	a := e.signIn(b, acct)
	if !strings.HasPrefix(a.URL, e.provider.Issuer()) || !strings.Contains(a.Body, "username or password wrong") {
		t.Errorf("wrong password ended at %s: %q, want the provider's form again", a.URL, a.Body)
	}
}

// Only a path on this service is kept as where to go after signing in.
func TestSignInDoesNotRedirectOffSite(t *testing.T) {
	e := startFlow(t, nil, nil)
	b := logintest.NewBrowser(t, 30*time.Second)
	b.Get(e.web + "/login?next=" + url.QueryEscape("//evil.example/"))
	m := authRequestID.FindStringSubmatch(b.Get(e.web + "/login?next=" + url.QueryEscape("https://evil.example/")).Body)
	if m == nil {
		t.Fatal("no provider form")
	}
	a := b.Post(e.provider.Issuer()+"/login/username",
		url.Values{"id": {m[1]}, "username": {e.accounts.Coordinator.Username}, "password": {e.accounts.Coordinator.Password}}, "")
	if a.URL != e.web+"/" {
		t.Errorf("signed in with next=https://evil.example/ ended at %s, want %s/", a.URL, e.web)
	}
}

// A provider that does not answer costs a sign-in at most the timeout: the
// visitor is told it is unavailable (503, Retry-After), and sign-in works
// as soon as the provider answers again.
func TestProviderNotAnswering(t *testing.T) {
	release := make(chan struct{})
	var real atomic.Pointer[http.HandlerFunc] // nil: hang
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := real.Load()
		if h == nil {
			select { // hangs until the client gives up or the test ends
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		(*h)(w, r)
	}))
	t.Cleanup(issuer.Close)
	t.Cleanup(func() { close(release) })

	auth, err := login.New(login.Options{
		Config: config.LoginConfig{Issuer: issuer.URL, ClientID: "dsr", RolesClaim: "roles", CoordinatorRole: "c", ManagerRole: "m", NameClaim: "name",
			SessionKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{4}, 32))},
		PublicURL: "http://127.0.0.1:1", Timeout: 300 * time.Millisecond, Audit: &logintest.Audit{},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	auth.Mount(mux)
	web := httptest.NewServer(mux)
	t.Cleanup(web.Close)

	b := logintest.NewBrowser(t, 30*time.Second)
	b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest("GET", web.URL+"/login?next=/tasks", nil)
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "did not answer") {
		t.Fatalf("provider hanging: %d %q, want 503 with Retry-After saying so", resp.StatusCode, body)
	}

	// The provider answers again: the next sign-in goes to it.
	discovery := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"jwks_uri":%q}`,
			issuer.URL, issuer.URL+"/authorize", issuer.URL+"/token", issuer.URL+"/keys")
	})
	real.Store(&discovery)
	a := b.Get(web.URL + "/login?next=/tasks")
	if a.Code != http.StatusFound || !strings.HasPrefix(a.URL, web.URL+"/login") {
		t.Fatalf("provider back: %d at %s", a.Code, a.URL)
	}
}
