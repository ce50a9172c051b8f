package staffpage

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/workflows"
)

// The words the register's codes are shown in, on every staff page.

// ActionAssignMe is offered on every task, as in Slack.
const ActionAssignMe register.Action = "assign_me"

// ConsentLapsingWithin is how far ahead "consent lapsing soon" looks, on
// the dashboard and in the register's filter.
const ConsentLapsingWithin = 30 * 24 * time.Hour

// StagesShown are the stages the dashboard counts and the register
// filters by, in order.
var StagesShown = []register.Stage{register.Referred, register.Active, register.ConsentLapsed, register.Removed}

// RatingTag is a colour with its name in text, never colour alone.
func RatingTag(r register.Rating) template.HTML {
	class, label := "nhsuk-tag--grey", "Not yet rated"
	switch r {
	case register.Red:
		class, label = "nhsuk-tag--red", "Red"
	case register.Amber:
		class, label = "nhsuk-tag--orange", "Amber"
	case register.Green:
		class, label = "nhsuk-tag--green", "Green"
	case register.Blue:
		class, label = "nhsuk-tag--blue", "Blue"
	}
	return template.HTML(`<strong class="nhsuk-tag ` + class + `">` + label + `</strong>`)
}

var stageLabels = map[register.Stage]string{
	register.Referred:      "Referred, waiting for consent",
	register.Active:        "On the register",
	register.ConsentLapsed: "Consent lapsed",
	register.Removed:       "Removed",
}

// StageLabel is a stage in words.
func StageLabel(s register.Stage) string { return labelOf(stageLabels, s, string(s)) }

var kindLabels = map[register.TaskKind]string{
	register.TaskConsentNeeded:      "Consent needed",
	register.TaskReferralChase:      "Referral waiting for consent",
	register.TaskReviewDue:          "Review due",
	register.TaskConsentRenewal:     "Consent renewal",
	register.TaskConsentLapsed:      "Consent lapsed",
	register.TaskEscalationAlert:    "Red alert",
	register.TaskCommunityCTR:       "Community C(E)TR",
	register.TaskKeyworkerReferral:  "Keyworker referral",
	register.TaskMultiAgencyMeeting: "Multi-agency meeting",
	register.TaskAmberMeeting:       "Amber meeting or C(E)TR",
	register.TaskPostAdmissionCTR:   "Post-admission C(E)TR",
	register.TaskInpatientCTR:       "Inpatient C(E)TR",
}

// KindLabel is a kind of task in words.
func KindLabel(k register.TaskKind) string {
	return labelOf(kindLabels, k, strings.ReplaceAll(string(k), "_", " "))
}

// TaskKinds is the order kinds are offered in the inbox's filter.
var TaskKinds = []register.TaskKind{
	register.TaskEscalationAlert, register.TaskConsentNeeded, register.TaskReferralChase, register.TaskReviewDue,
	register.TaskConsentRenewal, register.TaskConsentLapsed, register.TaskCommunityCTR, register.TaskKeyworkerReferral,
	register.TaskMultiAgencyMeeting, register.TaskAmberMeeting, register.TaskPostAdmissionCTR, register.TaskInpatientCTR,
}

var actionLabels = map[register.Action]string{
	register.ActionRecordConsent: "Record consent",
	register.ActionRenewConsent:  "Renew consent",
	register.ActionRate:          "Rate",
	register.ActionConfirmRating: "Confirm the rating",
	register.ActionChangeRating:  "Change the rating",
	register.ActionCloseReferral: "Close the referral",
	register.ActionRemove:        "Remove from the register",
	register.ActionAcknowledge:   "Acknowledge the red alert",
	register.ActionMarkDone:      "Mark done",
	register.ActionNotNeeded:     "Not needed",
	ActionAssignMe:               "Assign to me",
}

// ActionLabel is an action's button and form heading.
func ActionLabel(a register.Action) string { return labelOf(actionLabels, a, string(a)) }

// labelOf is code's words in labels, or otherwise for a code that has
// none (a new code still shows, as itself).
func labelOf[K comparable](labels map[K]string, code K, otherwise string) string {
	if l, ok := labels[code]; ok {
		return l
	}
	return otherwise
}

// AuditLabel says what an audit entry records in plain English.
func AuditLabel(action string) string {
	return labelOf(auditLabels, action, UpperFirst(strings.ReplaceAll(action, "_", " ")))
}

var auditLabels = map[string]string{
	"referral_received":            "Referral received",
	"referral_accepted":            "Referral taken in",
	"re_referred":                  "Referred again",
	"consent_recorded":             "Consent recorded",
	"consent_renewed":              "Consent renewed",
	"consent_withdrawn":            "Consent withdrawn",
	"consent_renewal_due":          "Consent renewal due",
	"consent_lapsed":               "Consent lapsed",
	"referral_consent_overdue":     "Referral waiting too long for consent",
	"rated":                        "Rated",
	"review_confirmed":             "Review: rating confirmed",
	"review_due":                   "Review due",
	"first_rating_due":             "First rating due",
	"tasks_chased":                 "Overdue tasks chased",
	"removed":                      "Removed from the register",
	"assigned":                     "Assigned",
	"action_done":                  "Required action done",
	"inpatient_ctr_due":            "Inpatient C(E)TR due",
	"escalation_started":           "Red alert raised",
	"escalation_acknowledged":      "Red alert acknowledged",
	"escalation_unacknowledged":    "Red alert not acknowledged: re-alerted",
	"escalation_action_overdue":    "Required action overdue: managers told",
	"escalation_action_done":       "Required action done",
	"escalation_action_not_needed": "Required action closed as not needed",
	"escalation_ended":             "Escalation ended",
}

// closedByLabel is who closed a task, in words: the register's own timers
// are "the register".
func closedByLabel(by string) string {
	if by == "" || by == workflows.TimerActor {
		return "the register"
	}
	return by
}

// UpperFirst is s with its first letter a capital.
func UpperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// WorkingDuration says a span of working time in hours and minutes.
func WorkingDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%d min of working time", m)
	case m == 0:
		return fmt.Sprintf("%d h of working time", h)
	}
	return fmt.Sprintf("%d h %d min of working time", h, m)
}
