package register

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// MeetingKind is what a meeting is for.
type MeetingKind string

const (
	// MeetingMbE: a meeting convened by the DSR team at someone's request
	// ("MbE"), when an MDT without the team is not being taken forward.
	MeetingMbE MeetingKind = "mbe"
	// MeetingMDT: a multi-disciplinary (multi-agency) team meeting.
	MeetingMDT MeetingKind = "mdt"
	// MeetingProfessionals: a professionals meeting.
	MeetingProfessionals MeetingKind = "professionals"
	// MeetingCommunityCTR: a community Care (Education) and Treatment Review.
	MeetingCommunityCTR MeetingKind = "community_ctr"
	// MeetingPostAdmissionCTR: the C(E)TR after an admission.
	MeetingPostAdmissionCTR MeetingKind = "post_admission_ctr"
	// MeetingInpatientCTR: a recurring inpatient C(E)TR.
	MeetingInpatientCTR MeetingKind = "inpatient_ctr"
	// MeetingLAEP: a Local Area Emergency Protocol meeting.
	MeetingLAEP MeetingKind = "laep"
)

// MeetingKinds lists every kind, in the order forms show them.
var MeetingKinds = []MeetingKind{
	MeetingMbE, MeetingMDT, MeetingProfessionals, MeetingCommunityCTR,
	MeetingPostAdmissionCTR, MeetingInpatientCTR, MeetingLAEP,
}

// ParseMeetingKind checks a kind.
func ParseMeetingKind(s string) (MeetingKind, error) {
	return parseOneOf(strings.TrimSpace(s), MeetingKinds)
}

// Title is the kind in words, for emails and calendars.
func (k MeetingKind) Title() string {
	switch k {
	case MeetingMbE:
		return "Meeting convened by the DSR team (MbE)"
	case MeetingMDT:
		return "Multi-disciplinary team meeting"
	case MeetingProfessionals:
		return "Professionals meeting"
	case MeetingCommunityCTR:
		return "Community C(E)TR"
	case MeetingPostAdmissionCTR:
		return "Post-admission C(E)TR"
	case MeetingInpatientCTR:
		return "Inpatient C(E)TR"
	case MeetingLAEP:
		return "Local Area Emergency Protocol meeting"
	}
	return string(k)
}

// ClosesActions are the required actions a meeting of this kind, held,
// stands for, in the order they are looked for: a community C(E)TR is the
// red escalation's C(E)TR or amber's "multi-agency meeting and/or C(E)TR";
// an MDT or professionals meeting the red multi-agency meeting or amber's.
func (k MeetingKind) ClosesActions() []TaskKind {
	switch k {
	case MeetingCommunityCTR:
		return []TaskKind{TaskCommunityCTR, TaskAmberMeeting}
	case MeetingMDT, MeetingProfessionals, MeetingMbE:
		return []TaskKind{TaskMultiAgencyMeeting, TaskAmberMeeting}
	case MeetingPostAdmissionCTR:
		return []TaskKind{TaskPostAdmissionCTR}
	case MeetingInpatientCTR:
		return []TaskKind{TaskInpatientCTR, TaskPostAdmissionCTR}
	}
	return nil
}

// Meeting tasks: an action agreed at a meeting, and a meeting past its
// time with no outcome recorded.
const (
	TaskMeetingAction     TaskKind = "meeting_action"
	TaskMeetingOutcomeDue TaskKind = "meeting_outcome_due"
)

// Invitee is someone asked to a meeting. Names and addresses are personal
// data: PostgreSQL keeps them, and workflow payloads carrying them are
// sealed.
type Invitee struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	Email string `json:"email"`
}

// MeetingPlan is when, where and with whom.
type MeetingPlan struct {
	Kind     MeetingKind   `json:"kind"`
	Purpose  string        `json:"purpose"`
	StartsAt time.Time     `json:"starts_at"`
	Duration time.Duration `json:"duration"`
	// Location is a place or a video link.
	Location string    `json:"location"`
	Invitees []Invitee `json:"invitees"`
}

// MaxMeetingLength bounds a meeting's duration: longer is a typing slip.
const MaxMeetingLength = 12 * time.Hour

// ValidateMeetingPlan checks a plan, naming every bad field. now is when it
// is being convened: the meeting must start after it.
func ValidateMeetingPlan(m MeetingPlan, now time.Time) FieldErrors {
	errs := FieldErrors{}
	if _, err := ParseMeetingKind(string(m.Kind)); err != nil {
		errs.Add("kind", err.Error())
	}
	if strings.TrimSpace(m.Purpose) == "" {
		errs.Add("purpose", "is required: what the meeting is for")
	}
	switch {
	case m.StartsAt.IsZero():
		errs.Add("starts_at", "is required: when the meeting starts (RFC 3339, e.g. 2026-07-14T09:30:00+01:00)")
	case !m.StartsAt.After(now):
		errs.Add("starts_at", "is in the past: a meeting is convened for a time to come")
	}
	if m.Duration <= 0 || m.Duration > MaxMeetingLength {
		errs.Add("duration", "must be more than zero and at most 12 hours (e.g. \"90m\" or \"1h30m\")")
	}
	if strings.TrimSpace(m.Location) == "" {
		errs.Add("location", "is required: a place or a video link")
	}
	if len(m.Invitees) == 0 {
		errs.Add("invitees", "at least one invitee is required")
	}
	checkInvitees(m.Invitees, errs)
	return errs.OrNil()
}

// MeetingChange is what a coordinator changes in a meeting: a zero time,
// duration or text, or nil invitees, keeps what the meeting has.
type MeetingChange struct {
	StartsAt time.Time
	Duration time.Duration
	Location string
	Purpose  string
	Invitees []Invitee
}

// ValidateMeetingChange checks a change, naming every bad field: the API,
// casework and the meeting workflow's validator all ask it. now is when
// it is being changed: a meeting is moved only to a time to come.
func ValidateMeetingChange(ch MeetingChange, now time.Time) FieldErrors {
	errs := FieldErrors{}
	if !ch.StartsAt.IsZero() && !ch.StartsAt.After(now) {
		errs.Add("starts_at", "is in the past: a meeting is moved to a time to come")
	}
	if ch.Duration < 0 || ch.Duration > MaxMeetingLength {
		errs.Add("duration", "must be more than zero and at most 12 hours")
	}
	if ch.Invitees != nil && len(ch.Invitees) == 0 {
		errs.Add("invitees", "at least one invitee is required")
	}
	checkInvitees(ch.Invitees, errs)
	if ch.StartsAt.IsZero() && ch.Duration == 0 && ch.Location == "" && ch.Purpose == "" && ch.Invitees == nil {
		errs.Add("starts_at", "nothing to change: give a new starts_at, duration, location, purpose or invitees")
	}
	return errs.OrNil()
}

// ValidateMeetingCancellation checks a cancellation: it must say why, as
// every invitee is told. Casework and the meeting workflow's validator both
// ask it.
func ValidateMeetingCancellation(reason string) FieldErrors {
	if strings.TrimSpace(reason) == "" {
		return FieldErrors{"reason": "is required: say why the meeting is cancelled"}
	}
	return nil
}

// checkInvitees adds to errs what is wrong with each invitee.
func checkInvitees(invitees []Invitee, errs FieldErrors) {
	for i, inv := range invitees {
		field := fmt.Sprintf("invitees[%d]", i)
		if strings.TrimSpace(inv.Name) == "" {
			errs.Add(field+".name", "is required")
		}
		if msg := CheckEmail(inv.Email); msg != "" {
			errs.Add(field+".email", msg)
		}
	}
}

// CheckEmail says what is wrong with an address, or "" when it is a plain
// address (no display name, no angle brackets, nothing that could break a
// header or a calendar line).
func CheckEmail(email string) string {
	email = strings.TrimSpace(email)
	if email == "" {
		return "is required"
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" || strings.ContainsAny(email, " <>\"\r\n") || !strings.Contains(email[strings.LastIndex(email, "@")+1:], ".") {
		return "is not a valid email address (e.g. name@nhs.net)"
	}
	return ""
}

// MeetingAction is something agreed at a meeting: what, who owns it, by when.
type MeetingAction struct {
	Description string    `json:"description"`
	Owner       string    `json:"owner"`
	DueOn       time.Time `json:"due_on"`
}

// MeetingOutcome is what became of a meeting.
type MeetingOutcome struct {
	Held    bool            `json:"held"`
	HeldOn  time.Time       `json:"held_on"`
	Notes   string          `json:"notes"`
	Actions []MeetingAction `json:"actions"`
}

// ValidateMeetingOutcome checks an outcome; startsOn is the meeting's date
// and today the team's.
func ValidateMeetingOutcome(o MeetingOutcome, startsOn, today time.Time) FieldErrors {
	errs := FieldErrors{}
	if o.Held {
		switch {
		case o.HeldOn.IsZero():
			errs.Add("held_on", "is required when the meeting was held (YYYY-MM-DD)")
		case CalendarDate(o.HeldOn).After(today):
			errs.Add("held_on", "is in the future: record the outcome on or after the day")
		case CalendarDate(o.HeldOn).Before(CalendarDate(startsOn)):
			errs.Add("held_on", "is before the meeting was due ("+CalendarDate(startsOn).Format("2006-01-02")+")")
		}
	} else {
		if !o.HeldOn.IsZero() {
			errs.Add("held_on", "applies only to a meeting that was held")
		}
		if len(o.Actions) > 0 {
			errs.Add("actions", "a meeting that was not held agreed no actions")
		}
		if strings.TrimSpace(o.Notes) == "" {
			errs.Add("notes", "is required when the meeting was not held: say why")
		}
	}
	for i, a := range o.Actions {
		field := fmt.Sprintf("actions[%d]", i)
		if strings.TrimSpace(a.Description) == "" {
			errs.Add(field+".description", "is required: what is to be done")
		}
		if strings.TrimSpace(a.Owner) == "" {
			errs.Add(field+".owner", "is required: who will do it")
		}
		if a.DueOn.IsZero() {
			errs.Add(field+".due_on", "is required (YYYY-MM-DD)")
		}
	}
	return errs.OrNil()
}

// MeetingStatus is where a meeting is.
type MeetingStatus string

const (
	MeetingScheduled MeetingStatus = "scheduled"
	MeetingCancelled MeetingStatus = "cancelled"
	MeetingHeld      MeetingStatus = "held"
	MeetingNotHeld   MeetingStatus = "not_held"
)

// MeetingEmail is what a meeting step sends every invitee.
type MeetingEmail string

const (
	EmailInvitation   MeetingEmail = "invitation"
	EmailUpdate       MeetingEmail = "update"
	EmailCancellation MeetingEmail = "cancellation"
	EmailReminder     MeetingEmail = "reminder"
)

// MeetingStep is where one meeting stands after a step of its workflow,
// carried on a Change (like Escalation). Its changes are numbered within
// the meeting.
type MeetingStep struct {
	// Number counts the person's meetings from 1.
	Number   int
	Kind     MeetingKind
	Status   MeetingStatus
	Sequence int
	StartsAt time.Time
	Duration time.Duration
	// Plan, when set (convening, a change), is written to the meeting's
	// row and its invitees replace the last list.
	Plan *MeetingPlan `json:",omitempty"`
	// Outcome, when set, is the outcome recorded.
	Outcome *MeetingOutcome `json:",omitempty"`
	// ActionKeys are the task keys of Outcome.Actions, in order: each
	// action is a meeting_action task opened by the same change.
	ActionKeys []string `json:",omitempty"`
	// CancelReason is why it was cancelled, on the cancelling step.
	CancelReason string `json:",omitempty"`
	// Email, when set, is sent to every invitee (one notification each,
	// keyed by meeting, sequence and invitee).
	Email MeetingEmail `json:",omitempty"`
}
