package login

import (
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

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
	// Audit records each sign-in, refusal and sign-out. Required: a
	// sign-in that cannot be recorded is refused.
	Audit Auditor
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
	audit       Auditor

	mu         sync.Mutex
	discovered *provider  // nil until the provider has answered once
	inflight   *discovery // the attempt under way, if any
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
	if o.Audit == nil {
		return nil, errors.New("login: Options.Audit is required: every sign-in is audited")
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
		audit:      o.Audit,
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
