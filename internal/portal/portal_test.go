package portal

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"golang.org/x/net/html/atom"

	nethtml "golang.org/x/net/html"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/devstack"
	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
	"github.com/dsr-register/dsr/internal/htmlpage/htmltest"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/worker"
	"github.com/dsr-register/dsr/workflows"
)

// The package's tests share one stack: a real PostgreSQL database and a
// real Temporal dev server running the register's worker, as in `dsr
// serve`. Every test refers different people, so they never see each
// other's referrals.
var (
	dbURL string
	cw    *casework.Casework
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	pgURL, stopPG, err := devstacktest.StartPostgresForMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopPG()
	dbURL = pgURL
	var attrs []devstack.SearchAttribute
	for _, sa := range workflows.SearchAttributeTypes {
		attrs = append(attrs, devstack.SearchAttribute{Name: sa[0], Type: sa[1]})
	}
	srv, stopTemporal, err := devstacktest.StartTemporalForMain(devstacktest.TemporalConfig{SearchAttributes: attrs})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopTemporal()
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tc, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(), Logger: sdklog.NewStructuredLogger(quiet)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer tc.Close()
	policy := register.DefaultPolicy()
	w := worker.New(tc, "portal-test", &activities.Activities{Store: st, Policy: func() register.Policy { return policy }})
	if err := w.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer w.Stop()
	cw = &casework.Casework{Store: st, Temporal: tc, TaskQueue: "portal-test", Logger: quiet, Now: time.Now, Policy: policy}
	defer cw.WaitForDeliveries()
	return m.Run()
}

// clock is a settable time for the rate limits.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var testKey = DeriveKey([]byte("portal test key, thirty-two byte"))

// newPortal is the portal over the shared stack, served over HTTP.
func newPortal(t *testing.T, tweak func(*Deps)) (*Portal, *httptest.Server) {
	t.Helper()
	d := Deps{Casework: cw, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Timeout: time.Minute,
		Key: testKey, ReplyDays: 5, ClientIPHeader: "X-Forwarded-For",
		Councils: []string{"Staffordshire", "Stoke-on-Trent"}, Today: cw.Today}
	if tweak != nil {
		tweak(&d)
	}
	p, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv
}

var clients atomic.Int64

// visitor is one browser: its own cookies and its own address (so the
// limits of one test never touch another's).
type visitor struct {
	t      *testing.T
	base   string
	ip     string
	client *http.Client
	// page is the last page's body.
	page string
}

func newVisitor(t *testing.T, srv *httptest.Server) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: t, base: srv.URL, ip: fmt.Sprintf("192.0.2.%d", clients.Add(1)),
		client: &http.Client{Jar: jar, Timeout: 2 * time.Minute}}
}

func (v *visitor) do(req *http.Request) *http.Response {
	v.t.Helper()
	req.Header.Set("X-Forwarded-For", "198.51.100.7, "+v.ip)
	resp, err := v.client.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	v.page = string(body)
	return resp
}

func (v *visitor) get(path string) *http.Response {
	v.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, v.base+path, nil)
	return v.do(req)
}

var tokenField = regexp.MustCompile(`name="token" value="([^"]+)"`)

// post answers the form on the last page shown, with its token.
func (v *visitor) post(path string, form url.Values) *http.Response {
	v.t.Helper()
	m := tokenField.FindStringSubmatch(v.page)
	if m == nil {
		v.t.Fatalf("no form token on the page before posting to %s:\n%s", path, v.page)
	}
	f := url.Values{"token": {html.UnescapeString(m[1])}}
	for k, vs := range form {
		f[k] = vs
	}
	req, _ := http.NewRequest(http.MethodPost, v.base+path, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return v.do(req)
}

// answer shows the question at step, answers it and expects the next page.
func (v *visitor) answer(step string, form url.Values, wantNext string) {
	v.t.Helper()
	if resp := v.get("/refer/" + step); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/refer/"+step {
		v.t.Fatalf("GET /refer/%s: %d at %s", step, resp.StatusCode, resp.Request.URL.Path)
	}
	resp := v.post("/refer/"+step, form)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != wantNext {
		v.t.Fatalf("answering %s: %d at %s, want %s:\n%s", step, resp.StatusCode, resp.Request.URL.Path, wantNext, errorSummary(v.page))
	}
}

// person is a referral's answers as a person types them.
type person struct {
	kind, referrer, organisation   string
	given, family                  string
	dob                            time.Time
	nhs, postcode, council, other  string
	diagnosis, reason, phone, mail string
	consent                        string
}

// walk fills the whole form in as p, from the start page to the check
// page.
func (v *visitor) walk(p person) {
	v.t.Helper()
	if resp := v.get("/refer"); resp.StatusCode != http.StatusOK {
		v.t.Fatalf("GET /refer: %d", resp.StatusCode)
	}
	next := "/refer/name"
	if p.kind != kindSelf {
		next = "/refer/your-name"
	}
	v.answer("who", url.Values{"who": {p.kind}}, next)
	if p.kind != kindSelf {
		next = "/refer/name"
		if p.kind == kindProfessional {
			next = "/refer/organisation"
		}
		v.answer("your-name", url.Values{"referrer-name": {p.referrer}}, next)
	}
	if p.kind == kindProfessional {
		v.answer("organisation", url.Values{"organisation": {p.organisation}}, "/refer/name")
	}
	v.answer("name", url.Values{"given-name": {p.given}, "family-name": {p.family}}, "/refer/date-of-birth")
	v.answer("date-of-birth", url.Values{"dob-day": {fmt.Sprint(p.dob.Day())}, "dob-month": {fmt.Sprint(int(p.dob.Month()))},
		"dob-year": {fmt.Sprint(p.dob.Year())}}, "/refer/nhs-number")
	v.answer("nhs-number", url.Values{"nhs-number": {p.nhs}}, "/refer/postcode")
	v.answer("postcode", url.Values{"postcode": {p.postcode}}, "/refer/council")
	v.answer("council", url.Values{"council": {p.council}, "council-other": {p.other}}, "/refer/diagnosis")
	v.answer("diagnosis", url.Values{"diagnosis": {p.diagnosis}}, "/refer/reason")
	v.answer("reason", url.Values{"reason": {p.reason}}, "/refer/contact")
	v.answer("contact", url.Values{"phone": {p.phone}, "email": {p.mail}}, "/refer/consent")
	v.answer("consent", url.Values{"consent": {p.consent}}, "/refer/check")
}

// send sends the check page's form and returns the receipt shown.
func (v *visitor) send(extra url.Values) string {
	v.t.Helper()
	resp := v.post("/refer/check", extra)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/refer/sent" {
		v.t.Fatalf("sending: %d at %s:\n%s", resp.StatusCode, resp.Request.URL.Path, v.page)
	}
	return receiptOn(v.t, v.page)
}

var receiptPattern = regexp.MustCompile(`<strong id="receipt">(REF-[A-Z2-7]{16})</strong>`)

func receiptOn(t *testing.T, page string) string {
	t.Helper()
	m := receiptPattern.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no receipt on the confirmation page:\n%s", page)
	}
	return m[1]
}

// errorSummary is the error summary's links: "#id: message" each.
func errorSummary(page string) []string {
	doc, err := nethtml.Parse(strings.NewReader(page))
	if err != nil {
		return nil
	}
	var out []string
	var walk func(n *nethtml.Node, inSummary bool)
	walk = func(n *nethtml.Node, inSummary bool) {
		if n.Type == nethtml.ElementNode && htmltest.Attr(n, "id") == "error-summary" {
			inSummary = true
		}
		if inSummary && n.DataAtom == atom.A {
			out = append(out, htmltest.Attr(n, "href")+": "+htmltest.Text(n))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inSummary)
		}
	}
	walk(doc, false)
	return out
}

// connect is a connection to the test's register, to read what was
// stored; the caller closes it (waitDelivered polls through
// referralByReceipt, so a connection held until t ends would pile up).
func connect(t *testing.T) (context.Context, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, conn
}

// storedReferral is a referral as PostgreSQL holds it.
type storedReferral struct {
	personID                             *int64
	kind, name, org, email, phone, chan_ string
	reason, actor                        string
	accepted                             bool
	givenName, familyName, nhs           string
}

func referralByReceipt(t *testing.T, receipt string) (storedReferral, bool) {
	t.Helper()
	ctx, conn := connect(t)
	defer conn.Close(ctx)
	var r storedReferral
	err := conn.QueryRow(ctx, `
		select r.person_id, r.referrer_kind, r.referrer_name, r.referrer_organisation, r.referrer_email, r.referrer_phone,
		       r.channel, r.reason, r.received_by, r.accepted_at is not null,
		       coalesce(p.given_name, ''), coalesce(p.family_name, ''), coalesce(r.nhs_number_given, '')
		from referrals r left join people p on p.id = r.person_id where r.receipt = $1`, receipt,
	).Scan(&r.personID, &r.kind, &r.name, &r.org, &r.email, &r.phone, &r.chan_, &r.reason, &r.actor, &r.accepted,
		&r.givenName, &r.familyName, &r.nhs)
	if err == pgx.ErrNoRows {
		return r, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return r, true
}

// countReferrals counts referrals about a family name.
func countReferrals(t *testing.T, familyName string) int {
	t.Helper()
	ctx, conn := connect(t)
	defer conn.Close(ctx)
	var n int
	// Held referrals have no person yet: the identity check keeps the
	// referral's own details, so count through both.
	if err := conn.QueryRow(ctx, `
		select count(*) from referrals r left join people p on p.id = r.person_id
		where p.family_name = $1 or r.reason like '%' || $1 || '%'`, familyName).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitDelivered waits (with a deadline) until the referral's workflow has
// taken it in.
func waitDelivered(t *testing.T, receipt string) storedReferral {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		r, ok := referralByReceipt(t, receipt)
		if ok && r.accepted {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("referral %s not delivered to its workflow within a minute (recorded: %v)", receipt, ok)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func yearsAgo(y int) time.Time {
	return time.Now().UTC().AddDate(-y, 0, -3).Truncate(24 * time.Hour)
}

func TestEachReferrerWalksTheFormAndTheReferralArrives(t *testing.T) {
	_, srv := newPortal(t, nil)
	cases := []struct {
		name  string
		p     person
		words []string // on the pages for this referrer
	}{
		{"the person themself", person{kind: kindSelf, given: "Jo", family: "Portalself", dob: yearsAgo(19),
			nhs: "943 476 5919", postcode: "st4 1aa", council: "Stoke-on-Trent", diagnosis: "autism",
			reason: "Things are hard at home.\nI might have to go to hospital.", phone: "07700 900123", consent: "agrees"},
			[]string{"What is your date of birth?", "Do you agree to be on the register?"}},
		{"a parent of a child under 16", person{kind: kindFamily, referrer: "Pat Portalfamily", given: "Sam", family: "Portalfamily",
			dob: yearsAgo(11), postcode: "ST16 2AB", council: "other", other: "Shropshire", diagnosis: "both",
			reason: "School placement ending", mail: "pat@example.com", consent: "parent_agrees"},
			[]string{"What is their date of birth?", "a parent or guardian usually says yes", "understand what the register is and what it means", "Yes. I am their parent or guardian and I say yes"}},
		{"a professional", person{kind: kindProfessional, referrer: "Dr Ali Ahmed", organisation: "Hanley GP Surgery",
			given: "Chris", family: "Portalpro", dob: yearsAgo(34), postcode: "ST1 3EP", council: "Staffordshire",
			diagnosis: "learning_disability", reason: "Family carer in hospital", mail: "ali.ahmed@nhs.net", phone: "01782 123456",
			consent: "cannot_decide"},
			[]string{"What is their date of birth?", "best-interest decision", "Work email address"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newVisitor(t, srv)
			var seen strings.Builder
			v.walk(c.p)
			seen.WriteString(v.page)
			// Every page the walk showed, again, for the wording checks.
			for _, step := range []string{"date-of-birth", "contact", "consent"} {
				v.get("/refer/" + step)
				seen.WriteString(v.page)
			}
			for _, w := range c.words {
				if !strings.Contains(seen.String(), w) {
					t.Errorf("pages for %s never say %q", c.name, w)
				}
			}
			v.get("/refer/check")
			for _, want := range []string{c.p.given + " " + c.p.family, c.p.dob.Format("2 January 2006"), `href="/refer/consent?change=1"`} {
				if !strings.Contains(v.page, html.EscapeString(want)) && !strings.Contains(v.page, want) {
					t.Errorf("check page lacks %q", want)
				}
			}
			receipt := v.send(nil)
			if !strings.Contains(v.page, "within 5 working days") {
				t.Errorf("confirmation does not say when the team replies:\n%s", v.page)
			}
			r := waitDelivered(t, receipt)
			if r.chan_ != "portal" || r.kind != c.p.kind || r.actor != Actor {
				t.Errorf("referral recorded with channel %q, referrer kind %q, by %q; want portal, %s, %s", r.chan_, r.kind, r.actor, c.p.kind, Actor)
			}
			if r.givenName != c.p.given || r.familyName != c.p.family {
				t.Errorf("person recorded as %q %q", r.givenName, r.familyName)
			}
			if !strings.Contains(r.reason, "not recorded consent") || !strings.HasPrefix(r.reason, strings.Split(c.p.reason, "\n")[0]) {
				t.Errorf("reason kept as %q: want the reason, then the consent statement to confirm", r.reason)
			}
			if c.p.kind == kindProfessional && (r.org != c.p.organisation || r.email != c.p.mail) {
				t.Errorf("professional's organisation and email recorded as %q, %q", r.org, r.email)
			}
			if c.p.kind != kindSelf && r.name != c.p.referrer {
				t.Errorf("referrer's name recorded as %q", r.name)
			}
			person, err := cw.Store.Person(context.Background(), *r.personID)
			if err != nil {
				t.Fatal(err)
			}
			if person.Stage != register.Referred {
				t.Errorf("person's stage %q, want referred", person.Stage)
			}
			// The answers are gone from the cookie: the form starts afresh.
			v.get("/refer/check")
			if v.page == "" || strings.Contains(v.page, c.p.family) {
				t.Errorf("after sending, the answers are still shown")
			}
		})
	}
}

// events is the portal's counter for event.
func events(t *testing.T, p *Portal, event string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(p.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "event" && l.GetValue() == event {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
