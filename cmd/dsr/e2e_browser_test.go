package main

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/dsr-register/dsr/internal/slack/slackfake"
)

// TestEndToEndBrowser drives headless Chromium over the real stack (`dsr
// serve`, Temporal dev server, PostgreSQL, the local OpenID provider, Slack
// on the Slack test server): sign-in through the provider's form, every
// page in browserPages checked with axe-core for WCAG 2.2 AA, a task acted
// on from the inbox with Slack's message edited, the same form sent again
// told who already did it, a form with a missing field, a form without its
// CSRF token refused, the inbox flow by keyboard alone, the manager's view,
// the self-referral portal from its first page to its receipt, and
// sign-out. Screenshots go to the test's temporary directory and to
// DSR_SCREENSHOTS.
func TestEndToEndBrowser(t *testing.T) {
	axe := browserTools(t)
	f := slackfake.New(t)
	s := startStackWithLogin(t, slackEnv(f, nil))
	today := s.today()

	// The register, through the API: three people referred (each with a
	// consent_needed task) and one on the register rated red, so the pages
	// show tags, an escalation and a timeline.
	refer := func(given, family, dob, nhs string) (person, task int64) {
		t.Helper()
		r := s.call("POST", "/api/v1/referrals", coordToken, referral(given, family, dob, nhs)).expect(t, 201, "referral of "+given)
		person = int64(r.Body["person_id"].(float64))
		return person, s.openTask(person, "consent_needed")
	}
	inboxPerson, inboxTask := refer("Ada", "Lovelace", "1990-03-01", "9434765919")
	keyboardPerson, keyboardTask := refer("Grace", "Hopper", "1991-12-09", "9434765870")
	_, errorTask := refer("Alan", "Turing", "1992-06-23", "")
	red, _ := refer("Mary", "Somerville", "1993-12-26", "")
	s.call("POST", fmt.Sprintf("/api/v1/people/%d/consent", red), coordToken, map[string]any{"basis": "self", "decided_on": today}).expect(t, 200, "consent")
	s.call("POST", fmt.Sprintf("/api/v1/people/%d/rating", red), coordToken, map[string]any{"rating": "red", "rationale": "placement breaking down"}).expect(t, 200, "red rating")
	prompt := s.slackPrompt(f, inboxTask)

	b := newBrowser(t, s, axe, 4*time.Minute)
	path := strings.NewReplacer("{person}", strconv.FormatInt(red, 10), "{task}", strconv.FormatInt(errorTask, 10))

	// Signed out, the dashboard sends a visitor to sign in.
	visitor := b.newTab("visitor")
	visitor.open("/")
	if u := visitor.url(); !strings.HasPrefix(u, s.Issuer) {
		t.Fatalf("signed out, / ended at %s, want the provider's sign-in at %s", u, s.Issuer)
	}

	// Sign in through the provider's form, then every page, with axe.
	coordinator := b.newTab("coordinator")
	coordinator.signIn(s.Coordinator, "Dev Coordinator (coordinator)")
	manager := b.newTab("manager")
	manager.signIn(s.Manager, "Dev Manager (manager)")
	tabs := map[string]*tab{asCoordinator: coordinator, asManager: manager, asVisitor: visitor}
	for _, p := range browserPages {
		tb := tabs[p.As]
		tb.open(path.Replace(p.Path))
		tb.expectHeading(p.Name, p.Heading)
		tb.checkAccessibility(p.Name)
		if p.Screenshot {
			tb.screenshot(p.Name)
		}
	}

	t.Run("inbox: act on a task, Slack edited, the stale form told who did it", func(t *testing.T) {
		tb := coordinator
		tb.open("/tasks")
		tb.navigation("open the task from the inbox", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/tasks/%d"]`, inboxTask))))
		tb.expectHeading("the task", "Consent")
		// The same page open in a second tab: its form goes stale.
		stale := tb.beside("coordinator, second tab")
		stale.open(fmt.Sprintf("/tasks/%d", inboxTask))
		stale.do("see the form", chromedp.WaitVisible(chromedp.ID("record_consent-submit")))

		tb.do("fill in the consent form",
			chromedp.Click(chromedp.ID("record_consent-basis")),
			chromedp.SendKeys(chromedp.ID("record_consent-notes"), "Agreed at the home visit"))
		if code := tb.navigation("record consent", chromedp.Click(chromedp.ID("record_consent-submit"))); code != http.StatusOK {
			t.Fatalf("recording consent: status %d at %s:\n%.1500s", code, tb.url(), tb.text())
		}
		tb.do("see the success banner", chromedp.WaitVisible(chromedp.ID("success-banner")))
		tb.checkAccessibility("inbox with the success banner")
		if stage := s.call("GET", fmt.Sprintf("/api/v1/people/%d", inboxPerson), managerToken, nil).Body["stage"]; stage != "active" {
			t.Errorf("after consent from the inbox the person's stage is %v, want active", stage)
		}
		s.eventually("Slack's prompt edited to its outcome", func() bool {
			for _, c := range f.Calls() {
				if c.Method == "chat.update" && c.TS == prompt.TS && strings.Contains(c.Blocks, "Dev Coordinator") {
					return !strings.Contains(c.Blocks, "dsr:record_consent")
				}
			}
			return false
		})

		// The stale tab sends the same form: nothing recorded, and told who
		// did it and when.
		if code := stale.navigation("send the stale form", chromedp.Click(chromedp.ID("record_consent-submit"))); code != http.StatusConflict {
			t.Errorf("the stale form: status %d, want 409", code)
		}
		stale.do("see the already-done message", chromedp.WaitVisible(chromedp.ID("already-done")))
		if txt := stale.text(); !regexp.MustCompile(`Already done by Dev Coordinator[^\n]* at \d`).MatchString(txt) {
			t.Errorf("the stale form's page does not say who did it and when:\n%.1500s", txt)
		}
		stale.checkAccessibility("a stale form")
	})

	t.Run("inbox: a missing field in the error summary; a form without its CSRF token refused", func(t *testing.T) {
		tb := coordinator
		tb.open(fmt.Sprintf("/tasks/%d", errorTask))
		// No basis chosen.
		if code := tb.navigation("send consent without a basis", chromedp.Click(chromedp.ID("record_consent-submit"))); code != http.StatusBadRequest {
			t.Errorf("consent without a basis: status %d, want 400", code)
		}
		tb.do("see the error summary", chromedp.WaitVisible(chromedp.ID("error-summary")))
		if txt := tb.text(); !strings.Contains(txt, "Basis of consent") {
			t.Errorf("the error summary does not name the field:\n%.1500s", txt)
		}
		tb.checkAccessibility("a form with a missing field")

		// The same form with its CSRF token taken out is refused before
		// any page runs.
		n := eval[int](tb, "take out the CSRF token", `(function () {
			const f = document.getElementById('record_consent-form');
			const tokens = f.querySelectorAll('input[name="csrf_token"]');
			tokens.forEach(e => e.remove());
			f.querySelector('#record_consent-basis').checked = true;
			return tokens.length })()`)
		if n != 1 {
			t.Fatalf("the consent form has %d CSRF token fields, want 1", n)
		}
		if code := tb.navigation("send the form without its token", chromedp.Click(chromedp.ID("record_consent-submit"))); code != http.StatusForbidden {
			t.Errorf("a form without its CSRF token: status %d, want 403", code)
		}
		if txt := tb.text(); !strings.Contains(txt, "did not come from this page") {
			t.Errorf("the refusal does not say why:\n%.1500s", txt)
		}
		tb.checkAccessibility("a form refused for its CSRF token")
		if kinds := s.openTaskKinds(s.personOfTask(errorTask)); !slices.Contains(kinds, "consent_needed") {
			t.Errorf("a refused form changed the register: open tasks %v", kinds)
		}
	})

	t.Run("inbox by keyboard alone", func(t *testing.T) {
		tb := coordinator
		tb.open("/")
		tb.tabTo("#nav-tasks", 20)
		tb.navigation("press Enter on Tasks", chromedp.KeyEvent(kb.Enter))
		tb.expectHeading("the inbox, by keyboard", "Tasks")
		tb.tabTo(fmt.Sprintf(`a[href="/tasks/%d"]`, keyboardTask), 60)
		tb.navigation("press Enter on the task", chromedp.KeyEvent(kb.Enter))
		tb.expectHeading("the task, by keyboard", "Consent")
		tb.tabTo("#record_consent-basis", 30)
		tb.press(" ") // Space chooses the focused radio
		if !eval[bool](tb, "read the radio", `document.getElementById('record_consent-basis').checked`) {
			t.Fatal("Space on the first basis did not choose it")
		}
		tb.tabTo("#record_consent-submit", 20)
		if code := tb.navigation("press Enter on Record consent", chromedp.KeyEvent(kb.Enter)); code != http.StatusOK {
			t.Fatalf("consent by keyboard: status %d:\n%.1500s", code, tb.text())
		}
		tb.do("see the success banner", chromedp.WaitVisible(chromedp.ID("success-banner")))
		if txt := eval[string](tb, "read the banner", `document.getElementById('success-banner').innerText`); !strings.Contains(txt, "Success") {
			t.Errorf("the success banner says %q", txt)
		}
		if stage := s.call("GET", fmt.Sprintf("/api/v1/people/%d", keyboardPerson), managerToken, nil).Body["stage"]; stage != "active" {
			t.Errorf("after consent by keyboard the person's stage is %v, want active", stage)
		}
	})

	t.Run("manager: sees the register, is offered no action, and a sent one is refused", func(t *testing.T) {
		tb := manager
		tb.open(fmt.Sprintf("/tasks/%d", errorTask))
		tb.expectHeading("the manager's task page", "for DSR-")
		if n := eval[int](tb, "count the action forms", `document.querySelectorAll('form[action^="/tasks/"]').length`); n != 0 {
			t.Errorf("the manager is offered %d action forms, want none", n)
		}
		// A form made by hand, with the manager's own CSRF token, is
		// refused by the page: only coordinators act.
		code := eval[int](tb, "post an action as the manager", fmt.Sprintf(`(function () {
			const token = document.querySelector('#sign-out-form input[name="csrf_token"]').value;
			return fetch('/tasks/%d', {method: 'POST', body: new URLSearchParams({csrf_token: token, action: 'record_consent', form_token: 'manager-try', basis: 'self'})})
				.then(r => r.status) })()`, errorTask), chromedp.EvalAwaitPromise)
		if code != http.StatusForbidden {
			t.Errorf("the manager's action: status %d, want 403", code)
		}
	})

	t.Run("portal: every page and an error state, first page to receipt", func(t *testing.T) {
		tb := visitor
		tb.open("/refer")
		tb.navigation("press Start now", chromedp.Click(chromedp.ID("start")))
		// The first question sent unanswered: the error summary.
		if code := tb.navigation("continue without an answer", chromedp.Click(chromedp.ID("continue"))); code != http.StatusBadRequest && code != http.StatusOK {
			t.Errorf("an unanswered question: status %d", code)
		}
		tb.do("see the error summary", chromedp.WaitVisible(chromedp.CSS(".nhsuk-error-summary")))
		tb.checkAccessibility("portal: a question not answered")
		for i := 0; ; i++ {
			if i > 20 {
				t.Fatalf("the portal never reached its check page; at %s", tb.url())
			}
			u := tb.url()
			if strings.HasSuffix(u, "/refer/check") {
				break
			}
			tb.expectHeading("portal question "+u, "")
			tb.checkAccessibility("portal " + strings.TrimPrefix(u, s.Web))
			eval[bool](tb, "answer the question", answerPortalQuestion)
			tb.navigation("continue from "+u, chromedp.Click(chromedp.ID("continue")))
			if tb.url() == u {
				t.Fatalf("the portal stayed on %s after an answer:\n%.1500s", u, tb.text())
			}
		}
		tb.expectHeading("check your answers", "Check your answers")
		tb.checkAccessibility("portal: check your answers")
		tb.navigation("press Send", chromedp.Click(chromedp.ID("send")))
		tb.expectHeading("the receipt", "We have your answers")
		tb.checkAccessibility("portal: the receipt")
		if !regexp.MustCompile(`REF-`).MatchString(tb.text()) {
			t.Errorf("the receipt page shows no receipt reference:\n%.1500s", tb.text())
		}
	})

	t.Run("sign out", func(t *testing.T) {
		tb := coordinator
		tb.open("/")
		tb.navigation("press Sign out", chromedp.Click(chromedp.ID("sign-out")))
		tb.expectHeading("after signing out", "You have signed out")
		if u := tb.url(); u != s.Web+"/signed-out" {
			t.Errorf("signed out at %s, want %s/signed-out", u, s.Web)
		}
		tb.open("/")
		if u := tb.url(); !strings.HasPrefix(u, s.Issuer) {
			t.Errorf("after signing out, / ended at %s, want the provider's sign-in", u)
		}
	})
}

// answerPortalQuestion answers whatever portal question is shown, as
// someone referring themselves: the values are made up and fit every rule.
const answerPortalQuestion = `(function () {
	const text = {'given-name': 'Browser', 'family-name': 'Tester', 'dob-day': '4', 'dob-month': '5', 'dob-year': '1994',
		'nhs-number': '', 'postcode': 'ST4 1AA', 'council-other': 'Stoke-on-Trent', 'reason': 'Things are hard at home.',
		'phone': '01782 000000', 'email': '', 'referrer-name': 'Browser Tester', 'organisation': 'Test Team'};
	const radios = {'who': 'self', 'consent': 'agrees'};
	document.querySelectorAll('input[type="text"], input[type="tel"], input[type="email"], textarea').forEach(e => {
		if (e.name in text && e.value === '') e.value = text[e.name];
	});
	const groups = new Set([...document.querySelectorAll('input[type="radio"]')].map(e => e.name));
	groups.forEach(name => {
		const all = [...document.querySelectorAll('input[type="radio"][name="' + name + '"]')];
		const want = all.find(e => e.value === radios[name]) || all[0];
		want.checked = true;
	});
	return true })()`

// openTask is the ID of the person's open task of kind, waited for.
func (s *stack) openTask(person int64, kind string) int64 {
	s.t.Helper()
	var id int64
	s.eventually(fmt.Sprintf("person %d's %s task", person, kind), func() bool {
		r := s.call("GET", fmt.Sprintf("/api/v1/tasks?status=open&person_id=%d", person), coordToken, nil)
		tasks, _ := r.Body["tasks"].([]any)
		for _, tk := range tasks {
			m := tk.(map[string]any)
			if m["kind"] == kind {
				id = int64(m["id"].(float64))
				return true
			}
		}
		return false
	})
	return id
}

// personOfTask is the person a task belongs to.
func (s *stack) personOfTask(task int64) int64 {
	s.t.Helper()
	r := s.call("GET", "/api/v1/tasks?status=open", coordToken, nil)
	tasks, _ := r.Body["tasks"].([]any)
	for _, tk := range tasks {
		m := tk.(map[string]any)
		if int64(m["id"].(float64)) == task {
			return int64(m["person_id"].(float64))
		}
	}
	s.t.Fatalf("task %d is not open", task)
	return 0
}

// slackPrompt is the message Slack was sent for the task, waited for.
func (s *stack) slackPrompt(f *slackfake.Server, task int64) slackfake.Call {
	s.t.Helper()
	var prompt slackfake.Call
	s.eventually(fmt.Sprintf("task %d's Slack prompt", task), func() bool {
		var ok bool
		prompt, ok = f.Find("chat.postMessage", fmt.Sprintf(`"action_id":"dsr:record_consent","value":"%d"`, task))
		return ok
	})
	return prompt
}
