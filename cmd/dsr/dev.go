package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/devstack"
	"github.com/dsr-register/dsr/internal/encryption"
	"github.com/dsr-register/dsr/workflows"
)

// runDev is the local all-in-one: it starts a Temporal dev server and (unless
// DATABASE_URL is set) a private PostgreSQL under the state directory, then
// serves, with a local OpenID provider for the web app's sign-in. Everything
// it keeps (database, Temporal's SQLite file, the payload and session keys,
// the dev token, the development sign-ins) lives in
// DSR_STATE_DIR, so running it again carries on where it stopped.
func runDev(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	stateDir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return fmt.Errorf("DSR_STATE_DIR: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return fmt.Errorf("DSR_STATE_DIR %s: %w", stateDir, err)
	}

	keys, err := devPayloadKeys(cfg, stateDir)
	if err != nil {
		return err
	}
	devToken := ""
	if len(cfg.APITokens) == 0 {
		devToken, err = loadOrCreateSecret(filepath.Join(stateDir, "dev-token"))
		if err != nil {
			return err
		}
		cfg.APITokens = config.Tokens{{Name: "dev", Role: config.RoleCoordinator, Token: devToken}}
	}

	// Temporal: the pinned CLI's dev server, its state in a SQLite file.
	cli, err := devstack.EnsureTemporalCLI(ctx, stdout)
	if err != nil {
		return err
	}
	var attrs []devstack.SearchAttribute
	for _, sa := range workflows.SearchAttributeTypes {
		attrs = append(attrs, devstack.SearchAttribute{Name: sa[0], Type: sa[1]})
	}
	fmt.Fprintln(stdout, "dsr: starting Temporal dev server…")
	temporal, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{
		CLIPath:          cli,
		Port:             cfg.DevTemporalPort,
		UIPort:           cfg.DevTemporalPort + 1000,
		DBFile:           filepath.Join(stateDir, "temporal.db"),
		Namespace:        cfg.TemporalNamespace,
		SearchAttributes: attrs,
		DynamicConfig:    []string{"system.enableActivityEagerExecution=true"},
	})
	if err != nil {
		return fmt.Errorf("start Temporal dev server: %w", err)
	}
	defer temporal.Stop()
	cfg.TemporalAddress = temporal.Address()

	// PostgreSQL: DATABASE_URL if given, else a private cluster.
	if cfg.DatabaseURL == "" {
		binDir, err := devstack.FindPostgres(ctx, stdout, true)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "dsr: starting PostgreSQL…")
		pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{
			BinDir: binDir, DataDir: filepath.Join(stateDir, "postgres"), Log: stdout,
		})
		if err != nil {
			return fmt.Errorf("start PostgreSQL: %w", err)
		}
		defer pg.Stop()
		cfg.DatabaseURL = pg.URL()
	}

	// Sign-in: a real OpenID provider on loopback with a development
	// coordinator and manager (or OIDC_ISSUER's, if set).
	devSignIn, err := startDevLogin(&cfg, stateDir, cfg.Login.DevOIDCPort)
	if err != nil {
		return err
	}
	defer devSignIn.Close()

	// Mail: a local IMAP mailbox for the team and an SMTP server that
	// delivers into it, unless DSR_MAILBOX_HOST / DSR_SMTP_HOST say where.
	devMail, err := startDevMail(&cfg)
	if err != nil {
		return err
	}
	if devMail != nil {
		defer devMail.Close()
	}

	fmt.Fprintln(stdout, "dsr: configuration")
	cfg.Print(stdout)
	// `dsr import` run beside `dsr dev` finds the stack here (devstack.json).
	defer os.Remove(devStackFile(stateDir))
	return serve(ctx, cfg, keys, stdout, stderr, func(apiURL string) {
		if err := writeDevStack(stateDir, cfg); err != nil {
			fmt.Fprintf(stderr, "dsr: %v (dsr import will need DATABASE_URL and TEMPORAL_ADDRESS)\n", err)
		}
		fmt.Fprintf(stdout, "dsr: Temporal   %s (namespace %s)\n", temporal.Address(), cfg.TemporalNamespace)
		fmt.Fprintf(stdout, "dsr: Temporal UI %s\n", temporal.UIURL())
		fmt.Fprintf(stdout, "dsr: state      %s\n", stateDir)
		if devToken != "" {
			fmt.Fprintf(stdout, "dsr: API token  %s   (coordinator \"dev\"; kept in %s)\n", devToken, filepath.Join(stateDir, "dev-token"))
			fmt.Fprintf(stdout, "dsr: try        curl -H 'Authorization: Bearer %s' %s/api/v1/people\n", devToken, apiURL)
		}
		fmt.Fprintf(stdout, "dsr: %s\n", devSignIn.banner(cfg.PublicURL))
		if devMail != nil {
			printDevMail(stdout, devMail)
		}
		fmt.Fprintln(stdout, "dsr: ready. Ctrl-C stops everything; state is kept for next time.")
	})
}

// devPayloadKeys uses DSR_PAYLOAD_KEYS if set, else a key kept in the state
// directory (made on first run).
func devPayloadKeys(cfg config.Config, stateDir string) ([]encryption.Key, error) {
	if cfg.PayloadKeys != "" {
		keys, err := encryption.ParseKeys(cfg.PayloadKeys)
		if err != nil {
			return nil, fmt.Errorf("DSR_PAYLOAD_KEYS: %w", err)
		}
		return keys, nil
	}
	return encryption.LoadOrCreateKeyFile(filepath.Join(stateDir, "payload.key"))
}

// loadOrCreateSecret reads a secret from path, making a random one first if
// the file does not exist.
func loadOrCreateSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	s := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return s, nil
}
