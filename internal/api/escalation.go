package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/workflows"
)

// escalationView is an escalation's standing after an acknowledgement.
type escalationView struct {
	PersonID       int64            `json:"person_id"`
	Reference      string           `json:"reference"`
	Number         int              `json:"number"`
	StartedAt      time.Time        `json:"started_at"`
	AckDueAt       time.Time        `json:"ack_due_at"`
	AcknowledgedAt *time.Time       `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string           `json:"acknowledged_by,omitempty"`
	Alerts         int              `json:"alerts"`
	OpenTasks      []taskRefView    `json:"open_tasks"`
	Done           []actionDoneView `json:"done"`
}

type actionDoneView struct {
	Kind      register.TaskKind `json:"kind"`
	On        string            `json:"on"`
	By        string            `json:"by"`
	NotNeeded bool              `json:"not_needed,omitempty"`
}

func toEscalationView(s workflows.EscalationStatus, now time.Time) escalationView {
	v := escalationView{
		PersonID: s.PersonID, Reference: register.Reference(s.PersonID), Number: s.Number,
		StartedAt: s.StartedAt, AckDueAt: s.AckDueAt, AcknowledgedAt: timePtr(s.AcknowledgedAt),
		AcknowledgedBy: s.AcknowledgedBy, Alerts: s.Alerts, OpenTasks: toTaskRefViews(s.OpenTasks, now), Done: []actionDoneView{},
	}
	for _, d := range s.Done {
		v.Done = append(v.Done, actionDoneView{Kind: d.Kind, On: d.On.Format("2006-01-02"), By: d.By, NotNeeded: d.NotNeeded})
	}
	return v
}

// handleAcknowledge acknowledges the person's open red alert.
func handleAcknowledge(d Deps) http.Handler {
	return handleAction(personID, http.StatusOK, shownAs(d.Now, func(r *http.Request, id int64, req struct {
		Notes string `json:"notes"`
	}) (workflows.EscalationStatus, error) {
		return d.Casework.Acknowledge(r.Context(), id, req.Notes, action(r))
	}, toEscalationView))
}

type completeActionRequest struct {
	Kind      string `json:"kind"`
	DoneOn    string `json:"done_on"`
	NotNeeded bool   `json:"not_needed"`
	Notes     string `json:"notes"`
}

// handleCompleteAction records a required action done: a C(E)TR held, a
// keyworker referral made, a meeting held (or not needed).
func handleCompleteAction(d Deps) http.Handler {
	return handleAction(personID, http.StatusOK, func(r *http.Request, id int64, req completeActionRequest) (store.Task, error) {
		errs := register.FieldErrors{}
		var on time.Time
		if strings.TrimSpace(req.DoneOn) != "" {
			on = parseDate(req.DoneOn, "done_on", errs)
		}
		if strings.TrimSpace(req.Kind) == "" {
			errs.Add("kind", "is required: which action was done")
		}
		if err := invalidInput(errs); err != nil {
			return store.Task{}, err
		}
		return d.Casework.CompleteAction(r.Context(), id, casework.CompleteActionRequest{
			Kind: register.TaskKind(req.Kind), DoneOn: on, NotNeeded: req.NotNeeded, Notes: req.Notes,
		}, action(r))
	})
}

// handlePersonEscalations lists every escalation of one person.
func handlePersonEscalations(d Deps) http.Handler {
	return handlePersonList(d, "escalations", "escalations", d.Store.Escalations)
}

// handleListEscalations is the managers' view: every escalation, or only
// the open ones, or only those nobody has acknowledged.
func handleListEscalations(d Deps) http.Handler {
	return handleList(d, "escalations", func(f listFilters) store.EscalationFilter {
		return store.EscalationFilter{Open: f.flag("open"), Unacknowledged: f.flag("unacknowledged"), Now: d.Now()}
	}, d.Store.ListEscalations)
}
