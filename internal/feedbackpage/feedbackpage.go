// Package feedbackpage is the public page a service answers a feedback
// request on: DSR_PUBLIC_URL/feedback/<token>, the link in the request's
// email. The token (256 random bits) is the only key; the page shows the
// register reference and the question, never a name, and takes the answer
// in a plain form that works without JavaScript. The form carries a token
// that must match a cookie set with it (double submit), so another site
// cannot post an answer in the service's name.
package feedbackpage

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/store"
)

//go:embed page.html
var files embed.FS

var page = template.Must(template.ParseFS(files, "page.html"))

// Requests reads a request by its token.
type Requests interface {
	FeedbackByToken(ctx context.Context, token string) (store.FeedbackRequest, error)
}

// Answers files an answer.
type Answers interface {
	AnswerFeedback(ctx context.Context, token, answer string) (store.FeedbackRequest, error)
}

// Handler serves GET and POST /feedback/{token}.
type Handler struct {
	Requests Requests
	Answers  Answers
	Logger   *slog.Logger
	// Timeout bounds each answer (DSR_API_TIMEOUT).
	Timeout time.Duration
}

const formCookie = "dsr-feedback-form"

// Mount adds the page's routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle("GET /feedback/{token}", h.bounded(h.show))
	mux.Handle("POST /feedback/{token}", h.bounded(h.answer))
}

func (h *Handler) bounded(f http.HandlerFunc) http.Handler {
	limit := h.Timeout
	if limit <= 0 {
		limit = 10 * time.Second
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), limit)
		defer cancel()
		headers(w)
		f(w, r.WithContext(ctx))
	})
}

// headers: the link is a secret, so no referrer leaves the page and nothing
// is cached; no framing, scripts only from here.
func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
}

type view struct {
	Title     string
	Reference string
	Service   string
	Question  string
	Answer    string
	FormToken string
	Action    string
	Error     string
	Done      bool
	Answered  bool
	Missing   bool
}

func (h *Handler) show(w http.ResponseWriter, r *http.Request) {
	v, ok := h.request(w, r)
	if !ok {
		return
	}
	if !v.Answered {
		v.FormToken = h.issueFormToken(w, r)
	}
	h.render(w, http.StatusOK, v)
}

// request is the page for the request the link names, or false once the
// answer (not recognised, or the register not answering) is written.
func (h *Handler) request(w http.ResponseWriter, r *http.Request) (view, bool) {
	token := r.PathValue("token")
	f, err := h.Requests.FeedbackByToken(r.Context(), token)
	if errors.Is(err, store.ErrNotFound) {
		h.render(w, http.StatusNotFound, view{Title: "Link not recognised", Missing: true})
		return view{}, false
	}
	if err != nil {
		h.unavailable(w, err)
		return view{}, false
	}
	return view{Title: "Feedback for the DSR team", Reference: f.Reference, Service: f.Service, Question: f.Question,
		Action: "/feedback/" + token, Answered: f.AnsweredAt != nil}, true
}

func (h *Handler) answer(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.render(w, http.StatusRequestEntityTooLarge, view{Title: "Answer too long", Error: "Your answer is too long to send. Shorten it and try again."})
		return
	}
	v, ok := h.request(w, r)
	if !ok {
		return
	}
	// Whether it was answered before is the register's to say, as it files
	// this one (Conflict below).
	v.Answered, v.Answer = false, r.PostFormValue("answer")
	cookie, _ := r.Cookie(formCookie)
	sent := r.PostFormValue("form_token")
	if cookie == nil || sent == "" || subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(sent)) != 1 {
		v.Error = "This form has expired. Your answer has not been sent: check it below and send it again."
		v.FormToken = h.issueFormToken(w, r)
		h.render(w, http.StatusBadRequest, v)
		return
	}
	_, err := h.Answers.AnswerFeedback(r.Context(), token, v.Answer)
	var ce *casework.Error
	switch {
	case err == nil:
		h.render(w, http.StatusOK, view{Title: "Thank you", Reference: v.Reference, Done: true})
	case errors.As(err, &ce) && ce.Kind == casework.Invalid:
		v.Error = "Write your answer before sending."
		if msg := ce.Fields["answer"]; strings.Contains(msg, "too long") {
			v.Error = "Your answer is too long: at most 20,000 characters."
		}
		v.FormToken = h.issueFormToken(w, r)
		h.render(w, http.StatusBadRequest, v)
	case errors.As(err, &ce) && ce.Kind == casework.Conflict:
		v.Answered, v.Answer = true, ""
		h.render(w, http.StatusConflict, v)
	default:
		h.unavailable(w, err)
	}
}

func (h *Handler) issueFormToken(w http.ResponseWriter, r *http.Request) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: formCookie, Value: v, Path: "/feedback/", HttpOnly: true,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"), SameSite: http.SameSiteStrictMode, MaxAge: 24 * 3600})
	return v
}

func (h *Handler) unavailable(w http.ResponseWriter, err error) {
	// No token in the log: it is the request's key.
	h.Logger.Error("feedback page: the register did not answer", "error", err)
	w.Header().Set("Retry-After", "5")
	h.render(w, http.StatusServiceUnavailable, view{Title: "Sorry, there is a problem", Error: "The register did not answer. Nothing was saved: please try again in a minute."})
}

func (h *Handler) render(w http.ResponseWriter, code int, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := page.Execute(w, v); err != nil {
		h.Logger.Error("feedback page: render", "error", err)
	}
}
