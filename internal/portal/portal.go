// Package portal is the public self-referral portal at /refer: an
// easy-read form, one question a page, for people with a learning
// disability or autism, their families and professionals to ask the DSR
// team for support. Nobody signs in.
//
// The answers travel between pages in a sealed cookie (AES-256-GCM), never
// in a URL; a finished form becomes a register.Referral with channel
// portal and goes through casework.Receive — the referrer path: recorded
// first, then its workflow, identity checks and duplicate detection like
// any referral — and the answer is the same receipt and confirmation
// whoever it is about. A public form is hardened: token buckets per client
// address, a size limit, a honeypot, and a form token sealed in the
// cookie.
package portal

import (
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/sealed"
)

// MaxBody is the most a portal request may send: the longest answers
// fit many times over.
const MaxBody = 16 << 10

// Actor is who the audit trail says received a portal referral.
const Actor = "portal"

// Deps is what the portal needs.
type Deps struct {
	Casework *casework.Casework
	Logger   *slog.Logger
	Now      func() time.Time
	// Today is the team's calendar date (casework.Today), for dates of
	// birth and ages. Nil: Now's UTC date.
	Today func() time.Time
	// Timeout bounds sending a referral (DSR_API_TIMEOUT).
	Timeout time.Duration
	// Key seals the answers between pages: 32 bytes.
	Key []byte
	// SecureCookies marks the cookies Secure (see SecureCookiesFor).
	SecureCookies bool
	// ReplyDays is the confirmation page's promise.
	ReplyDays int
	// SubmissionsPerHour and PagesPerMinute are the limits per client
	// address; ClientIPHeader, if set, names the proxy's header.
	SubmissionsPerHour int
	PagesPerMinute     int
	ClientIPHeader     string
	// Councils are offered as a short list; empty asks for free text.
	Councils []string
}

// Portal is the /refer pages as one http.Handler.
type Portal struct {
	d       Deps
	cookies stateCookies
	pages   *limiter
	sends   *limiter
	events  *prometheus.CounterVec
	handler http.Handler
}

// SecureCookiesFor says whether cookies must be Secure for a service at
// publicURL: everywhere but plain http on the loopback interface.
func SecureCookiesFor(publicURL string) bool {
	u, err := url.Parse(publicURL)
	if err != nil {
		return true
	}
	h := u.Hostname()
	return !(u.Scheme == "http" && (h == "127.0.0.1" || h == "localhost" || h == "::1"))
}

// New builds the portal.
func New(d Deps) (*Portal, error) {
	if d.Casework == nil {
		return nil, errors.New("portal: Casework is required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Today == nil {
		// The team's today, as casework has it, at the portal's clock.
		d.Today = func() time.Time { return d.Casework.Policy.LocalDate(d.Now()) }
	}
	if d.Timeout <= 0 {
		d.Timeout = 10 * time.Second
	}
	if d.ReplyDays <= 0 {
		d.ReplyDays = 5
	}
	if d.SubmissionsPerHour <= 0 {
		d.SubmissionsPerHour = 10
	}
	if d.PagesPerMinute <= 0 {
		d.PagesPerMinute = 60
	}
	s, err := sealed.New(d.Key)
	if err != nil {
		return nil, err
	}
	p := &Portal{
		d:       d,
		cookies: stateCookies{sealer: s, secure: d.SecureCookies},
		pages:   newLimiter(d.PagesPerMinute, time.Minute),
		sends:   newLimiter(d.SubmissionsPerHour, time.Hour),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dsr_portal_events_total",
			Help: "Self-referral portal outcomes: referrals sent, honeypot submissions dropped, requests refused (rate limits, too large, bad form token). No content.",
		}, []string{"event"}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /refer", p.start)
	mux.HandleFunc("GET /refer/portal.css", serveCSS)
	mux.HandleFunc("GET /refer/check", p.check)
	mux.HandleFunc("POST /refer/check", p.send)
	mux.HandleFunc("GET /refer/sent", p.sent)
	mux.HandleFunc("GET /refer/{step}", p.forStep(p.question))
	mux.HandleFunc("POST /refer/{step}", p.forStep(p.answer))
	mux.HandleFunc("/", p.notFound)
	p.handler = login.SecurityHeaders()(p.limitSize(p.limitPages(mux)))
	return p, nil
}

// ServeHTTP serves /refer and everything under it.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

// Collector is the portal's counters, for the service's /metrics.
func (p *Portal) Collector() prometheus.Collector { return p.events }

//go:embed templates portal.css
var files embed.FS

func serveCSS(w http.ResponseWriter, r *http.Request) {
	css, _ := files.ReadFile("portal.css")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(css)
}

// limitSize refuses a body over MaxBody before reading it, and stops one
// that turns out longer while it is read.
func (p *Portal) limitSize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBody {
			p.tooLarge(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		next.ServeHTTP(w, r)
	})
}

func (p *Portal) tooLarge(w http.ResponseWriter, r *http.Request) {
	p.events.WithLabelValues("too_large").Inc()
	w.Header().Set("Connection", "close")
	p.problem(w, http.StatusRequestEntityTooLarge, "Your answers are too long",
		[]string{"Please make your answers shorter and try again."}, "/refer/check", "Go back to your answers")
}

// limitPages gives each client address PagesPerMinute pages and answers a
// minute; past that, a plain page says to wait.
func (p *Portal) limitPages(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/refer/portal.css" && !p.pages.allow(clientAddress(r, p.d.ClientIPHeader), p.d.Now()) {
			p.events.WithLabelValues("rate_limited_pages").Inc()
			p.tooMany(w, 60)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (p *Portal) tooMany(w http.ResponseWriter, retryAfter int) {
	w.Header().Set("Retry-After", fmt.Sprint(retryAfter))
	p.problem(w, http.StatusTooManyRequests, "Please wait and try again",
		[]string{"There have been too many tries from your internet connection.",
			"Your answers are saved. Wait a few minutes, then try again.",
			"If you need help now, call NHS 111. If someone is in danger, call 999."}, "", "")
}
