package people

import (
	"net/http"
	"slices"
	"time"

	"github.com/dsr-register/dsr/internal/htmlpage"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/web/staffpage"
)

type personPage struct {
	staffpage.Base
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

func (h *handlers) person(w http.ResponseWriter, r *http.Request, u login.User) error {
	id, ok := parseReference(r.PathValue("id"))
	if !ok {
		return staffpage.ErrNotFound
	}
	person, err := h.Store.Person(r.Context(), id)
	if err != nil {
		return err
	}
	// Every look at a record is audited before anything of it is shown.
	if err := h.Store.RecordView(r.Context(), store.View{Actor: u.AuditName(), PersonID: id, Via: store.ViaWeb, What: "record"}); err != nil {
		return err
	}
	p := personPage{Base: h.Base(r, u, register.Reference(id), "people"), Person: person,
		ShowIdentifiers: u.IsCoordinator(), Initials: person.Person().Initials(),
		Age: ageOn(person.DateOfBirth, h.Policy.LocalDate(h.Now()))}
	if p.Tasks, err = h.Store.ListTasks(r.Context(), store.TaskFilter{Status: string(register.TaskStatusOpen), PersonID: id, Now: h.Now()}); err != nil {
		return err
	}
	if p.Escalations, err = h.Store.Escalations(r.Context(), id); err != nil {
		return err
	}
	history, err := h.Store.History(r.Context(), id)
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
	if p.Views, err = h.Store.Views(r.Context(), id); err != nil {
		return err
	}
	slices.Reverse(p.Timeline) // newest first
	return htmlpage.Render(w, http.StatusOK, personTemplate, p)
}

func ageOn(dob, day time.Time) int {
	age := day.Year() - dob.Year()
	if day.Month() < dob.Month() || (day.Month() == dob.Month() && day.Day() < dob.Day()) {
		age--
	}
	return age
}
