package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// Reads are audited (issue 10). Every answer that shows a person's record,
// or part of it, is preceded by one audit insert naming who asked, through
// what and what they saw; a list is one insert saying what was listed. The
// insert is done in the request, after the data is read and before any of
// it is sent. If it fails the read fails with 503: an unaudited read is not
// allowed, so a database that can serve the read but not record it shows
// nothing.

// auditView records that the caller is about to see part of a person's
// record. On failure it has answered 503 and returns false.
func auditView(w http.ResponseWriter, r *http.Request, d Deps, personID int64, what string) bool {
	err := d.Store.RecordView(r.Context(), store.View{Actor: actor(r), PersonID: personID, Via: store.ViaAPI, What: what})
	if err != nil {
		d.Logger.Error("auditing a read failed: nothing shown", "person_id", personID, "what", what, "error", err)
		writeUnavailable(w, "the register could not record this read, so it shows nothing (every read is audited); retrying is safe")
		return false
	}
	return true
}

// auditListing records that the caller is about to see a list. On failure
// it has answered 503 and returns false.
func auditListing(w http.ResponseWriter, r *http.Request, d Deps, list string, filters map[string]string, count int) bool {
	err := d.Store.RecordListing(r.Context(), store.Listing{Actor: actor(r), Via: store.ViaAPI, List: list, Filters: filters, Count: count})
	if err != nil {
		d.Logger.Error("auditing a list failed: nothing shown", "list", list, "error", err)
		writeUnavailable(w, "the register could not record this read, so it shows nothing (every read is audited); retrying is safe")
		return false
	}
	return true
}

// handlePersonViews answers who has looked at a record, newest first.
// Reading it is itself a read about the person, audited like the others.
func handlePersonViews(d Deps) http.Handler {
	return handlePersonRead(d, "views", d.Store.Views, func(id int64, views []store.AuditEntry) any {
		out := make([]viewView, 0, len(views))
		for _, v := range views {
			out = append(out, viewView{At: v.At, Actor: v.Actor, Via: v.Detail["via"], What: v.Detail["what"]})
		}
		return map[string]any{"person_id": id, "reference": register.Reference(id), "views": out}
	})
}

// viewView is one look at a record.
type viewView struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	Via   string    `json:"via"`
	What  string    `json:"what"`
}

// handleExport answers a subject access request: everything held about the
// person, as JSON or (Accept: text/html, or ?format=html) as a document a
// person could be handed. The export is audited as a view.
func handleExport(d Deps) http.Handler {
	return handleWithID(personID, func(w http.ResponseWriter, r *http.Request, id int64) {
		format := r.URL.Query().Get("format")
		switch format {
		case "":
			format = "json"
			if strings.Contains(r.Header.Get("Accept"), "text/html") {
				format = "html"
			}
		case "json", "html":
		default:
			writeError(w, http.StatusBadRequest, "invalid format", register.FieldErrors{"format": "must be json or html"})
			return
		}
		sa, err := d.Store.SubjectAccess(r.Context(), id, d.Now())
		if errors.Is(err, store.ErrNotFound) {
			writePersonNotFound(w, id)
			return
		}
		if err != nil {
			writeStoreError(w, d, err)
			return
		}
		if !auditView(w, r, d, id, "export") {
			return
		}
		if format == "html" {
			writeExportHTML(w, d, sa, actor(r))
			return
		}
		writeJSON(w, http.StatusOK, sa)
	})
}

// handleErasure erases a removed person's identifying details on request,
// as the retention timer does when the period ends. Only someone removed:
// someone on the register is to be removed first (a coordinator decision
// with its own reason), so erasure never ends care by itself.
func handleErasure(d Deps) http.Handler {
	return handleWithID(personID, func(w http.ResponseWriter, r *http.Request, id int64) {
		var req struct {
			Reason string `json:"reason"`
		}
		if !decode(w, r, &req) {
			return
		}
		if strings.TrimSpace(req.Reason) == "" {
			writeCaseworkError(w, r, casework.InvalidInput(register.FieldErrors{"reason": "is required: say why the details are erased (for example, the person asked)"}))
			return
		}
		at, err := d.Store.Erase(r.Context(), store.Erasure{PersonID: id, Actor: actor(r), Via: store.ViaAPI, Notes: strings.TrimSpace(req.Reason), At: d.Now()})
		switch {
		case errors.Is(err, store.ErrNotFound):
			writePersonNotFound(w, id)
		case errors.Is(err, store.ErrNotRemoved):
			writeError(w, http.StatusConflict, register.Reference(id)+" is on the register: remove them (POST /people/{id}/removal) before erasing their details", nil)
		case errors.Is(err, store.ErrAlreadyErased):
			writeError(w, http.StatusConflict, register.Reference(id)+"'s details were already erased", nil)
		case errors.Is(err, store.ErrReferredAgain):
			writeError(w, http.StatusConflict, register.Reference(id)+" has been referred again: the referral is being taken in", nil)
		case err != nil:
			writeStoreError(w, d, err)
		default:
			writeJSON(w, http.StatusOK, map[string]any{"person_id": id, "reference": register.Reference(id), "erased_at": at,
				"kept": "reference, dates, stage, ratings, tasks, escalations and the audit; names, NHS number, date of birth, postcode, referrers' contact details and free text are erased"})
		}
	})
}

// dateOrEmpty shows a calendar date, or nothing once it was erased.
func dateOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02")
}
