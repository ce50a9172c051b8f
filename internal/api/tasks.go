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
		f := filtersOf(r)
		status := f.oneOf("status", string(register.TaskStatusOpen), string(register.TaskStatusDone), string(register.TaskStatusCancelled))
		pid := parsedFilter(f, "person_id", register.ParseReference)
		if f.refused(w) {
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
