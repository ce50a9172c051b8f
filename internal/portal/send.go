package portal

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"net/http"
	"strings"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/register"
)

// The end of the form: the check-your-answers page, sending the referral
// through casework, and the receipt.

// summaryRow is one answer on the check page.
type summaryRow struct {
	ID, Key, Step string
	Lines         []string
}

func (p *Portal) rows(a answers) []summaryRow {
	wd := wordingFor(a.Kind)
	label := func(opts []option, v string) string {
		for _, o := range opts {
			if o.Value == v {
				return o.Label
			}
		}
		return v
	}
	today := p.d.Today()
	dob, _ := parseDOB(a, today)
	nhs := a.NHSNumber
	if nhs == "" {
		nhs = "Not known"
	}
	contact := []string{}
	for _, v := range []string{a.Phone, a.Email} {
		if v != "" {
			contact = append(contact, v)
		}
	}
	rows := []summaryRow{{ID: "who", Key: "Who is filling in this form", Step: "who", Lines: []string{label(whoOptions, a.Kind)}}}
	if a.Kind != kindSelf {
		rows = append(rows, summaryRow{ID: "referrer-name", Key: "Your name", Step: "your-name", Lines: []string{a.ReferrerName}})
	}
	if a.Kind == kindProfessional {
		rows = append(rows, summaryRow{ID: "organisation", Key: "Where you work", Step: "organisation", Lines: []string{a.Organisation}})
	}
	return append(rows,
		summaryRow{ID: "name", Key: wd.YourCap + " name", Step: "name", Lines: []string{a.GivenName + " " + a.FamilyName}},
		summaryRow{ID: "dob", Key: wd.YourCap + " date of birth", Step: "date-of-birth", Lines: []string{dob.Format("2 January 2006")}},
		summaryRow{ID: "nhs-number", Key: wd.YourCap + " NHS number", Step: "nhs-number", Lines: []string{nhs}},
		summaryRow{ID: "postcode", Key: wd.YourCap + " postcode", Step: "postcode", Lines: []string{a.Postcode}},
		summaryRow{ID: "council", Key: "Council area", Step: "council", Lines: []string{councilOf(a, p.d.Councils)}},
		summaryRow{ID: "diagnosis", Key: "Learning disability or autism", Step: "diagnosis", Lines: []string{label(diagnosisOptions, a.Diagnosis)}},
		summaryRow{ID: "reason", Key: "Why support is needed now", Step: "reason", Lines: strings.Split(a.Reason, "\n")},
		summaryRow{ID: "contact", Key: "How to contact you", Step: "contact", Lines: contact},
		summaryRow{ID: "consent", Key: "Saying yes to the register", Step: "consent", Lines: []string{label(consentOptions(a, today), a.Consent)}},
	)
}

// check shows every answer with a Change link, and the Send button.
func (p *Portal) check(w http.ResponseWriter, r *http.Request) {
	s, err := p.stateFor(w, r)
	if err != nil {
		p.fail(w, err)
		return
	}
	if missing := firstUnanswered(s.A, p.checkContext()); missing != "" {
		p.redirect(w, r, "/refer/"+missing)
		return
	}
	p.renderCheck(w, http.StatusOK, s, nil)
}

func (p *Portal) renderCheck(w http.ResponseWriter, status int, s state, errs []fieldError) {
	pg := &page{Title: "Check your answers", Back: "/refer/consent", Step: "check", Token: s.Token,
		W: wordingFor(s.A.Kind), A: s.A, Rows: p.rows(s.A), Errors: errs}
	p.render(w, status, "check", pg)
}

// send sends the finished form as a referral. Its idempotency key is the
// form's: a double click, or the page sent again after a timeout, is one
// referral with one receipt.
func (p *Portal) send(w http.ResponseWriter, r *http.Request) {
	s, ok := p.formState(w, r)
	if !ok {
		return
	}
	if s.A == (answers{}) && s.Receipt != "" {
		// Sent already, and this is the same page sent again.
		p.redirect(w, r, "/refer/sent")
		return
	}
	if !p.sends.allow(clientAddress(r, p.d.ClientIPHeader), p.d.Now()) {
		p.events.WithLabelValues("rate_limited_submissions").Inc()
		p.tooMany(w, 3600/p.d.SubmissionsPerHour)
		return
	}
	if s.Trap {
		p.dropTrapped(w, r)
		return
	}
	if missing := firstUnanswered(s.A, p.checkContext()); missing != "" {
		p.redirect(w, r, "/refer/"+missing+"?change=1")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.d.Timeout)
	defer cancel()
	res, err := p.d.Casework.Receive(ctx, referral(s.A, p.d.Today(), p.d.Councils),
		casework.Action{By: Actor, ID: casework.ActionID("portal", Actor, s.FormID)})
	var cwErr *casework.Error
	switch {
	case err == nil:
	case errors.As(err, &cwErr) && cwErr.Kind == casework.Invalid:
		// The register's own check disagrees with the pages' (it should
		// not): show which answer to change.
		p.renderCheck(w, http.StatusBadRequest, s, registerFieldErrors(cwErr.Fields))
		return
	case errors.As(err, &cwErr) && cwErr.Kind == casework.Conflict:
		// The form's key was used for other answers: make a new one, so
		// sending again is a new referral.
		if s.FormID, err = randomToken(); err == nil {
			err = p.cookies.write(w, s, p.d.Now())
		}
		if err != nil {
			p.fail(w, err)
			return
		}
		p.problem(w, http.StatusConflict, "Please check your answers and send them again",
			[]string{"Your answers changed while they were being sent. Nothing was sent."}, "/refer/check", "Check your answers")
		return
	default:
		// Not recorded (the database did not answer): the answers are kept,
		// and sending again uses the same key, so it is never two.
		p.d.Logger.Warn("portal referral not recorded; the person can send it again", "error", opaque(err))
		w.Header().Set("Retry-After", "60")
		p.problem(w, http.StatusServiceUnavailable, "Sorry, we could not send your answers",
			[]string{"Your answers are saved. Please wait a minute, then send them again."}, "/refer/check", "Go back to your answers")
		return
	}
	p.events.WithLabelValues("referral").Inc()
	p.d.Logger.Info("portal referral received", "receipt", res.Receipt)
	p.finish(w, r, s, res.Receipt)
}

// opaque keeps only what an error may say in a log line: casework's
// messages name no one, but the wrapped error could quote input.
func opaque(err error) string {
	var cwErr *casework.Error
	if errors.As(err, &cwErr) {
		return cwErr.Message
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "failed"
}

// finish forgets the answers, keeps the receipt for the confirmation page
// and makes a new form key, so the next form is a new referral.
func (p *Portal) finish(w http.ResponseWriter, r *http.Request, s state, receipt string) {
	id, err := randomToken()
	if err != nil {
		p.fail(w, err)
		return
	}
	next := state{Token: s.Token, FormID: id, Receipt: receipt}
	if err := p.cookies.write(w, next, p.d.Now()); err != nil {
		p.fail(w, err)
		return
	}
	p.redirect(w, r, "/refer/sent")
}

// dropTrapped answers a robot's submission exactly as a person's and
// records nothing. The log line and counter carry no content.
func (p *Portal) dropTrapped(w http.ResponseWriter, r *http.Request) {
	p.events.WithLabelValues("honeypot").Inc()
	p.d.Logger.Info("portal submission dropped: honeypot field filled")
	s, _ := p.cookies.read(r, p.d.Now())
	p.finish(w, r, s, decoyReceipt())
}

// decoyReceipt looks like any receipt the register gives (REF- and 16
// base32 characters) and is recorded nowhere.
func decoyReceipt() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return "REF-" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}

// sent is the confirmation: the receipt, and what happens next and when.
func (p *Portal) sent(w http.ResponseWriter, r *http.Request) {
	s, ok := p.cookies.read(r, p.d.Now())
	if !ok || s.Receipt == "" {
		p.redirect(w, r, "/refer")
		return
	}
	p.render(w, http.StatusOK, "sent", &page{Title: "We have your answers", Receipt: s.Receipt, ReplyDays: p.d.ReplyDays})
}

// registerFieldErrors maps the register's field names to the pages'.
func registerFieldErrors(fields register.FieldErrors) []fieldError {
	ids := map[string]string{
		"person.given_name": "name", "person.family_name": "name", "person.date_of_birth": "dob",
		"person.nhs_number": "nhs-number", "person.diagnoses": "diagnosis", "referrer.name": "referrer-name",
		"referrer.organisation": "organisation", "referrer.email": "contact", "reason": "reason",
	}
	var out []fieldError
	for f := range fields {
		id, ok := ids[f]
		if !ok {
			id = "who"
		}
		out = append(out, fieldError{ID: "answer-" + id, Message: "Check this answer: " + strings.ReplaceAll(f, "_", " ")})
	}
	return out
}
