// Package devstacktest starts the real local parts from package devstack for
// tests: a throwaway PostgreSQL cluster and an in-memory Temporal dev server,
// each stopped and removed by the test's cleanup.
//
// These never skip. A test that needs PostgreSQL or Temporal and cannot have
// it fails with the instruction to fix the machine, because a skipped test
// reads as green in CI.
package devstacktest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/dsr-register/dsr/internal/devstack"
	"github.com/dsr-register/dsr/internal/devstack/internal/tailbuf"
)

// startTimeout bounds starting either part. It is generous because the first
// Temporal test on a fresh machine builds the CLI (about two minutes).
const startTimeout = 5 * time.Minute

// Postgres starts a throwaway PostgreSQL cluster for the test and returns
// its URL (database "dsr"). The cluster is stopped and its files removed when
// the test ends.
func Postgres(tb testing.TB) string {
	tb.Helper()
	url, stop, err := StartPostgresForMain()
	if err != nil {
		tb.Fatalf("devstacktest: %v", err)
	}
	tb.Cleanup(stop)
	return url
}

// StartPostgresForMain starts a throwaway PostgreSQL cluster without a
// testing.TB, for a TestMain that shares one cluster across a package:
//
//	func TestMain(m *testing.M) {
//		url, stop, err := devstacktest.StartPostgresForMain()
//		if err != nil { fmt.Fprintln(os.Stderr, err); os.Exit(1) }
//		dbURL = url
//		code := m.Run()
//		stop()
//		os.Exit(code)
//	}
//
// stop shuts the cluster down and removes its files; it reports failures on
// stderr because there is nothing left to fail.
func StartPostgresForMain() (url string, stop func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	binDir, base, err := postgresBase(ctx)
	if err != nil {
		return "", nil, err
	}
	pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{
		BinDir:    binDir,
		DataDir:   filepath.Join(base, "data"),
		Throwaway: true,
	})
	if err != nil {
		_ = os.RemoveAll(base)
		return "", nil, err
	}
	stop = func() {
		if err := pg.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "devstacktest: stopping PostgreSQL: %v\n", err)
		}
		if err := os.RemoveAll(base); err != nil {
			fmt.Fprintf(os.Stderr, "devstacktest: removing PostgreSQL temp dir: %v\n", err)
		}
	}
	return pg.URL(), stop, nil
}

// postgresBase finds the PostgreSQL server binaries and makes the directory
// a test cluster lives in; the caller removes base.
func postgresBase(ctx context.Context) (binDir, base string, err error) {
	// Installing packages is opt-in on CI machines where we are root; on a
	// developer's machine we only say what to install.
	install := os.Getenv("CI") == "true" && os.Geteuid() == 0
	binDir, err = devstack.FindPostgres(ctx, os.Stderr, install)
	if err != nil {
		return "", "", err
	}

	// Not t.TempDir(): its directories are mode 0700, which the postgres
	// user (used when tests run as root) cannot enter, and its long paths
	// can overflow the unix socket path limit. A short directory directly
	// in $TMPDIR, opened up for traversal, avoids both.
	base, err = os.MkdirTemp("", "dsrpg")
	if err != nil {
		return "", "", fmt.Errorf("creating PostgreSQL temp dir: %w", err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		_ = os.RemoveAll(base)
		return "", "", fmt.Errorf("opening PostgreSQL temp dir to the postgres user: %w", err)
	}
	return binDir, base, nil
}

// TemporalConfig configures a test Temporal dev server.
type TemporalConfig struct {
	// SearchAttributes to register, e.g. {Name: "DsrStage", Type: "Keyword"}.
	SearchAttributes []devstack.SearchAttribute
	// DynamicConfig holds "key=value" (JSON value) pairs, e.g.
	// "system.enableActivityEagerExecution=true".
	DynamicConfig []string
}

// TemporalWith starts an in-memory, headless Temporal dev server for the
// test with cfg's search attributes and dynamic config, in namespace
// "default". Use FrontendHostPort() as client.Options.HostPort, or Client()
// directly. The server is stopped when the test ends; if the test failed,
// the end of the server's output is logged.
func TemporalWith(tb testing.TB, cfg TemporalConfig) *testsuite.DevServer {
	tb.Helper()
	srv, output, stop, err := startTemporal(cfg)
	if err != nil {
		tb.Fatalf("devstacktest: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("temporal dev server output ends:\n%s", output)
		}
		stop()
	})
	return srv
}

// StartTemporalForMain is TemporalWith for a TestMain (see
// StartPostgresForMain); stop reports failures on stderr.
func StartTemporalForMain(cfg TemporalConfig) (srv *testsuite.DevServer, stop func(), err error) {
	srv, _, stop, err = startTemporal(cfg)
	return srv, stop, err
}

// startTemporal starts the server with testsuite.StartDevServer pointed at
// the pinned CLI, rather than devstack.StartTemporal: the SDK's helper is
// what the Temporal SDK's own tests use, keeps no state on disk, and is ready
// in well under a second.
func startTemporal(cfg TemporalConfig) (*testsuite.DevServer, fmt.Stringer, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cli, err := devstack.EnsureTemporalCLI(ctx, os.Stderr)
	if err != nil {
		return nil, nil, nil, err
	}

	// Search attributes go in as CLI flags: DevServerOptions.SearchAttributes
	// wants typed attribute values, not just names and types.
	var extra []string
	for _, a := range cfg.SearchAttributes {
		extra = append(extra, "--search-attribute", a.Arg())
	}
	for _, kv := range cfg.DynamicConfig {
		extra = append(extra, "--dynamic-config-value", kv)
	}

	output := tailbuf.New(32 << 10)
	// If the CLI exits at once (say, a bad search attribute type),
	// StartDevServer notices only when its 60 s of dial retries run out;
	// the CLI's output, which says why, is then in our error.
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: cli,
		ClientOptions: &client.Options{
			Namespace: "default",
			Logger:    sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		},
		LogLevel:  "warn",
		ExtraArgs: extra,
		Stdout:    output,
		Stderr:    output,
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("starting temporal dev server (%s): %w; its output ends:\n%s", cli, err, output)
	}
	stop := func() {
		srv.Client().Close()
		if err := srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "devstacktest: stopping temporal dev server: %v; its output ends:\n%s\n", err, output)
		}
	}
	return srv, output, stop, nil
}
