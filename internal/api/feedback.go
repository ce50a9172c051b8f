package api

import (
	"net/http"
	"strings"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/store"
)

// Feedback from services on behalf of a person (README "Feedback").

// feedbackJSON is a request as the API shows it: never its token.
type feedbackJSON struct {
	store.FeedbackRequest
	// Link is shown to the coordinator who asked, so they can send it
	// another way if the email bounced.
	Link string `json:"link,omitempty"`
}

type feedbackRequest struct {
	Service  string `json:"service"`
	Email    string `json:"email"`
	Question string `json:"question"`
}

func handleRequestFeedback(d Deps) http.Handler {
	return handleAction(personID, http.StatusCreated, func(r *http.Request, id int64, req feedbackRequest) (feedbackJSON, error) {
		f, err := d.Casework.RequestFeedback(r.Context(), id, casework.FeedbackQuestion{Service: req.Service, Email: req.Email, Question: req.Question}, action(r))
		if err != nil {
			return feedbackJSON{}, err
		}
		return feedbackJSON{FeedbackRequest: f, Link: FeedbackLink(d.PublicURL, f.Token)}, nil
	})
}

// FeedbackLink is the page a service answers on.
func FeedbackLink(publicURL, token string) string {
	return strings.TrimRight(publicURL, "/") + "/feedback/" + token
}

func handlePersonFeedback(d Deps) http.Handler {
	return handlePersonList(d, "feedback", "feedback_requests", d.Store.PersonFeedbackRequests)
}
