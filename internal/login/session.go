package login

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/sealed"
)

// SessionLifetime is how long a sign-in lasts. A working day: after it the
// user signs in again (the provider usually lets them straight through).
const SessionLifetime = 8 * time.Hour

// loginFlowLifetime bounds the round trip to the provider: state, nonce
// and PKCE verifier older than this are refused at the callback.
const loginFlowLifetime = 10 * time.Minute

// session is what the session cookie holds, sealed: who is signed in, until
// when, and the secret their form tokens are made from.
type session struct {
	Subject string      `json:"sub"`
	Name    string      `json:"name"`
	Role    config.Role `json:"role"`
	Expires time.Time   `json:"exp"`
	// CSRFSecret is random per session; forms carry an HMAC of it, never
	// the secret itself.
	CSRFSecret []byte `json:"csrf"`
}

func (s session) user() User { return User{Name: s.Name, Subject: s.Subject, Role: s.Role} }

func (s session) expiry() time.Time { return s.Expires }

// loginFlow is what the short-lived flow cookie holds between /login and
// the provider's callback.
type loginFlow struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Next     string    `json:"next"`
	Expires  time.Time `json:"exp"`
}

func (f loginFlow) expiry() time.Time { return f.Expires }

// ParseSessionKey reads DSR_SESSION_KEY: base64 of 32 bytes, as the
// configuration checks it.
func ParseSessionKey(b64 string) ([]byte, error) {
	return config.ParseKey("DSR_SESSION_KEY", b64)
}

// cookies writes and reads the two sealed cookies.
type cookies struct {
	// sealer binds each value to its cookie's name, so a flow cookie can
	// never be replayed as a session cookie.
	sealer *sealed.Box
	// secure marks cookies Secure. It is off only when the service's own
	// URL is plain http on the loopback interface (dsr dev, tests), because
	// a browser does not send a Secure cookie over http at all.
	secure bool
	now    func() time.Time
}

// The names: with Secure, the __Host- prefix makes the browser refuse the
// cookie unless it is Secure, host-only and Path=/, so a sibling subdomain
// cannot plant one. Over loopback http the prefix is not allowed.
func (c cookies) sessionName() string {
	if c.secure {
		return "__Host-dsr-session"
	}
	return "dsr-session"
}

func (c cookies) flowName() string {
	if c.secure {
		return "__Host-dsr-login"
	}
	return "dsr-login"
}

func (c cookies) set(w http.ResponseWriter, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", Expires: expires, MaxAge: int(expires.Sub(c.now()).Seconds()),
		Secure: c.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func (c cookies) clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1,
		Secure: c.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// newSession starts a session for u now, with a fresh CSRF secret.
func (c cookies) newSession(u User) (session, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return session{}, err
	}
	return session{Subject: u.Subject, Name: u.Name, Role: u.Role, Expires: c.now().Add(SessionLifetime), CSRFSecret: secret}, nil
}

// writeSealed sets cookie name to v, sealed under that name, until expires.
func (c cookies) writeSealed(w http.ResponseWriter, name string, v any, expires time.Time) error {
	value, err := c.sealer.Seal(name, v)
	if err != nil {
		return err
	}
	c.set(w, name, value, expires)
	return nil
}

// readSealed opens the request's cookie name into v: false if there is no
// such cookie, or it was not sealed by us under that name.
func (c cookies) readSealed(r *http.Request, name string, v any) bool {
	ck, err := r.Cookie(name)
	if err != nil {
		return false
	}
	return c.sealer.Open(name, ck.Value, v) == nil
}

// readUnexpired opens the request's cookie name into a T, and takes it only
// before the expiry sealed inside it: not the cookie's own Expires, which
// the browser (or anyone) controls.
func readUnexpired[T interface{ expiry() time.Time }](c cookies, r *http.Request, name string) (T, bool) {
	var v, none T
	if !c.readSealed(r, name, &v) || !c.now().Before(v.expiry()) {
		return none, false
	}
	return v, true
}

func (c cookies) writeSession(w http.ResponseWriter, s session) error {
	return c.writeSealed(w, c.sessionName(), s, s.Expires)
}

// readSession is the request's session, if it has a valid, unexpired one.
func (c cookies) readSession(r *http.Request) (session, bool) {
	s, ok := readUnexpired[session](c, r, c.sessionName())
	if !ok || s.Subject == "" || len(s.CSRFSecret) == 0 {
		return session{}, false
	}
	if s.Role != config.RoleCoordinator && s.Role != config.RoleManager {
		return session{}, false
	}
	return s, true
}

func (c cookies) writeFlow(w http.ResponseWriter, f loginFlow) error {
	return c.writeSealed(w, c.flowName(), f, f.Expires)
}

func (c cookies) readFlow(r *http.Request) (loginFlow, bool) {
	return readUnexpired[loginFlow](c, r, c.flowName())
}

// csrfToken is what a form carries: an HMAC of the session's secret, so a
// page never shows the secret, and tokens differ between sessions.
func csrfToken(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("dsr form token v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfTokenMatches compares in constant time.
func csrfTokenMatches(secret []byte, got string) bool {
	if got == "" {
		return false
	}
	return hmac.Equal([]byte(csrfToken(secret)), []byte(got))
}

// randomString is n random bytes, URL-safe: state and nonce.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
