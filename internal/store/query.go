package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// queryer is the pool or a transaction.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// queryAll runs query and scans every row. what names the query in
// errors ("store: what: …"); it carries opaque IDs only, never personal
// data.
func queryAll[T any](ctx context.Context, q queryer, what string, scan pgx.RowToFunc[T], query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// queryOne runs query and scans its one row; no row is an error wrapping
// ErrNotFound.
func queryOne[T any](ctx context.Context, q queryer, what string, scan pgx.RowToFunc[T], query string, args ...any) (T, error) {
	var zero T
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return zero, fmt.Errorf("store: %s: %w", what, err)
	}
	v, err := pgx.CollectExactlyOneRow(rows, scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return zero, fmt.Errorf("store: %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return zero, fmt.Errorf("store: %s: %w", what, err)
	}
	return v, nil
}

// queryEach runs query and, for every row, scans it into dest and calls
// each: for answers that fill a map or fold into totals rather than make a
// list. what names the query in errors as for queryAll.
func queryEach(ctx context.Context, q queryer, what string, dest []any, each func() error, query string, args ...any) error {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if _, err := pgx.ForEachRow(rows, dest, each); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

// lastNumber is the highest number among the person's escalations or
// meetings (kind "escalation" or "meeting": each is numbered per person
// from 1), 0 for none.
func (s *Store) lastNumber(ctx context.Context, kind string, personID int64) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `select coalesce(max(number), 0) from `+kind+`s where person_id = $1`, personID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: last %s of person %d: %w", kind, personID, err)
	}
	return n, nil
}

// writes are statements sent to PostgreSQL in one round trip. A change
// holds the person's row lock while it writes, and a red alert may be
// among what it writes: each round trip saved is time nobody else waits.
type writes struct {
	batch pgx.Batch
	whats []string              // each statement's name for errors, as queryAll's what
	reads []func(pgx.Row) error // each statement's reader of the row it returns; nil for none
}

// add queues one statement, named what in errors.
func (w *writes) add(what, sql string, args ...any) { w.addReading(what, nil, sql, args...) }

// addReading queues one statement that returns at most one row, which read
// reads (read is given pgx.ErrNoRows when there is none).
func (w *writes) addReading(what string, read func(pgx.Row) error, sql string, args ...any) {
	w.batch.Queue(sql, args...)
	w.whats = append(w.whats, what)
	w.reads = append(w.reads, read)
}

// send runs the queued statements in tx, in order, and reports the first
// that failed.
func (w *writes) send(ctx context.Context, tx pgx.Tx) error {
	if len(w.whats) == 0 {
		return nil
	}
	results := tx.SendBatch(ctx, &w.batch)
	for i, what := range w.whats {
		var err error
		if read := w.reads[i]; read != nil {
			err = read(results.QueryRow())
		} else {
			_, err = results.Exec()
		}
		if err != nil {
			results.Close()
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return results.Close()
}
