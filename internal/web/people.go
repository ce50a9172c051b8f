package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

type registerPage struct {
	base
	People []store.RegisterRow
	Total  int
	Rating string
	Stage  string
	Filter string
	Search string
	// ShowNames: coordinators see and search by names; managers see
	// initials and search by reference only.
	ShowNames bool
	Ratings   []register.Rating
	Stages    []register.Stage
	Pages     pagination
}

func (a *app) register(w http.ResponseWriter, r *http.Request, u login.User) error {
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
	p := registerPage{base: a.base(r, u, "Register", "people"), Rating: q.Get("rating"), Stage: q.Get("stage"),
		Filter: q.Get("filter"), Search: strings.TrimSpace(q.Get("q")), ShowNames: u.IsCoordinator(),
		Ratings: []register.Rating{register.Red, register.Amber, register.Green, register.Blue}, Stages: stagesShown}
	now := a.Now()
	rq := store.RegisterQuery{Now: now, Limit: pageSize}
	if p.Rating != "" {
		rating, err := register.ParseRating(p.Rating)
		if err != nil {
			return badRequest{"rating", "must be red, amber, green or blue"}
		}
		rq.Rating = rating
	}
	if p.Stage != "" {
		stage, err := register.ParseStage(p.Stage)
		if err != nil {
			return badRequest{"stage", "must be referred, active, consent_lapsed or removed"}
		}
		rq.Stage = stage
	}
	switch p.Filter {
	case "review_overdue":
		rq.ReviewOverdue = true
	case "consent_lapsing":
		rq.ConsentLapsingBy = now.Add(lapsingWithin)
	case "":
	default:
		return badRequest{"filter", "must be review_overdue or consent_lapsing"}
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
	page, err := pageNumber(q)
	if err != nil {
		return err
	}
	rq.Offset = (page - 1) * pageSize
	res, err := a.Store.Register(r.Context(), rq)
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
	if err := a.Store.RecordListing(r.Context(), store.Listing{Actor: webActor(u), Via: store.ViaWeb, List: "people", Count: len(res.People),
		Filters: map[string]string{"rating": p.Rating, "stage": p.Stage, "filter": p.Filter, "search": search, "page": strconv.Itoa(page)}}); err != nil {
		return err
	}
	p.People, p.Total = res.People, res.Total
	if !byName {
		p.Pages = paginate(r.URL, page, res.Total)
	}
	return a.render(w, http.StatusOK, "register", p)
}

// parseReference reads "DSR-1042", "dsr 1042" or "1042".
func parseReference(s string) (int64, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.TrimLeft(strings.TrimPrefix(s, "DSR"), "- ")
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

type personPage struct {
	base
	Person store.PersonRecord
	// ShowIdentifiers: coordinators see names, NHS number, date of birth and
	// postcode; managers see initials and age.
	ShowIdentifiers bool
	Initials        string
	Age             int
	Rationale       string
	RatedBy         string
	Tasks           []store.Task
	Escalations     []store.EscalationRecord
	Timeline        []store.AuditEntry
	// Views is who has looked at the record, newest first.
	Views []store.AuditEntry
}

// webActor is how the audit names a signed-in user's reads and actions.
func webActor(u login.User) string { return u.Name + " (web)" }

func (a *app) personPage(w http.ResponseWriter, r *http.Request, u login.User) error {
	id, ok := parseReference(r.PathValue("id"))
	if !ok {
		return errNotFound
	}
	person, err := a.Store.Person(r.Context(), id)
	if err != nil {
		return err
	}
	// Every look at a record is audited before anything of it is shown.
	if err := a.Store.RecordView(r.Context(), store.View{Actor: webActor(u), PersonID: id, Via: store.ViaWeb, What: "record"}); err != nil {
		return err
	}
	p := personPage{base: a.base(r, u, register.Reference(id), "people"), Person: person,
		ShowIdentifiers: u.IsCoordinator(), Initials: person.Person().Initials(),
		Age: ageOn(person.DateOfBirth, a.Policy.LocalDate(a.Now()))}
	if p.Tasks, err = a.Store.ListTasks(r.Context(), store.TaskFilter{Status: string(register.TaskStatusOpen), PersonID: id, Now: a.Now()}); err != nil {
		return err
	}
	if p.Escalations, err = a.Store.Escalations(r.Context(), id); err != nil {
		return err
	}
	history, err := a.Store.History(r.Context(), id)
	if err != nil {
		return err
	}
	for _, e := range history {
		switch e.Action {
		case "rated":
			p.Rationale, p.RatedBy = e.Detail["rationale"], e.Actor
		case store.ActionViewed:
			continue // shown under "Who has viewed this record"
		}
		p.Timeline = append(p.Timeline, e)
	}
	if p.Views, err = a.Store.Views(r.Context(), id); err != nil {
		return err
	}
	slices.Reverse(p.Timeline) // newest first
	return a.render(w, http.StatusOK, "person", p)
}

func ageOn(dob, day time.Time) int {
	age := day.Year() - dob.Year()
	if day.Month() < dob.Month() || (day.Month() == dob.Month() && day.Day() < dob.Day()) {
		age--
	}
	return age
}

// pagination is the NHS.UK numbered pagination for a list.
type pagination struct {
	Page, Pages int
	Prev, Next  string
	Items       []pageLink
}

type pageLink struct {
	Number  int
	Href    string
	Current bool
}

func pageNumber(q url.Values) (int, error) {
	s := q.Get("page")
	if s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 100000 {
		return 0, badRequest{"page", "must be a page number from 1"}
	}
	return n, nil
}

func paginate(u *url.URL, page, total int) pagination {
	pages := max(1, (total+pageSize-1)/pageSize)
	href := func(n int) string {
		q := u.Query()
		q.Set("page", strconv.Itoa(n))
		return u.Path + "?" + q.Encode()
	}
	p := pagination{Page: page, Pages: pages}
	if page > 1 {
		p.Prev = href(page - 1)
	}
	if page < pages {
		p.Next = href(page + 1)
	}
	// First, last and two either side of this page.
	for n := 1; n <= pages; n++ {
		if n == 1 || n == pages || (n >= page-2 && n <= page+2) {
			p.Items = append(p.Items, pageLink{Number: n, Href: href(n), Current: n == page})
		}
	}
	return p
}
