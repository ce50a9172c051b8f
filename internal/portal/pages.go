package portal

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/dsr-register/dsr/internal/htmlpage"
)

// Drawing the portal's pages: what every template reads, its functions,
// and the problem pages.

// page is what every template reads.
type page struct {
	Title    string
	Back     string
	Step     string
	Change   bool
	Token    string
	Errors   []fieldError
	Err      map[string]string
	W        wording
	A        answers
	Options  []option
	Councils []string
	Under16  bool
	Rows     []summaryRow
	Receipt  string

	ReplyDays int
	MaxReason int

	Lines    []string
	Link     string
	LinkText string
}

var funcs = template.FuncMap{
	"icon": icon,
	// field is what an error message needs: the page's errors and the id.
	"field": func(p any, id string) map[string]any {
		var errs map[string]string
		switch v := p.(type) {
		case *page:
			errs = v.Err
		case map[string]any:
			errs, _ = v["Err"].(map[string]string)
		}
		return map[string]any{"Err": errs, "ID": id}
	},
	"lower": strings.ToLower,
	"capital": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	// autocomplete fills a field from the browser only when it is about the
	// person at the keyboard.
	"autocomplete": func(w wording, token string) string {
		if w.Self {
			return token
		}
		return "off"
	},
	"them":       func(w wording) string { return pick(w.Self, "you", "them") },
	"themselves": func(w wording) string { return pick(w.Self, "yourself", "themselves") },
	"under16Words": func(w wording) string {
		return pick(w.Self, "You are", "The person is")
	},
	"over16Words": func(w wording) string { return pick(w.Self, "You are", "The person is") },
	"contactHint": func(w wording) string {
		if w.Professional {
			return "Give your work email address. We will only use it to talk about this referral."
		}
		return "Give a phone number, an email address, or both. We will only use them to talk about this referral."
	},
	"consentQuestion": func(w wording, under16 bool) string {
		switch {
		case w.Self:
			return "Do you agree to be on the register?"
		case under16:
			return "Who says yes to them being on the register?"
		}
		return "Do they agree to be on the register?"
	},
}

func pick(self bool, a, b string) string {
	if self {
		return a
	}
	return b
}

var templates = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range []string{"start", "question", "check", "sent", "problem"} {
		out[name] = htmlpage.Parse(files, funcs, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
	}
	// A dict passed to a shared part carries the page as P; the parts
	// read P.Err, so the field helper must also accept it.
	return out
}()

// render writes a page whole or not at all.
func (p *Portal) render(w http.ResponseWriter, status int, name string, data *page) {
	if data.Err == nil {
		data.Err = map[string]string{}
	}
	if err := htmlpage.Render(w, status, templates[name], data); err != nil {
		p.d.Logger.Error("portal page failed to render", "page", name, "error", err)
		http.Error(w, "Sorry, there is a problem with this page. Please try again later.", http.StatusInternalServerError)
	}
}

func (p *Portal) problem(w http.ResponseWriter, status int, title string, lines []string, link, linkText string) {
	p.render(w, status, "problem", &page{Title: title, Lines: lines, Link: link, LinkText: linkText})
}

func (p *Portal) notFound(w http.ResponseWriter, r *http.Request) {
	p.problem(w, http.StatusNotFound, "Page not found",
		[]string{"Check the web address. Or start the form again."}, "/refer", "Go to the start")
}

func (p *Portal) fail(w http.ResponseWriter, err error) {
	p.d.Logger.Error("portal failed", "error", err)
	p.problem(w, http.StatusInternalServerError, "Sorry, there is a problem with the service",
		[]string{"Please try again later."}, "/refer", "Go to the start")
}
