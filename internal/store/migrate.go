package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockID is the pg_advisory_xact_lock key that serialises Migrate
// across processes (several replicas starting at once). Any constant works
// as long as nothing else in the database uses it; this one spells "dsr-mig".
const migrationLockID int64 = 0x6473722d6d6967

// migrationName is NNNN_description.sql; NNNN is the version.
var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

type migration struct {
	version int64
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order, refusing
// badly named files and duplicate versions (a merge of two branches that
// both added 0002) so the mistake shows at build/test time, not in production.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("reading embedded migrations: %w", err)
	}
	var out []migration
	seen := map[int64]string{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q is not named NNNN_description.sql", e.Name())
		}
		v, _ := strconv.ParseInt(m[1], 10, 64)
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %q and %q share version %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Migrate brings the schema up to date by applying, in order, every embedded
// migration not yet recorded in schema_migrations. It is idempotent and safe
// to call from several processes at once: everything happens in one
// transaction that first takes a transaction-scoped advisory lock, so a
// second caller waits, then finds nothing left to do. A failing migration
// rolls back the whole run, leaving the schema as it was.
func (s *Store) Migrate(ctx context.Context) error {
	all, err := migrations()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "select pg_advisory_xact_lock($1)", migrationLockID); err != nil {
			return fmt.Errorf("taking the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `create table if not exists schema_migrations (
			version    bigint primary key,
			name       text not null,
			applied_at timestamptz not null default now()
		)`); err != nil {
			return fmt.Errorf("creating schema_migrations: %w", err)
		}
		rows, err := tx.Query(ctx, "select version from schema_migrations")
		if err != nil {
			return fmt.Errorf("reading schema_migrations: %w", err)
		}
		applied, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("reading schema_migrations: %w", err)
		}
		done := map[int64]bool{}
		for _, v := range applied {
			done[v] = true
		}
		for _, m := range all {
			if done[m.version] {
				continue
			}
			// No arguments: pgx sends it with the simple protocol, which
			// allows the several statements a migration file holds.
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("applying migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, "insert into schema_migrations (version, name) values ($1, $2)", m.version, m.name); err != nil {
				return fmt.Errorf("recording migration %s: %w", m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}
