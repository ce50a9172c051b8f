package main

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEndToEndPortal: a parent fills the public self-referral portal in on
// `dsr serve` (no sign-in), and the referral reaches the register like any
// other: recorded with channel portal, the person's workflow started, a
// consent_needed task for the coordinators. Nothing personal reaches the
// logs.
func TestEndToEndPortal(t *testing.T) {
	s := startStack(t, map[string]string{"DSR_LOG_LEVEL": "info", "DSR_PORTAL_REPLY_DAYS": "3"})
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: time.Minute}
	var page string
	tokenField := regexp.MustCompile(`name="token" value="([^"]+)"`)
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := browser.Get(s.api + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page = string(b)
		return resp
	}
	answer := func(step string, form url.Values) {
		t.Helper()
		if resp := get("/refer/" + step); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/refer/"+step {
			t.Fatalf("GET /refer/%s: %d at %s", step, resp.StatusCode, resp.Request.URL.Path)
		}
		m := tokenField.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no form token on /refer/%s", step)
		}
		form.Set("token", html.UnescapeString(m[1]))
		resp, err := browser.PostForm(s.api+"/refer/"+step, form)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page = string(b)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /refer/%s: %d\n%s", step, resp.StatusCode, page)
		}
	}

	if resp := get("/refer"); resp.StatusCode != http.StatusOK || !strings.Contains(page, "Ask the DSR team for support") {
		t.Fatalf("GET /refer: %d, want the portal's start page, public", resp.StatusCode)
	}
	dob := time.Now().UTC().AddDate(-13, -2, 0)
	answer("who", url.Values{"who": {"family"}})
	answer("your-name", url.Values{"referrer-name": {"Pat Portalparent"}})
	answer("name", url.Values{"given-name": {"Robin"}, "family-name": {"Portalchild"}})
	answer("date-of-birth", url.Values{"dob-day": {fmt.Sprint(dob.Day())}, "dob-month": {fmt.Sprint(int(dob.Month()))}, "dob-year": {fmt.Sprint(dob.Year())}})
	answer("nhs-number", url.Values{"nhs-number": {"943 476 5919"}})
	answer("postcode", url.Values{"postcode": {"ST4 1AA"}})
	answer("council", url.Values{"council": {"Stoke-on-Trent"}})
	answer("diagnosis", url.Values{"diagnosis": {"both"}})
	answer("reason", url.Values{"reason": {"Robin's school placement is ending"}})
	answer("contact", url.Values{"phone": {"07700 900123"}})
	answer("consent", url.Values{"consent": {"parent_agrees"}})
	if !strings.Contains(page, "Check your answers") {
		t.Fatalf("after the last question, not the check page:\n%s", page)
	}
	answer("check", url.Values{})
	m := regexp.MustCompile(`<strong id="receipt">(REF-[A-Z2-7]{16})</strong>`).FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, "within 3 working days") {
		t.Fatalf("confirmation without a receipt or DSR_PORTAL_REPLY_DAYS:\n%s", page)
	}

	// The coordinators see the referral: a person referred, a
	// consent_needed task, the referral's channel portal.
	var id int
	s.eventually("the portal's referral on the register", func() bool {
		r := s.call("GET", "/api/v1/people?stage=referred", coordToken, nil)
		people, _ := r.Body["people"].([]any)
		if len(people) == 0 {
			return false
		}
		p, _ := people[0].(map[string]any)
		f, _ := p["id"].(float64)
		id = int(f)
		return id != 0
	})
	s.eventually("a consent_needed task", func() bool {
		return strings.Contains(s.call("GET", fmt.Sprintf("/api/v1/tasks?person_id=%d&status=open", id), coordToken, nil).Raw, `"consent_needed"`)
	})
	export := s.call("GET", fmt.Sprintf("/api/v1/people/%d/export", id), coordToken, nil).expect(t, http.StatusOK, "export").Raw
	for _, want := range []string{`"channel":"portal"`, `"Pat Portalparent"`, "not recorded consent"} {
		if !strings.Contains(strings.ReplaceAll(export, `": "`, `":"`), want) {
			t.Errorf("the referral as recorded lacks %s:\n%s", want, export)
		}
	}
	metrics := s.call("GET", "/metrics", "", nil).Raw
	if !strings.Contains(metrics, `dsr_portal_events_total{event="referral"} 1`) {
		t.Errorf("/metrics does not count the portal referral")
	}
	logs := s.served.logs.String()
	if !strings.Contains(logs, "portal referral received") {
		t.Errorf("no log line for the portal referral")
	}
	for _, personal := range []string{"Portalchild", "Portalparent", "9434765919", "943 476 5919", "07700", dob.Format("2006-01-02")} {
		if strings.Contains(logs, personal) {
			t.Errorf("the logs hold %q", personal)
		}
	}
}
