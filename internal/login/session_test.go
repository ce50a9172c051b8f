package login

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/login/logintest"
)

var testKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))

// testService is a Service for publicURL whose clock the test moves. It
// never reaches a provider: these tests are about cookies and forms.
func testService(t *testing.T, publicURL string) (*Service, *time.Time) {
	t.Helper()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s, err := New(Options{
		Config: config.LoginConfig{Issuer: "https://login.example.test/tenant/v2.0", ClientID: "dsr", SessionKey: testKey,
			RolesClaim: "roles", CoordinatorRole: "DSR.Coordinator", ManagerRole: "DSR.Manager", NameClaim: "name"},
		PublicURL: publicURL,
		Now:       func() time.Time { return now },
		Audit:     &logintest.Audit{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, &now
}

// signedIn is a request carrying a fresh session cookie for u, and the
// session.
func signedIn(t *testing.T, s *Service, method, target string, u User) (*http.Request, session) {
	t.Helper()
	sess, err := s.cookies.newSession(u)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := s.cookies.writeSession(rec, sess); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(method, target, nil)
	for _, c := range rec.Result().Cookies() {
		r.AddCookie(c)
	}
	return r, sess
}

var alice = User{Name: "Alice Smith", Subject: "sub-alice", Role: config.RoleCoordinator}

func TestSessionCookieRoundTrip(t *testing.T) {
	s, _ := testService(t, "https://dsr.example.test")
	r, want := signedIn(t, s, "GET", "/", alice)
	got, ok := s.cookies.readSession(r)
	if !ok {
		t.Fatal("a fresh session cookie was refused")
	}
	if got.user() != alice || !got.Expires.Equal(want.Expires) || !bytes.Equal(got.CSRFSecret, want.CSRFSecret) {
		t.Errorf("read %+v, want %+v", got, want)
	}
	// The name is sealed, not readable in the cookie.
	if c, _ := r.Cookie(s.cookies.sessionName()); strings.Contains(c.Value, "Alice") {
		t.Errorf("the cookie shows the name in clear: %s", c.Value)
	}
}

func TestSessionCookieTamperedIsRefused(t *testing.T) {
	s, _ := testService(t, "https://dsr.example.test")
	r, _ := signedIn(t, s, "GET", "/", alice)
	c, _ := r.Cookie(s.cookies.sessionName())
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, len(raw) / 2, len(raw) - 1} { // nonce, body, tag
		bad := bytes.Clone(raw)
		bad[i] ^= 0x01
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: c.Name, Value: base64.RawURLEncoding.EncodeToString(bad)})
		if _, ok := s.cookies.readSession(req); ok {
			t.Errorf("a cookie with byte %d flipped was accepted", i)
		}
	}
	for _, v := range []string{"", "x", c.Value[:len(c.Value)/2], "not base64!"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: c.Name, Value: v})
		if _, ok := s.cookies.readSession(req); ok {
			t.Errorf("cookie %q was accepted", v)
		}
	}
}

func TestSessionCookieFromAnotherKeyIsRefused(t *testing.T) {
	s, _ := testService(t, "https://dsr.example.test")
	r, _ := signedIn(t, s, "GET", "/", alice)
	other, err := New(Options{Config: config.LoginConfig{Issuer: "https://login.example.test", ClientID: "dsr",
		SessionKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{8}, 32))}, PublicURL: "https://dsr.example.test",
		Audit: &logintest.Audit{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := other.cookies.readSession(r); ok {
		t.Error("a cookie sealed with another key was accepted")
	}
}

func TestSessionCookieExpiredIsRefused(t *testing.T) {
	s, now := testService(t, "https://dsr.example.test")
	r, _ := signedIn(t, s, "GET", "/", alice)
	*now = now.Add(SessionLifetime - time.Second)
	if _, ok := s.cookies.readSession(r); !ok {
		t.Fatal("a session a second before it expires was refused")
	}
	*now = now.Add(time.Second)
	if _, ok := s.cookies.readSession(r); ok {
		t.Error("a session at its expiry was accepted")
	}
}

// A flow cookie is sealed with the same key but for another name: it can
// never pass as a session.
func TestFlowCookieIsNotASession(t *testing.T) {
	s, _ := testService(t, "https://dsr.example.test")
	rec := httptest.NewRecorder()
	if err := s.cookies.writeFlow(rec, loginFlow{State: "s", Next: "/", Expires: s.cookies.now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	flow := rec.Result().Cookies()[0]
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: s.cookies.sessionName(), Value: flow.Value})
	if _, ok := s.cookies.readSession(r); ok {
		t.Error("a login-flow cookie was accepted as a session")
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	for _, tc := range []struct {
		public     string
		secure     bool
		cookieName string
	}{
		{"https://dsr.example.test", true, "__Host-dsr-session"},
		{"http://127.0.0.1:8080", false, "dsr-session"},
		{"http://localhost:8080", false, "dsr-session"},
	} {
		s, _ := testService(t, tc.public)
		rec := httptest.NewRecorder()
		sess, _ := s.cookies.newSession(alice)
		if err := s.cookies.writeSession(rec, sess); err != nil {
			t.Fatal(err)
		}
		c := rec.Result().Cookies()[0]
		if c.Name != tc.cookieName || c.Secure != tc.secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
			t.Errorf("%s: cookie %+v: want %s, Secure=%v, HttpOnly, SameSite=Lax, Path=/", tc.public, c, tc.cookieName, tc.secure)
		}
		if c.MaxAge != int(SessionLifetime.Seconds()) {
			t.Errorf("%s: Max-Age %d, want %d", tc.public, c.MaxAge, int(SessionLifetime.Seconds()))
		}
	}
	// Plain http anywhere but this machine would send the cookie in clear.
	_, err := New(Options{Config: config.LoginConfig{Issuer: "https://login.example.test", ClientID: "dsr", SessionKey: testKey},
		PublicURL: "http://dsr.example.test"})
	if err == nil || !strings.Contains(err.Error(), "DSR_PUBLIC_URL") {
		t.Errorf("http on a public host: %v, want an error naming DSR_PUBLIC_URL", err)
	}
	_, err = New(Options{Config: config.LoginConfig{Issuer: "https://login.example.test", ClientID: "dsr"}, PublicURL: "https://dsr.example.test"})
	if err == nil || !strings.Contains(err.Error(), "DSR_SESSION_KEY") {
		t.Errorf("no session key: %v, want an error naming DSR_SESSION_KEY", err)
	}
	// Nothing signs in unaudited.
	_, err = New(Options{Config: config.LoginConfig{Issuer: "https://login.example.test", ClientID: "dsr", SessionKey: testKey},
		PublicURL: "https://dsr.example.test"})
	if err == nil || !strings.Contains(err.Error(), "Audit") {
		t.Errorf("no audit: %v, want an error naming Options.Audit", err)
	}
}
