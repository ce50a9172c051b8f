package login

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/dsr-register/dsr/internal/config"
)

// Require lets through only a signed-in user with one of roles (any
// signed-in user when none are given), with the User in the request's
// context. A signed-out visitor to a page is sent to sign in and brought
// back; a signed-out form post is refused (its body cannot survive the
// round trip to the provider); a wrong role gets 403.
func (s *Service) Require(roles ...config.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess, ok := s.cookies.readSession(r)
			if !ok {
				if r.Method == http.MethodGet || r.Method == http.MethodHead {
					http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				s.page(w, r, Page{Status: http.StatusForbidden, Title: "You are not signed in",
					Message: msgSignedOutPost, LinkHref: "/login", LinkText: "Sign in"})
				return
			}
			if len(roles) > 0 && !slices.Contains(roles, sess.Role) {
				s.page(w, r, Page{Status: http.StatusForbidden, Title: "You cannot use this page",
					Message:  "This page is for " + roleList(roles) + ". You are signed in as a " + string(sess.Role) + ".",
					LinkHref: "/", LinkText: "Go to the start page"})
				return
			}
			// Pages behind sign-in show health data: never kept by the
			// browser or a proxy.
			w.Header().Set("Cache-Control", "no-store")
			ctx := WithUser(r.Context(), sess.user())
			ctx = context.WithValue(ctx, sessionKey{}, sess)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func roleList(roles []config.Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r) + "s"
	}
	return strings.Join(names, " and ")
}

type sessionKey struct{}

func sessionFrom(ctx context.Context) (session, bool) {
	s, ok := ctx.Value(sessionKey{}).(session)
	return s, ok
}

// CSRFToken is the form token for the request's session, for a hidden
// field named "csrf_token" in every form (or an X-CSRF-Token header). It
// is empty outside Require.
func CSRFToken(r *http.Request) string {
	sess, ok := sessionFrom(r.Context())
	if !ok {
		return ""
	}
	return csrfToken(sess.CSRFSecret)
}

// CSRFField and CSRFHeader are where a request carries its form token.
const (
	CSRFField  = "csrf_token"
	CSRFHeader = "X-CSRF-Token"
)

// CSRF refuses a POST, PUT, PATCH or DELETE that did not come from one of
// this service's own pages: the Origin (or, without it, the Referer) must
// be this service's, and the form token must match the session's. It must
// sit inside Require, which puts the session in the context.
func (s *Service) CSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isSafeMethod(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		sess, ok := sessionFrom(r.Context())
		if !ok {
			s.page(w, r, Page{Status: http.StatusForbidden, Title: "You are not signed in",
				Message: msgSignedOutPost, LinkHref: "/login", LinkText: "Sign in"})
			return
		}
		if !s.sameOrigin(r) || !csrfTokenMatches(sess.CSRFSecret, formToken(r)) {
			s.logger.Warn("form refused: missing or wrong form token or origin", "method", r.Method, "path", r.URL.Path, "subject", sess.Subject)
			s.page(w, r, Page{Status: http.StatusForbidden, Title: "This form could not be accepted",
				Message: msgBadForm, LinkHref: "/", LinkText: "Go to the start page"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// formToken reads the token from the header, else the form body. Reading
// the form here leaves it parsed in r.PostForm for the handler.
func formToken(r *http.Request) string {
	if t := r.Header.Get(CSRFHeader); t != "" {
		return t
	}
	return r.PostFormValue(CSRFField)
}

// sameOrigin checks Origin, or Referer when a browser sent no Origin,
// against DSR_PUBLIC_URL. A request with neither is left to the token.
func (s *Service) sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		return o == s.origin
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && u.Scheme+"://"+u.Host == s.origin
	}
	return true
}

// Protect is a web page handler as it must be served: security headers,
// signed in with one of roles, and form tokens checked.
func (s *Service) Protect(h http.Handler, roles ...config.Role) http.Handler {
	return s.SecurityHeaders(s.Require(roles...)(s.CSRF(h)))
}

// SecurityHeaders sets, on every response it wraps, a Content-Security-
// Policy that forbids inline script and framing, and nosniff and
// same-origin referrer. Forms may post to this service and to the
// provider's origins: signing out is a form post that the browser follows
// to the provider's sign-out page, and a browser applies form-action to
// that redirect too.
func (s *Service) SecurityHeaders(next http.Handler) http.Handler {
	// Read per request: the sign-out origin is known once the provider
	// has been discovered.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SecurityHeaders(s.formActionOrigins()...)(next).ServeHTTP(w, r)
	})
}

// SecurityHeaders is the middleware with the extra origins forms may post
// to (besides 'self').
func SecurityHeaders(formActionOrigins ...string) func(http.Handler) http.Handler {
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action " +
		strings.Join(append([]string{"'self'"}, formActionOrigins...), " ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("X-Frame-Options", "DENY")
			next.ServeHTTP(w, r)
		})
	}
}
