package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/login/devprovider"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/web/imports"
)

// registerCSV is a small register: two good rows and one whose date of
// birth is not a date. Dates are relative to today so the consent is in
// force and the review not yet due.
func registerCSV() string {
	today := time.Now()
	d := func(days int) string { return today.AddDate(0, 0, days).Format("2006-01-02") }
	return "Name,Date of birth,NHS number,Postcode,Local authority,Diagnoses,Current rating,Last reviewed,Consent basis,Consent date\n" +
		"Jo Bloggs,2001-02-03,943 476 5919,ST4 1AA,Stoke-on-Trent,autism,green," + d(-10) + ",self," + d(-30) + "\n" +
		"Priya Shah,1999-04-30,,ST7 4DD,Staffordshire,autism,,,,\n" +
		"Sam Smith,31/02/2001,,ST5 2BB,Stoke-on-Trent,autism,,,,\n"
}

// upload is a multipart POST of file as u, with extra form fields.
func upload(t *testing.T, h http.Handler, u login.User, file string, extra url.Values) *httptest.ResponseRecorder {
	t.Helper()
	body, ctype := multipartBody(t, file, extra)
	r := httptest.NewRequest(http.MethodPost, "/import", body)
	r.Header.Set("Content-Type", ctype)
	r = r.WithContext(login.WithUser(r.Context(), u))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func multipartBody(t *testing.T, file string, extra url.Values) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range extra {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if file != "" {
		fw, err := mw.CreateFormFile("file", "register.csv")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(fw, file)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

var jobPath = regexp.MustCompile(`^/import/([0-9a-f]{32})$`)

// waitForPage polls path as u until the page holds want.
func waitForPage(t *testing.T, h http.Handler, u login.User, path, want string) string {
	t.Helper()
	var page string
	waitFor(t, fmt.Sprintf("%s to say %q", path, want), func() bool {
		w := get(t, h, &u, path)
		page = w.Body.String()
		return w.Code == http.StatusOK && strings.Contains(page, want)
	})
	return page
}

func TestImportPageChecksThenImports(t *testing.T) {
	s := newStack(t)
	h := s.handler

	form := get(t, h, &manager, "/import")
	if form.Code != http.StatusOK || !strings.Contains(form.Body.String(), `enctype="multipart/form-data"`) {
		t.Fatalf("manager GET /import: %d\n%s", form.Code, form.Body)
	}
	checkWellFormed(t, "import", form.Body.String())

	w := upload(t, h, manager, registerCSV(), nil)
	m := jobPath.FindStringSubmatch(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || m == nil {
		t.Fatalf("upload: %d to %q, want 303 to /import/<token>\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	job := "/import/" + m[1]

	report := waitForPage(t, h, manager, job, "Check the import")
	checkWellFormed(t, "import report", report)
	for _, want := range []string{
		`1 row would not be imported`, `href="#line-4"`, `id="line-4"`, "Date of birth",
		`id="count-created">2<`, `id="count-green">1<`, `id="count-not-rated">1<`, `id="start-form"`,
	} {
		if !strings.Contains(report, want) {
			t.Errorf("dry-run report lacks %s:\n%s", want, report)
		}
	}
	for _, personal := range []string{"Bloggs", "Priya", "943 476 5919"} {
		if strings.Contains(report, personal) || strings.Contains(job, personal) {
			t.Errorf("the report or its address repeats %q from the file", personal)
		}
	}
	if res, err := s.st.Register(context.Background(), store.RegisterQuery{Now: time.Now(), Limit: 10}); err != nil || res.Total != 0 {
		t.Fatalf("after the dry run the register holds %d people (%v), want nobody", res.Total, err)
	}

	// Someone else cannot see or start the manager's import.
	other := manager
	other.Subject, other.Name = "sub-other", "Other Manager"
	if w := get(t, h, &other, job); w.Code != http.StatusNotFound {
		t.Errorf("another manager opening the import: %d, want 404", w.Code)
	}

	start := hiddenFields(t, report, "start-form")
	for range 2 { // a double click starts it once
		if w := post(t, h, manager, job+"/start", start); w.Code != http.StatusSeeOther || w.Header().Get("Location") != job {
			t.Fatalf("start: %d to %q", w.Code, w.Header().Get("Location"))
		}
	}
	result := waitForPage(t, h, manager, job, "Import finished")
	checkWellFormed(t, "import result", result)
	for _, want := range []string{"2 people added to the register", `id="count-failed">1<`, `id="line-4"`} {
		if !strings.Contains(result, want) {
			t.Errorf("result lacks %s:\n%s", want, result)
		}
	}
	res, err := s.st.Register(context.Background(), store.RegisterQuery{Now: time.Now(), Limit: 10})
	if err != nil || res.Total != 2 {
		t.Fatalf("after the import the register holds %d people (%v), want 2", res.Total, err)
	}
	history, err := s.st.History(context.Background(), res.People[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var by []string
	for _, e := range history {
		if e.Action == "imported" {
			by = append(by, e.Actor)
		}
	}
	if len(by) != 1 || by[0] != manager.AuditName() {
		t.Errorf("the import's audit names %v, want the signed-in manager %q once", by, manager.AuditName())
	}
	if _, err := s.st.Person(context.Background(), res.People[0].ID); err != nil {
		t.Fatal(err)
	}
}

func TestImportPageRefusesBadFilesAndCoordinators(t *testing.T) {
	s := newStack(t)
	h := s.handler

	for _, path := range []string{"/import", "/import/0123456789abcdef0123456789abcdef"} {
		if w := get(t, h, &coordinator, path); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "Only DSR managers can import") {
			t.Errorf("coordinator GET %s: %d, want 403 saying only managers", path, w.Code)
		}
	}
	if w := upload(t, h, coordinator, registerCSV(), nil); w.Code != http.StatusForbidden {
		t.Errorf("coordinator upload: %d, want 403", w.Code)
	}

	for _, c := range []struct {
		name, file, want string
	}{
		{"no file", "", "Select a CSV file of the register to import"},
		{"empty file", "\n", "the selected file is empty"},
	} {
		file := c.file
		if c.name == "empty file" {
			file = ""
		}
		body, ctype := multipartBody(t, file, nil)
		if c.name == "empty file" {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			_, _ = mw.CreateFormFile("file", "empty.csv")
			_ = mw.Close()
			body, ctype = &buf, mw.FormDataContentType()
		}
		r := httptest.NewRequest(http.MethodPost, "/import", body)
		r.Header.Set("Content-Type", ctype)
		r = r.WithContext(login.WithUser(r.Context(), manager))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusBadRequest || !strings.Contains(strings.ToLower(w.Body.String()), strings.ToLower(c.want)) ||
			!strings.Contains(w.Body.String(), `href="#register-file"`) {
			t.Errorf("%s: %d, want 400 with the error summary saying %q\n%s", c.name, w.Code, c.want, w.Body)
		}
	}

	// A file that is not a register: no column the import knows.
	w := upload(t, h, manager, "colour,shape\nred,square\n", nil)
	m := jobPath.FindStringSubmatch(w.Header().Get("Location"))
	if m == nil {
		t.Fatalf("upload: %d %q", w.Code, w.Header().Get("Location"))
	}
	page := waitForPage(t, h, manager, "/import/"+m[1], "The file could not be imported")
	if !strings.Contains(page, "Line 1:") || !strings.Contains(page, "Nothing was imported") {
		t.Errorf("bad file's page does not say what is wrong with it:\n%s", page)
	}
	// Its file is deleted: nothing to start.
	if w := post(t, h, manager, "/import/"+m[1]+"/start", url.Values{}); w.Code != http.StatusSeeOther {
		t.Errorf("start after a failed check: %d", w.Code)
	}
	if page := get(t, h, &manager, "/import/"+m[1]).Body.String(); strings.Contains(page, "Importing the register") {
		t.Error("a file that failed its check was imported")
	}
}

func TestLimitUploadsRefusesLargeBodies(t *testing.T) {
	reached := false
	h := LimitUploads(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	r := httptest.NewRequest(http.MethodPost, "/import", strings.NewReader("x"))
	r.ContentLength = imports.MaxFile + 1<<20
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge || reached || !strings.Contains(w.Body.String(), "20 MB") {
		t.Errorf("a 21 MB upload: %d (page reached: %v) %q, want 413 naming the limit", w.Code, reached, w.Body)
	}
}

// TestImportUploadNeedsTheFormToken signs in through the real local
// provider and sends the upload through login's middleware, as `dsr serve`
// does: without the session's form token it is refused and nothing kept.
func TestImportUploadNeedsTheFormToken(t *testing.T) {
	s := newStack(t)
	dir := t.TempDir()
	var handler http.Handler
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(web.Close)
	accounts, err := devprovider.LoadOrCreateAccounts(dir + "/dev-signins.json")
	if err != nil {
		t.Fatal(err)
	}
	lc := config.LoginConfig{RolesClaim: "roles", CoordinatorRole: "DSR.Coordinator", ManagerRole: "DSR.Manager", NameClaim: "name"}
	p, err := devprovider.Start(devprovider.Options{Accounts: accounts, ClientID: "dsr-test",
		RedirectURI: web.URL + "/auth/callback", PostLogoutRedirectURI: web.URL + "/signed-out",
		RolesClaim: lc.RolesClaim, CoordinatorRole: lc.CoordinatorRole, ManagerRole: lc.ManagerRole})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	lc.Issuer, lc.ClientID, lc.ClientSecret = p.Issuer(), "dsr-test", accounts.ClientSecret
	lc.SessionKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	auth, err := login.New(login.Options{Config: lc, PublicURL: web.URL, Timeout: 10 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Audit: s.st})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := NewHandler(Deps{Store: s.st, Casework: s.cw, Policy: s.cw.Policy, Timeout: time.Minute, ImportDir: dir + "/imports",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	auth.Mount(mux)
	mux.Handle("/", LimitUploads(auth.Protect(pages, config.RoleCoordinator, config.RoleManager)))
	handler = mux

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Get(web.URL + "/import")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(b)
	if id == nil {
		t.Fatalf("no sign-in form at the provider (%s):\n%s", resp.Request.URL, b)
	}
	resp, err = c.PostForm(p.Issuer()+"/login/username", url.Values{"id": {string(id[1])},
		"username": {accounts.Manager.Username}, "password": {accounts.Manager.Password}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	token := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(b)
	if resp.Request.URL.Path != "/import" || token == nil {
		t.Fatalf("signed in as the manager, ended at %s without the upload form:\n%s", resp.Request.URL, b)
	}

	send := func(fields url.Values) *http.Response {
		body, ctype := multipartBody(t, registerCSV(), fields)
		req, _ := http.NewRequest(http.MethodPost, web.URL+"/import", body)
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Origin", web.URL)
		nc := *c
		nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := nc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for name, fields := range map[string]url.Values{"no form token": nil, "a wrong form token": {"csrf_token": {"forged"}}} {
		if resp := send(fields); resp.StatusCode != http.StatusForbidden {
			t.Errorf("upload with %s: %d, want 403", name, resp.StatusCode)
		}
	}
	if kept, _ := os.ReadDir(dir + "/imports"); len(kept) != 0 {
		t.Errorf("a refused upload was kept: %v", kept)
	}
	resp = send(url.Values{"csrf_token": {string(token[1])}})
	if resp.StatusCode != http.StatusSeeOther || !jobPath.MatchString(resp.Header.Get("Location")) {
		t.Errorf("upload with the form token: %d to %q, want 303 to its check", resp.StatusCode, resp.Header.Get("Location"))
	}
}
