package portal

import (
	"errors"
	"net/http"
)

// The form's pages: the start page, then one question a page, each answer
// checked and kept in the sealed cookie before the next.

func (p *Portal) checkContext() checkContext {
	return checkContext{Today: p.d.Today(), Councils: p.d.Councils}
}

// start is the first page: what the register is and what the form asks.
func (p *Portal) start(w http.ResponseWriter, r *http.Request) {
	p.render(w, http.StatusOK, "start", &page{Title: "Ask the DSR team for support"})
}

// stateFor is the request's state, or a new one, written back at once so
// the next post carries its token.
func (p *Portal) stateFor(w http.ResponseWriter, r *http.Request) (state, error) {
	now := p.d.Now()
	if s, ok := p.cookies.read(r, now); ok {
		return s, nil
	}
	s, err := newState(now)
	if err != nil {
		return state{}, err
	}
	return s, p.cookies.write(w, s, now)
}

// forStep is a question's handler for the {step} in the path: i is the
// step's index in steps. A step the form does not have is not found, before
// anything else is read.
func (p *Portal) forStep(handle func(w http.ResponseWriter, r *http.Request, i int)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		i := stepIndex(r.PathValue("step"))
		if i < 0 {
			p.notFound(w, r)
			return
		}
		handle(w, r, i)
	}
}

// question shows question i with the answer given so far.
func (p *Portal) question(w http.ResponseWriter, r *http.Request, i int) {
	s, err := p.stateFor(w, r)
	if err != nil {
		p.fail(w, err)
		return
	}
	if !steps[i].Applies(s.A) {
		// Who is filling it in changed: this question is not for them.
		p.redirect(w, r, "/refer/check")
		return
	}
	if before := p.firstUnansweredBefore(i, s.A); before != "" {
		// The consent question's wording needs the date of birth, and so
		// on: an earlier question comes first.
		p.redirect(w, r, "/refer/"+before)
		return
	}
	p.renderQuestion(w, r, http.StatusOK, i, s, nil)
}

// firstUnansweredBefore is the first question before i that applies and
// is not answered, or "".
func (p *Portal) firstUnansweredBefore(i int, a answers) string {
	c := p.checkContext()
	for _, st := range steps[:i] {
		if st.Applies(a) && len(st.Check(a, c)) > 0 {
			return st.Slug
		}
	}
	return ""
}

func (p *Portal) renderQuestion(w http.ResponseWriter, r *http.Request, status, i int, s state, errs []fieldError) {
	st := steps[i]
	change := r.URL.Query().Get("change") == "1"
	wd := wordingFor(s.A.Kind)
	pg := &page{
		Title: st.Title(wd), Step: st.Slug, Change: change, Token: s.Token, W: wd, A: s.A,
		Councils: p.d.Councils, MaxReason: maxReason, Errors: errs, Err: map[string]string{},
	}
	for _, e := range errs {
		if _, ok := pg.Err[e.ID]; !ok {
			pg.Err[e.ID] = e.Message
		}
	}
	switch {
	case change:
		pg.Back = "/refer/check"
	case previousStep(i, s.A) != "":
		pg.Back = "/refer/" + previousStep(i, s.A)
	default:
		pg.Back = "/refer"
	}
	switch st.Slug {
	case "who":
		pg.Options = whoOptions
	case "diagnosis":
		pg.Options = diagnosisOptions
	case "consent":
		pg.Options = consentOptions(s.A, p.d.Today())
		pg.Under16 = under16(s.A, p.d.Today())
	}
	p.render(w, status, "question", pg)
}

// formState reads a post's form and its state, checking the form token.
// It answers the request itself (and returns false) when either is
// missing or wrong.
func (p *Portal) formState(w http.ResponseWriter, r *http.Request) (state, bool) {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			p.tooLarge(w, r)
		} else {
			p.problem(w, http.StatusBadRequest, "This form could not be read", []string{"Please go back and try again."}, "/refer", "Go to the start")
		}
		return state{}, false
	}
	s, ok := p.cookies.read(r, p.d.Now())
	if !ok {
		// No state: the answers expired, cookies are off, or the post came
		// from somewhere else. Nothing is kept.
		p.events.WithLabelValues("no_state").Inc()
		p.problem(w, http.StatusBadRequest, "Your answers have timed out",
			[]string{"We keep answers for 4 hours. For your safety, we have deleted them.",
				"Please start again. Your browser must allow cookies from this website."}, "/refer", "Start again")
		return state{}, false
	}
	if !s.tokenMatches(r.PostForm.Get("token")) {
		p.events.WithLabelValues("bad_token").Inc()
		p.d.Logger.Warn("portal form refused: missing or wrong form token")
		p.problem(w, http.StatusForbidden, "This form could not be accepted",
			[]string{"It did not come from this website's own page. Nothing was sent.",
				"Please go back to the start and try again."}, "/refer", "Go to the start")
		return state{}, false
	}
	if r.PostForm.Get("website") != "" {
		// The honeypot: people never see it, form-filling robots do. The
		// submission goes on as if nothing were wrong and is dropped at the
		// end.
		s.Trap = true
	}
	return s, true
}

// answer takes question i's answer: saved and on to the next question,
// or the same question again with what to fix.
func (p *Portal) answer(w http.ResponseWriter, r *http.Request, i int) {
	s, ok := p.formState(w, r)
	if !ok {
		return
	}
	st := steps[i]
	st.Read(r.PostForm, &s.A)
	errs := st.Check(s.A, p.checkContext())
	if err := p.cookies.write(w, s, p.d.Now()); err != nil {
		p.fail(w, err)
		return
	}
	if len(errs) > 0 {
		p.renderQuestion(w, r, http.StatusBadRequest, i, s, errs)
		return
	}
	next := nextStep(i, s.A)
	if r.URL.Query().Get("change") == "1" || next == "" {
		next = "check"
	}
	p.redirect(w, r, "/refer/"+next)
}

func (p *Portal) redirect(w http.ResponseWriter, r *http.Request, to string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusSeeOther)
}
