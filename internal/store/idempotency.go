package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// IdempotencyKeyRetention is how long an idempotency key and its answer are
// kept: far longer than any client retries, short enough that the table
// stays small.
const IdempotencyKeyRetention = 7 * 24 * time.Hour

// ErrIdempotencyKeyMismatch is returned by ClaimIdempotencyKey when the key
// was already used for a different request: answering with the first
// request's answer would silently drop the second.
var ErrIdempotencyKeyMismatch = errors.New("idempotency key already used for a different request")

// IdempotencyClaim is one request's hold on its key.
type IdempotencyClaim struct {
	// Key is the namespaced key, Actor who sent it, Fingerprint the
	// request's hash (method, path, canonical body).
	Key, Actor, Fingerprint string
	// At is when the request arrived; zero means the database's now().
	At time.Time
}

// IdempotencyAnswer is the first answer given for a key.
type IdempotencyAnswer struct {
	Status int
	Body   []byte
}

// ClaimIdempotencyKey records that a request with this key is being
// handled. It answers with the stored answer when the key's first request
// has been answered (replay it; do nothing else), with nil when the key is
// new or its first request's outcome is still unknown (go ahead, with the
// same UpdateID), and with ErrIdempotencyKeyMismatch when the key was used
// for a different request.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, c IdempotencyClaim) (*IdempotencyAnswer, error) {
	if strings.TrimSpace(c.Key) == "" || strings.TrimSpace(c.Actor) == "" || c.Fingerprint == "" {
		return nil, errors.New("store: claim idempotency key: key, actor and fingerprint are required")
	}
	// Insert or find, in one statement and one round trip: every action
	// waits for this before it is sent, a red rating's too.
	var fingerprint string
	var status *int
	var body []byte
	var err error
	for range claimAttempts {
		err = s.pool.QueryRow(ctx, claimIdempotencyKey, c.Key, c.Actor, c.Fingerprint, nullTime(c.At)).Scan(&fingerprint, &status, &body)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
		// A concurrent first use of the key committed while ours waited
		// for it, after our statement's snapshot: the next one sees it.
	}
	if err != nil {
		return nil, fmt.Errorf("store: claim idempotency key: %w", err)
	}
	if fingerprint != c.Fingerprint {
		return nil, ErrIdempotencyKeyMismatch
	}
	if status == nil {
		return nil, nil
	}
	return &IdempotencyAnswer{Status: *status, Body: body}, nil
}

// claimIdempotencyKey inserts the key, or finds it if it is already there.
// The insert's own row answers a new key; an existing key is read under the
// statement's snapshot, which misses only a row committed by a concurrent
// first use after this statement began (the insert waited for it): then no
// row comes back, and the caller runs it again.
const claimIdempotencyKey = `with claimed as (
		insert into idempotency_keys (key, actor, fingerprint, created_at)
		values ($1, $2, $3, coalesce($4, now()))
		on conflict (key) do nothing
		returning fingerprint, answer_status, answer_body)
	select fingerprint, answer_status, answer_body from claimed
	union all
	select fingerprint, answer_status, answer_body from idempotency_keys
	where key = $1 and not exists (select 1 from claimed)`

// claimAttempts bounds the claim's statement: a second one sees any row a
// concurrent first use committed during the first; a third covers that row
// having been released meanwhile.
const claimAttempts = 3

// AnswerIdempotencyKey stores the answer a key's request got. The first
// answer stays: a later one (a concurrent retry that finished second) is
// ignored, so every retry sees the same answer.
func (s *Store) AnswerIdempotencyKey(ctx context.Context, key string, a IdempotencyAnswer, at time.Time) error {
	if a.Status == 0 || a.Body == nil {
		return errors.New("store: answer idempotency key: status and body are required")
	}
	if _, err := s.pool.Exec(ctx, `update idempotency_keys
		set status = 'answered', answer_status = $2, answer_body = $3, answered_at = coalesce($4, now())
		where key = $1 and status = 'in_flight'`, key, a.Status, a.Body, nullTime(at)); err != nil {
		return fmt.Errorf("store: answer idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey forgets a key whose request changed nothing (it was
// refused as invalid before anything was attempted), so the caller can send
// the corrected request with the same key. An answered key is kept.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, `delete from idempotency_keys where key = $1 and status = 'in_flight'`, key); err != nil {
		return fmt.Errorf("store: release idempotency key: %w", err)
	}
	return nil
}

// PruneIdempotencyKeys deletes keys first used before olderThan, answered
// or not, and says how many went.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, olderThan time.Time) (int64, error) {
	return s.prune(ctx, "idempotency keys", `delete from idempotency_keys where created_at < $1`, olderThan)
}

// prune runs one of the housekeeping deletes (what names it in the error)
// and says how many rows went.
func (s *Store) prune(ctx context.Context, what, query string, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, query, before)
	if err != nil {
		return 0, fmt.Errorf("store: prune %s: %w", what, err)
	}
	return tag.RowsAffected(), nil
}
