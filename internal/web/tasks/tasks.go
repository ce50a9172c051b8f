// Package tasks is the coordinators' inbox (/tasks) and each task's page
// (/tasks/{id}) with a form for each action it offers. A form goes to
// internal/casework, the same Update Slack's button or modal sends, so a
// click here and a click in Slack can never disagree; its one-time key
// makes it one action however many times it is sent.
package tasks

import (
	"embed"
	"html/template"
	"net/http"
	"slices"
	"strconv"

	"github.com/dsr-register/dsr/internal/htmlpage"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/web/staffpage"
)

//go:embed templates
var templateFiles embed.FS

var (
	inboxTemplate = staffpage.Parse(templateFiles, "templates/inbox.html", nil)
	taskTemplate  = staffpage.Parse(templateFiles, "templates/task.html",
		template.FuncMap{"options": func(name string) []option { return formOptions[name] }})
)

// handlers are the inbox and the task pages.
type handlers struct{ *staffpage.Site }

// HandleInbox is the inbox (GET /tasks): open tasks, filtered and paged.
func HandleInbox(s *staffpage.Site) staffpage.Handler { return (&handlers{s}).inbox }

// HandleTask is a task's page (GET /tasks/{id}).
func HandleTask(s *staffpage.Site) staffpage.Handler { return (&handlers{s}).taskPage }

// HandleTaskAction takes a task page's form (POST /tasks/{id}).
func HandleTaskAction(s *staffpage.Site) staffpage.Handler { return (&handlers{s}).taskAction }

type inboxPage struct {
	staffpage.Base
	Tasks  []store.InboxTask
	Total  int
	Filter string
	Kind   register.TaskKind
	Kinds  []register.TaskKind
	Pages  staffpage.Pagination
	// Done is the task a form just closed, for the success banner.
	Done *store.Task
}

// inboxFilters are the inbox's views: whose, and what is late.
var inboxFilters = []string{"", "mine", "unassigned", "overdue"}

func (h *handlers) inbox(w http.ResponseWriter, r *http.Request, u login.User) error {
	q := r.URL.Query()
	p := inboxPage{Base: h.Base(r, u, "Tasks", "tasks"), Filter: q.Get("filter"), Kind: register.TaskKind(q.Get("kind")), Kinds: staffpage.TaskKinds}
	if !slices.Contains(inboxFilters, p.Filter) {
		return staffpage.BadRequest{Field: "filter", Message: "must be mine, unassigned or overdue"}
	}
	if p.Kind != "" && !slices.Contains(staffpage.TaskKinds, p.Kind) {
		return staffpage.BadRequest{Field: "kind", Message: "is not a kind of task the register has"}
	}
	page, err := staffpage.PageNumber(q)
	if err != nil {
		return err
	}
	iq := store.InboxQuery{Kind: p.Kind, Now: h.Now(), Limit: staffpage.PageSize, Offset: (page - 1) * staffpage.PageSize}
	switch p.Filter {
	case "mine":
		name := u.Name
		iq.AssignedTo = &name
	case "unassigned":
		none := ""
		iq.AssignedTo = &none
	case "overdue":
		iq.Overdue = true
	}
	res, err := h.Store.Inbox(r.Context(), iq)
	if err != nil {
		return err
	}
	if err := h.Store.RecordListing(r.Context(), store.Listing{Actor: u.AuditName(), Via: store.ViaWeb, List: "tasks", Count: len(res.Tasks),
		Filters: map[string]string{"filter": p.Filter, "kind": string(p.Kind), "page": strconv.Itoa(page)}}); err != nil {
		return err
	}
	p.Tasks, p.Total = res.Tasks, res.Total
	p.Pages = staffpage.Paginate(r.URL, page, res.Total)
	if done := q.Get("done"); done != "" {
		if id, err := strconv.ParseInt(done, 10, 64); err == nil {
			if t, err := h.Store.Task(r.Context(), id); err == nil {
				p.Done = &t
			}
		}
	}
	return htmlpage.Render(w, http.StatusOK, inboxTemplate, p)
}
