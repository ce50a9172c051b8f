// Package store is the only package that speaks SQL. It keeps the register's
// record in PostgreSQL: people and their projection (where each stands now),
// referrals, coordinator tasks, and an append-only audit log.
//
// Writes from workflows come through RecordChange, which is idempotent by
// (person, change sequence number) because Temporal may run an activity more
// than once. Intake writes come through CreateReferral, idempotent by the
// caller's key. Everything else is a read for the API and dashboards.
//
// Types returned to callers carry snake_case JSON tags because the HTTP API
// serialises them directly. Times are returned in UTC; nullable times are
// pointers, so "not set" is null in JSON rather than year 1.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dsr-register/dsr/internal/urgent"
)

// ErrNotFound is returned (possibly wrapped) when the row asked for does not
// exist. Test with errors.Is.
var ErrNotFound = errors.New("not found")

// Store is a pool of connections to the register's database.
type Store struct {
	pool *pgxpool.Pool
	// alerts, when set, is handed the alerts each change queued, once it
	// is committed (HandAlertsTo).
	alerts atomic.Pointer[func([]OutboxItem) <-chan struct{}]
}

// HandAlertsTo has every new alert RecordChange queues handed to take as
// soon as its change is committed, as well as queued: the outbox
// dispatcher in this process takes it from there at once, instead of after
// PostgreSQL's NOTIFY and a read of the outbox. Nothing depends on it: the
// dispatcher (of whichever process holds the outbox) still reads every
// queued notification, and takes each once.
//
// take answers with a channel that closes once each alert it took has been
// tried once (nil if it took none), and RecordChange answers only then, or
// after AlertTryWait. Its answer sets Temporal and the worker going on the
// workflow's next steps (the escalation's child workflow, the Update's
// answer), which would otherwise take the machine's cores from the alert
// while it is read and posted. Nothing after the answer is as urgent.
func (s *Store) HandAlertsTo(take func(alerts []OutboxItem) (tried <-chan struct{})) {
	s.alerts.Store(&take)
}

// AlertTryWait bounds how long RecordChange waits for the alerts it handed
// on to be tried once: an alert waiting for its channel's turn in the Slack
// pacer, or a Slack that does not answer, holds up the change's answer by
// no more than this.
const AlertTryWait = 250 * time.Millisecond

// handAlerts hands alerts on (HandAlertsTo) and waits, bounded, until they
// have been tried once.
func (s *Store) handAlerts(ctx context.Context, alerts []OutboxItem) {
	take := s.alerts.Load()
	if take == nil || len(alerts) == 0 {
		return
	}
	tried := (*take)(alerts)
	if tried == nil {
		return
	}
	urgent.WaitFor(ctx, tried, AlertTryWait)
}

// Open connects to the database at url (a libpq/pgx URL or key=value string)
// and checks that it answers, so a wrong address fails at start rather than
// on the first request. It does not migrate: call Migrate.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// ParseConfig's message can quote the URL, password included; say
		// what is wrong without echoing it.
		return nil, errors.New("store: the database URL cannot be parsed: check DATABASE_URL's syntax (postgres://user:password@host:port/db or host=... dbname=...)")
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default is four on a two-core machine; the API, the
		// activities (a burst of referrals) and the dispatcher's reads share
		// the pool, and a red rating's RecordChange must not queue for a
		// connection behind them.
		cfg.MaxConns = max(cfg.MaxConns, 16)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: creating the connection pool: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close waits for queries in flight and closes every connection.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: database not answering: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction, committing if it returns nil and rolling
// back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, fn)
}

// nullTime maps Go's zero time to SQL null: the register's types use the
// zero value for "not set".
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// nullText maps "" to SQL null, for columns whose CHECK lists the allowed
// values (rating, consent basis) and where null reads better than "".
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// utc returns t in UTC (pgx returns timestamptz in the local zone), or nil
// for a null.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// deref returns the time, or the zero time for nil.
func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// detailJSON encodes an audit detail map; nil becomes {} so the column is
// always an object.
func detailJSON(d map[string]string) ([]byte, error) {
	if d == nil {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encoding audit detail: %w", err)
	}
	return b, nil
}

// stringsOf converts a slice of a string type ([]register.Diagnosis,
// []register.Action) to []string, which pgx encodes as text[].
func stringsOf[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

// typed converts []string read from a text[] back to a slice of a string type.
func typed[T ~string](in []string) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = T(v)
	}
	return out
}
