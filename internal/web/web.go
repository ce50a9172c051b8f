// Package web is the register's web pages for NHS staff, on the NHS.UK
// design system: the managers' dashboard (/), the coordinators' inbox
// (/tasks), the register (/people), each person's page (/people/{id}) and
// the managers' import of an existing register (/import).
//
// It reads PostgreSQL through internal/store and writes only through
// internal/casework, the same Updates the API and Slack use, so a click here
// and a click in Slack can never disagree. Who is signed in comes from
// internal/login (login.FromContext); this package never sees a password.
package web

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/workinghours"
)

// Deps is what the pages need.
type Deps struct {
	Store    *store.Store
	Casework *casework.Casework
	// Policy gives the team's working-hours calendar (an alert's working
	// time left) and time zone (what "today" and a date on a page mean).
	Policy register.Policy
	Logger *slog.Logger
	Now    func() time.Time
	// Timeout bounds every page: reads and the Update a form sends
	// (DSR_API_TIMEOUT). Zero means 10 seconds.
	Timeout time.Duration
	// ImportDir keeps registers uploaded to /import between their check
	// and their import (default: dsr-imports in the system's temp dir).
	ImportDir string
}

// app is Deps made ready: the calendar built once.
type app struct {
	Deps
	calendar *workinghours.Calendar
	zone     *time.Location
	monthly  monthlyCache
	imports  *importDesk
}

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
	a := &app{Deps: d, calendar: cal, zone: cal.Location(), imports: newImportDesk(d.ImportDir)}

	mux := http.NewServeMux()
	mux.Handle("GET /assets/", Assets())
	mux.Handle("GET /{$}", a.page(a.dashboard))
	mux.Handle("GET /tasks", a.page(a.inbox))
	mux.Handle("GET /tasks/{id}", a.page(a.taskPage))
	mux.Handle("POST /tasks/{id}", a.page(a.taskAction))
	mux.Handle("GET /people", a.page(a.register))
	mux.Handle("POST /people", a.page(a.register))
	mux.Handle("GET /people/{id}", a.page(a.personPage))
	mux.Handle("GET /import", a.page(a.importForm))
	mux.Handle("POST /import", a.page(a.importUpload))
	mux.Handle("GET /import/{token}", a.page(a.importJobPage))
	mux.Handle("POST /import/{token}/start", a.page(a.importStart))
	mux.Handle("/", a.page(func(w http.ResponseWriter, r *http.Request, u login.User) error {
		return errNotFound
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

// handlerFunc is a page: it writes the answer, or returns an error the
// page wrapper turns into an NHS.UK error page.
type handlerFunc func(w http.ResponseWriter, r *http.Request, u login.User) error

// page wraps a page: signed in, bounded by Timeout, errors shown as pages.
func (a *app) page(h handlerFunc) http.Handler {
	return requireSignIn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := login.FromContext(r.Context())
		ctx, cancel := context.WithTimeout(r.Context(), a.Timeout)
		defer cancel()
		r = r.WithContext(ctx)
		if err := h(w, r, u); err != nil {
			a.errorPage(w, r, u, err)
		}
	}))
}

// requireSignIn refuses any page request that carries no signed-in user,
// so the register is never shown to someone anonymous even if the service
// mounts the pages without login's middleware (login.Service.Protect: the
// session, the form-token check and security headers), which `dsr serve`
// puts around NewHandler. It authenticates nothing itself.
func requireSignIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := login.FromContext(r.Context()); !ok {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte("Sign in to use the Dynamic support register.\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// csrfFieldName and csrfToken are where a form carries the sign-in
// session's form token (login's CSRF middleware checks it). Every form's
// hidden field is written by the csrfField template function from these.
const csrfFieldName = login.CSRFField

var csrfToken = login.CSRFToken

// Errors a page returns, shown as NHS.UK error pages.
var (
	errNotFound  = errors.New("page not found")
	errForbidden = errors.New("not allowed for your role")
)

// badRequest is a query the page cannot answer, in words naming the field.
type badRequest struct{ field, message string }

func (e badRequest) Error() string { return e.field + ": " + e.message }
