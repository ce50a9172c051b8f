package people

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/web/staffpage"
)

// auditDetail says what an audit entry's detail records as plain-English
// sentences, for the Detail column of a person's timeline: dates and times
// in the team's time zone, codes in words ("Rated red: crisis at home",
// "Acknowledgement due by Mon 30 Nov 2026 13:00"). A key it does not know
// still reads as "Key name: value", so nothing recorded is hidden.
func auditDetail(zone *time.Location, action string, detail map[string]string) []string {
	d := make(map[string]string, len(detail))
	for k, v := range detail {
		if strings.TrimSpace(v) != "" {
			d[k] = v
		}
	}
	var out []string
	say := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	// The sentences that take more than one key come first.
	switch action {
	case "rated":
		say(ratedSentence(d["to"], d["from"], d["rationale"]))
		delete(d, "to")
		delete(d, "from")
		delete(d, "rationale")
	case "assigned":
		s := "Assigned to " + orWord(d["to"], "no one")
		if d["from"] != "" {
			s += " (was " + d["from"] + ")"
		}
		say(s)
		delete(d, "to")
		delete(d, "from")
	case "review_confirmed":
		if r := d["rating"]; r != "" {
			say("Rating confirmed as " + ratingWord(r))
			delete(d, "rating")
		}
	}
	if b := d["basis"]; b != "" {
		s := "Consent: " + basisWord(b)
		if g := d["given_by"]; g != "" {
			s += ", given by " + g
		}
		if on := d["decided_on"]; on != "" {
			s += ", decided on " + dayWord(on)
		}
		say(s)
		delete(d, "basis")
		delete(d, "given_by")
		delete(d, "decided_on")
	}
	if k := d["kind"]; k != "" && d["on"] != "" {
		say(staffpage.KindLabel(register.TaskKind(k)) + " done on " + dayWord(d["on"]))
		delete(d, "kind")
		delete(d, "on")
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		oi, oj := detailOrder(keys[i]), detailOrder(keys[j])
		if oi != oj {
			return oi < oj
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		say(detailSentence(zone, k, d[k]))
	}
	return out
}

// detailFirst is the order known keys are said in; others follow by name.
var detailFirst = []string{"stage_from", "stage", "rating", "reason", "outcome", "kind", "actions", "tasks",
	"due_at", "ack_due_at", "expires_at", "expired_at", "starts_at", "held_on", "working_time_to_ack", "in_time", "notes"}

func detailOrder(key string) int {
	for i, k := range detailFirst {
		if k == key {
			return i
		}
	}
	return len(detailFirst)
}

func ratedSentence(to, from, rationale string) string {
	s := "Rated " + ratingWord(to)
	if from != "" && from != to {
		s += " (was " + ratingWord(from) + ")"
	}
	if rationale != "" {
		s += ": " + rationale
	}
	return s
}

// detailSentence says one key and its value.
func detailSentence(zone *time.Location, key, value string) string {
	switch key {
	case "stage_from":
		if value == "none" {
			return "New to the register"
		}
		return "Until then: " + lowerFirst(staffpage.StageLabel(register.Stage(value)))
	case "stage":
		return "Stage: " + lowerFirst(staffpage.StageLabel(register.Stage(value)))
	case "rating":
		return "Rating: " + ratingWord(value)
	case "reason":
		return "Reason: " + lowerFirst(words(value))
	case "kind":
		return staffpage.KindLabel(register.TaskKind(value))
	case "actions", "tasks":
		if n, ok := count(value); ok {
			return fmt.Sprintf("Tasks: %d", n)
		}
		var kinds []string
		for _, k := range strings.Split(value, ",") {
			kinds = append(kinds, staffpage.KindLabel(register.TaskKind(strings.TrimSpace(k))))
		}
		return "Actions: " + strings.Join(kinds, ", ")
	case "due_at":
		return "Due by " + momentWord(zone, value)
	case "ack_due_at":
		return "Acknowledgement due by " + momentWord(zone, value)
	case "expires_at":
		return "Consent expires " + momentWord(zone, value)
	case "expired_at":
		return "Consent expired " + momentWord(zone, value)
	case "starts_at":
		return "Starts " + momentWord(zone, value)
	case "held_on", "decided_on", "last_reviewed_on", "on":
		return staffpage.UpperFirst(words(key)) + " " + dayWord(value)
	case "working_time_to_ack":
		if d, err := time.ParseDuration(value); err == nil {
			return "Acknowledged after " + staffpage.WorkingDuration(d)
		}
	case "in_time":
		if value == "true" {
			return "Acknowledged in time"
		}
		return "Acknowledged late"
	case "alerts":
		return "Alerts sent: " + value
	case "escalation":
		return "Red alert number " + value
	case "referral_id":
		return "Referral number " + value
	case "secure_placement":
		return "Secure placement: " + yesNo(value)
	case "ends_at_16":
		if value == "true" {
			return "This consent ends on their 16th birthday"
		}
	case "assigned_to":
		return "Assigned to " + value
	case "notes":
		return "Notes: " + value
	case "via":
		return "Through " + value
	}
	return staffpage.UpperFirst(words(key)) + ": " + readableValue(zone, value)
}

// readableValue shows a value of a key not known here: a time or a date in
// words, anything else as recorded.
func readableValue(zone *time.Location, v string) string {
	if _, err := time.Parse(time.RFC3339, v); err == nil {
		return momentWord(zone, v)
	}
	if _, err := time.Parse("2006-01-02", v); err == nil {
		return dayWord(v)
	}
	return yesNo(v)
}

// momentWord is an RFC 3339 time in the team's zone, as
// "Mon 30 Nov 2026 13:00".
func momentWord(zone *time.Location, v string) string {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return v
	}
	return t.In(zone).Format("Mon 2 Jan 2006 15:04")
}

// dayWord is a calendar date (YYYY-MM-DD) as "Mon 30 Nov 2026".
func dayWord(v string) string {
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return v
	}
	return t.Format("Mon 2 Jan 2006")
}

func ratingWord(r string) string {
	if r == "" {
		return "not yet rated"
	}
	return r
}

var basisWords = map[string]string{
	"self":          "the person consented",
	"best_interest": "best-interest decision",
	"parental":      "parent or guardian",
	"gillick":       "Gillick competent",
}

func basisWord(b string) string {
	if w, ok := basisWords[b]; ok {
		return w
	}
	return words(b)
}

func count(v string) (int, bool) {
	var n int
	_, err := fmt.Sscanf(v, "%d", &n)
	return n, err == nil && fmt.Sprint(n) == v
}

func yesNo(v string) string {
	switch v {
	case "true", "yes":
		return "yes"
	case "false", "no":
		return "no"
	}
	return v
}

func orWord(v, otherwise string) string {
	if v == "" {
		return otherwise
	}
	return v
}

// words is a code with its underscores as spaces.
func words(code string) string { return strings.ReplaceAll(code, "_", " ") }

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// DetailSentences is auditDetail in the page's time zone, for the
// timeline's Detail column.
func (p personPage) DetailSentences(action string, detail map[string]string) []string {
	return auditDetail(p.Zone, action, detail)
}
