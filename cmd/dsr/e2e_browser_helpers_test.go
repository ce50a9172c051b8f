package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/dsr-register/dsr/internal/devstack"
	"github.com/dsr-register/dsr/internal/login/devprovider"
)

// Who a page in browserPages is visited as.
const (
	asCoordinator = "coordinator"
	asManager     = "manager"
	asVisitor     = "visitor" // signed out: the public pages
)

// browserPage is one page the browser test opens and checks with axe.
// Path may name {person} (someone on the register, rated red, with an
// escalation) and {task} (an open task of someone referred): the test fills
// them in. Heading is text the page's h1 must hold, so an error page is
// never taken for the page itself. Adding a page is one line here.
type browserPage struct {
	Name       string
	Path       string
	As         string
	Heading    string
	Screenshot bool
}

// browserPages are the pages the browser test walks, each checked for
// WCAG 2.2 AA with axe-core. Error states and the pages between steps of a
// flow (a form with a missing field, a stale form, a refused form, every
// question of the portal) are checked by the flows in e2e_browser_test.go.
var browserPages = []browserPage{
	{Name: "dashboard", Path: "/", As: asCoordinator, Heading: "Dashboard", Screenshot: true},
	{Name: "inbox", Path: "/tasks", As: asCoordinator, Heading: "Tasks", Screenshot: true},
	{Name: "inbox-overdue", Path: "/tasks?filter=overdue&kind=consent_needed", As: asCoordinator, Heading: "Tasks"},
	{Name: "register", Path: "/people", As: asCoordinator, Heading: "Register"},
	{Name: "register-red", Path: "/people?rating=red", As: asCoordinator, Heading: "Register"},
	{Name: "person", Path: "/people/{person}", As: asCoordinator, Heading: "DSR-", Screenshot: true},
	{Name: "task", Path: "/tasks/{task}", As: asCoordinator, Heading: "for DSR-"},
	{Name: "not-found", Path: "/people/999999", As: asCoordinator, Heading: "Page not found"},
	{Name: "bad-filter", Path: "/tasks?filter=nonsense", As: asCoordinator, Heading: "There is a problem with the address"},
	{Name: "whoami", Path: "/auth/whoami", As: asCoordinator, Heading: "Signed in as Dev Coordinator"},
	{Name: "manager-dashboard", Path: "/", As: asManager, Heading: "Dashboard"},
	{Name: "manager-inbox", Path: "/tasks", As: asManager, Heading: "Tasks"},
	{Name: "manager-person", Path: "/people/{person}", As: asManager, Heading: "DSR-"},
	{Name: "manager-task", Path: "/tasks/{task}", As: asManager, Heading: "for DSR-"},
	{Name: "manager-import", Path: "/import", As: asManager, Heading: "Import a register", Screenshot: true},
	{Name: "import-refused", Path: "/import", As: asCoordinator, Heading: "You cannot do this"},
	{Name: "portal-start", Path: "/refer", As: asVisitor, Heading: "Ask the DSR team for support", Screenshot: true},
	{Name: "portal-not-found", Path: "/refer/no-such-question", As: asVisitor, Heading: "Page not found"},
	{Name: "signed-out", Path: "/signed-out", As: asVisitor, Heading: "You have signed out"},
}

// wcag22AA is what axe checks: every WCAG 2.0, 2.1 and 2.2 rule at A and
// AA.
var wcag22AA = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"}

// The flags that work on this machine: headless without a GPU or sandbox,
// and nothing Chromium would fetch by itself (this network refuses it and
// the refusals slow every page).
func chromiumOptions(userDataDir string) []chromedp.ExecAllocatorOption {
	return append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(devstack.ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(userDataDir),
		chromedp.WindowSize(1280, 900),
	)
}

// browserTools are Chromium and the axe-core script, or the test fails
// saying what to install: integration tests never skip.
func browserTools(t *testing.T) (axeSource string) {
	t.Helper()
	if _, err := devstack.FindChromium(context.Background(), nil, false); err != nil {
		t.Fatal(err)
	}
	path, err := devstack.AxeCoreScript()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("axe-core %s is not installed (%v): %s", devstack.AxeCoreVersion, err, devstack.AxeCoreInstallHint)
	}
	return string(src)
}

// browser is one headless Chromium for the test; each tab has its own
// cookies (a browser context of its own) unless opened beside another.
type browser struct {
	t       *testing.T
	ctx     context.Context // the browser's first context: it owns the process
	axe     string
	shots   []string // where screenshots go
	web     string
	issuer  string
	stepFor time.Duration
}

// newBrowser starts Chromium; it stops with the test, or when deadline
// passes, whichever is first, so nothing waits for ever.
func newBrowser(t *testing.T, s *loginStack, axe string, deadline time.Duration) *browser {
	t.Helper()
	ctx, cancelTime := context.WithTimeout(context.Background(), deadline)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromiumOptions(t.TempDir())...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancelTime() })
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting Chromium at %s: %v", devstack.ChromiumPath, err)
	}
	b := &browser{t: t, ctx: browserCtx, axe: axe, web: s.Web, issuer: s.Issuer, stepFor: 30 * time.Second,
		shots: []string{t.TempDir()}}
	if dir := os.Getenv("DSR_SCREENSHOTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("DSR_SCREENSHOTS=%s: %v", dir, err)
		}
		b.shots = append(b.shots, dir)
	}
	return b
}

// tab is one browser tab: its own cookies, or, from beside, another tab's.
type tab struct {
	b    *browser
	name string
	ctx  context.Context
}

// newTab opens a tab with cookies of its own, as a separate person's
// browser would have.
func (b *browser) newTab(name string) *tab {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	return b.opened(name, ctx)
}

// beside opens another tab sharing this one's cookies: the same person
// with the same page open twice.
func (tb *tab) beside(name string) *tab {
	ctx, cancel := chromedp.NewContext(tb.ctx)
	tb.b.t.Cleanup(cancel)
	return tb.b.opened(name, ctx)
}

// opened opens the tab of ctx. It runs on ctx itself, not on a context
// derived with a shorter deadline: the tab lives as long as the context
// that opened it (the browser's deadline bounds it).
func (b *browser) opened(name string, ctx context.Context) *tab {
	b.t.Helper()
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("%s: opening the tab: %v", name, err)
	}
	return &tab{b: b, name: name, ctx: ctx}
}

// do runs steps, each bounded, failing the test naming what it was doing.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, tb.b.stepFor)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.b.t.Fatalf("%s: %s: %v (at %s)", tb.name, what, err, tb.location())
	}
}

// navigation runs steps that load a page (a click on a link or a submit
// button, a navigation) and returns the page's HTTP status.
func (tb *tab) navigation(what string, steps ...chromedp.Action[chromedp.Void]) int64 {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, tb.b.stepFor)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		tb.b.t.Fatalf("%s: %s: %v (at %s)", tb.name, what, err, tb.location())
	}
	return statusOf(resp)
}

func statusOf(resp *network.Response) int64 {
	if resp == nil {
		return 0
	}
	return resp.Status
}

// open loads a page of the service and returns its status.
func (tb *tab) open(path string) int64 {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, tb.b.stepFor)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(tb.b.web+path))
	if err != nil {
		tb.b.t.Fatalf("%s: open %s: %v (at %s)", tb.name, path, err, tb.location())
	}
	return statusOf(resp)
}

// eval evaluates JavaScript in the page and decodes its value.
func eval[T any](tb *tab, what, js string, opts ...chromedp.EvaluateOption) T {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, tb.b.stepFor)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, opts...))
	if err != nil {
		tb.b.t.Fatalf("%s: %s: %v (at %s)", tb.name, what, err, tb.location())
	}
	return v
}

// location is where the tab is, for failure messages.
func (tb *tab) location() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "unknown: " + err.Error()
	}
	return u
}

// url is where the tab is now.
func (tb *tab) url() string {
	tb.b.t.Helper()
	return eval[string](tb, "read the address", `location.href`)
}

// heading is the page's first h1, waited for.
func (tb *tab) heading() string {
	tb.b.t.Helper()
	tb.do("wait for the page's heading", chromedp.WaitVisible(chromedp.CSS("h1")))
	return eval[string](tb, "read the heading", `document.querySelector('h1').innerText`)
}

// text is the page's visible text.
func (tb *tab) text() string {
	tb.b.t.Helper()
	return eval[string](tb, "read the page", `document.body.innerText`)
}

// expectHeading fails unless the page's h1 holds want.
func (tb *tab) expectHeading(what, want string) {
	tb.b.t.Helper()
	if h := tb.heading(); !strings.Contains(h, want) {
		tb.b.t.Fatalf("%s: %s: the page's heading is %q, want it to hold %q (at %s):\n%.1500s", tb.name, what, h, want, tb.location(), tb.text())
	}
}

// signIn opens / signed out, is sent to the provider's form, types the
// account's username and password and presses Login, and is back on the
// dashboard, named in its header.
func (tb *tab) signIn(acct devprovider.Account, shownAs string) {
	tb.b.t.Helper()
	tb.open("/")
	if u := tb.url(); !strings.HasPrefix(u, tb.b.issuer) {
		tb.b.t.Fatalf("%s: signed out, / ended at %s, want the provider's sign-in form at %s", tb.name, u, tb.b.issuer)
	}
	tb.do("fill in the provider's form",
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), acct.Username),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), acct.Password))
	tb.navigation("press Login", chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	tb.expectHeading("after signing in", "Dashboard")
	if u := tb.url(); u != tb.b.web+"/" {
		t := tb.b.t
		t.Fatalf("%s: signed in at %s, want back on %s/", tb.name, u, tb.b.web)
	}
	if txt := tb.text(); !strings.Contains(txt, shownAs) {
		tb.b.t.Fatalf("%s: the dashboard's header does not name %q:\n%.1500s", tb.name, shownAs, txt)
	}
}

// axeViolation is what the test reports of one axe violation.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	HelpURL string   `json:"helpUrl"`
	Targets []string `json:"targets"`
}

// checkAccessibility injects axe-core into the page (Runtime.evaluate runs
// from DevTools, which the page's Content-Security-Policy does not govern:
// the page itself may run no inline script) and runs the WCAG 2.2 AA rules,
// failing the test with each violation's id, impact, help and the elements.
func (tb *tab) checkAccessibility(page string) {
	tb.b.t.Helper()
	tb.do("wait for the page", chromedp.WaitReady(chromedp.CSS("body")))
	loaded := eval[bool](tb, "inject axe-core", `(typeof window.axe === 'object') || (function () {`+tb.b.axe+"\n; return typeof window.axe === 'object' })()")
	if !loaded {
		tb.b.t.Fatalf("%s: %s: axe-core did not load into the page", tb.name, page)
	}
	tags, _ := json.Marshal(wcag22AA)
	violations := eval[[]axeViolation](tb, "run axe on "+page, `axe.run(document, {runOnly: {type: 'tag', values: `+string(tags)+`}, resultTypes: ['violations']})
		.then(r => r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help, helpUrl: v.helpUrl,
			targets: v.nodes.map(n => n.target.join(' ') + ' ' + (n.html || '').slice(0, 300))})))`, chromedp.EvalAwaitPromise)
	for _, v := range violations {
		tb.b.t.Errorf("axe: %s (%s): %s [%s] %s\n  %s", page, tb.location(), v.ID, v.Impact, v.Help, strings.Join(v.Targets, "\n  "))
	}
	tb.b.t.Logf("axe %s: %s: %d WCAG 2.2 AA violations", devstack.AxeCoreVersion, page, len(violations))
}

// screenshot saves the whole page as <name>.png in the test's temporary
// directory and DSR_SCREENSHOTS, if set.
func (tb *tab) screenshot(name string) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, tb.b.stepFor)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.b.t.Fatalf("%s: screenshot of %s: %v", tb.name, name, err)
	}
	for _, dir := range tb.b.shots {
		p := filepath.Join(dir, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			tb.b.t.Fatal(err)
		}
		tb.b.t.Logf("screenshot %s", p)
	}
}

// The keyboard: the only input the keyboard-only flow sends.

// focused is the id of the element with the keyboard focus, or its tag
// and text when it has none.
func (tb *tab) focused() string {
	tb.b.t.Helper()
	return eval[string](tb, "see what has the focus", `(function () {
		const e = document.activeElement;
		if (!e) return '';
		if (e.id) return '#' + e.id;
		if (e.getAttribute('href')) return 'a[href="' + e.getAttribute('href') + '"]';
		return e.tagName.toLowerCase();
	})()`)
}

// tabTo presses Tab until want (a "#id" or `a[href="…"]` as focused
// reports it) has the focus, failing after max presses.
func (tb *tab) tabTo(want string, max int) {
	tb.b.t.Helper()
	var seen []string
	for range max {
		tb.do("press Tab", chromedp.KeyEvent(kb.Tab))
		f := tb.focused()
		if f == want {
			return
		}
		seen = append(seen, f)
	}
	tb.b.t.Fatalf("%s: %d presses of Tab never reached %s; the focus went %s", tb.name, max, want, strings.Join(seen, " → "))
}

// press sends one key (kb.Enter, " ") to whatever has the focus.
func (tb *tab) press(key string) {
	tb.b.t.Helper()
	tb.do(fmt.Sprintf("press %q", key), chromedp.KeyEvent(key))
}
