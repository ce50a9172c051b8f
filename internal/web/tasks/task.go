package tasks

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/htmlpage"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/web/staffpage"
)

// taskView is one task's page: what it asks, and a form for each action.
type taskView struct {
	staffpage.Base
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
	Problems []staffpage.Problem
	// Stale: the task was closed before the form was sent.
	Stale bool
}

func (h *handlers) loadTask(r *http.Request, u login.User) (store.Task, store.PersonRecord, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return store.Task{}, store.PersonRecord{}, staffpage.ErrNotFound
	}
	t, err := h.Store.Task(r.Context(), id)
	if err != nil {
		return t, store.PersonRecord{}, err
	}
	p, err := h.Store.Person(r.Context(), t.PersonID)
	if err != nil {
		return t, p, err
	}
	// A task's page shows something of its person: audited first.
	err = h.Store.RecordView(r.Context(), store.View{Actor: u.AuditName(), PersonID: t.PersonID, Via: store.ViaWeb, What: "tasks"})
	return t, p, err
}

func (h *handlers) taskView(r *http.Request, u login.User, t store.Task, p store.PersonRecord) taskView {
	v := taskView{Base: h.Base(r, u, staffpage.KindLabel(t.Kind)+" for "+register.Reference(t.PersonID), "tasks"),
		Task: t, Person: p, Today: h.Policy.LocalDate(h.Now()), Errors: map[string]string{}, Values: url.Values{}}
	if u.IsCoordinator() && t.Status == register.TaskStatusOpen {
		v.Actions = append(slices.Clone(t.Actions), staffpage.ActionAssignMe)
	}
	return v
}

func (h *handlers) taskPage(w http.ResponseWriter, r *http.Request, u login.User) error {
	t, p, err := h.loadTask(r, u)
	if err != nil {
		return err
	}
	return htmlpage.Render(w, http.StatusOK, taskTemplate, h.taskView(r, u, t, p))
}

// taskAction takes one form from a task's page to casework: the same
// method Slack's button or modal calls. The form's one-time token names the
// action, so a form sent twice is recorded once.
func (h *handlers) taskAction(w http.ResponseWriter, r *http.Request, u login.User) error {
	if !u.IsCoordinator() {
		return staffpage.ErrForbidden
	}
	if err := r.ParseForm(); err != nil {
		return staffpage.BadRequest{Field: "form", Message: "could not be read"}
	}
	t, p, err := h.loadTask(r, u)
	if err != nil {
		return err
	}
	v := h.taskView(r, u, t, p)
	action := register.Action(r.PostForm.Get("action"))
	v.Posted, v.Values = action, r.PostForm
	if t.Status != register.TaskStatusOpen {
		v.Stale = true
		return htmlpage.Render(w, http.StatusConflict, taskTemplate, v)
	}
	if !slices.Contains(v.Actions, action) {
		v.problem(action, "action", "This task does not offer that action any more: choose one of the actions below.")
		return htmlpage.Render(w, http.StatusBadRequest, taskTemplate, v)
	}
	token := r.PostForm.Get("form_token")
	if token == "" || len(token) > 64 {
		v.problem(action, "action", "The form was sent without its one-time key: send it again from this page.")
		return htmlpage.Render(w, http.StatusBadRequest, taskTemplate, v)
	}
	by := casework.Action{By: u.AuditName(), ID: casework.ActionID("web", userKey(u), token+":"+string(action)+":"+strconv.FormatInt(t.ID, 10))}
	err = h.act(r, v, action, by, u)
	if err == nil {
		http.Redirect(w, r, "/tasks?done="+strconv.FormatInt(t.ID, 10), http.StatusSeeOther)
		return nil
	}
	return h.refused(w, r, v, err)
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

func (h *handlers) act(r *http.Request, v taskView, action register.Action, by casework.Action, u login.User) error {
	ctx, f, t := r.Context(), r.PostForm, v.Task
	notes := strings.TrimSpace(f.Get("notes"))
	var err error
	switch action {
	case register.ActionRecordConsent, register.ActionRenewConsent:
		decided, derr := dateField(f, "decided_on", "the date the decision was made")
		if derr != nil {
			return derr
		}
		_, err = h.Casework.RecordConsent(ctx, t.PersonID, casework.ConsentRequest{
			Basis: register.ConsentBasis(f.Get("basis")), GivenBy: strings.TrimSpace(f.Get("given_by")), DecidedOn: decided, Notes: notes}, by)
	case register.ActionRate, register.ActionChangeRating:
		_, err = h.Casework.Rate(ctx, t.PersonID, casework.RateRequest{Rating: register.Rating(f.Get("rating")),
			Rationale: strings.TrimSpace(f.Get("rationale")), SecurePlacement: f.Get("secure_placement") == "yes"}, by)
	case register.ActionConfirmRating:
		_, err = h.Casework.ConfirmReview(ctx, t.PersonID, withDefault(notes, "confirmed on the web"), by)
	case register.ActionCloseReferral, register.ActionRemove:
		_, err = h.Casework.Remove(ctx, t.PersonID, register.RemovalReason(f.Get("reason")), notes, by)
	case register.ActionAcknowledge:
		_, err = h.Casework.AcknowledgeTask(ctx, t.ID, withDefault(notes, "acknowledged on the web"), by)
	case register.ActionNotNeeded:
		_, err = h.Casework.CompleteTask(ctx, t.ID, casework.CompleteActionRequest{NotNeeded: true, Notes: withDefault(notes, "closed as not needed on the web")}, by)
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
		_, err = h.Casework.CompleteTask(ctx, t.ID, casework.CompleteActionRequest{DoneOn: doneOn, Notes: notes}, by)
	case staffpage.ActionAssignMe:
		_, err = h.Casework.Assign(ctx, t.PersonID, u.Name, by)
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
func (h *handlers) refused(w http.ResponseWriter, r *http.Request, v taskView, err error) error {
	var fe formError
	if errors.As(err, &fe) {
		v.problem(v.Posted, fe.field, fe.message)
		return htmlpage.Render(w, http.StatusBadRequest, taskTemplate, v)
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
		return htmlpage.Render(w, http.StatusBadRequest, taskTemplate, v)
	case casework.Conflict:
		// Closed meanwhile (another coordinator, Slack, a timer)? Then say
		// who did it and when.
		if t, terr := h.Store.Task(r.Context(), v.Task.ID); terr == nil && t.Status != register.TaskStatusOpen {
			v.Task, v.Stale, v.Actions = t, true, nil
			return htmlpage.Render(w, http.StatusConflict, taskTemplate, v)
		}
		v.problem(v.Posted, "action", explainCasework(err))
		return htmlpage.Render(w, http.StatusConflict, taskTemplate, v)
	case casework.NotFound:
		return staffpage.ErrNotFound
	}
	v.problem(v.Posted, "action", explainCasework(err))
	return htmlpage.Render(w, http.StatusServiceUnavailable, taskTemplate, v)
}
