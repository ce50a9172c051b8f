// Package staffpage is what every page of the staff web app shares: the
// page wrapper (signed in, bounded, errors shown as NHS.UK pages), the
// staff layout, the form fields and pagination, and the words the
// register's codes are shown in. Each section of the site (the dashboard,
// the register and people, the tasks, the import) builds its pages on it;
// internal/web puts the sections behind their URLs.
package staffpage

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/workinghours"
)

// Deps is what the pages need (web.Deps).
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

// Site is Deps made ready (web.NewHandler builds it once): the calendar
// built, and its time zone.
type Site struct {
	Deps
	Calendar *workinghours.Calendar
	Zone     *time.Location
}

// Handler is a page: it writes the answer, or returns an error the page
// wrapper turns into an NHS.UK error page.
type Handler func(w http.ResponseWriter, r *http.Request, u login.User) error

// Page wraps a page: signed in, bounded by Timeout, errors shown as pages.
func (s *Site) Page(h Handler) http.Handler {
	return requireSignIn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := login.FromContext(r.Context())
		ctx, cancel := context.WithTimeout(r.Context(), s.Timeout)
		defer cancel()
		r = r.WithContext(ctx)
		if err := h(w, r, u); err != nil {
			s.ErrorPage(w, r, u, err)
		}
	}))
}

// requireSignIn refuses any page request that carries no signed-in user,
// so the register is never shown to someone anonymous even if the service
// mounts the pages without login's middleware (login.Service.Protect: the
// session, the form-token check and security headers), which `dsr serve`
// puts around web.NewHandler. It authenticates nothing itself.
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

// Errors a page returns, shown as NHS.UK error pages.
var (
	ErrNotFound  = errors.New("page not found")
	ErrForbidden = errors.New("not allowed for your role")
)

// BadRequest is a query the page cannot answer, in words naming the field.
type BadRequest struct{ Field, Message string }

func (e BadRequest) Error() string { return e.Field + ": " + e.Message }
