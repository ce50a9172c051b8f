package register

import (
	"testing"
	"time"
)

// TestValidateMeetingChange: each rule of a meeting change names its
// field; a change that changes something valid passes.
func TestValidateMeetingChange(t *testing.T) {
	now := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	ok := Invitee{Name: "Sam", Email: "sam@example.nhs.uk"}
	for _, c := range []struct {
		name  string
		ch    MeetingChange
		field string // "" when valid
	}{
		{"moved to a time to come", MeetingChange{StartsAt: now.Add(time.Hour)}, ""},
		{"new invitees only", MeetingChange{Invitees: []Invitee{ok}}, ""},
		{"moved into the past", MeetingChange{StartsAt: now.Add(-time.Hour)}, "starts_at"},
		{"too long", MeetingChange{Duration: 13 * time.Hour}, "duration"},
		{"negative length", MeetingChange{Duration: -time.Minute}, "duration"},
		{"invitees emptied", MeetingChange{Invitees: []Invitee{}}, "invitees"},
		{"an invitee without a name", MeetingChange{Invitees: []Invitee{{Email: "x@example.nhs.uk"}}}, "invitees[0].name"},
		{"an invitee's address with a display name", MeetingChange{Invitees: []Invitee{ok, {Name: "Jo", Email: "Jo <jo@example.nhs.uk>"}}}, "invitees[1].email"},
		{"nothing to change", MeetingChange{}, "starts_at"},
	} {
		errs := ValidateMeetingChange(c.ch, now)
		switch {
		case c.field == "" && errs != nil:
			t.Errorf("%s: %v, want valid", c.name, errs)
		case c.field != "" && errs[c.field] == "":
			t.Errorf("%s: %v, want an error for %s", c.name, errs, c.field)
		}
	}
}
