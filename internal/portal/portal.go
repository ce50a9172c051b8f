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
	"context"
	"crypto/rand"
	"embed"
	"encoding/base32"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/htmlpage"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/register"
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
	mux.HandleFunc("GET /refer/{step}", p.question)
	mux.HandleFunc("POST /refer/{step}", p.answer)
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

// page is what every template reads.
type page struct {
	Title    string
	Back     string
	Step     string
	Change   bool
	Token    string
	Errors   []fieldError
	Err      map[string]string
	W        wording
	A        answers
	Options  []option
	Councils []string
	Under16  bool
	Rows     []summaryRow
	Receipt  string

	ReplyDays int
	MaxReason int

	Lines    []string
	Link     string
	LinkText string
}

var funcs = template.FuncMap{
	"icon": icon,
	// field is what an error message needs: the page's errors and the id.
	"field": func(p any, id string) map[string]any {
		var errs map[string]string
		switch v := p.(type) {
		case *page:
			errs = v.Err
		case map[string]any:
			errs, _ = v["Err"].(map[string]string)
		}
		return map[string]any{"Err": errs, "ID": id}
	},
	"lower": strings.ToLower,
	"capital": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	// autocomplete fills a field from the browser only when it is about the
	// person at the keyboard.
	"autocomplete": func(w wording, token string) string {
		if w.Self {
			return token
		}
		return "off"
	},
	"them":       func(w wording) string { return pick(w.Self, "you", "them") },
	"themselves": func(w wording) string { return pick(w.Self, "yourself", "themselves") },
	"under16Words": func(w wording) string {
		return pick(w.Self, "You are", "The person is")
	},
	"over16Words": func(w wording) string { return pick(w.Self, "You are", "The person is") },
	"contactHint": func(w wording) string {
		if w.Professional {
			return "Give your work email address. We will only use it to talk about this referral."
		}
		return "Give a phone number, an email address, or both. We will only use them to talk about this referral."
	},
	"consentQuestion": func(w wording, under16 bool) string {
		switch {
		case w.Self:
			return "Do you agree to be on the register?"
		case under16:
			return "Who says yes to them being on the register?"
		}
		return "Do they agree to be on the register?"
	},
}

func pick(self bool, a, b string) string {
	if self {
		return a
	}
	return b
}

var templates = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range []string{"start", "question", "check", "sent", "problem"} {
		out[name] = htmlpage.Parse(files, funcs, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
	}
	// A dict passed to a shared part carries the page as P; the parts
	// read P.Err, so the field helper must also accept it.
	return out
}()

// render writes a page whole or not at all.
func (p *Portal) render(w http.ResponseWriter, status int, name string, data *page) {
	if data.Err == nil {
		data.Err = map[string]string{}
	}
	if err := htmlpage.Render(w, status, templates[name], data); err != nil {
		p.d.Logger.Error("portal page failed to render", "page", name, "error", err)
		http.Error(w, "Sorry, there is a problem with this page. Please try again later.", http.StatusInternalServerError)
	}
}

func (p *Portal) problem(w http.ResponseWriter, status int, title string, lines []string, link, linkText string) {
	p.render(w, status, "problem", &page{Title: title, Lines: lines, Link: link, LinkText: linkText})
}

func (p *Portal) notFound(w http.ResponseWriter, r *http.Request) {
	p.problem(w, http.StatusNotFound, "Page not found",
		[]string{"Check the web address. Or start the form again."}, "/refer", "Go to the start")
}

func (p *Portal) checkContext() checkContext {
	return checkContext{Today: p.d.Today(), Councils: p.d.Councils}
}

// start is the first page: what the register is and what the form asks.
func (p *Portal) start(w http.ResponseWriter, r *http.Request) {
	p.render(w, http.StatusOK, "start", &page{Title: "Ask the DSR team for support"})
}

// stateFor is the request's state, or a new one, written back at once so
// the next post carries its token.
func (p *Portal) stateFor(w http.ResponseWriter, r *http.Request) (state, error) {
	now := p.d.Now()
	if s, ok := p.cookies.read(r, now); ok {
		return s, nil
	}
	s, err := newState(now)
	if err != nil {
		return state{}, err
	}
	return s, p.cookies.write(w, s, now)
}

func (p *Portal) fail(w http.ResponseWriter, err error) {
	p.d.Logger.Error("portal failed", "error", err)
	p.problem(w, http.StatusInternalServerError, "Sorry, there is a problem with the service",
		[]string{"Please try again later."}, "/refer", "Go to the start")
}

// question shows one question with the answer given so far.
func (p *Portal) question(w http.ResponseWriter, r *http.Request) {
	i := stepIndex(r.PathValue("step"))
	if i < 0 {
		p.notFound(w, r)
		return
	}
	s, err := p.stateFor(w, r)
	if err != nil {
		p.fail(w, err)
		return
	}
	if !steps[i].Applies(s.A) {
		// Who is filling it in changed: this question is not for them.
		p.redirect(w, r, "/refer/check")
		return
	}
	if before := p.firstUnansweredBefore(i, s.A); before != "" {
		// The consent question's wording needs the date of birth, and so
		// on: an earlier question comes first.
		p.redirect(w, r, "/refer/"+before)
		return
	}
	p.renderQuestion(w, r, http.StatusOK, i, s, nil)
}

// firstUnansweredBefore is the first question before i that applies and
// is not answered, or "".
func (p *Portal) firstUnansweredBefore(i int, a answers) string {
	c := p.checkContext()
	for _, st := range steps[:i] {
		if st.Applies(a) && len(st.Check(a, c)) > 0 {
			return st.Slug
		}
	}
	return ""
}

func (p *Portal) renderQuestion(w http.ResponseWriter, r *http.Request, status, i int, s state, errs []fieldError) {
	st := steps[i]
	change := r.URL.Query().Get("change") == "1"
	wd := wordingFor(s.A.Kind)
	pg := &page{
		Title: st.Title(wd), Step: st.Slug, Change: change, Token: s.Token, W: wd, A: s.A,
		Councils: p.d.Councils, MaxReason: maxReason, Errors: errs, Err: map[string]string{},
	}
	for _, e := range errs {
		if _, ok := pg.Err[e.ID]; !ok {
			pg.Err[e.ID] = e.Message
		}
	}
	switch {
	case change:
		pg.Back = "/refer/check"
	case previousStep(i, s.A) != "":
		pg.Back = "/refer/" + previousStep(i, s.A)
	default:
		pg.Back = "/refer"
	}
	switch st.Slug {
	case "who":
		pg.Options = whoOptions
	case "diagnosis":
		pg.Options = diagnosisOptions
	case "consent":
		pg.Options = consentOptions(s.A, p.d.Today())
		pg.Under16 = under16(s.A, p.d.Today())
	}
	p.render(w, status, "question", pg)
}

// formState reads a post's form and its state, checking the form token.
// It answers the request itself (and returns false) when either is
// missing or wrong.
func (p *Portal) formState(w http.ResponseWriter, r *http.Request) (state, bool) {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			p.tooLarge(w, r)
		} else {
			p.problem(w, http.StatusBadRequest, "This form could not be read", []string{"Please go back and try again."}, "/refer", "Go to the start")
		}
		return state{}, false
	}
	s, ok := p.cookies.read(r, p.d.Now())
	if !ok {
		// No state: the answers expired, cookies are off, or the post came
		// from somewhere else. Nothing is kept.
		p.events.WithLabelValues("no_state").Inc()
		p.problem(w, http.StatusBadRequest, "Your answers have timed out",
			[]string{"We keep answers for 4 hours. For your safety, we have deleted them.",
				"Please start again. Your browser must allow cookies from this website."}, "/refer", "Start again")
		return state{}, false
	}
	if !s.tokenMatches(r.PostForm.Get("token")) {
		p.events.WithLabelValues("bad_token").Inc()
		p.d.Logger.Warn("portal form refused: missing or wrong form token")
		p.problem(w, http.StatusForbidden, "This form could not be accepted",
			[]string{"It did not come from this website's own page. Nothing was sent.",
				"Please go back to the start and try again."}, "/refer", "Go to the start")
		return state{}, false
	}
	if r.PostForm.Get("website") != "" {
		// The honeypot: people never see it, form-filling robots do. The
		// submission goes on as if nothing were wrong and is dropped at the
		// end.
		s.Trap = true
	}
	return s, true
}

// answer takes one question's answer: saved and on to the next question,
// or the same question again with what to fix.
func (p *Portal) answer(w http.ResponseWriter, r *http.Request) {
	i := stepIndex(r.PathValue("step"))
	if i < 0 {
		p.notFound(w, r)
		return
	}
	s, ok := p.formState(w, r)
	if !ok {
		return
	}
	st := steps[i]
	st.Read(r.PostForm, &s.A)
	errs := st.Check(s.A, p.checkContext())
	if err := p.cookies.write(w, s, p.d.Now()); err != nil {
		p.fail(w, err)
		return
	}
	if len(errs) > 0 {
		p.renderQuestion(w, r, http.StatusBadRequest, i, s, errs)
		return
	}
	next := nextStep(i, s.A)
	if r.URL.Query().Get("change") == "1" || next == "" {
		next = "check"
	}
	p.redirect(w, r, "/refer/"+next)
}

func (p *Portal) redirect(w http.ResponseWriter, r *http.Request, to string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// summaryRow is one answer on the check page.
type summaryRow struct {
	ID, Key, Step string
	Lines         []string
}

func (p *Portal) rows(a answers) []summaryRow {
	wd := wordingFor(a.Kind)
	label := func(opts []option, v string) string {
		for _, o := range opts {
			if o.Value == v {
				return o.Label
			}
		}
		return v
	}
	today := p.d.Today()
	dob, _ := parseDOB(a, today)
	nhs := a.NHSNumber
	if nhs == "" {
		nhs = "Not known"
	}
	contact := []string{}
	for _, v := range []string{a.Phone, a.Email} {
		if v != "" {
			contact = append(contact, v)
		}
	}
	rows := []summaryRow{{ID: "who", Key: "Who is filling in this form", Step: "who", Lines: []string{label(whoOptions, a.Kind)}}}
	if a.Kind != kindSelf {
		rows = append(rows, summaryRow{ID: "referrer-name", Key: "Your name", Step: "your-name", Lines: []string{a.ReferrerName}})
	}
	if a.Kind == kindProfessional {
		rows = append(rows, summaryRow{ID: "organisation", Key: "Where you work", Step: "organisation", Lines: []string{a.Organisation}})
	}
	return append(rows,
		summaryRow{ID: "name", Key: wd.YourCap + " name", Step: "name", Lines: []string{a.GivenName + " " + a.FamilyName}},
		summaryRow{ID: "dob", Key: wd.YourCap + " date of birth", Step: "date-of-birth", Lines: []string{dob.Format("2 January 2006")}},
		summaryRow{ID: "nhs-number", Key: wd.YourCap + " NHS number", Step: "nhs-number", Lines: []string{nhs}},
		summaryRow{ID: "postcode", Key: wd.YourCap + " postcode", Step: "postcode", Lines: []string{a.Postcode}},
		summaryRow{ID: "council", Key: "Council area", Step: "council", Lines: []string{councilOf(a, p.d.Councils)}},
		summaryRow{ID: "diagnosis", Key: "Learning disability or autism", Step: "diagnosis", Lines: []string{label(diagnosisOptions, a.Diagnosis)}},
		summaryRow{ID: "reason", Key: "Why support is needed now", Step: "reason", Lines: strings.Split(a.Reason, "\n")},
		summaryRow{ID: "contact", Key: "How to contact you", Step: "contact", Lines: contact},
		summaryRow{ID: "consent", Key: "Saying yes to the register", Step: "consent", Lines: []string{label(consentOptions(a, today), a.Consent)}},
	)
}

// check shows every answer with a Change link, and the Send button.
func (p *Portal) check(w http.ResponseWriter, r *http.Request) {
	s, err := p.stateFor(w, r)
	if err != nil {
		p.fail(w, err)
		return
	}
	if missing := firstUnanswered(s.A, p.checkContext()); missing != "" {
		p.redirect(w, r, "/refer/"+missing)
		return
	}
	p.renderCheck(w, http.StatusOK, s, nil)
}

func (p *Portal) renderCheck(w http.ResponseWriter, status int, s state, errs []fieldError) {
	pg := &page{Title: "Check your answers", Back: "/refer/consent", Step: "check", Token: s.Token,
		W: wordingFor(s.A.Kind), A: s.A, Rows: p.rows(s.A), Errors: errs}
	p.render(w, status, "check", pg)
}

// send sends the finished form as a referral. Its idempotency key is the
// form's: a double click, or the page sent again after a timeout, is one
// referral with one receipt.
func (p *Portal) send(w http.ResponseWriter, r *http.Request) {
	s, ok := p.formState(w, r)
	if !ok {
		return
	}
	if s.A == (answers{}) && s.Receipt != "" {
		// Sent already, and this is the same page sent again.
		p.redirect(w, r, "/refer/sent")
		return
	}
	if !p.sends.allow(clientAddress(r, p.d.ClientIPHeader), p.d.Now()) {
		p.events.WithLabelValues("rate_limited_submissions").Inc()
		p.tooMany(w, 3600/p.d.SubmissionsPerHour)
		return
	}
	if s.Trap {
		p.dropTrapped(w, r)
		return
	}
	if missing := firstUnanswered(s.A, p.checkContext()); missing != "" {
		p.redirect(w, r, "/refer/"+missing+"?change=1")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.d.Timeout)
	defer cancel()
	res, err := p.d.Casework.Receive(ctx, referral(s.A, p.d.Today(), p.d.Councils),
		casework.Action{By: Actor, ID: casework.ActionID("portal", Actor, s.FormID)})
	var cwErr *casework.Error
	switch {
	case err == nil:
	case errors.As(err, &cwErr) && cwErr.Kind == casework.Invalid:
		// The register's own check disagrees with the pages' (it should
		// not): show which answer to change.
		p.renderCheck(w, http.StatusBadRequest, s, registerFieldErrors(cwErr.Fields))
		return
	case errors.As(err, &cwErr) && cwErr.Kind == casework.Conflict:
		// The form's key was used for other answers: make a new one, so
		// sending again is a new referral.
		if s.FormID, err = randomToken(); err == nil {
			err = p.cookies.write(w, s, p.d.Now())
		}
		if err != nil {
			p.fail(w, err)
			return
		}
		p.problem(w, http.StatusConflict, "Please check your answers and send them again",
			[]string{"Your answers changed while they were being sent. Nothing was sent."}, "/refer/check", "Check your answers")
		return
	default:
		// Not recorded (the database did not answer): the answers are kept,
		// and sending again uses the same key, so it is never two.
		p.d.Logger.Warn("portal referral not recorded; the person can send it again", "error", opaque(err))
		w.Header().Set("Retry-After", "60")
		p.problem(w, http.StatusServiceUnavailable, "Sorry, we could not send your answers",
			[]string{"Your answers are saved. Please wait a minute, then send them again."}, "/refer/check", "Go back to your answers")
		return
	}
	p.events.WithLabelValues("referral").Inc()
	p.d.Logger.Info("portal referral received", "receipt", res.Receipt)
	p.finish(w, r, s, res.Receipt)
}

// opaque keeps only what an error may say in a log line: casework's
// messages name no one, but the wrapped error could quote input.
func opaque(err error) string {
	var cwErr *casework.Error
	if errors.As(err, &cwErr) {
		return cwErr.Message
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "failed"
}

// finish forgets the answers, keeps the receipt for the confirmation page
// and makes a new form key, so the next form is a new referral.
func (p *Portal) finish(w http.ResponseWriter, r *http.Request, s state, receipt string) {
	id, err := randomToken()
	if err != nil {
		p.fail(w, err)
		return
	}
	next := state{Token: s.Token, FormID: id, Receipt: receipt}
	if err := p.cookies.write(w, next, p.d.Now()); err != nil {
		p.fail(w, err)
		return
	}
	p.redirect(w, r, "/refer/sent")
}

// dropTrapped answers a robot's submission exactly as a person's and
// records nothing. The log line and counter carry no content.
func (p *Portal) dropTrapped(w http.ResponseWriter, r *http.Request) {
	p.events.WithLabelValues("honeypot").Inc()
	p.d.Logger.Info("portal submission dropped: honeypot field filled")
	s, _ := p.cookies.read(r, p.d.Now())
	p.finish(w, r, s, decoyReceipt())
}

// decoyReceipt looks like any receipt the register gives (REF- and 16
// base32 characters) and is recorded nowhere.
func decoyReceipt() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return "REF-" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}

// sent is the confirmation: the receipt, and what happens next and when.
func (p *Portal) sent(w http.ResponseWriter, r *http.Request) {
	s, ok := p.cookies.read(r, p.d.Now())
	if !ok || s.Receipt == "" {
		p.redirect(w, r, "/refer")
		return
	}
	p.render(w, http.StatusOK, "sent", &page{Title: "We have your answers", Receipt: s.Receipt, ReplyDays: p.d.ReplyDays})
}

// registerFieldErrors maps the register's field names to the pages'.
func registerFieldErrors(fields register.FieldErrors) []fieldError {
	ids := map[string]string{
		"person.given_name": "name", "person.family_name": "name", "person.date_of_birth": "dob",
		"person.nhs_number": "nhs-number", "person.diagnoses": "diagnosis", "referrer.name": "referrer-name",
		"referrer.organisation": "organisation", "referrer.email": "contact", "reason": "reason",
	}
	var out []fieldError
	for f := range fields {
		id, ok := ids[f]
		if !ok {
			id = "who"
		}
		out = append(out, fieldError{ID: "answer-" + id, Message: "Check this answer: " + strings.ReplaceAll(f, "_", " ")})
	}
	return out
}
