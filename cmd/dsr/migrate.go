package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/store"
)

// runMigrate is `dsr migrate`: the database schema brought up to date.
func runMigrate(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required for migrate")
	}
	st, err := openMigratedStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	st.Close()
	fmt.Fprintln(stdout, "dsr: database schema is up to date")
	return nil
}

// openMigratedStore opens the database at url with its schema brought up
// to date: what every command that reads or writes the register starts
// with (migrate, serve, import).
func openMigratedStore(ctx context.Context, url string) (*store.Store, error) {
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	return st, nil
}
