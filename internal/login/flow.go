package login

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

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
		refused := User{Subject: subject, Name: s.mapping.Name(claims)}
		if err := s.audit.AuditAppend(ctx, refused.AuditName(), ActionSignInRefused, 0,
			map[string]string{"subject": subject, "reason": "no dsr role"}); err != nil {
			s.logger.Error("sign-in refusal not audited", "error", err)
		}
		s.page(w, r, Page{Status: http.StatusForbidden, Title: "You cannot use the register", Message: msgNoRole})
		return
	}
	user := User{Subject: subject, Name: s.mapping.Name(claims), Role: role}
	// Recorded before the session exists: a sign-in the audit does not
	// hold does not happen.
	if err := s.audit.AuditAppend(ctx, user.AuditName(), ActionSignedIn, 0,
		map[string]string{"subject": subject, "role": string(role)}); err != nil {
		s.logger.Error("sign-in refused: it could not be audited", "subject", subject, "error", err)
		s.unavailable(w, r, "The register could not record your sign-in.")
		return
	}
	sess, err := s.cookies.newSession(user)
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
		// Signing out always works; an entry that cannot be written is
		// logged for the operators instead.
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		if err := s.audit.AuditAppend(ctx, sess.user().AuditName(), ActionSignedOut, 0,
			map[string]string{"subject": sess.Subject, "role": string(sess.Role)}); err != nil {
			s.logger.Error("sign-out not audited", "subject", sess.Subject, "error", err)
		}
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
	s.unavailable(w, r, "The sign-in service did not answer.")
}

// unavailable answers a sign-in that could not finish because a part did
// not answer (the provider, or the register's audit log): 503, try again.
func (s *Service) unavailable(w http.ResponseWriter, r *http.Request, what string) {
	w.Header().Set("Retry-After", "60")
	s.page(w, r, Page{Status: http.StatusServiceUnavailable, Title: "Sign-in is not available just now",
		Message:  what + " Nothing has changed. Please try again in a minute.",
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
