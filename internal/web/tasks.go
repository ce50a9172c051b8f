package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// actionAssignMe is offered on every task, as in Slack.
const actionAssignMe register.Action = "assign_me"

const pageSize = 50

type inboxPage struct {
	base
	Tasks  []store.InboxTask
	Total  int
	Filter string
	Kind   register.TaskKind
	Kinds  []register.TaskKind
	Pages  pagination
	// Done is the task a form just closed, for the success banner.
	Done *store.Task
}

// inboxFilters are the inbox's views: whose, and what is late.
var inboxFilters = []string{"", "mine", "unassigned", "overdue"}

func (a *app) inbox(w http.ResponseWriter, r *http.Request, u login.User) error {
	q := r.URL.Query()
	p := inboxPage{base: a.base(r, u, "Tasks", "tasks"), Filter: q.Get("filter"), Kind: register.TaskKind(q.Get("kind")), Kinds: taskKinds}
	if !slices.Contains(inboxFilters, p.Filter) {
		return badRequest{"filter", "must be mine, unassigned or overdue"}
	}
	if p.Kind != "" && !slices.Contains(taskKinds, p.Kind) {
		return badRequest{"kind", "is not a kind of task the register has"}
	}
	page, err := pageNumber(q)
	if err != nil {
		return err
	}
	iq := store.InboxQuery{Kind: p.Kind, Now: a.Now(), Limit: pageSize, Offset: (page - 1) * pageSize}
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
	res, err := a.Store.Inbox(r.Context(), iq)
	if err != nil {
		return err
	}
	if err := a.Store.RecordListing(r.Context(), store.Listing{Actor: webActor(u), Via: store.ViaWeb, List: "tasks", Count: len(res.Tasks),
		Filters: map[string]string{"filter": p.Filter, "kind": string(p.Kind), "page": strconv.Itoa(page)}}); err != nil {
		return err
	}
	p.Tasks, p.Total = res.Tasks, res.Total
	p.Pages = paginate(r.URL, page, res.Total)
	if done := q.Get("done"); done != "" {
		if id, err := strconv.ParseInt(done, 10, 64); err == nil {
			if t, err := a.Store.Task(r.Context(), id); err == nil {
				p.Done = &t
			}
		}
	}
	return a.render(w, http.StatusOK, "inbox", p)
}

// taskView is one task's page: what it asks, and a form for each action.
type taskView struct {
	base
	Task    store.Task
	Person  store.PersonRecord
	Actions []register.Action
	// Today is the team's today, the default for a date asked for.
	Today time.Time
	// Posted is the action whose form was sent back with problems; Values
	// what was entered, Errors by field, Problems the error summary.
	Posted   register.Action
	Values   url.Values
	Errors   map[string]string
	Problems []problem
	// Stale: the task was closed before the form was sent.
	Stale bool
}

// problem is one line of the error summary, linking to its field.
type problem struct {
	Href    string
	Message string
}

func (a *app) loadTask(r *http.Request, u login.User) (store.Task, store.PersonRecord, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return store.Task{}, store.PersonRecord{}, errNotFound
	}
	t, err := a.Store.Task(r.Context(), id)
	if err != nil {
		return t, store.PersonRecord{}, err
	}
	p, err := a.Store.Person(r.Context(), t.PersonID)
	if err != nil {
		return t, p, err
	}
	// A task's page shows something of its person: audited first.
	err = a.Store.RecordView(r.Context(), store.View{Actor: webActor(u), PersonID: t.PersonID, Via: store.ViaWeb, What: "tasks"})
	return t, p, err
}

func (a *app) taskView(r *http.Request, u login.User, t store.Task, p store.PersonRecord) taskView {
	v := taskView{base: a.base(r, u, kindLabel(t.Kind)+" for "+register.Reference(t.PersonID), "tasks"),
		Task: t, Person: p, Today: a.Policy.LocalDate(a.Now()), Errors: map[string]string{}, Values: url.Values{}}
	if u.IsCoordinator() && t.Status == register.TaskStatusOpen {
		v.Actions = append(slices.Clone(t.Actions), actionAssignMe)
	}
	return v
}

func (a *app) taskPage(w http.ResponseWriter, r *http.Request, u login.User) error {
	t, p, err := a.loadTask(r, u)
	if err != nil {
		return err
	}
	return a.render(w, http.StatusOK, "task", a.taskView(r, u, t, p))
}

// taskAction takes one form from a task's page to casework: the same
// method Slack's button or modal calls. The form's one-time token names the
// action, so a form sent twice is recorded once.
func (a *app) taskAction(w http.ResponseWriter, r *http.Request, u login.User) error {
	if !u.IsCoordinator() {
		return errForbidden
	}
	if err := r.ParseForm(); err != nil {
		return badRequest{"form", "could not be read"}
	}
	t, p, err := a.loadTask(r, u)
	if err != nil {
		return err
	}
	v := a.taskView(r, u, t, p)
	action := register.Action(r.PostForm.Get("action"))
	v.Posted, v.Values = action, r.PostForm
	if t.Status != register.TaskStatusOpen {
		v.Stale = true
		return a.render(w, http.StatusConflict, "task", v)
	}
	if !slices.Contains(v.Actions, action) {
		v.problem(action, "action", "This task does not offer that action any more: choose one of the actions below.")
		return a.render(w, http.StatusBadRequest, "task", v)
	}
	token := r.PostForm.Get("form_token")
	if token == "" || len(token) > 64 {
		v.problem(action, "action", "The form was sent without its one-time key: send it again from this page.")
		return a.render(w, http.StatusBadRequest, "task", v)
	}
	by := casework.Action{By: webActor(u), ID: casework.ActionID("web", userKey(u), token+":"+string(action)+":"+strconv.FormatInt(t.ID, 10))}
	err = a.act(r, v, action, by, u)
	if err == nil {
		http.Redirect(w, r, "/tasks?done="+strconv.FormatInt(t.ID, 10), http.StatusSeeOther)
		return nil
	}
	return a.refused(w, r, v, err)
}

// userKey is who a form's key belongs to: the provider's stable ID, or the
// name where there is none.
func userKey(u login.User) string {
	if u.Subject != "" {
		return u.Subject
	}
	return u.Name
}

// formError is a field the page itself refuses before casework sees it.
type formError struct{ field, message string }

func (e formError) Error() string { return e.field + ": " + e.message }

func (a *app) act(r *http.Request, v taskView, action register.Action, by casework.Action, u login.User) error {
	ctx, f, t := r.Context(), r.PostForm, v.Task
	notes := strings.TrimSpace(f.Get("notes"))
	var err error
	switch action {
	case register.ActionRecordConsent, register.ActionRenewConsent:
		decided, derr := dateField(f, "decided_on", "the date the decision was made")
		if derr != nil {
			return derr
		}
		_, err = a.Casework.RecordConsent(ctx, t.PersonID, casework.ConsentRequest{
			Basis: register.ConsentBasis(f.Get("basis")), GivenBy: strings.TrimSpace(f.Get("given_by")), DecidedOn: decided, Notes: notes}, by)
	case register.ActionRate, register.ActionChangeRating:
		_, err = a.Casework.Rate(ctx, t.PersonID, casework.RateRequest{Rating: register.Rating(f.Get("rating")),
			Rationale: strings.TrimSpace(f.Get("rationale")), SecurePlacement: f.Get("secure_placement") == "yes"}, by)
	case register.ActionConfirmRating:
		_, err = a.Casework.ConfirmReview(ctx, t.PersonID, withDefault(notes, "confirmed on the web"), by)
	case register.ActionCloseReferral, register.ActionRemove:
		_, err = a.Casework.Remove(ctx, t.PersonID, register.RemovalReason(f.Get("reason")), notes, by)
	case register.ActionAcknowledge:
		_, err = a.Casework.AcknowledgeTask(ctx, t.ID, withDefault(notes, "acknowledged on the web"), by)
	case register.ActionNotNeeded:
		_, err = a.Casework.CompleteTask(ctx, t.ID, casework.CompleteActionRequest{NotNeeded: true, Notes: withDefault(notes, "closed as not needed on the web")}, by)
	case register.ActionMarkDone:
		doneOn, derr := dateField(f, "done_on", "the date it happened")
		if derr != nil {
			return derr
		}
		if doneOn.Equal(v.Today) {
			// Today is sent as "today" (zero), which the register dates
			// itself in the team's time zone, as Slack's form does.
			doneOn = time.Time{}
		}
		_, err = a.Casework.CompleteTask(ctx, t.ID, casework.CompleteActionRequest{DoneOn: doneOn, Notes: notes}, by)
	case actionAssignMe:
		_, err = a.Casework.Assign(ctx, t.PersonID, u.Name, by)
	}
	return err
}

func withDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// dateField reads an NHS.UK date input (name-day, name-month, name-year).
func dateField(f url.Values, name, what string) (time.Time, error) {
	d, m, y := strings.TrimSpace(f.Get(name+"-day")), strings.TrimSpace(f.Get(name+"-month")), strings.TrimSpace(f.Get(name+"-year"))
	if d == "" && m == "" && y == "" {
		return time.Time{}, formError{name, "Enter " + what}
	}
	day, e1 := strconv.Atoi(d)
	month, e2 := strconv.Atoi(m)
	year, e3 := strconv.Atoi(y)
	if e1 != nil || e2 != nil || e3 != nil || len(y) != 4 {
		return time.Time{}, formError{name, "Enter " + what + " as numbers, for example 27 3 2026"}
	}
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if t.Day() != day || int(t.Month()) != month {
		return time.Time{}, formError{name, "Enter a real date for " + what}
	}
	return t, nil
}

// refused shows the task's page again saying why the form was not
// recorded: a field to fix, a task someone else closed, or the register not
// answering.
func (a *app) refused(w http.ResponseWriter, r *http.Request, v taskView, err error) error {
	var fe formError
	if errors.As(err, &fe) {
		v.problem(v.Posted, fe.field, fe.message)
		return a.render(w, http.StatusBadRequest, "task", v)
	}
	var ce *casework.Error
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Kind {
	case casework.Invalid:
		for field, msg := range ce.Fields {
			v.problem(v.Posted, fieldOf(v.Posted, field), fieldLabel(field)+" "+msg)
		}
		if len(ce.Fields) == 0 {
			v.problem(v.Posted, "action", explainCasework(err))
		}
		return a.render(w, http.StatusBadRequest, "task", v)
	case casework.Conflict:
		// Closed meanwhile (another coordinator, Slack, a timer)? Then say
		// who did it and when.
		if t, terr := a.Store.Task(r.Context(), v.Task.ID); terr == nil && t.Status != register.TaskStatusOpen {
			v.Task, v.Stale, v.Actions = t, true, nil
			return a.render(w, http.StatusConflict, "task", v)
		}
		v.problem(v.Posted, "action", explainCasework(err))
		return a.render(w, http.StatusConflict, "task", v)
	case casework.NotFound:
		return errNotFound
	}
	v.problem(v.Posted, "action", explainCasework(err))
	return a.render(w, http.StatusServiceUnavailable, "task", v)
}

// Val is what a form's field shows: what was sent, if this form was.
func (v taskView) Val(action register.Action, field string) string {
	if v.Posted != action {
		return ""
	}
	return v.Values.Get(field)
}

// Err is the message against a form's field, if this form was sent.
func (v taskView) Err(action register.Action, field string) string {
	if v.Posted != action {
		return ""
	}
	return v.Errors[field]
}

// DateVal is a part (day, month, year) of a date input: what was sent, or
// today.
func (v taskView) DateVal(action register.Action, field, part string) string {
	if v.Posted == action {
		return v.Values.Get(field + "-" + part)
	}
	switch part {
	case "day":
		return strconv.Itoa(v.Today.Day())
	case "month":
		return strconv.Itoa(int(v.Today.Month()))
	}
	return strconv.Itoa(v.Today.Year())
}

// problem adds a line to the error summary and the message beside field.
func (v *taskView) problem(action register.Action, field, message string) {
	id := string(action) + "-" + field
	if field == "action" {
		id = string(action) + "-form"
	}
	v.Errors[field] = message
	v.Problems = append(v.Problems, problem{Href: "#" + id, Message: message})
}

// formFields lists the fields each form has, so an error casework names
// against a field the form lacks is shown against the form itself.
var formFields = map[register.Action][]string{
	register.ActionRecordConsent: {"basis", "given_by", "decided_on", "notes"},
	register.ActionRenewConsent:  {"basis", "given_by", "decided_on", "notes"},
	register.ActionRate:          {"rating", "rationale", "secure_placement"},
	register.ActionChangeRating:  {"rating", "rationale", "secure_placement"},
	register.ActionCloseReferral: {"reason", "notes"},
	register.ActionRemove:        {"reason", "notes"},
	register.ActionMarkDone:      {"done_on", "notes"},
}

func fieldOf(action register.Action, field string) string {
	if slices.Contains(formFields[action], field) {
		return field
	}
	return "action"
}

func fieldLabel(field string) string {
	switch field {
	case "basis":
		return "Basis of consent:"
	case "given_by":
		return "Given by:"
	case "decided_on":
		return "Date decided:"
	case "rating":
		return "Rating:"
	case "rationale":
		return "Why this rating:"
	case "secure_placement":
		return "Secure service:"
	case "reason":
		return "Reason:"
	case "done_on":
		return "Date it happened:"
	}
	return upperFirst(strings.ReplaceAll(field, "_", " ")) + ":"
}
