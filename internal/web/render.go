package web

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/htmlpage"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/workflows"
)

//go:embed templates
var templateFiles embed.FS

// pages are parsed once: each page's template with the layout around it.
var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range []string{"dashboard", "inbox", "task", "register", "person", "error"} {
		out[name] = htmlpage.Parse(templateFiles, funcs, "templates/layout.html", "templates/fields.html", "templates/pagination.html", "templates/"+name+".html")
	}
	return out
}()

// base is what every page's layout reads.
type base struct {
	Title string
	// Nav is the navigation item that is the current section.
	Nav  string
	User login.User
	Req  *http.Request
	// Zone is the team's time zone, for dates shown.
	Zone *time.Location
}

func (a *app) base(r *http.Request, u login.User, title, nav string) base {
	return base{Title: title, Nav: nav, User: u, Req: r, Zone: a.zone}
}

// render writes a page whole or not at all (htmlpage.Render).
func (a *app) render(w http.ResponseWriter, status int, name string, data any) error {
	return htmlpage.Render(w, status, pages[name], data)
}

type errorPage struct {
	base
	Heading string
	Message string
}

// errorPage shows err as an NHS.UK page. A database error is logged
// (opaque IDs only: paths carry register numbers, never names) and shown
// without detail.
func (a *app) errorPage(w http.ResponseWriter, r *http.Request, u login.User, err error) {
	p := errorPage{base: a.base(r, u, "", "")}
	status := http.StatusInternalServerError
	var bad badRequest
	switch {
	case errors.Is(err, errNotFound) || errors.Is(err, store.ErrNotFound):
		status, p.Heading, p.Message = http.StatusNotFound, "Page not found", "Check the address, or find the person from the register."
	case errors.Is(err, errForbidden):
		status, p.Heading, p.Message = http.StatusForbidden, "You cannot do this", "Only DSR coordinators can act on the register. Ask your DSR manager if you need to."
	case errors.As(err, &bad):
		status, p.Heading, p.Message = http.StatusBadRequest, "There is a problem with the address", fmt.Sprintf("%s %s.", bad.field, bad.message)
	case errors.Is(err, context.DeadlineExceeded):
		status, p.Heading, p.Message = http.StatusServiceUnavailable, "The register did not answer in time", "Nothing was changed. Try again in a moment."
	default:
		a.Logger.Error("web page failed", "method", r.Method, "path", r.URL.Path, "error", err)
		p.Heading, p.Message = "Sorry, there is a problem with the service", "Try again later. Nothing was changed."
	}
	p.Title = p.Heading
	if rerr := a.render(w, status, "error", p); rerr != nil {
		http.Error(w, p.Heading, status)
	}
}

var funcs = template.FuncMap{
	"csrfField": func(r *http.Request) template.HTML {
		return template.HTML(`<input type="hidden" name="` + csrfFieldName + `" value="` +
			template.HTMLEscapeString(csrfToken(r)) + `">`)
	},
	// formToken is a new one-time key for each form rendered: its
	// submission, however many times it is sent, is one action.
	"formToken": newFormToken,
	"reference": register.Reference,
	"date":      func(z *time.Location, t any) string { return formatTime(z, t, "2 January 2006") },
	"dateTime":  func(z *time.Location, t any) string { return formatTime(z, t, "2 January 2006 at 15:04") },
	"ratingTag": ratingTag,
	"stage":     stageLabel,
	"kind":      kindLabel,
	"action":    actionLabel,
	"audit":     auditLabel,
	"closedBy":  closedByLabel,
	"add":       func(a, b int) int { return a + b },
	"signed":    func(n int) string { return fmt.Sprintf("%+d", n) },
	"lower":     strings.ToLower,
	"dict":      dict,
	"options":   func(name string) []option { return formOptions[name] },
}

// dict passes named values to a shared template (a form field).
var dict = htmlpage.Dict

// option is one radio button.
type option struct{ Value, Label string }

// formOptions are the choices each form offers, in the words of Slack's
// modals.
var formOptions = map[string][]option{
	"basis": {
		{"self", "The person consents (has capacity)"},
		{"best_interest", "Best-interest decision (Mental Capacity Act 2005), from 16"},
		{"parental", "Parent or guardian (under 16)"},
		{"gillick", "Gillick competent (under 16)"},
	},
	"rating": {
		{"red", "Red: immediate risk of admission"},
		{"amber", "Amber: at risk without community services"},
		{"green", "Green: at risk, team in place"},
		{"blue", "Blue: in a mental health hospital"},
	},
	"reason": {
		{"risk_reduced", "Risk reduced"},
		{"moved_out_of_area", "Moved out of area"},
		{"aged_out", "Aged out"},
		{"deceased", "Deceased"},
		{"other", "Other (say why in notes)"},
	},
}

func newFormToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func formatTime(z *time.Location, t any, layout string) string {
	var tt time.Time
	switch v := t.(type) {
	case time.Time:
		tt = v
	case *time.Time:
		if v == nil {
			return ""
		}
		tt = *v
	}
	if tt.IsZero() {
		return ""
	}
	if layout == "2 January 2006" && tt.Hour() == 0 && tt.Minute() == 0 && tt.Location() == time.UTC {
		// A date the register keeps as midnight UTC is that calendar day.
		return tt.Format(layout)
	}
	return tt.In(z).Format(layout)
}

// ratingTag is a colour with its name in text, never colour alone.
func ratingTag(r register.Rating) template.HTML {
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

func stageLabel(s register.Stage) string {
	switch s {
	case register.Referred:
		return "Referred, waiting for consent"
	case register.Active:
		return "On the register"
	case register.ConsentLapsed:
		return "Consent lapsed"
	case register.Removed:
		return "Removed"
	}
	return string(s)
}

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

func kindLabel(k register.TaskKind) string {
	if l, ok := kindLabels[k]; ok {
		return l
	}
	return strings.ReplaceAll(string(k), "_", " ")
}

// taskKinds is the order kinds are offered in the inbox's filter.
var taskKinds = []register.TaskKind{
	register.TaskEscalationAlert, register.TaskConsentNeeded, register.TaskReferralChase, register.TaskReviewDue,
	register.TaskConsentRenewal, register.TaskConsentLapsed, register.TaskCommunityCTR, register.TaskKeyworkerReferral,
	register.TaskMultiAgencyMeeting, register.TaskAmberMeeting, register.TaskPostAdmissionCTR, register.TaskInpatientCTR,
}

func actionLabel(a register.Action) string {
	switch a {
	case register.ActionRecordConsent:
		return "Record consent"
	case register.ActionRenewConsent:
		return "Renew consent"
	case register.ActionRate:
		return "Rate"
	case register.ActionConfirmRating:
		return "Confirm the rating"
	case register.ActionChangeRating:
		return "Change the rating"
	case register.ActionCloseReferral:
		return "Close the referral"
	case register.ActionRemove:
		return "Remove from the register"
	case register.ActionAcknowledge:
		return "Acknowledge the red alert"
	case register.ActionMarkDone:
		return "Mark done"
	case register.ActionNotNeeded:
		return "Not needed"
	case actionAssignMe:
		return "Assign to me"
	}
	return string(a)
}

// auditLabel says what an audit entry records in plain English.
func auditLabel(action string) string {
	if l, ok := auditLabels[action]; ok {
		return l
	}
	s := strings.ReplaceAll(action, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
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

// explainCasework turns a casework error into the words a coordinator
// reads. Only when it is known that nothing was recorded does it say so.
func explainCasework(err error) string {
	var ce *casework.Error
	if errors.As(err, &ce) {
		switch ce.Kind {
		case casework.Conflict:
			return "That no longer applies: " + ce.Message + "."
		case casework.NotFound:
			return ce.Message + "."
		case casework.Unavailable:
			return upperFirst(ce.Message) + ". Try again in a moment."
		case casework.Invalid:
			return upperFirst(ce.Error()) + "."
		}
	}
	return "The register did not answer in time: this may have been recorded. " +
		"Submitting the form again is safe: it will not be recorded twice."
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
