package portal

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dsr-register/dsr/internal/sealed"
)

// stateLifetime is how long answers are kept between pages after the last
// one was given. Generous: filling the form in may take a while, with
// help, and nothing is lost by waiting less than this.
const stateLifetime = 4 * time.Hour

// answers are what the person filling the form in has told us so far. They
// are personal data: they live only in the sealed cookie until the form is
// sent, never in a URL or a log line.
type answers struct {
	Kind         string `json:"k,omitempty"` // self, family, professional
	ReferrerName string `json:"rn,omitempty"`
	Organisation string `json:"o,omitempty"`
	GivenName    string `json:"g,omitempty"`
	FamilyName   string `json:"f,omitempty"`
	DOBDay       string `json:"dd,omitempty"`
	DOBMonth     string `json:"dm,omitempty"`
	DOBYear      string `json:"dy,omitempty"`
	NHSNumber    string `json:"n,omitempty"`
	// NHSNumberAnswered tells "left empty: not known" from "not asked yet".
	NHSNumberAnswered bool   `json:"na,omitempty"`
	Postcode          string `json:"p,omitempty"`
	Council           string `json:"c,omitempty"`  // one of the list, or "other"
	CouncilOther      string `json:"co,omitempty"` // typed when "other" or no list
	Diagnosis         string `json:"d,omitempty"`  // learning_disability, autism, both
	Reason            string `json:"r,omitempty"`
	Phone             string `json:"ph,omitempty"`
	Email             string `json:"e,omitempty"`
	Consent           string `json:"cs,omitempty"`
}

// state is the sealed cookie: the answers, the form's anti-forgery token,
// and the key that makes sending the finished form one referral however
// often it is sent.
type state struct {
	// Token is the double-submit token every form carries: a post whose
	// token is not the one sealed here did not come from our page.
	Token string `json:"t"`
	// FormID is this filling-in's idempotency key. It is made new when a
	// referral is sent, so the next form is a new referral.
	FormID  string  `json:"id"`
	A       answers `json:"a"`
	Receipt string  `json:"rc,omitempty"` // the last referral sent, for the confirmation page
	// Trap is set once the honeypot field came back filled in.
	Trap    bool      `json:"x,omitempty"`
	Expires time.Time `json:"exp"`
}

func newState(now time.Time) (state, error) {
	tok, err := randomToken()
	if err != nil {
		return state{}, err
	}
	id, err := randomToken()
	if err != nil {
		return state{}, err
	}
	return state{Token: tok, FormID: id, Expires: now.Add(stateLifetime)}, nil
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("portal: random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// tokenMatches compares the form's token with the sealed one in constant
// time.
func (s state) tokenMatches(got string) bool {
	return got != "" && hmac.Equal([]byte(s.Token), []byte(got))
}

// DeriveKey makes the portal's key from another 32-byte secret (the
// session key), so that a deployment with sign-in needs no second secret,
// while a portal cookie can never be opened as a session or the reverse.
func DeriveKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("dsr self-referral portal state v1"))
	return m.Sum(nil)
}

// A sealed state with a long reason can pass a browser's 4 KB limit for
// one cookie, so it is split over up to maxChunks cookies.
const (
	chunkSize = 3800
	maxChunks = 3
)

// stateCookies reads and writes the sealed state.
type stateCookies struct {
	// sealer binds the state to the first cookie's name.
	sealer *sealed.Box
	// secure marks the cookies Secure and __Host- (everywhere but plain
	// http on the loopback interface, where browsers would drop them).
	secure bool
}

func (c stateCookies) name(i int) string {
	n := "dsr-refer-" + strconv.Itoa(i)
	if c.secure {
		return "__Host-" + n
	}
	return n
}

// read is the request's state, if it carries a valid, unexpired one.
func (c stateCookies) read(r *http.Request, now time.Time) (state, bool) {
	var value string
	for i := 0; i < maxChunks; i++ {
		ck, err := r.Cookie(c.name(i))
		if err != nil {
			break
		}
		value += ck.Value
	}
	if value == "" {
		return state{}, false
	}
	var s state
	if c.sealer.Open(c.name(0), value, &s) != nil || !now.Before(s.Expires) || s.Token == "" || s.FormID == "" {
		return state{}, false
	}
	return s, true
}

// write seals s, its lifetime renewed, into the response's cookies. The
// cookies last as long as the browser session; the sealed expiry is what
// counts.
func (c stateCookies) write(w http.ResponseWriter, s state, now time.Time) error {
	s.Expires = now.Add(stateLifetime)
	v, err := c.sealer.Seal(c.name(0), s)
	if err != nil {
		return err
	}
	if len(v) > chunkSize*maxChunks {
		return errors.New("portal state too large for its cookies")
	}
	for i := 0; i < maxChunks; i++ {
		part := ""
		if len(v) > 0 {
			n := min(chunkSize, len(v))
			part, v = v[:n], v[n:]
		}
		ck := &http.Cookie{Name: c.name(i), Value: part, Path: "/", Secure: c.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode}
		if part == "" {
			ck.MaxAge = -1
		}
		http.SetCookie(w, ck)
	}
	return nil
}
