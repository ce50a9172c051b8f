package api

import (
	"net/http"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/workflows"
)

// taskRefView is an open task as a write's answer shows it.
type taskRefView struct {
	ID      int64             `json:"id"`
	Kind    register.TaskKind `json:"kind"`
	DueAt   time.Time         `json:"due_at"`
	Overdue bool              `json:"overdue"`
}

// toTaskRefViews shows open tasks, overdue or not at now; none is [].
func toTaskRefViews(tasks []workflows.TaskRef, now time.Time) []taskRefView {
	out := []taskRefView{}
	for _, t := range tasks {
		out = append(out, taskRefView{ID: t.ID, Kind: t.Kind, DueAt: t.DueAt, Overdue: now.After(t.DueAt)})
	}
	return out
}

func handleListTasks(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		errs := register.FieldErrors{}
		status := q.Get("status")
		switch register.TaskStatus(status) {
		case "", register.TaskStatusOpen, register.TaskStatusDone, register.TaskStatusCancelled:
		default:
			errs.Add("status", "must be open, done or cancelled")
		}
		var pid int64
		if v := q.Get("person_id"); v != "" {
			n, err := register.ParseReference(v)
			if err != nil {
				errs.Add("person_id", err.Error())
			}
			pid = n
		}
		if len(errs) > 0 {
			writeError(w, http.StatusBadRequest, "invalid filter", errs)
			return
		}
		tasks, err := d.Store.ListTasks(r.Context(), store.TaskFilter{Status: status, PersonID: pid, Now: d.Now()})
		if err != nil {
			writeStoreError(w, d, err)
			return
		}
		// One person's tasks are part of their record; all tasks are a list.
		if pid == 0 {
			writeListing(w, r, d, "tasks", map[string]string{"status": status}, tasks)
			return
		}
		if !auditView(w, r, d, pid, "tasks") {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"tasks": nonNil(tasks)})
	})
}
