package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// The shapes the handlers share, so that each handler says only what is
// particular to it: what its body holds, what it checks, which casework or
// store call it makes and what it answers.

// idReader reads the ID a route's path names, answering 400 itself when it
// is not one.
type idReader func(w http.ResponseWriter, r *http.Request) (int64, bool)

// handleWithID serves a route whose path names one thing, once readID has
// read its ID (a bad ID is answered 400 by readID).
func handleWithID(readID idReader, serve func(w http.ResponseWriter, r *http.Request, id int64)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := readID(w, r); ok {
			serve(w, r, id)
		}
	})
}

// shownAs is do answered as its view at the time of answering (due dates
// are shown as late or not against now); do's error passes through.
func shownAs[Req, Status, View any](now func() time.Time, do func(r *http.Request, id int64, req Req) (Status, error),
	view func(Status, time.Time) View) func(r *http.Request, id int64, req Req) (View, error) {
	return func(r *http.Request, id int64, req Req) (View, error) {
		status, err := do(r, id, req)
		if err != nil {
			var none View
			return none, err
		}
		return view(status, now()), nil
	}
}

// handleAction is a write on the one thing the path names: its ID, the JSON
// body decoded strictly into Req (400 naming the field when it cannot be),
// then do. do's result is answered with code and its error in casework's
// words (writeCaseworkError), so a handler refuses bad fields by returning
// invalidInput.
func handleAction[Req, Res any](readID idReader, code int, do func(r *http.Request, id int64, req Req) (Res, error)) http.Handler {
	return handleWithID(readID, func(w http.ResponseWriter, r *http.Request, id int64) {
		var req Req
		if !decode(w, r, &req) {
			return
		}
		res, err := do(r, id, req)
		writeResult(w, r, code, res, err)
	})
}

// invalidInput refuses a request for the fields errs names (400 "invalid
// input"), or is nil when errs names none.
func invalidInput(errs register.FieldErrors) error {
	if len(errs) == 0 {
		return nil
	}
	return casework.InvalidInput(errs)
}

// numberedID reads a path's {id} that is a plain number (a meeting, an MbE
// request, an identity check); the 400 says "invalid <thing> id" and hint
// says what a good one is.
func numberedID(thing, hint string) idReader {
	return func(w http.ResponseWriter, r *http.Request) (int64, bool) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			writeError(w, http.StatusBadRequest, "invalid "+thing+" id", register.FieldErrors{"id": hint})
			return 0, false
		}
		return id, true
	}
}

// personID reads a path's {id} that names a person: 1042 or DSR-1042.
func personID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := register.ParseReference(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid person id", register.FieldErrors{"id": err.Error()})
		return 0, false
	}
	return id, true
}

// personOr404 reads the person, answering 404 or 503 itself.
func personOr404(w http.ResponseWriter, r *http.Request, d Deps, id int64) (store.PersonRecord, bool) {
	p, err := d.Store.Person(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writePersonNotFound(w, id)
		return p, false
	}
	if err != nil {
		writeStoreError(w, d, err)
		return p, false
	}
	return p, true
}

// handlePersonRead answers a GET about one person: 404 for no such
// person, what load reads from the store, the read audited as a look at
// <what> (nothing is shown unless it was recorded), then answer's view of
// it.
func handlePersonRead[T any](d Deps, what string, load func(ctx context.Context, id int64) (T, error), answer func(id int64, v T) any) http.Handler {
	return handleWithID(personID, func(w http.ResponseWriter, r *http.Request, id int64) {
		if _, ok := personOr404(w, r, d, id); !ok {
			return
		}
		v, err := load(r.Context(), id)
		if err != nil {
			writeStoreError(w, d, err)
			return
		}
		if !auditView(w, r, d, id, what) {
			return
		}
		writeJSON(w, http.StatusOK, answer(id, v))
	})
}

// handlePersonList answers GET /people/{id}/<what>: one person's list,
// read as handlePersonRead reads, shown as {key: list}.
func handlePersonList[T any](d Deps, what, key string, load func(ctx context.Context, id int64) ([]T, error)) http.Handler {
	return handlePersonRead(d, what, load, func(_ int64, list []T) any {
		return map[string]any{key: nonNil(list)}
	})
}

// handleList answers GET on one of the register's lists: filter reads the
// list's filters from the query (a bad one is answered 400 "invalid filter"
// before anything is read), read reads the list with them, and the listing
// is written as writeListing writes it, with the filters as given.
func handleList[F, T any](d Deps, list string, filter func(f listFilters) F, read func(ctx context.Context, filter F) ([]T, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := filtersOf(r)
		by := filter(f)
		if f.refused(w) {
			return
		}
		items, err := read(r.Context(), by)
		if err != nil {
			writeStoreError(w, d, err)
			return
		}
		writeListing(w, r, d, list, f.given, items)
	})
}

// writeListing answers a list the caller asked for: the listing audited
// with its filters (nothing is shown unless it was recorded), then
// {list: items}.
func writeListing[T any](w http.ResponseWriter, r *http.Request, d Deps, list string, filters map[string]string, items []T) {
	if !auditListing(w, r, d, list, filters, len(items)) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{list: nonNil(items)})
}
