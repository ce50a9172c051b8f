package staffpage

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/htmlpage"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

//go:embed templates
var templateFiles embed.FS

// Parse is one page of the staff site, parsed once at start-up: the staff
// layout, the form fields, pagination and the table head, then file from fsys (the page's
// own "content"), with funcs added to the ones every page has. It panics on
// a template error, like template.Must.
func Parse(fsys fs.FS, file string, funcs template.FuncMap) *template.Template {
	t := htmlpage.Parse(templateFiles, pageFuncs, "templates/layout.html", "templates/fields.html", "templates/pagination.html", "templates/table.html")
	return template.Must(t.Funcs(funcs).ParseFS(fsys, file))
}

var errorTemplate = Parse(templateFiles, "templates/error.html", nil)

// Base is what every page's layout reads.
type Base struct {
	Title string
	// Nav is the navigation item that is the current section.
	Nav  string
	User login.User
	Req  *http.Request
	// Zone is the team's time zone, for dates shown.
	Zone *time.Location
}

// Base is the layout's part of a page.
func (s *Site) Base(r *http.Request, u login.User, title, nav string) Base {
	return Base{Title: title, Nav: nav, User: u, Req: r, Zone: s.Zone}
}

type errorPage struct {
	Base
	Heading string
	Message string
}

// ErrorPage shows err as an NHS.UK page. A database error is logged
// (opaque IDs only: paths carry register numbers, never names) and shown
// without detail.
func (s *Site) ErrorPage(w http.ResponseWriter, r *http.Request, u login.User, err error) {
	status := http.StatusInternalServerError
	var heading, message string
	var bad BadRequest
	switch {
	case errors.Is(err, ErrNotFound) || errors.Is(err, store.ErrNotFound):
		status, heading, message = http.StatusNotFound, "Page not found", "Check the address, or find the person from the register."
	case errors.Is(err, ErrForbidden):
		status, heading, message = http.StatusForbidden, "You cannot do this", "Only DSR coordinators can act on the register. Ask your DSR manager if you need to."
	case errors.As(err, &bad):
		status, heading, message = http.StatusBadRequest, "There is a problem with the address", fmt.Sprintf("%s %s.", bad.Field, bad.Message)
	case errors.Is(err, context.DeadlineExceeded):
		status, heading, message = http.StatusServiceUnavailable, "The register did not answer in time", "Nothing was changed. Try again in a moment."
	default:
		s.Logger.Error("web page failed", "method", r.Method, "path", r.URL.Path, "error", err)
		heading, message = "Sorry, there is a problem with the service", "Try again later. Nothing was changed."
	}
	if rerr := s.ShowError(w, r, u, status, heading, message); rerr != nil {
		http.Error(w, heading, status)
	}
}

// ShowError writes the NHS.UK error page with heading (also its title)
// and message.
func (s *Site) ShowError(w http.ResponseWriter, r *http.Request, u login.User, status int, heading, message string) error {
	p := errorPage{Base: s.Base(r, u, heading, ""), Heading: heading, Message: message}
	return htmlpage.Render(w, status, errorTemplate, p)
}

// pageFuncs are the template functions every staff page has.
var pageFuncs = template.FuncMap{
	"csrfField": func(r *http.Request) template.HTML {
		return template.HTML(`<input type="hidden" name="` + login.CSRFField + `" value="` +
			template.HTMLEscapeString(login.CSRFToken(r)) + `">`)
	},
	// formToken is a new one-time key for each form rendered: its
	// submission, however many times it is sent, is one action.
	"formToken": newFormToken,
	"reference": register.Reference,
	"date":      func(z *time.Location, t any) string { return FormatTime(z, t, "2 January 2006") },
	"dateTime":  func(z *time.Location, t any) string { return FormatTime(z, t, "2 January 2006 at 15:04") },
	"ratingTag": RatingTag,
	"stage":     StageLabel,
	"kind":      KindLabel,
	"action":    ActionLabel,
	"audit":     AuditLabel,
	"closedBy":  closedByLabel,
	"signed":    func(n int) string { return fmt.Sprintf("%+d", n) },
	"lower":     strings.ToLower,
	// headings are a table's column headings, for "table-head".
	"headings": func(hs ...string) []string { return hs },
}

func newFormToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// FormatTime is t (a time.Time or *time.Time) in the team's zone z, or ""
// for none.
func FormatTime(z *time.Location, t any, layout string) string {
	var tt time.Time
	switch v := t.(type) {
	case time.Time:
		tt = v
	case *time.Time:
		if v == nil {
			return ""
		}
		tt = *v
	}
	if tt.IsZero() {
		return ""
	}
	if layout == "2 January 2006" && tt.Hour() == 0 && tt.Minute() == 0 && tt.Location() == time.UTC {
		// A date the register keeps as midnight UTC is that calendar day.
		return tt.Format(layout)
	}
	return tt.In(z).Format(layout)
}
