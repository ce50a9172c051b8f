// Package people is the register (/people: the list, its filters and
// search) and each person's page (/people/{id}: their record, open tasks,
// red alerts, timeline and who has viewed it). Coordinators see names;
// managers see initials and references. Every list and every look at a
// record is audited before anything is shown.
package people

import (
	"embed"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dsr-register/dsr/internal/htmlpage"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/web/staffpage"
)

//go:embed templates
var templateFiles embed.FS

var (
	registerTemplate = staffpage.Parse(templateFiles, "templates/register.html", nil)
	personTemplate   = staffpage.Parse(templateFiles, "templates/person.html", nil)
)

// handlers are the register's pages.
type handlers struct{ *staffpage.Site }

// HandleRegister is the register (GET /people, and POST /people for its
// search form).
func HandleRegister(s *staffpage.Site) staffpage.Handler { return (&handlers{s}).list }

// HandlePerson is a person's page (GET /people/{id}).
func HandlePerson(s *staffpage.Site) staffpage.Handler { return (&handlers{s}).person }

type registerPage struct {
	staffpage.Base
	People []store.RegisterRow
	Total  int
	Rating string
	Stage  string
	Filter string
	Search string
	// ShowNames: coordinators see and search by names; managers see
	// initials and search by reference only.
	ShowNames bool
	// Filters are the register's drop-downs: colour, stage, what is late.
	Filters []filter
	Pages   staffpage.Pagination
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request, u login.User) error {
	q := r.URL.Query()
	byName := false
	if r.Method == http.MethodPost {
		// The search form posts, so a name never lands in a URL. Filters
		// and references are not personal: they go back to a link that can
		// be paged and bookmarked; a name search is answered here, one page.
		if err := r.ParseForm(); err != nil {
			return err
		}
		q = url.Values{}
		for _, k := range []string{"rating", "stage", "filter", "q"} {
			if v := strings.TrimSpace(r.PostForm.Get(k)); v != "" {
				q.Set(k, v)
			}
		}
		if _, isRef := parseReference(q.Get("q")); q.Get("q") == "" || isRef || !u.IsCoordinator() {
			http.Redirect(w, r, "/people?"+q.Encode(), http.StatusSeeOther)
			return nil
		}
		byName = true
	}
	p := registerPage{Base: h.Base(r, u, "Register", "people"), Rating: q.Get("rating"), Stage: q.Get("stage"),
		Filter: q.Get("filter"), Search: strings.TrimSpace(q.Get("q")), ShowNames: u.IsCoordinator()}
	p.Filters = filters(p.Rating, p.Stage, p.Filter)
	now := h.Now()
	rq := store.RegisterQuery{Now: now, Limit: staffpage.PageSize}
	if p.Rating != "" {
		rating, err := register.ParseRating(p.Rating)
		if err != nil {
			return staffpage.BadRequest{Field: "rating", Message: "must be red, amber, green or blue"}
		}
		rq.Rating = rating
	}
	if p.Stage != "" {
		stage, err := register.ParseStage(p.Stage)
		if err != nil {
			return staffpage.BadRequest{Field: "stage", Message: "must be referred, active, consent_lapsed or removed"}
		}
		rq.Stage = stage
	}
	switch p.Filter {
	case "review_overdue":
		rq.ReviewOverdue = true
	case "consent_lapsing":
		rq.ConsentLapsingBy = now.Add(staffpage.ConsentLapsingWithin)
	case "":
	default:
		return staffpage.BadRequest{Field: "filter", Message: "must be review_overdue or consent_lapsing"}
	}
	if p.Search != "" {
		if id, ok := parseReference(p.Search); ok {
			rq.PersonID = id
		} else if u.IsCoordinator() {
			rq.Name = p.Search
		} else {
			// Managers search by reference only: no names in their view.
			rq.PersonID = -1
		}
	}
	page, err := staffpage.PageNumber(q)
	if err != nil {
		return err
	}
	rq.Offset = (page - 1) * staffpage.PageSize
	res, err := h.Store.Register(r.Context(), rq)
	if err != nil {
		return err
	}
	search := ""
	switch {
	case rq.PersonID != 0:
		search = "reference"
	case rq.Name != "":
		search = "name"
	}
	if err := h.Store.RecordListing(r.Context(), store.Listing{Actor: u.AuditName(), Via: store.ViaWeb, List: "people", Count: len(res.People),
		Filters: map[string]string{"rating": p.Rating, "stage": p.Stage, "filter": p.Filter, "search": search, "page": strconv.Itoa(page)}}); err != nil {
		return err
	}
	p.People, p.Total = res.People, res.Total
	if !byName {
		p.Pages = staffpage.Paginate(r.URL, page, res.Total)
	}
	return htmlpage.Render(w, http.StatusOK, registerTemplate, p)
}

// filter is one of the register's drop-downs; its first choice, value "",
// is everyone.
type filter struct {
	Name, Label string
	Choices     []choice
}

type choice struct {
	Value, Label string
	Selected     bool
}

// filters are the drop-downs, with the choices made (rating, stage, late)
// selected.
func filters(rating, stage, late string) []filter {
	choices := func(selected string, valueLabel ...string) []choice {
		var out []choice
		for i := 0; i < len(valueLabel); i += 2 {
			out = append(out, choice{Value: valueLabel[i], Label: valueLabel[i+1], Selected: valueLabel[i] == selected})
		}
		return out
	}
	colours := []string{"", "Any"}
	for _, r := range []register.Rating{register.Red, register.Amber, register.Green, register.Blue} {
		colours = append(colours, string(r), strings.ToLower(string(r)))
	}
	stages := []string{"", "Any"}
	for _, s := range staffpage.StagesShown {
		stages = append(stages, string(s), staffpage.StageLabel(s))
	}
	return []filter{
		{Name: "rating", Label: "Colour", Choices: choices(rating, colours...)},
		{Name: "stage", Label: "Stage", Choices: choices(stage, stages...)},
		{Name: "filter", Label: "Late", Choices: choices(late, "", "Everyone",
			"review_overdue", "Review overdue", "consent_lapsing", "Consent lapsing in 30 days")},
	}
}

// parseReference reads "DSR-1042", "dsr 1042" or "1042".
func parseReference(s string) (int64, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.TrimLeft(strings.TrimPrefix(s, "DSR"), "- ")
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}
