package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// Meetings (README "Meetings"): convened, changed, cancelled, their
// outcome and its actions.

// inviteeJSON is an invitee as the API spells it.
type inviteeJSON struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	Email string `json:"email"`
}

func invitees(in []inviteeJSON) []register.Invitee {
	if in == nil {
		return nil
	}
	out := make([]register.Invitee, len(in))
	for i, v := range in {
		out[i] = register.Invitee{Name: v.Name, Role: v.Role, Email: v.Email}
	}
	return out
}

// parseStartsAt reads an RFC 3339 instant.
func parseStartsAt(s string, errs register.FieldErrors) time.Time {
	if strings.TrimSpace(s) == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		errs.Add("starts_at", "must be a date and time with its offset, e.g. 2026-07-14T09:30:00+01:00")
		return time.Time{}
	}
	return t
}

// parseMeetingDuration reads "90m", "1h30m" or a number of minutes.
func parseMeetingDuration(raw json.RawMessage, errs register.FieldErrors) time.Duration {
	if len(raw) == 0 || string(raw) == "null" {
		return 0
	}
	var minutes float64
	if err := json.Unmarshal(raw, &minutes); err == nil {
		return time.Duration(minutes * float64(time.Minute))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if d, err := time.ParseDuration(strings.TrimSpace(s)); err == nil {
			return d
		}
	}
	errs.Add("duration", `must be minutes (90) or a duration such as "1h30m"`)
	return 0
}

// conveneMeetingRequest is a meeting to convene. (Not an embedded
// changeMeetingRequest: a wrong type in an embedded field would be named
// with the embedded type's name in the answer's fields.)
type conveneMeetingRequest struct {
	Kind     string          `json:"kind"`
	Purpose  string          `json:"purpose"`
	StartsAt string          `json:"starts_at"`
	Duration json.RawMessage `json:"duration"`
	Location string          `json:"location"`
	Invitees []inviteeJSON   `json:"invitees"`
}

func handleConveneMeeting(d Deps) http.Handler {
	return handleAction(personID, http.StatusCreated, func(r *http.Request, id int64, req conveneMeetingRequest) (store.Meeting, error) {
		errs := register.FieldErrors{}
		plan := register.MeetingPlan{Kind: register.MeetingKind(strings.TrimSpace(req.Kind)), Purpose: req.Purpose,
			StartsAt: parseStartsAt(req.StartsAt, errs), Duration: parseMeetingDuration(req.Duration, errs),
			Location: req.Location, Invitees: invitees(req.Invitees)}
		if more := register.ValidateMeetingPlan(plan, d.Now()); more != nil {
			errs.Merge(more)
		}
		if err := invalidInput(errs); err != nil {
			return store.Meeting{}, err
		}
		return d.Casework.ConveneMeeting(r.Context(), id, plan, action(r))
	})
}

var meetingID = numberedID("meeting", "must be a meeting number, as GET /people/{id}/meetings gives")

// changeMeetingRequest is what a change to a meeting may change.
type changeMeetingRequest struct {
	Purpose  string          `json:"purpose"`
	StartsAt string          `json:"starts_at"`
	Duration json.RawMessage `json:"duration"`
	Location string          `json:"location"`
	Invitees []inviteeJSON   `json:"invitees"`
}

func handleChangeMeeting(d Deps) http.Handler {
	return handleAction(meetingID, http.StatusOK, func(r *http.Request, id int64, req changeMeetingRequest) (store.Meeting, error) {
		errs := register.FieldErrors{}
		ch := register.MeetingChange{StartsAt: parseStartsAt(req.StartsAt, errs), Duration: parseMeetingDuration(req.Duration, errs),
			Location: req.Location, Purpose: req.Purpose, Invitees: invitees(req.Invitees)}
		// A time or duration that does not parse is answered with every
		// other bad field too; the parse error, added first, wins for its
		// field.
		errs.Merge(register.ValidateMeetingChange(ch, d.Now()))
		if err := invalidInput(errs); err != nil {
			return store.Meeting{}, err
		}
		return d.Casework.ChangeMeeting(r.Context(), id, ch, action(r))
	})
}

func handleCancelMeeting(d Deps) http.Handler {
	return handleAction(meetingID, http.StatusOK, func(r *http.Request, id int64, req struct {
		Reason string `json:"reason"`
	}) (store.Meeting, error) {
		return d.Casework.CancelMeeting(r.Context(), id, req.Reason, action(r))
	})
}

type meetingOutcomeRequest struct {
	Held    *bool  `json:"held"`
	HeldOn  string `json:"held_on"`
	Notes   string `json:"notes"`
	Actions []struct {
		Description string `json:"description"`
		Owner       string `json:"owner"`
		DueOn       string `json:"due_on"`
	} `json:"actions"`
}

func handleMeetingOutcome(d Deps) http.Handler {
	return handleAction(meetingID, http.StatusOK, func(r *http.Request, id int64, req meetingOutcomeRequest) (store.Meeting, error) {
		errs := register.FieldErrors{}
		if req.Held == nil {
			errs.Add("held", "is required: true if the meeting took place, false if not")
		}
		o := register.MeetingOutcome{Held: req.Held != nil && *req.Held, HeldOn: parseDate(req.HeldOn, "held_on", errs), Notes: req.Notes}
		for i, a := range req.Actions {
			o.Actions = append(o.Actions, register.MeetingAction{Description: a.Description, Owner: a.Owner,
				DueOn: parseDate(a.DueOn, fmt.Sprintf("actions[%d].due_on", i), errs)})
		}
		if err := invalidInput(errs); err != nil {
			return store.Meeting{}, err
		}
		return d.Casework.RecordMeetingOutcome(r.Context(), id, o, action(r))
	})
}

var meetingActionID = numberedID("action", "must be the action's task id")

// handleMeetingActionDone marks a meeting's action done. Its body (notes)
// may be left out altogether.
func handleMeetingActionDone(d Deps) http.Handler {
	return handleWithID(meetingActionID, func(w http.ResponseWriter, r *http.Request, id int64) {
		var req struct {
			Notes string `json:"notes"`
		}
		if r.ContentLength != 0 {
			if !decode(w, r, &req) {
				return
			}
		}
		task, err := d.Casework.MeetingActionDone(r.Context(), id, req.Notes, action(r))
		writeResult(w, r, http.StatusOK, task, err)
	})
}

func handlePersonMeetings(d Deps) http.Handler {
	return handlePersonList(d, "meetings", "meetings", d.Store.PersonMeetings)
}

// handleListMeetings is the register's meetings: the upcoming ones
// (upcoming=true), or the latest 500.
func handleListMeetings(d Deps) http.Handler {
	return handleList(d, "meetings", func(f listFilters) bool { return f.flag("upcoming") },
		func(ctx context.Context, upcoming bool) ([]store.Meeting, error) {
			if upcoming {
				return d.Store.UpcomingMeetings(ctx, d.Now(), 500)
			}
			return d.Store.AllMeetings(ctx, 500)
		})
}
