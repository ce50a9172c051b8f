package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/dsr-register/dsr/internal/register"
)

// listFilters reads a list's query filters. Each filter may be left out; one
// that is given and wrong is collected rather than answered at once, so that
// one 400 "invalid filter" names every bad filter and what it may be.
type listFilters struct {
	query url.Values
	errs  register.FieldErrors
	// given is every filter read, as the caller gave it: what the
	// listing's audit entry records.
	given map[string]string
}

func filtersOf(r *http.Request) listFilters {
	return listFilters{query: r.URL.Query(), errs: register.FieldErrors{}, given: map[string]string{}}
}

// get is the filter name as given ("" when left out), noted for the audit.
func (f listFilters) get(name string) string {
	v := f.query.Get(name)
	f.given[name] = v
	return v
}

// oneOf is the filter name as given: left out, or one of values.
func (f listFilters) oneOf(name string, values ...string) string {
	v := f.get(name)
	if v != "" && !slices.Contains(values, v) {
		f.errs.Add(name, "must be "+orList(values))
	}
	return v
}

// flag is the filter name as true or false; left out, it is false.
func (f listFilters) flag(name string) bool {
	return f.oneOf(name, "true", "false") == "true"
}

// parsedFilter is the filter name read by parse (the register's own
// reading of a rating, a stage, a reference), or T's zero value when it is
// left out; a value parse refuses is a bad filter, in parse's words.
func parsedFilter[T any](f listFilters, name string, parse func(string) (T, error)) T {
	var v T
	if s := f.get(name); s != "" {
		var err error
		if v, err = parse(s); err != nil {
			f.errs.Add(name, err.Error())
		}
	}
	return v
}

// refused answers 400 "invalid filter" naming each bad filter, and reports
// whether it did: the handler then stops.
func (f listFilters) refused(w http.ResponseWriter) bool {
	if len(f.errs) == 0 {
		return false
	}
	writeError(w, http.StatusBadRequest, "invalid filter", f.errs)
	return true
}

// orList lists values for a message: "a, b or c".
func orList(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}
