package login

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/sealed"
)

// Options builds a Service.
type Options struct {
	Config config.LoginConfig
	// PublicURL is DSR_PUBLIC_URL: the redirect URL is PublicURL +
	// /auth/callback, and forms must come from its origin.
	PublicURL string
	Logger    *slog.Logger
	// Timeout bounds each call to the provider (discovery, the code
	// exchange, userinfo, its signing keys).
	Timeout time.Duration
	Now     func() time.Time
	// Page draws sign-in's own pages; PlainPage if nil.
	Page PageRenderer
}

// Service is sign-in: the routes that talk to the provider, the session
// middleware and the form-token check.
type Service struct {
	cfg         config.LoginConfig
	mapping     RoleMapping
	publicURL   string
	origin      string // scheme://host of publicURL
	redirectURL string
	cookies     cookies
	logger      *slog.Logger
	timeout     time.Duration
	httpClient  *http.Client
	page        PageRenderer

	mu         sync.Mutex
	discovered *provider  // nil until the provider has answered once
	inflight   *discovery // the attempt under way, if any
}

// provider is what discovery learnt.
type provider struct {
	oidc       *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	oauth      oauth2.Config
	endSession string
	userinfo   bool
}

// New checks the settings and builds the service. It does not call the
// provider: that happens on the first sign-in, so the API still starts
// when the provider is down.
func New(o Options) (*Service, error) {
	if !o.Config.Enabled() {
		return nil, errors.New("OIDC_ISSUER is not set")
	}
	if o.Config.SessionKey == "" {
		return nil, errors.New("DSR_SESSION_KEY is required with OIDC_ISSUER: base64 of 32 random bytes (openssl rand -base64 32)")
	}
	key, err := ParseSessionKey(o.Config.SessionKey)
	if err != nil {
		return nil, err
	}
	seal, err := sealed.New(key)
	if err != nil {
		return nil, err
	}
	pub, err := url.Parse(strings.TrimSuffix(o.PublicURL, "/"))
	if err != nil || pub.Host == "" || (pub.Scheme != "https" && pub.Scheme != "http") {
		return nil, fmt.Errorf("DSR_PUBLIC_URL %q must be the https URL staff reach the register at", o.PublicURL)
	}
	secure := !isLoopbackHTTP(pub)
	if pub.Scheme == "http" && secure {
		return nil, fmt.Errorf("DSR_PUBLIC_URL %s: sign-in needs https (plain http only on 127.0.0.1 or localhost), or the session cookie would travel in clear", o.PublicURL)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Page == nil {
		o.Page = PlainPage
	}
	s := &Service{
		cfg:         o.Config,
		mapping:     MappingFrom(o.Config),
		publicURL:   pub.String(),
		origin:      pub.Scheme + "://" + pub.Host,
		redirectURL: pub.String() + "/auth/callback",
		cookies:     cookies{sealer: seal, secure: secure, now: o.Now},
		logger:      o.Logger,
		timeout:     o.Timeout,
		// Every call to the provider is bounded, including the key
		// fetches go-oidc makes later with the discovery context's client.
		httpClient: &http.Client{Timeout: o.Timeout},
		page:       o.Page,
	}
	return s, nil
}

// isLoopbackHTTP is dsr dev and the tests: plain http to this machine,
// where a Secure cookie would never be sent back.
func isLoopbackHTTP(u *url.URL) bool {
	if u.Scheme != "http" {
		return false
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1":
		return true
	}
	return false
}

// RedirectURL is the callback to register with the provider.
func (s *Service) RedirectURL() string { return s.redirectURL }

// Mount adds sign-in's routes to mux.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.Handle("GET /login", s.SecurityHeaders(http.HandlerFunc(s.startLogin)))
	mux.Handle("GET /auth/callback", s.SecurityHeaders(http.HandlerFunc(s.callback)))
	mux.Handle("POST /logout", s.SecurityHeaders(http.HandlerFunc(s.logout)))
	mux.Handle("GET /signed-out", s.SecurityHeaders(http.HandlerFunc(s.signedOut)))
	mux.Handle("GET /auth/whoami", s.Protect(http.HandlerFunc(whoAmI)))
}

// whoAmI says who the session is for, as the register sees them (the
// quickest check that a provider's roles map as intended), with a sign-out
// form carrying the form token, as every page's header will.
func whoAmI(w http.ResponseWriter, r *http.Request) {
	u, _ := FromContext(r.Context())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = whoAmIPage.Execute(w, struct {
		User  User
		Token string
	}{u, CSRFToken(r)})
}

var whoAmIPage = template.Must(template.New("whoami").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Who you are signed in as – Dynamic Support Register</title></head>
<body>
<main id="maincontent">
<h1>Signed in as {{.User.Name}} ({{.User.Role}})</h1>
<form method="post" action="/logout">
<input type="hidden" name="csrf_token" value="{{.Token}}">
<button type="submit">Sign out</button>
</form>
</main>
</body>
</html>
`))

// discover asks the provider for its endpoints and keys, once. Requests
// arriving while it is being asked wait for that one answer (each no
// longer than its own context allows) rather than queueing one attempt
// each; a failure is not kept, so the next sign-in tries again.
func (s *Service) discover(ctx context.Context) (*provider, error) {
	s.mu.Lock()
	if s.discovered != nil {
		s.mu.Unlock()
		return s.discovered, nil
	}
	if s.inflight == nil {
		s.inflight = &discovery{done: make(chan struct{})}
		go s.runDiscovery(s.inflight)
	}
	d := s.inflight
	s.mu.Unlock()
	select {
	case <-d.done:
		return d.provider, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// discovery is one attempt at asking the provider, shared by everyone
// waiting for it.
type discovery struct {
	done     chan struct{}
	provider *provider
	err      error
}

// runDiscovery is bounded by the service's timeout, not by the request
// that started it, so one visitor closing their tab fails no one else.
func (s *Service) runDiscovery(d *discovery) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	d.provider, d.err = s.fetchProvider(ctx)
	s.mu.Lock()
	if d.err == nil {
		s.discovered = d.provider
	}
	s.inflight = nil
	s.mu.Unlock()
	close(d.done)
}

func (s *Service) fetchProvider(ctx context.Context) (*provider, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, s.httpClient), s.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("OIDC_ISSUER %s: discovery: %w", s.cfg.Issuer, err)
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
		UserInfo   string `json:"userinfo_endpoint"`
	}
	_ = p.Claims(&extra)
	return &provider{
		oidc:     p,
		verifier: p.Verifier(&oidc.Config{ClientID: s.cfg.ClientID}),
		oauth: oauth2.Config{
			ClientID: s.cfg.ClientID, ClientSecret: s.cfg.ClientSecret,
			Endpoint: p.Endpoint(), RedirectURL: s.redirectURL,
			// profile: Entra sends the display name only with it.
			Scopes: []string{oidc.ScopeOpenID, "profile"},
		},
		endSession: extra.EndSession,
		userinfo:   extra.UserInfo != "",
	}, nil
}

// formActionOrigins are the provider's origins a sign-out form ends up at.
func (s *Service) formActionOrigins() []string {
	var out []string
	add := func(raw string) {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return
		}
		o := u.Scheme + "://" + u.Host
		for _, have := range out {
			if have == o {
				return
			}
		}
		out = append(out, o)
	}
	add(s.cfg.Issuer)
	s.mu.Lock()
	if s.discovered != nil {
		add(s.discovered.endSession)
	}
	s.mu.Unlock()
	return out
}

// startLogin is GET /login?next=/path: it sends the browser to the
// provider with a fresh state, nonce and PKCE verifier, kept sealed in a
// short-lived cookie for the callback.
func (s *Service) startLogin(w http.ResponseWriter, r *http.Request) {
	next := LocalPath(r.URL.Query().Get("next"))
	if _, ok := s.cookies.readSession(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	d, err := s.discover(r.Context())
	if err != nil {
		s.providerDown(w, r, "discovery", err)
		return
	}
	state, err1 := randomString(24)
	nonce, err2 := randomString(24)
	if err := errors.Join(err1, err2); err != nil {
		s.fail(w, r, "random state", err)
		return
	}
	flow := loginFlow{State: state, Nonce: nonce, Verifier: oauth2.GenerateVerifier(), Next: next,
		Expires: s.cookies.now().Add(loginFlowLifetime)}
	if err := s.cookies.writeFlow(w, flow); err != nil {
		s.fail(w, r, "flow cookie", err)
		return
	}
	http.Redirect(w, r, d.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(flow.Verifier)), http.StatusFound)
}

// callback is GET /auth/callback: the provider's answer. It checks state,
// exchanges the code with the PKCE verifier, verifies the ID token and
// its nonce, maps the role and starts the session.
func (s *Service) callback(w http.ResponseWriter, r *http.Request) {
	flow, ok := s.cookies.readFlow(r)
	s.cookies.clear(w, s.cookies.flowName()) // one use, whatever happens
	if !ok {
		s.page(w, r, Page{Status: http.StatusBadRequest, Title: "Sign-in did not finish",
			Message:  "Signing in took too long, or was started again in another tab. Please sign in again.",
			LinkHref: "/login", LinkText: "Sign in"})
		return
	}
	q := r.URL.Query()
	if code := q.Get("error"); code != "" {
		code = oauthErrorCode(code)
		s.logger.Info("sign-in refused by the provider", "error", code)
		s.page(w, r, Page{Status: http.StatusForbidden, Title: "You were not signed in",
			Message:  "The sign-in service did not sign you in (" + code + "). If you think you should have access, ask your DSR team manager.",
			LinkHref: "/login?next=" + url.QueryEscape(flow.Next), LinkText: "Try again"})
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(flow.State)) != 1 || q.Get("code") == "" {
		s.page(w, r, Page{Status: http.StatusBadRequest, Title: "Sign-in did not finish",
			Message:  "This sign-in answer does not belong to the sign-in this browser started. Please sign in again.",
			LinkHref: "/login", LinkText: "Sign in"})
		return
	}
	d, err := s.discover(r.Context())
	if err != nil {
		s.providerDown(w, r, "discovery", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	ctx = context.WithValue(oidc.ClientContext(ctx, s.httpClient), oauth2.HTTPClient, s.httpClient)
	tok, err := d.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		s.providerDown(w, r, "code exchange", err)
		return
	}
	claims, subject, err := s.verifiedClaims(ctx, d, tok, flow.Nonce)
	if err != nil {
		s.logger.Warn("sign-in refused: the ID token did not verify", "error", err)
		s.page(w, r, Page{Status: http.StatusBadRequest, Title: "Sign-in did not finish",
			Message:  "The answer from the sign-in service could not be verified. Please sign in again.",
			LinkHref: "/login", LinkText: "Sign in"})
		return
	}
	role, ok := s.mapping.Role(claims)
	if !ok {
		s.logger.Info("sign-in refused: no dsr role", "subject", subject, "claim", s.mapping.Claim)
		s.page(w, r, Page{Status: http.StatusForbidden, Title: "You cannot use the register", Message: msgNoRole})
		return
	}
	sess, err := s.cookies.newSession(User{Subject: subject, Name: s.mapping.Name(claims), Role: role})
	if err == nil {
		err = s.cookies.writeSession(w, sess)
	}
	if err != nil {
		s.fail(w, r, "session cookie", err)
		return
	}
	s.logger.Info("signed in", "subject", subject, "role", role)
	http.Redirect(w, r, flow.Next, http.StatusSeeOther)
}

// verifiedClaims are the ID token's claims after checking its signature,
// issuer, audience, expiry and nonce; with the userinfo endpoint's added
// when the token lacks the role claim or the name (some providers keep
// profile claims out of the ID token when an access token is issued).
func (s *Service) verifiedClaims(ctx context.Context, d *provider, tok *oauth2.Token, nonce string) (map[string]any, string, error) {
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return nil, "", errors.New("no id_token in the token response")
	}
	idt, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, "", err
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, "", errors.New("nonce does not match")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, "", err
	}
	if !s.mapping.complete(claims) && d.userinfo {
		info, err := d.oidc.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return nil, "", fmt.Errorf("userinfo: %w", err)
		}
		if info.Subject != idt.Subject {
			return nil, "", errors.New("userinfo is for another subject")
		}
		more := map[string]any{}
		if err := info.Claims(&more); err != nil {
			return nil, "", err
		}
		for k, v := range more {
			if _, have := claims[k]; !have {
				claims[k] = v
			}
		}
	}
	return claims, idt.Subject, nil
}

// logout is POST /logout: it ends the session here, then sends the
// browser to the provider's sign-out page when it has one, which comes
// back to /signed-out. The form token is checked when there is a session
// to end; without one there is nothing to protect.
func (s *Service) logout(w http.ResponseWriter, r *http.Request) {
	if sess, ok := s.cookies.readSession(r); ok {
		if !s.sameOrigin(r) || !csrfTokenMatches(sess.CSRFSecret, formToken(r)) {
			s.logger.Warn("sign-out refused: missing or wrong form token or origin", "subject", sess.Subject)
			s.page(w, r, Page{Status: http.StatusForbidden, Title: "This form could not be accepted",
				Message: msgBadForm, LinkHref: "/", LinkText: "Go to the start page"})
			return
		}
		s.logger.Info("signed out", "subject", sess.Subject)
	}
	s.cookies.clear(w, s.cookies.sessionName())
	back := s.publicURL + "/signed-out"
	if d, err := s.discover(r.Context()); err == nil && d.endSession != "" {
		if u, err := url.Parse(d.endSession); err == nil {
			q := u.Query()
			q.Set("client_id", s.cfg.ClientID)
			q.Set("post_logout_redirect_uri", back)
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
	}
	http.Redirect(w, r, "/signed-out", http.StatusSeeOther)
}

func (s *Service) signedOut(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, Page{Status: http.StatusOK, Title: "You have signed out",
		Message:  "You have signed out of the Dynamic Support Register.",
		LinkHref: "/login", LinkText: "Sign in again"})
}

func (s *Service) providerDown(w http.ResponseWriter, r *http.Request, step string, err error) {
	s.logger.Warn("sign-in: the provider did not answer", "step", step, "error", err)
	w.Header().Set("Retry-After", "60")
	s.page(w, r, Page{Status: http.StatusServiceUnavailable, Title: "Sign-in is not available just now",
		Message:  "The sign-in service did not answer. Nothing has changed. Please try again in a minute.",
		LinkHref: "/login", LinkText: "Try again"})
}

func (s *Service) fail(w http.ResponseWriter, r *http.Request, step string, err error) {
	s.logger.Error("sign-in failed", "step", step, "error", err)
	s.page(w, r, Page{Status: http.StatusInternalServerError, Title: "Sign-in did not finish",
		Message: "Something went wrong on our side. Please try again.", LinkHref: "/login", LinkText: "Sign in"})
}

// LocalPath is next if it is a path on this service, else "/": sign-in
// must never send anyone on to another site ("//evil.example", "/\evil",
// "https://…" are all refused).
func LocalPath(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// oauthErrorCode is the provider's error code if it looks like one
// ("access_denied"); anything else in that parameter is not shown, so a
// crafted link cannot put words on this service's page.
func oauthErrorCode(code string) string {
	if len(code) > 40 {
		return "unknown error"
	}
	for _, c := range code {
		if (c < 'a' || c > 'z') && c != '_' {
			return "unknown error"
		}
	}
	return code
}
