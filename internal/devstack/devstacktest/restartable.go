package devstacktest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/dsr-register/dsr/internal/devstack"
	"github.com/dsr-register/dsr/internal/devstack/internal/tailbuf"
)

// Fault tests stop a real part mid-run and start it again. The parts below
// keep their state on disk and come back at the same address, so that what
// a test sees afterwards is what a real outage and recovery leave behind.

// RestartableTemporal is a headless Temporal dev server whose state is in a
// SQLite file, so it can be stopped and started again on the same port with
// every workflow still there (Temporal's in-memory dev server, which
// Temporal() starts, forgets everything when it stops).
type RestartableTemporal struct {
	opts   devstack.TemporalOptions
	dir    string
	output *tailbuf.Buffer

	mu  sync.Mutex
	srv *devstack.Temporal // nil while stopped
}

// TemporalRestartable starts a RestartableTemporal for the test; it is
// stopped and its state removed when the test ends, and the end of its
// output is logged if the test failed.
func TemporalRestartable(tb testing.TB, cfg TemporalConfig) *RestartableTemporal {
	tb.Helper()
	t, err := StartRestartableTemporal(cfg)
	if err != nil {
		tb.Fatalf("devstacktest: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("temporal dev server output ends:\n%s", t.output)
		}
		t.Close()
	})
	return t
}

// StartRestartableTemporal is TemporalRestartable without a testing.TB; the
// caller must Close it.
func StartRestartableTemporal(cfg TemporalConfig) (*RestartableTemporal, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cli, err := devstack.EnsureTemporalCLI(ctx, os.Stderr)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dsrtemporal")
	if err != nil {
		return nil, fmt.Errorf("creating Temporal state dir: %w", err)
	}
	t := &RestartableTemporal{dir: dir, output: tailbuf.New(32 << 10)}
	t.opts = devstack.TemporalOptions{
		CLIPath:       cli,
		DBFile:        filepath.Join(dir, "temporal.db"),
		DynamicConfig: cfg.DynamicConfig,
		Log:           t.output,
	}
	t.opts.SearchAttributes = append(t.opts.SearchAttributes, cfg.SearchAttributes...)
	if err := t.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return t, nil
}

// Address is the frontend's host:port; it stays the same across restarts.
func (t *RestartableTemporal) Address() string {
	return fmt.Sprintf("127.0.0.1:%d", t.opts.Port)
}

// Start starts the server again, on the same port with the same state
// file, and returns once it answers health checks. Starting a running
// server does nothing.
func (t *RestartableTemporal) Start() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.srv != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	srv, err := devstack.StartTemporal(ctx, t.opts)
	if err != nil {
		return err
	}
	if t.opts.Port == 0 { // first start: keep the port it chose
		if _, err := fmt.Sscanf(srv.Address(), "127.0.0.1:%d", &t.opts.Port); err != nil {
			_ = srv.Stop()
			return fmt.Errorf("reading the port from Temporal's address %q: %w", srv.Address(), err)
		}
	}
	t.srv = srv
	return nil
}

// Stop shuts the server down cleanly (as Ctrl-C would), keeping its state
// file for Start. Stopping a stopped server does nothing.
func (t *RestartableTemporal) Stop() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.srv == nil {
		return nil
	}
	err := t.srv.Stop()
	t.srv = nil
	return err
}

// Dial is a plain client of the server (no data converter), for the test's
// own checks. The caller closes it.
func (t *RestartableTemporal) Dial() (client.Client, error) {
	return client.Dial(client.Options{HostPort: t.Address(), Namespace: "default", Logger: quietSDKLogger})
}

// Close stops the server and removes its state; it reports failures on
// stderr because there is nothing left to fail.
func (t *RestartableTemporal) Close() {
	if err := t.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "devstacktest: stopping temporal dev server: %v\n", err)
	}
	if err := os.RemoveAll(t.dir); err != nil {
		fmt.Fprintf(os.Stderr, "devstacktest: removing Temporal state dir: %v\n", err)
	}
}

// RestartablePostgres is a throwaway PostgreSQL cluster that a test can stop
// and start again: same data, same URL.
type RestartablePostgres struct {
	opts devstack.PostgresOptions
	base string
	url  string

	mu sync.Mutex
	pg *devstack.Postgres // nil while stopped
}

// PostgresRestartable starts a RestartablePostgres for the test; it is
// stopped and its files removed when the test ends.
func PostgresRestartable(tb testing.TB) *RestartablePostgres {
	tb.Helper()
	p, err := StartRestartablePostgres()
	if err != nil {
		tb.Fatalf("devstacktest: %v", err)
	}
	tb.Cleanup(p.Close)
	return p
}

// StartRestartablePostgres is PostgresRestartable without a testing.TB; the
// caller must Close it.
func StartRestartablePostgres() (*RestartablePostgres, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	binDir, base, err := postgresBase(ctx)
	if err != nil {
		return nil, err
	}
	p := &RestartablePostgres{base: base, opts: devstack.PostgresOptions{
		BinDir: binDir, DataDir: filepath.Join(base, "data"), Throwaway: true,
	}}
	if err := p.Start(); err != nil {
		_ = os.RemoveAll(base)
		return nil, err
	}
	return p, nil
}

// URL is the database's URL (database "dsr"); it stays the same across
// restarts.
func (p *RestartablePostgres) URL() string { return p.url }

// Start starts the cluster again on its data directory and returns once
// it accepts connections. Starting a running cluster does nothing.
func (p *RestartablePostgres) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pg != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	pg, err := devstack.StartPostgres(ctx, p.opts)
	if err != nil {
		return err
	}
	// The socket lives in the (short) data directory, so the URL cannot
	// change; if it did, clients holding the old one would never recover,
	// and the test must say so rather than wait for them.
	if p.url != "" && pg.URL() != p.url {
		_ = pg.Stop()
		return fmt.Errorf("PostgreSQL came back at %s, not %s", pg.URL(), p.url)
	}
	p.url, p.pg = pg.URL(), pg
	return nil
}

// Stop shuts the cluster down (pg_ctl stop -m fast: open transactions are
// rolled back and clients disconnected), keeping its data for Start.
// Stopping a stopped cluster does nothing.
func (p *RestartablePostgres) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pg == nil {
		return nil
	}
	err := p.pg.Stop()
	p.pg = nil
	return err
}

// Close stops the cluster and removes its files; it reports failures on
// stderr because there is nothing left to fail.
func (p *RestartablePostgres) Close() {
	if err := p.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "devstacktest: stopping PostgreSQL: %v\n", err)
	}
	if err := os.RemoveAll(p.base); err != nil {
		fmt.Fprintf(os.Stderr, "devstacktest: removing PostgreSQL temp dir: %v\n", err)
	}
}

// quietSDKLogger drops the SDK client's own logging, which would otherwise
// print a line per failed call while a server is deliberately down.
var quietSDKLogger = sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
