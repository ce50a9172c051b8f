package portal

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Each bad answer is refused with the NHS.UK error summary naming the
// field and the fix, linked to the input, and the same question again.
func TestEachBadAnswerIsNamedWithItsFix(t *testing.T) {
	_, srv := newPortal(t, nil)
	cases := []struct {
		step, kind string
		form       url.Values
		wantID     string
		wantMsg    string
	}{
		{"who", "", url.Values{}, "who", "Choose who is filling in this form"},
		{"your-name", kindFamily, url.Values{"referrer-name": {"  "}}, "referrer-name", "Enter your name"},
		{"organisation", kindProfessional, url.Values{}, "organisation", "Enter the name of the organisation you work for"},
		{"name", kindFamily, url.Values{"family-name": {"Smith"}}, "given-name", "Enter their first name"},
		{"name", kindSelf, url.Values{"given-name": {"Jo"}}, "family-name", "Enter your last name"},
		{"name", kindSelf, url.Values{"given-name": {"Jo"}, "family-name": {strings.Repeat("x", 101)}}, "family-name", "Last name must be 100 characters or fewer"},
		{"date-of-birth", kindSelf, url.Values{}, "dob", "Enter your date of birth, like 27 3 2007"},
		{"date-of-birth", kindSelf, url.Values{"dob-day": {"31"}, "dob-month": {"2"}, "dob-year": {"2001"}}, "dob", "Date of birth must be a real date, like 27 3 2007"},
		{"date-of-birth", kindSelf, url.Values{"dob-day": {"3"}, "dob-year": {"2001"}}, "dob", "Date of birth must include a month"},
		{"date-of-birth", kindSelf, url.Values{"dob-day": {"1"}, "dob-month": {"1"}, "dob-year": {"2999"}}, "dob", "Date of birth must be in the past"},
		{"nhs-number", kindSelf, url.Values{"nhs-number": {"12345"}}, "nhs-number", "NHS number must be 10 numbers, like 485 777 3456. Leave it empty if you do not know it"},
		{"nhs-number", kindSelf, url.Values{"nhs-number": {"943 476 5910"}}, "nhs-number", "Check the NHS number: it is not a real one. Leave it empty if you do not know it"},
		{"postcode", kindFamily, url.Values{}, "postcode", "Enter their postcode, like ST4 1AA"},
		{"postcode", kindSelf, url.Values{"postcode": {"not a postcode"}}, "postcode", "Enter a real postcode, like ST4 1AA"},
		{"council", kindSelf, url.Values{}, "council", "Choose your council area, or choose somewhere else"},
		{"council", kindSelf, url.Values{"council": {"other"}}, "council-other", "Enter the name of your council"},
		{"diagnosis", kindSelf, url.Values{"diagnosis": {"flu"}}, "diagnosis", "Choose learning disability, autism or both"},
		{"reason", kindFamily, url.Values{"reason": {" "}}, "reason", "Tell us why they need support now"},
		{"reason", kindSelf, url.Values{"reason": {strings.Repeat("é", 1001)}}, "reason", "Use 1000 characters or fewer. You have used 1001"},
		{"contact", kindSelf, url.Values{}, "phone", "Enter a phone number or an email address, so the team can contact you"},
		{"contact", kindSelf, url.Values{"email": {"not-an-email"}}, "email", "Enter an email address, like name@example.com"},
		{"contact", kindSelf, url.Values{"phone": {"call me"}}, "phone", "Enter a phone number, like 01782 123456"},
		{"contact", kindProfessional, url.Values{"phone": {"01782 123456"}}, "email", "Enter your work email address"},
	}
	for _, c := range cases {
		t.Run(c.step+"/"+c.wantID+"/"+c.wantMsg, func(t *testing.T) {
			v := newVisitor(t, srv)
			v.get("/refer/who")
			if c.kind != "" {
				// Answer "who" so the question is asked and worded for them,
				// and everything before the step so it is shown.
				v.post("/refer/who", url.Values{"who": {c.kind}})
				v.fillUpTo(c.step, c.kind)
			}
			v.get("/refer/" + c.step)
			resp := v.post("/refer/"+c.step, c.form)
			if resp.StatusCode != http.StatusBadRequest || resp.Request.URL.Path != "/refer/"+c.step {
				t.Fatalf("status %d at %s, want 400 on the same question", resp.StatusCode, resp.Request.URL.Path)
			}
			got := errorSummary(v.page)
			want := "#" + c.wantID + ": " + c.wantMsg
			found := false
			for _, g := range got {
				found = found || g == want
			}
			if !found {
				t.Errorf("error summary %q, want it to hold %q", got, want)
			}
			if !strings.Contains(v.page, `<title>Error: `) {
				t.Error("the title does not start with Error:")
			}
			if !strings.Contains(v.page, `id="`+c.wantID+`-error"`) {
				t.Errorf("no error message by the field %s", c.wantID)
			}
			if !strings.Contains(v.page, `id="`+c.wantID+`"`) {
				t.Errorf("the summary links to #%s, which is not on the page", c.wantID)
			}
		})
	}
}

// fillUpTo answers every question before step with good answers.
func (v *visitor) fillUpTo(step, kind string) {
	v.t.Helper()
	good := map[string]url.Values{
		"your-name":     {"referrer-name": {"Pat Helper"}},
		"organisation":  {"organisation": {"Hanley GP Surgery"}},
		"name":          {"given-name": {"Test"}, "family-name": {"Bademail"}},
		"date-of-birth": {"dob-day": {"1"}, "dob-month": {"2"}, "dob-year": {"2001"}},
		"nhs-number":    {"nhs-number": {""}},
		"postcode":      {"postcode": {"ST4 1AA"}},
		"council":       {"council": {"Staffordshire"}},
		"diagnosis":     {"diagnosis": {"autism"}},
		"reason":        {"reason": {"Help"}},
		"contact":       {"phone": {"01782 123456"}, "email": {"pat@example.com"}},
	}
	a := answers{Kind: kind}
	for i := 1; i < stepIndex(step); i++ {
		s := steps[i]
		if !s.Applies(a) {
			continue
		}
		v.get("/refer/" + s.Slug)
		v.post("/refer/"+s.Slug, good[s.Slug])
	}
}

// Nothing is kept unless every question is answered: the check page and
// sending send the visitor to the first one not answered.
func TestCheckAndSendGoToTheFirstQuestionNotAnswered(t *testing.T) {
	_, srv := newPortal(t, nil)
	v := newVisitor(t, srv)
	v.get("/refer/who")
	v.post("/refer/who", url.Values{"who": {kindSelf}})
	if resp := v.get("/refer/check"); resp.Request.URL.Path != "/refer/name" {
		t.Fatalf("check page with answers missing went to %s, want /refer/name", resp.Request.URL.Path)
	}
	if resp := v.get("/refer/consent"); resp.Request.URL.Path != "/refer/name" {
		t.Fatalf("consent before the date of birth went to %s, want /refer/name", resp.Request.URL.Path)
	}
	if resp := v.post("/refer/check", nil); resp.Request.URL.Path != "/refer/name" {
		t.Fatalf("sending with answers missing went to %s, want /refer/name", resp.Request.URL.Path)
	}
}

// A form filled in by a robot (the hidden field filled) gets the same
// confirmation and a receipt of the same shape, and nothing is recorded.
func TestHoneypotIsQuietlyDropped(t *testing.T) {
	p, srv := newPortal(t, nil)
	v := newVisitor(t, srv)
	v.walk(person{kind: kindSelf, given: "Robo", family: "Honeypotted", dob: yearsAgo(30), postcode: "ST4 1AA",
		council: "Staffordshire", diagnosis: "autism", reason: "spam", phone: "07700 900123", consent: "agrees"})
	receipt := v.send(url.Values{"website": {"http://spam.example"}})
	if _, ok := referralByReceipt(t, receipt); ok {
		t.Fatalf("a honeypot submission was recorded as %s", receipt)
	}
	if n := countReferrals(t, "Honeypotted"); n != 0 {
		t.Fatalf("%d referrals recorded from a honeypot submission", n)
	}
	if got := events(t, p, "honeypot"); got != 1 {
		t.Errorf("honeypot counter %v, want 1", got)
	}
	if !strings.Contains(v.page, "within 5 working days") {
		t.Error("the robot's confirmation differs from a person's")
	}
	// Filled on an earlier page, it is remembered to the end.
	v2 := newVisitor(t, srv)
	v2.get("/refer/who")
	v2.post("/refer/who", url.Values{"who": {kindSelf}, "website": {"x"}})
	v2.fillUpTo("check", kindSelf)
	v2.get("/refer/consent")
	v2.post("/refer/consent", url.Values{"consent": {"agrees"}})
	v2.send(nil)
	if n := countReferrals(t, "Bademail"); n != 0 {
		t.Fatalf("%d referrals recorded from a form whose first page filled the honeypot", n)
	}
}

// Sending the check page twice (a double click; the second sent before the
// first answer came back) is one referral with one receipt.
func TestDoubleSubmitIsOneReferral(t *testing.T) {
	_, srv := newPortal(t, nil)
	v := newVisitor(t, srv)
	v.walk(person{kind: kindFamily, referrer: "Kim Twice", given: "Lee", family: "Doubleclick", dob: yearsAgo(22),
		postcode: "ST4 1AA", council: "Staffordshire", diagnosis: "autism", reason: "crisis", phone: "07700 900123", consent: "agrees"})
	checkPage := v.page
	u, _ := url.Parse(srv.URL + "/refer/check")
	before := v.client.Jar.Cookies(u)
	first := v.send(nil)
	// The second click carries the cookies the browser had when it was
	// sent: the ones before the first answer.
	jar := v.client.Jar
	for _, c := range jar.Cookies(u) {
		jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: "", MaxAge: -1, Path: "/"}})
	}
	for _, c := range before {
		c.Path = "/"
		jar.SetCookies(u, []*http.Cookie{c})
	}
	v.page = checkPage
	second := v.send(nil)
	if first != second {
		t.Fatalf("two clicks gave receipts %s and %s, want one", first, second)
	}
	waitDelivered(t, first)
	if n := countReferrals(t, "Doubleclick"); n != 1 {
		t.Fatalf("%d referrals recorded for a double click, want 1", n)
	}
	// Sent once more from the confirmation's cookies: still the same.
	v.page = checkPage
	if third := v.send(nil); third != first {
		t.Fatalf("the page sent again after the confirmation gave %s, want %s", third, first)
	}
}

// Whoever the referral is about — someone new, someone already referred,
// someone whose NHS number belongs to another name (held for an identity
// check) — the confirmation is the same page with a different receipt.
func TestConfirmationIsTheSameWhoeverItIsAbout(t *testing.T) {
	_, srv := newPortal(t, nil)
	base := person{kind: kindSelf, given: "Alex", family: "Sameshape", dob: yearsAgo(25), nhs: "401 023 2137",
		postcode: "ST4 1AA", council: "Staffordshire", diagnosis: "autism", reason: "help", phone: "07700 900123", consent: "agrees"}
	mismatch := base
	mismatch.given, mismatch.family = "Morgan", "Othername"
	var pages []string
	var receipts []string
	for _, p := range []person{base, base, mismatch} {
		v := newVisitor(t, srv)
		v.walk(p)
		r := v.send(nil)
		receipts = append(receipts, r)
		pages = append(pages, strings.ReplaceAll(v.page, r, "REF-X"))
		if _, ok := referralByReceipt(t, r); !ok {
			t.Fatalf("referral %s not recorded", r)
		}
	}
	if pages[0] != pages[1] || pages[0] != pages[2] {
		t.Error("the confirmation differs between a new person, a known one and one held for an identity check")
	}
	if receipts[0] == receipts[1] || receipts[1] == receipts[2] {
		t.Errorf("receipts %v repeat", receipts)
	}
	held, _ := referralByReceipt(t, receipts[2])
	if held.personID != nil {
		t.Errorf("a referral whose NHS number is someone else's was filed against person %d, want it held", *held.personID)
	}
}

func TestFormTokenAndStateAreRequired(t *testing.T) {
	p, srv := newPortal(t, nil)
	v := newVisitor(t, srv)
	v.get("/refer/who")
	v.page = `name="token" value="forged"`
	if resp := v.post("/refer/who", url.Values{"who": {kindSelf}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a post with the wrong form token: %d, want 403", resp.StatusCode)
	}
	if got := events(t, p, "bad_token"); got != 1 {
		t.Errorf("bad_token counter %v, want 1", got)
	}
	stranger := newVisitor(t, srv) // no cookie at all: a post from another site
	stranger.page = `name="token" value="anything"`
	if resp := stranger.post("/refer/check", nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(stranger.page, "timed out") {
		t.Fatalf("a post without the portal's cookie: %d, want 400 saying the answers timed out", resp.StatusCode)
	}
	// A cookie sealed under another key is no state at all.
	_, other := newPortal(t, func(d *Deps) { d.Key = DeriveKey([]byte("another key, another deployment!")) })
	v2 := newVisitor(t, other)
	v2.get("/refer/who")
	u, _ := url.Parse(srv.URL)
	ou, _ := url.Parse(other.URL)
	v.client.Jar.SetCookies(u, v2.client.Jar.Cookies(ou))
	v.page = v2.page
	if resp := v.post("/refer/who", url.Values{"who": {kindSelf}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a cookie from another key: %d, want 400", resp.StatusCode)
	}
}

func TestTooLargeBodyIsRefused(t *testing.T) {
	p, srv := newPortal(t, nil)
	v := newVisitor(t, srv)
	v.get("/refer/reason")
	big := url.Values{"reason": {strings.Repeat("a", MaxBody+1)}}
	if resp := v.post("/refer/who", big); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a %d-byte body: %d, want 413", MaxBody+1, resp.StatusCode)
	}
	// Without a Content-Length (chunked), it is stopped while read.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/refer/who", io_multiReader("token=x&reason=", strings.Repeat("b", MaxBody+1)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp := v.do(req); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a chunked body over the limit: %d, want 413", resp.StatusCode)
	}
	if got := events(t, p, "too_large"); got != 2 {
		t.Errorf("too_large counter %v, want 2", got)
	}
}

func TestRateLimitsPerClient(t *testing.T) {
	c := &clock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	p, srv := newPortal(t, func(d *Deps) { d.Now, d.PagesPerMinute, d.SubmissionsPerHour = c.Now, 3, 1 })
	v := newVisitor(t, srv)
	for i := 0; i < 3; i++ {
		if resp := v.get("/refer"); resp.StatusCode != http.StatusOK {
			t.Fatalf("page %d: %d", i+1, resp.StatusCode)
		}
	}
	resp := v.get("/refer")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(v.page, "Please wait and try again") {
		t.Fatalf("the fourth page in a minute: %d (Retry-After %q), want 429 with a plain page", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Another client is not held up by this one.
	if resp := newVisitor(t, srv).get("/refer"); resp.StatusCode != http.StatusOK {
		t.Fatalf("another client: %d", resp.StatusCode)
	}
	c.Add(20 * time.Second) // one page's worth of tokens back
	if resp := v.get("/refer"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after waiting: %d", resp.StatusCode)
	}
	if got := events(t, p, "rate_limited_pages"); got != 1 {
		t.Errorf("rate_limited_pages counter %v, want 1", got)
	}

	// Submissions: one an hour here. The pages are let through freely.
	p2, srv2 := newPortal(t, func(d *Deps) { d.Now, d.PagesPerMinute, d.SubmissionsPerHour = c.Now, 1000, 1 })
	sender := newVisitor(t, srv2)
	who := person{kind: kindSelf, given: "Rae", family: "Ratelimited", dob: yearsAgo(40), postcode: "ST4 1AA",
		council: "Staffordshire", diagnosis: "autism", reason: "help", phone: "07700 900123", consent: "agrees"}
	sender.walk(who)
	sender.send(nil)
	sender.walk(who)
	if resp := sender.post("/refer/check", nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a second referral within the hour: %d, want 429", resp.StatusCode)
	}
	if n := countReferrals(t, "Ratelimited"); n != 1 {
		t.Fatalf("%d referrals recorded, want 1", n)
	}
	if got := events(t, p2, "rate_limited_submissions"); got != 1 {
		t.Errorf("rate_limited_submissions counter %v, want 1", got)
	}
	c.Add(time.Hour)
	sender.get("/refer/check")
	if resp := sender.post("/refer/check", nil); resp.Request.URL.Path != "/refer/sent" {
		t.Fatalf("after an hour the kept answers could not be sent: %d at %s", resp.StatusCode, resp.Request.URL.Path)
	}
}

// Every page is public, has one h1 and the security headers, and keeps
// answers out of URLs.
func TestPagesAreWellFormed(t *testing.T) {
	_, srv := newPortal(t, nil)
	v := newVisitor(t, srv)
	v.walk(person{kind: kindFamily, referrer: "Val Pages", given: "Noor", family: "Wellformed", dob: yearsAgo(15),
		postcode: "ST4 1AA", council: "Staffordshire", diagnosis: "autism", reason: "help", mail: "val@example.com", consent: "young_person_agrees"})
	for _, path := range []string{"/refer", "/refer/who", "/refer/your-name", "/refer/name", "/refer/date-of-birth", "/refer/nhs-number",
		"/refer/postcode", "/refer/council", "/refer/diagnosis", "/refer/reason", "/refer/contact", "/refer/consent", "/refer/check", "/refer/nowhere"} {
		resp := v.get(path)
		if resp.Request.URL.Path != path {
			t.Errorf("%s went to %s", path, resp.Request.URL.Path)
		}
		if n := strings.Count(v.page, "<h1"); n != 1 {
			t.Errorf("%s has %d h1s, want 1", path, n)
		}
		for _, lm := range []string{`role="banner"`, `<main`, `role="contentinfo"`, `class="nhsuk-skip-link"`} {
			if !strings.Contains(v.page, lm) {
				t.Errorf("%s lacks %s", path, lm)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if path != "/refer/nowhere" && resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
		if strings.Contains(v.page, "staff") || strings.Contains(v.page, "Sign out") {
			t.Errorf("%s shows staff navigation", path)
		}
	}
}

func io_multiReader(a, b string) *strings.Reader { return strings.NewReader(a + b) }
