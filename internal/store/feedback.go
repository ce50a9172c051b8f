package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
)

// FeedbackRequest is a question put to a service about a person.
type FeedbackRequest struct {
	ID          int64      `json:"id"`
	PersonID    int64      `json:"person_id"`
	Reference   string     `json:"reference"`
	Service     string     `json:"service"`
	Email       string     `json:"email"`
	Question    string     `json:"question"`
	RequestedAt time.Time  `json:"requested_at"`
	RequestedBy string     `json:"requested_by"`
	Answer      string     `json:"answer,omitempty"`
	AnsweredAt  *time.Time `json:"answered_at,omitempty"`
	Chases      int        `json:"chases"`
	// Token is the link's secret; never shown by the API.
	Token string `json:"-"`
}

// NewFeedbackRequest is what a coordinator asks.
type NewFeedbackRequest struct {
	PersonID int64
	Service  string
	Email    string
	Question string
	Actor    string
	// Key names the request across retries (the action's ID): the same
	// key is the same request.
	Key string
	At  time.Time
}

// ErrAlreadyAnswered: a feedback request answered before.
var ErrAlreadyAnswered = errors.New("this request has already been answered")

const feedbackColumns = `id, person_id, service, email, question, requested_at, requested_by, coalesce(answer, ''), answered_at, chases, token`

func scanFeedback(row pgx.CollectableRow) (FeedbackRequest, error) {
	var f FeedbackRequest
	err := row.Scan(&f.ID, &f.PersonID, &f.Service, &f.Email, &f.Question, &f.RequestedAt, &f.RequestedBy, &f.Answer, &f.AnsweredAt, &f.Chases, &f.Token)
	f.Reference = register.Reference(f.PersonID)
	f.RequestedAt = f.RequestedAt.UTC()
	f.AnsweredAt = utc(f.AnsweredAt)
	return f, err
}

// CreateFeedbackRequest records a request with a fresh unguessable token,
// audits it (feedback_requested) and queues the email to the service, in
// one transaction. The same Key again returns the first request unchanged.
func (s *Store) CreateFeedbackRequest(ctx context.Context, r NewFeedbackRequest) (FeedbackRequest, error) {
	var out FeedbackRequest
	err := s.inPersonTx(ctx, r.PersonID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select `+feedbackColumns+` from feedback_requests where request_key = $1`, r.Key)
		if err != nil {
			return err
		}
		existing, err := pgx.CollectRows(rows, scanFeedback)
		if err != nil {
			return err
		}
		if len(existing) == 1 {
			if existing[0].PersonID != r.PersonID {
				return ErrIdempotencyKeyReused
			}
			out = existing[0]
			return nil
		}
		token, err := newToken()
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `insert into feedback_requests (person_id, request_key, service, email, question, token, requested_at, requested_by)
			values ($1, $2, $3, $4, $5, $6, $7, $8) returning `+feedbackColumns,
			r.PersonID, r.Key, r.Service, r.Email, r.Question, token, r.At, r.Actor)
		if err != nil {
			return err
		}
		out, err = pgx.CollectExactlyOneRow(rows, scanFeedback)
		if err != nil {
			return err
		}
		id := strconv.FormatInt(out.ID, 10)
		if _, err := insertAudit(ctx, tx, r.At, r.Actor, "feedback_requested", r.PersonID,
			map[string]string{"request": id, "service": r.Service, "notes": r.Question}, "feedback-"+id+"-requested"); err != nil {
			return fmt.Errorf("auditing the request: %w", err)
		}
		return queueNotifications(ctx, tx, []notify.Notification{notify.ForFeedback(r.PersonID, notify.FeedbackNote{RequestID: out.ID}, r.Actor, r.At)})
	})
	if err != nil {
		return FeedbackRequest{}, fmt.Errorf("store: feedback request for person %d: %w", r.PersonID, err)
	}
	return out, nil
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// FeedbackRequest returns one request, or ErrNotFound.
func (s *Store) FeedbackRequest(ctx context.Context, id int64) (FeedbackRequest, error) {
	return s.oneFeedback(ctx, `select `+feedbackColumns+` from feedback_requests where id = $1`, id)
}

// FeedbackByToken finds the request a link names, or ErrNotFound.
func (s *Store) FeedbackByToken(ctx context.Context, token string) (FeedbackRequest, error) {
	if token == "" {
		return FeedbackRequest{}, ErrNotFound
	}
	return s.oneFeedback(ctx, `select `+feedbackColumns+` from feedback_requests where token = $1`, token)
}

func (s *Store) oneFeedback(ctx context.Context, query string, arg any) (FeedbackRequest, error) {
	return queryOne(ctx, s.pool, "feedback request", scanFeedback, query, arg)
}

// PersonFeedbackRequests lists a person's requests, newest first.
func (s *Store) PersonFeedbackRequests(ctx context.Context, personID int64) ([]FeedbackRequest, error) {
	return queryAll(ctx, s.pool, "feedback requests", scanFeedback, `select `+feedbackColumns+` from feedback_requests where person_id = $1 order by id desc`, personID)
}

// AnswerFeedback files a service's answer against the request its token
// names, once, and records it in the person's timeline (feedback_received,
// the answer kept beside the entry like any free text). A second answer is
// ErrAlreadyAnswered and changes nothing.
func (s *Store) AnswerFeedback(ctx context.Context, token, answer string, at time.Time) (FeedbackRequest, error) {
	f, err := s.FeedbackByToken(ctx, token)
	if err != nil {
		return f, err
	}
	err = s.inPersonTx(ctx, f.PersonID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `update feedback_requests set answer = $2, answered_at = $3 where id = $1 and answered_at is null`, f.ID, answer, at)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrAlreadyAnswered
		}
		id := strconv.FormatInt(f.ID, 10)
		_, err = insertAudit(ctx, tx, at, "service: "+f.Service, "feedback_received", f.PersonID,
			map[string]string{"request": id, "notes": answer}, "feedback-"+id+"-answered")
		return err
	})
	if err != nil {
		return f, fmt.Errorf("store: answer feedback request %d: %w", f.ID, err)
	}
	f.Answer, f.AnsweredAt = answer, &at
	return f, nil
}

// ChaseFeedback records the chase'th chase of an unanswered request and
// queues its email, once per chase; an answered request is left alone.
func (s *Store) ChaseFeedback(ctx context.Context, requestID int64, chase int, at time.Time) (bool, error) {
	return s.feedbackStep(ctx, requestID, at, func(tx pgx.Tx, f FeedbackRequest) error {
		id := strconv.FormatInt(f.ID, 10)
		inserted, err := insertAudit(ctx, tx, at, "dsr:timer", "feedback_chased", f.PersonID,
			map[string]string{"request": id, "chase": strconv.Itoa(chase)}, fmt.Sprintf("feedback-%s-chase-%d", id, chase))
		if err != nil || !inserted {
			return err
		}
		if _, err := tx.Exec(ctx, `update feedback_requests set chases = $2, last_chased_at = $3 where id = $1`, f.ID, chase, at); err != nil {
			return err
		}
		return queueNotifications(ctx, tx, []notify.Notification{notify.ForFeedback(f.PersonID, notify.FeedbackNote{RequestID: f.ID, Chase: chase}, "dsr:timer", at)})
	})
}

// FeedbackUnanswered records that chasing stopped without an answer.
func (s *Store) FeedbackUnanswered(ctx context.Context, requestID int64, at time.Time) (bool, error) {
	return s.feedbackStep(ctx, requestID, at, func(tx pgx.Tx, f FeedbackRequest) error {
		id := strconv.FormatInt(f.ID, 10)
		_, err := insertAudit(ctx, tx, at, "dsr:timer", "feedback_unanswered", f.PersonID,
			map[string]string{"request": id, "chases": strconv.Itoa(f.Chases)}, "feedback-"+id+"-unanswered")
		return err
	})
}

func (s *Store) feedbackStep(ctx context.Context, requestID int64, at time.Time, step func(pgx.Tx, FeedbackRequest) error) (answered bool, err error) {
	f, err := s.FeedbackRequest(ctx, requestID)
	if err != nil {
		return false, err
	}
	err = s.inPersonTx(ctx, f.PersonID, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `select answered_at is not null from feedback_requests where id = $1`, f.ID).Scan(&answered); err != nil {
			return err
		}
		if answered {
			return nil
		}
		return step(tx, f)
	})
	if err != nil {
		return false, fmt.Errorf("store: feedback request %d: %w", requestID, err)
	}
	return answered, nil
}
