package register

import (
	"sort"
	"strings"
)

// FieldErrors maps a field path (as the caller spelt it, e.g.
// "person.nhs_number") to what is wrong with it and how to fix it.
type FieldErrors map[string]string

// Add records a problem with a field; the first problem per field wins.
func (e FieldErrors) Add(field, problem string) {
	if _, ok := e[field]; !ok {
		e[field] = problem
	}
}

// Merge adds other's problems to e.
func (e FieldErrors) Merge(other FieldErrors) {
	for f, p := range other {
		e.Add(f, p)
	}
}

// OrNil returns nil when there are no problems, so callers can test err != nil.
func (e FieldErrors) OrNil() FieldErrors {
	if len(e) == 0 {
		return nil
	}
	return e
}

// Error lists the problems in field order.
func (e FieldErrors) Error() string {
	fields := make([]string, 0, len(e))
	for f := range e {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		parts = append(parts, f+": "+e[f])
	}
	return "invalid input: " + strings.Join(parts, "; ")
}
