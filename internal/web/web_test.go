package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"golang.org/x/net/html"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/devstack"
	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
	"github.com/dsr-register/dsr/internal/htmlpage/htmltest"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/polltest"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/store/storetest"
	"github.com/dsr-register/dsr/worker"
	"github.com/dsr-register/dsr/workflows"
)

// cluster is one PostgreSQL cluster for the package; each test gets its
// own database in it, so counts on one page never see another test's people.
var cluster = storetest.NewCluster("web")

func TestMain(m *testing.M) { os.Exit(cluster.Run(m)) }

// stack is the web pages over a real PostgreSQL and a real Temporal dev
// server with the register's worker: forms go through casework to the
// workflows, as in `dsr serve`.
type stack struct {
	st      *store.Store
	cw      *casework.Casework
	handler http.Handler
}

func newStack(t *testing.T) *stack {
	t.Helper()
	st, _ := cluster.Migrated(t)
	var attrs []devstack.SearchAttribute
	for _, sa := range workflows.SearchAttributeTypes {
		attrs = append(attrs, devstack.SearchAttribute{Name: sa[0], Type: sa[1]})
	}
	srv := devstacktest.TemporalWith(t, devstacktest.TemporalConfig{SearchAttributes: attrs})
	tc, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(),
		Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	policy := register.DefaultPolicy()
	queue := "web-test"
	w := worker.New(tc, queue, &activities.Activities{Store: st, Policy: func() register.Policy { return policy }})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cw := &casework.Casework{Store: st, Temporal: tc, TaskQueue: queue, Logger: logger, Now: time.Now, Policy: policy}
	h, err := NewHandler(Deps{Store: st, Casework: cw, Policy: policy, Logger: logger, Now: time.Now, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return &stack{st: st, cw: cw, handler: h}
}

var (
	coordinator  = login.User{Name: "Alice Coordinator", Subject: "sub-alice", Role: config.RoleCoordinator}
	coordinator2 = login.User{Name: "Bob Coordinator", Subject: "sub-bob", Role: config.RoleCoordinator}
	manager      = login.User{Name: "Maya Manager", Subject: "sub-maya", Role: config.RoleManager}
)

// get fetches path as u (no user: signed out).
func get(t testing.TB, h http.Handler, u *login.User, path string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if u != nil {
		r = r.WithContext(login.WithUser(r.Context(), *u))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func post(t *testing.T, h http.Handler, u login.User, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r = r.WithContext(login.WithUser(r.Context(), u))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var seq atomic.Int64

// refer puts someone new on the register through casework, as the API does.
func (s *stack) refer(t *testing.T, given, family, nhs string) int64 {
	t.Helper()
	res, err := s.cw.Refer(context.Background(), register.Referral{
		Person: register.Person{GivenName: given, FamilyName: family, DateOfBirth: time.Date(1995, 4, 2, 0, 0, 0, 0, time.UTC),
			NHSNumber: nhs, Diagnoses: []register.Diagnosis{register.Autism}, LocalAuthority: "Stoke-on-Trent", Postcode: "ST4 1AA"},
		Referrer: register.Referrer{Kind: register.ReferrerSelf}, Channel: register.ChannelPhone, Reason: "crisis at home",
	}, casework.Action{By: "test", ID: fmt.Sprintf("refer-%d", seq.Add(1))})
	if err != nil {
		t.Fatalf("refer: %v", err)
	}
	return res.PersonID
}

func (s *stack) consentAndRate(t *testing.T, id int64, rating register.Rating) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.cw.RecordConsent(ctx, id, casework.ConsentRequest{Basis: register.ConsentSelf, DecidedOn: s.cw.Today()},
		casework.Action{By: "test", ID: fmt.Sprintf("consent-%d", seq.Add(1))}); err != nil {
		t.Fatalf("consent: %v", err)
	}
	if _, err := s.cw.Rate(ctx, id, casework.RateRequest{Rating: rating, Rationale: "no crisis plan yet"},
		casework.Action{By: "test", ID: fmt.Sprintf("rate-%d", seq.Add(1))}); err != nil {
		t.Fatalf("rate: %v", err)
	}
}

// openTask waits (bounded) for the person's open task of kind.
func (s *stack) openTask(t *testing.T, person int64, kind register.TaskKind) store.Task {
	t.Helper()
	var found store.Task
	waitFor(t, fmt.Sprintf("an open %s task for %d", kind, person), func() bool {
		tasks, err := s.st.ListTasks(context.Background(), store.TaskFilter{Status: "open", PersonID: person})
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range tasks {
			if tk.Kind == kind {
				found = tk
				return true
			}
		}
		return false
	})
	return found
}

// waitFor polls cond until it holds, failing after a deadline: tests wait
// for the state they assert, never a fixed sleep.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	polltest.Until(t, what, 30*time.Second, 50*time.Millisecond, cond)
}

// hiddenFields reads the hidden fields of the form with id from a page.
func hiddenFields(t *testing.T, page, id string) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	form := htmltest.ByID(doc, id)
	if form == nil {
		t.Fatalf("no form #%s on the page:\n%s", id, page)
	}
	out := url.Values{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" && htmltest.Attr(n, "type") == "hidden" {
			out.Set(htmltest.Attr(n, "name"), htmltest.Attr(n, "value"))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(form)
	return out
}

var voidElements = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true,
	"img": true, "input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true,
	// SVG's empty elements, written self-closed.
	"path": true, "line": true, "rect": true, "polyline": true}

// checkWellFormed checks a page the way the accessibility tests will rely
// on: every element closed in order, no id used twice, one <h1>, and the
// landmarks (banner, navigation, main, contentinfo).
func checkWellFormed(t *testing.T, name, page string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(page))
	var stack []string
	ids := map[string]bool{}
	h1 := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				t.Errorf("%s: %v", name, z.Err())
			}
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken:
			for _, a := range tok.Attr {
				if a.Key == "id" {
					if ids[a.Val] {
						t.Errorf("%s: id %q is used twice", name, a.Val)
					}
					ids[a.Val] = true
				}
			}
			if tok.Data == "h1" {
				h1++
			}
			if !voidElements[tok.Data] {
				stack = append(stack, tok.Data)
			}
		case html.EndTagToken:
			if len(stack) == 0 || stack[len(stack)-1] != tok.Data {
				t.Errorf("%s: </%s> closes <%s>", name, tok.Data, strings.Join(stack, "><"))
				return
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Errorf("%s: left open: %v", name, stack)
	}
	if h1 != 1 {
		t.Errorf("%s: %d <h1> elements, want 1", name, h1)
	}
	for _, landmark := range []string{`role="banner"`, `<nav class="nhsuk-header__navigation"`, `<main `, `role="contentinfo"`} {
		if !strings.Contains(page, landmark) {
			t.Errorf("%s: no %s landmark", name, landmark)
		}
	}
	if strings.Contains(page, "<script>") || regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>`).MatchString(page) {
		t.Errorf("%s: has an inline script, which the Content-Security-Policy forbids", name)
	}
}
