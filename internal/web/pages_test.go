package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/register"
)

// TestPagesRenderForEachRole: every page answers a coordinator and a
// manager with a whole, well-formed NHS.UK page; a manager never sees a
// name, NHS number or date of birth; a signed-out visitor sees nothing.
func TestPagesRenderForEachRole(t *testing.T) {
	s := newStack(t)
	red := s.refer(t, "Ada", "Lovelace", "9434765919")
	amber := s.refer(t, "Grace", "Hopper", "4010232137")
	waiting := s.refer(t, "Mary", "Somerville", "9876543210")
	s.consentAndRate(t, red, register.Red)
	s.consentAndRate(t, amber, register.Amber)
	alert := s.openTask(t, red, register.TaskEscalationAlert)
	s.openTask(t, waiting, register.TaskConsentNeeded)

	paths := []string{
		"/", "/tasks", "/tasks?filter=mine", "/tasks?filter=unassigned", "/tasks?filter=overdue&kind=community_ctr",
		"/tasks/" + strconv.FormatInt(alert.ID, 10),
		"/people", "/people?rating=red", "/people?stage=referred", "/people?filter=review_overdue",
		"/people?filter=consent_lapsing", "/people?q=" + register.Reference(red), "/people?q=Lovelace",
		"/people/" + strconv.FormatInt(red, 10), "/people/" + register.Reference(amber),
	}
	for _, u := range []login.User{coordinator, manager} {
		for _, path := range paths {
			w := get(t, s.handler, &u, path)
			name := string(u.Role) + " " + path
			if w.Code != http.StatusOK {
				t.Errorf("%s: status %d, want 200:\n%s", name, w.Code, w.Body)
				continue
			}
			page := w.Body.String()
			checkWellFormed(t, name, page)
			if !strings.Contains(page, u.Name) || !strings.Contains(page, `action="/logout"`) {
				t.Errorf("%s: the header should name %s and offer Sign out", name, u.Name)
			}
			// (A manager's own search box repeats what they typed.)
			if u.IsManager() && !strings.Contains(path, "q=Lovelace") {
				for _, secret := range []string{"Lovelace", "Hopper", "9434765919", "4010232137", "1995"} {
					if strings.Contains(page, secret) {
						t.Errorf("%s: a manager's page shows %q", name, secret)
					}
				}
			}
		}
	}

	// The register's search form posts, so a name typed into it never sits
	// in a URL: a name search is answered in place; filters and a reference
	// come back as a link that can be paged.
	if page := get(t, s.handler, &coordinator, "/people").Body.String(); !strings.Contains(page, `<form method="post" action="/people" id="register-filters"`) {
		t.Errorf("the register's search form should post")
	}
	byName := post(t, s.handler, coordinator, "/people", url.Values{"q": {"Lovelace"}, "rating": {"red"}})
	if byName.Code != http.StatusOK || !strings.Contains(byName.Body.String(), "person-"+strconv.FormatInt(red, 10)) ||
		byName.Header().Get("Location") != "" {
		t.Errorf("a name search by POST: status %d, location %q; want the result in place", byName.Code, byName.Header().Get("Location"))
	}
	byFilter := post(t, s.handler, coordinator, "/people", url.Values{"rating": {"red"}, "q": {register.Reference(red)}})
	if byFilter.Code != http.StatusSeeOther || byFilter.Header().Get("Location") != "/people?q="+register.Reference(red)+"&rating=red" {
		t.Errorf("filters by POST: status %d, location %q; want a redirect to the link", byFilter.Code, byFilter.Header().Get("Location"))
	}
	if w := post(t, s.handler, manager, "/people", url.Values{"q": {"Lovelace"}}); w.Code != http.StatusSeeOther {
		t.Errorf("a manager's search (references only) by POST: status %d, want a redirect", w.Code)
	}

	// The dashboard counts what is there: one red, one amber, one waiting
	// for consent, one red alert not acknowledged, with working time shown.
	dash := get(t, s.handler, &manager, "/").Body.String()
	for _, want := range []string{
		`href="/people?rating=red">1<`, `href="/people?rating=amber">1<`, `id="late-alerts">1<`,
		`id="late-awaiting-consent">1<`, "of working time", `role="img"`, "<title id=\"trend-colours-title\">",
		"Red alerts each month", `id="trend-ctrs-table"`,
	} {
		if !strings.Contains(dash, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	// A colour is always named in text, never shown by colour alone.
	if !strings.Contains(dash, `<strong class="nhsuk-tag nhsuk-tag--red">Red</strong>`) {
		t.Error("the red tag should say Red")
	}

	// Coordinators see the person's identifiers and find them by name.
	person := get(t, s.handler, &coordinator, "/people/"+strconv.FormatInt(red, 10)).Body.String()
	for _, want := range []string{"9434765919", "Lovelace", "no crisis plan yet", "Red alert raised",
		// Every look is audited and shown: the manager's earlier ones too.
		`id="views-list"`, "<td class=\"nhsuk-table__cell\">Maya Manager (web)</td>", "web (record)"} {
		if !strings.Contains(person, want) {
			t.Errorf("coordinator's person page lacks %q", want)
		}
	}
	if byName := get(t, s.handler, &coordinator, "/people?q=lovelace").Body.String(); !strings.Contains(byName, `id="person-`+strconv.FormatInt(red, 10)+`"`) {
		t.Error("a coordinator's search by name should find the person")
	}

	// Signed out: nothing but the refusal.
	if w := get(t, s.handler, nil, "/"); w.Code != http.StatusUnauthorized || strings.Contains(w.Body.String(), "Lovelace") {
		t.Errorf("signed out: status %d, want 401", w.Code)
	}
	// Bad filters are named.
	if w := get(t, s.handler, &coordinator, "/people?rating=purple"); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "rating must be") {
		t.Errorf("a bad rating filter: status %d:\n%s", w.Code, w.Body)
	}
	// The design system is served by dsr itself, cached long.
	css := get(t, s.handler, &coordinator, "/assets/nhsuk-frontend.min.css")
	if css.Code != http.StatusOK || !strings.Contains(css.Header().Get("Cache-Control"), "immutable") || !strings.Contains(css.Header().Get("Content-Type"), "css") {
		t.Errorf("assets: status %d, headers %v", css.Code, css.Header())
	}
}

// TestTaskFormGoesThroughCasework: a coordinator's consent form becomes the
// workflow's Update, audited as them on the web; a second coordinator's
// form for the same task, and the same form sent again, are told who
// already did it and when, and nothing is recorded twice.
func TestTaskFormGoesThroughCasework(t *testing.T) {
	s := newStack(t)
	id := s.refer(t, "Ada", "Lovelace", "9434765919")
	task := s.openTask(t, id, register.TaskConsentNeeded)
	taskPath := "/tasks/" + strconv.FormatInt(task.ID, 10)

	alicePage := get(t, s.handler, &coordinator, taskPath).Body.String()
	bobPage := get(t, s.handler, &coordinator2, taskPath).Body.String()
	aliceForm := hiddenFields(t, alicePage, "record_consent-form")
	bobForm := hiddenFields(t, bobPage, "record_consent-form")
	if aliceForm.Get("form_token") == "" || aliceForm.Get("form_token") == bobForm.Get("form_token") {
		t.Fatalf("each rendered form needs its own one-time token: %q and %q", aliceForm.Get("form_token"), bobForm.Get("form_token"))
	}
	today := s.cw.Today()
	fill := func(f url.Values) url.Values {
		f.Set("basis", "self")
		f.Set("decided_on-day", strconv.Itoa(today.Day()))
		f.Set("decided_on-month", strconv.Itoa(int(today.Month())))
		f.Set("decided_on-year", strconv.Itoa(today.Year()))
		return f
	}

	w := post(t, s.handler, coordinator, taskPath, fill(aliceForm))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/tasks?done="+strconv.FormatInt(task.ID, 10) {
		t.Fatalf("consent form: status %d, Location %q, want 303 to the inbox:\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	p, err := s.st.Person(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Stage != register.Active {
		t.Errorf("stage %s after consent, want active", p.Stage)
	}
	banner := get(t, s.handler, &coordinator, w.Header().Get("Location")).Body.String()
	if !strings.Contains(banner, `id="success-banner"`) || !strings.Contains(banner, "consent recorded") {
		t.Errorf("the inbox should say what was just done:\n%s", banner)
	}

	// Bob's form, rendered before Alice's went in, and Alice's form sent
	// again: both are told who did it.
	for name, send := range map[string]func() (int, string){
		"another coordinator's form": func() (int, string) {
			w := post(t, s.handler, coordinator2, taskPath, fill(bobForm))
			return w.Code, w.Body.String()
		},
		"the same form sent again": func() (int, string) {
			w := post(t, s.handler, coordinator, taskPath, fill(aliceForm))
			return w.Code, w.Body.String()
		},
	} {
		code, body := send()
		if code != http.StatusConflict || !strings.Contains(body, "Already done by Alice Coordinator (web) at ") {
			t.Errorf("%s: status %d, want 409 saying \"Already done by Alice Coordinator (web) at …\":\n%s", name, code, body)
		}
		checkWellFormed(t, name, body)
	}
	history, err := s.st.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	recorded := 0
	for _, e := range history {
		if e.Action == "consent_recorded" {
			recorded++
			if e.Actor != "Alice Coordinator (web)" {
				t.Errorf("consent audited as %q, want the signed-in coordinator on the web", e.Actor)
			}
		}
	}
	if recorded != 1 {
		t.Errorf("consent recorded %d times, want once", recorded)
	}

	// Rate red from the review task, then acknowledge the alert: the same
	// casework methods as Slack's modal and button.
	review := s.openTask(t, id, register.TaskReviewDue)
	reviewPath := "/tasks/" + strconv.FormatInt(review.ID, 10)
	form := hiddenFields(t, get(t, s.handler, &coordinator, reviewPath).Body.String(), "rate-form")
	form.Set("rating", "red")
	form.Set("rationale", "placement breaking down")
	if w := post(t, s.handler, coordinator, reviewPath, form); w.Code != http.StatusSeeOther {
		t.Fatalf("rate form: status %d:\n%s", w.Code, w.Body)
	}
	alert := s.openTask(t, id, register.TaskEscalationAlert)
	alertPath := "/tasks/" + strconv.FormatInt(alert.ID, 10)
	form = hiddenFields(t, get(t, s.handler, &coordinator, alertPath).Body.String(), "acknowledge-form")
	if w := post(t, s.handler, coordinator, alertPath, form); w.Code != http.StatusSeeOther {
		t.Fatalf("acknowledge form: status %d:\n%s", w.Code, w.Body)
	}
	closed, err := s.st.Task(context.Background(), alert.ID)
	if err != nil {
		t.Fatal(err)
	}
	if closed.Status != register.TaskStatusDone || closed.ClosedBy != "Alice Coordinator (web)" {
		t.Errorf("alert task %s, closed by %q: want done by the web coordinator", closed.Status, closed.ClosedBy)
	}
	esc, err := s.st.Escalations(context.Background(), id)
	if err != nil || len(esc) != 1 || esc[0].AcknowledgedBy != "Alice Coordinator (web)" {
		t.Errorf("escalations %+v (%v): want one acknowledged by the web coordinator", esc, err)
	}
}

// TestTaskFormErrors: a form that cannot be recorded says which field and
// how to fix it, in the NHS.UK error summary, and records nothing; a
// manager cannot act.
func TestTaskFormErrors(t *testing.T) {
	s := newStack(t)
	id := s.refer(t, "Ada", "Lovelace", "9434765919")
	task := s.openTask(t, id, register.TaskConsentNeeded)
	taskPath := "/tasks/" + strconv.FormatInt(task.ID, 10)
	blank := func() url.Values {
		return hiddenFields(t, get(t, s.handler, &coordinator, taskPath).Body.String(), "record_consent-form")
	}

	for _, c := range []struct {
		name   string
		fill   func(url.Values)
		href   string
		saying string
	}{
		{"a date that does not exist", func(f url.Values) {
			f.Set("basis", "self")
			f.Set("decided_on-day", "31")
			f.Set("decided_on-month", "2")
			f.Set("decided_on-year", "2026")
		}, "#record_consent-decided_on", "Enter a real date"},
		{"no basis", func(f url.Values) {
			today := s.cw.Today()
			f.Set("decided_on-day", strconv.Itoa(today.Day()))
			f.Set("decided_on-month", strconv.Itoa(int(today.Month())))
			f.Set("decided_on-year", strconv.Itoa(today.Year()))
		}, "#record_consent-basis", "Basis of consent:"},
	} {
		f := blank()
		c.fill(f)
		w := post(t, s.handler, coordinator, taskPath, f)
		body := w.Body.String()
		if w.Code != http.StatusBadRequest || !strings.Contains(body, `class="nhsuk-error-summary"`) ||
			!strings.Contains(body, fmt.Sprintf(`<a href="%s">%s`, c.href, c.saying)) {
			t.Errorf("%s: status %d, want 400 with an error summary linking %s saying %q:\n%s", c.name, w.Code, c.href, c.saying, body)
		}
		checkWellFormed(t, c.name, body)
	}
	if open, err := s.st.Task(context.Background(), task.ID); err != nil || open.Status != register.TaskStatusOpen {
		t.Errorf("after refused forms the task is %s (%v), want still open", open.Status, err)
	}

	if w := post(t, s.handler, manager, taskPath, blank()); w.Code != http.StatusForbidden {
		t.Errorf("a manager's form: status %d, want 403", w.Code)
	}
	// A manager sees the task but no forms.
	if page := get(t, s.handler, &manager, taskPath).Body.String(); strings.Contains(page, `name="form_token"`) {
		t.Error("a manager's task page should offer no actions")
	}
}
