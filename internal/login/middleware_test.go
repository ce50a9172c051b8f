package login

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/dsr-register/dsr/internal/config"
)

// page is a protected handler that records what reached it.
type page struct {
	called bool
	user   User
	form   string
}

func (p *page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.called = true
	p.user, _ = FromContext(r.Context())
	p.form = r.PostFormValue("outcome") // the form is still readable after the check
	w.WriteHeader(http.StatusOK)
}

func serveOne(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestRequireSendsSignedOutVisitorsToSignIn(t *testing.T) {
	s, _ := testService(t, "https://dsr.example.test")
	p := &page{}
	h := s.Protect(p, config.RoleCoordinator, config.RoleManager)

	rec := serveOne(h, httptest.NewRequest("GET", "/people?rating=red", nil))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login?next="+url.QueryEscape("/people?rating=red") {
		t.Errorf("signed-out GET: %d to %q, want 303 to /login?next=…", rec.Code, rec.Header().Get("Location"))
	}
	post := httptest.NewRequest("POST", "/tasks/1", strings.NewReader("outcome=done"))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = serveOne(h, post)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "not signed in") {
		t.Errorf("signed-out POST: %d %q, want 403 saying so", rec.Code, rec.Body.String())
	}
	if p.called {
		t.Error("the page ran for a signed-out visitor")
	}
}

func TestRequireRole(t *testing.T) {
	s, _ := testService(t, "https://dsr.example.test")
	p := &page{}
	h := s.Protect(p, config.RoleCoordinator)

	mgr := User{Name: "Maria", Subject: "sub-maria", Role: config.RoleManager}
	r, _ := signedIn(t, s, "GET", "/tasks", mgr)
	rec := serveOne(h, r)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "signed in as a manager") || p.called {
		t.Errorf("manager on a coordinators' page: %d %q (page ran: %v), want 403", rec.Code, rec.Body.String(), p.called)
	}

	r, _ = signedIn(t, s, "GET", "/tasks", alice)
	rec = serveOne(h, r)
	if rec.Code != http.StatusOK || p.user != alice {
		t.Errorf("coordinator: %d, user %+v; want 200 with %+v in the context", rec.Code, p.user, alice)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q on a signed-in page, want no-store", rec.Header().Get("Cache-Control"))
	}
}

// formPost is a POST of outcome=done plus extra fields, signed in as sess.
func formPost(t *testing.T, s *Service, sess session, extra url.Values) *http.Request {
	t.Helper()
	body := url.Values{"outcome": {"done"}}
	for k, v := range extra {
		body[k] = v
	}
	r := httptest.NewRequest("POST", "/tasks/1", strings.NewReader(body.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	if err := s.cookies.writeSession(rec, sess); err != nil {
		t.Fatal(err)
	}
	r.AddCookie(rec.Result().Cookies()[0])
	return r
}

func TestCSRF(t *testing.T) {
	s, _ := testService(t, "https://dsr.example.test")
	_, otherSess := signedIn(t, s, "GET", "/", alice)

	for _, tc := range []struct {
		name   string
		token  func(sess session) string // the form field
		header func(sess session) string // X-CSRF-Token
		origin string
		ref    string
		want   int
	}{
		{name: "no token", want: http.StatusForbidden},
		{name: "wrong token", token: func(session) string { return "bm90IGEgdG9rZW4" }, want: http.StatusForbidden},
		{name: "another session's token", token: func(session) string { return csrfToken(otherSess.CSRFSecret) }, want: http.StatusForbidden},
		{name: "the secret itself", token: func(s session) string { return string(s.CSRFSecret) }, want: http.StatusForbidden},
		{name: "right token", token: func(s session) string { return csrfToken(s.CSRFSecret) }, want: http.StatusOK},
		{name: "right token in the header", header: func(s session) string { return csrfToken(s.CSRFSecret) }, want: http.StatusOK},
		{name: "right token, same origin", token: func(s session) string { return csrfToken(s.CSRFSecret) }, origin: "https://dsr.example.test", want: http.StatusOK},
		{name: "right token, another origin", token: func(s session) string { return csrfToken(s.CSRFSecret) }, origin: "https://evil.example", want: http.StatusForbidden},
		{name: "right token, opaque origin", token: func(s session) string { return csrfToken(s.CSRFSecret) }, origin: "null", want: http.StatusForbidden},
		{name: "right token, our referer", token: func(s session) string { return csrfToken(s.CSRFSecret) }, ref: "https://dsr.example.test/tasks", want: http.StatusOK},
		{name: "right token, another referer", token: func(s session) string { return csrfToken(s.CSRFSecret) }, ref: "https://dsr.example.test.evil.example/tasks", want: http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &page{}
			h := s.Protect(p, config.RoleCoordinator)
			sess, err := s.cookies.newSession(alice)
			if err != nil {
				t.Fatal(err)
			}
			extra := url.Values{}
			if tc.token != nil {
				extra.Set(CSRFField, tc.token(sess))
			}
			r := formPost(t, s, sess, extra)
			if tc.header != nil {
				r.Header.Set(CSRFHeader, tc.header(sess))
			}
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			if tc.ref != "" {
				r.Header.Set("Referer", tc.ref)
			}
			got := serveOne(h, r)
			if got.Code != tc.want {
				t.Fatalf("%d %q, want %d", got.Code, got.Body.String(), tc.want)
			}
			if tc.want == http.StatusForbidden {
				if p.called {
					t.Error("the handler ran for a refused form")
				}
				if !strings.Contains(got.Body.String(), "did not come from this page") {
					t.Errorf("refusal does not say why in plain English: %q", got.Body.String())
				}
			} else if p.form != "done" {
				t.Errorf("the handler read outcome=%q after the check, want done", p.form)
			}
		})
	}
}

// CSRFToken is what templates put in the hidden field: it matches the
// session, and is not the secret.
func TestCSRFTokenForTemplates(t *testing.T) {
	s, _ := testService(t, "https://dsr.example.test")
	var token string
	h := s.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { token = CSRFToken(r) }))
	r, sess := signedIn(t, s, "GET", "/tasks", alice)
	serveOne(h, r)
	if token == "" || !csrfTokenMatches(sess.CSRFSecret, token) || strings.Contains(token, string(sess.CSRFSecret)) {
		t.Errorf("CSRFToken = %q: must match the session's secret without showing it", token)
	}
	if got := CSRFToken(httptest.NewRequest("GET", "/", nil)); got != "" {
		t.Errorf("CSRFToken outside a session = %q, want empty", got)
	}
}

func TestSecurityHeaders(t *testing.T) {
	s, _ := testService(t, "https://dsr.example.test")
	r, _ := signedIn(t, s, "GET", "/", alice)
	rec := serveOne(s.Protect(&page{}), r)
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self';", "style-src 'self'", "img-src 'self' data:",
		"frame-ancestors 'none'", "form-action 'self' https://login.example.test"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline script or style: %q", csp)
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Referrer-Policy") != "same-origin" {
		t.Errorf("headers %v", rec.Header())
	}
	// Refusals carry them too.
	rec = serveOne(s.Protect(&page{}, config.RoleManager), r)
	if rec.Code != http.StatusForbidden || rec.Header().Get("Content-Security-Policy") == "" {
		t.Errorf("a refusal (%d) has no CSP", rec.Code)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "/",
		"/":                         "/",
		"/people/DSR-1042":          "/people/DSR-1042",
		"/tasks?mine=1&kind=review": "/tasks?mine=1&kind=review",
		"//evil.example/x":          "/",
		"/\\evil.example":           "/",
		"https://evil.example/":     "/",
		"javascript:alert(1)":       "/",
		"people":                    "/",
		"/a\r\nSet-Cookie: x=1":     "/",
		"/%2F%2Fevil.example":       "/%2F%2Fevil.example", // still a path here
	} {
		if got := LocalPath(in); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", in, got, want)
		}
	}
}
