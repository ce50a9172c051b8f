package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
)

// decode reads the JSON body, answering 400 itself when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeBody(r, v); err != nil {
		writeCaseworkError(w, r, err)
		return false
	}
	return true
}

// decodeBody reads a JSON body strictly: unknown fields and wrong types are
// errors naming the field.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	bad := func(msg string) error { return &casework.Error{Kind: casework.Invalid, Message: msg} }
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return casework.InvalidInput(register.FieldErrors{typeErr.Field: "must be a " + typeErr.Type.String()})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return casework.InvalidInput(register.FieldErrors{f: "is not a field of this request: check the spelling"})
	case errors.Is(err, io.EOF):
		return bad("the request body is empty: send a JSON object")
	default:
		return bad("the request body is not valid JSON: " + err.Error())
	}
}

// parseDate reads a calendar date (YYYY-MM-DD); "" is the zero time, and a
// date that does not parse is added to errs under field.
func parseDate(s, field string, errs register.FieldErrors) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		errs.Add(field, "must be a date as YYYY-MM-DD")
		return time.Time{}
	}
	return t
}
