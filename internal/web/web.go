// Package web is the register's web pages for NHS staff, on the NHS.UK
// design system: the managers' dashboard (/, internal/web/dashboard), the
// coordinators' inbox and task pages (/tasks, internal/web/tasks), the
// register and each person's page (/people, internal/web/people) and the
// managers' import of an existing register (/import, internal/web/imports).
// This package puts them behind their URLs; what every page shares (the
// sign-in check, the layout, error pages, the words for the register's
// codes) is internal/web/staffpage.
//
// It reads PostgreSQL through internal/store and writes only through
// internal/casework, the same Updates the API and Slack use, so a click here
// and a click in Slack can never disagree. Who is signed in comes from
// internal/login (login.FromContext); this package never sees a password.
package web

import (
	"embed"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/web/dashboard"
	"github.com/dsr-register/dsr/internal/web/imports"
	"github.com/dsr-register/dsr/internal/web/people"
	"github.com/dsr-register/dsr/internal/web/staffpage"
	"github.com/dsr-register/dsr/internal/web/tasks"
)

// Deps is what the pages need (staffpage.Deps: the sections read it
// there).
type Deps = staffpage.Deps

//go:embed assets
var assetFiles embed.FS

// NewHandler returns the web pages, to be mounted at "/" of the service's
// mux (the API keeps /api/v1 and /healthz, Slack /slack).
func NewHandler(d Deps) (http.Handler, error) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Timeout <= 0 {
		d.Timeout = 10 * time.Second
	}
	cal, err := d.Policy.Calendar()
	if err != nil {
		return nil, err
	}
	site := &staffpage.Site{Deps: d, Calendar: cal, Zone: cal.Location()}
	importPages := imports.New(site)

	mux := http.NewServeMux()
	mux.Handle("GET /assets/", Assets())
	mux.Handle("GET /{$}", site.Page(dashboard.Handle(site)))
	mux.Handle("GET /tasks", site.Page(tasks.HandleInbox(site)))
	mux.Handle("GET /tasks/{id}", site.Page(tasks.HandleTask(site)))
	mux.Handle("POST /tasks/{id}", site.Page(tasks.HandleTaskAction(site)))
	register := site.Page(people.HandleRegister(site))
	mux.Handle("GET /people", register)
	mux.Handle("POST /people", register)
	mux.Handle("GET /people/{id}", site.Page(people.HandlePerson(site)))
	mux.Handle("GET /import", site.Page(importPages.Form))
	mux.Handle("POST /import", site.Page(importPages.Upload))
	mux.Handle("GET /import/{token}", site.Page(importPages.Job))
	mux.Handle("POST /import/{token}/start", site.Page(importPages.Start))
	mux.Handle("/", site.Page(func(w http.ResponseWriter, r *http.Request, u login.User) error {
		return staffpage.ErrNotFound
	}))
	return mux, nil
}

// Assets serves the NHS.UK design system's files (and dsr's one script)
// under /assets/. They hold nothing about anyone, so the service may serve
// them to a visitor not yet signed in (the sign-in pages use them too).
func Assets() http.Handler {
	assets, _ := fs.Sub(assetFiles, "assets")
	return longCache(http.StripPrefix("/assets/", http.FileServerFS(assets)))
}

// longCache lets browsers keep the design system's files: they change only
// with a new dsr build.
func longCache(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		next.ServeHTTP(w, r)
	})
}

// LimitUploads refuses a body larger than the import page accepts before
// anything reads it (login's form-token check reads the whole form), and
// bounds every other body too. Put it around the protected pages.
func LimitUploads(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(1 << 20)
		if r.URL.Path == "/import" {
			// The file, the form token and multipart's framing.
			limit = imports.MaxFile + 64<<10
		}
		if r.ContentLength > limit {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, "The file is too large: the register to import must be smaller than 20 MB. Go back and choose a smaller file.\n")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}
