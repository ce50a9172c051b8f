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

// restartablePart is what the parts below share: a server started and
// stopped any number of times over the same files, which Close removes.
type restartablePart struct {
	name      string // for Close's messages: "temporal dev server"
	files     string // the part's state on disk, kept across restarts
	filesName string // for Close's messages: "Temporal state dir"
	// start starts the server on files and returns once it answers; it is
	// called with mu held.
	start func(context.Context) (stopper, error)

	mu      sync.Mutex
	running stopper // nil while stopped
}

type stopper interface{ Stop() error }

// Start starts the server again on its files and returns once it answers.
// Starting a running server does nothing.
func (p *restartablePart) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	running, err := p.start(ctx)
	if err != nil {
		return err
	}
	p.running = running
	return nil
}

// Stop shuts the server down, keeping its files for Start. Stopping a
// stopped server does nothing.
func (p *restartablePart) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running == nil {
		return nil
	}
	err := p.running.Stop()
	p.running = nil
	return err
}

// Close stops the server and removes its files; it reports failures on
// stderr because there is nothing left to fail.
func (p *restartablePart) Close() {
	if err := p.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "devstacktest: stopping %s: %v\n", p.name, err)
	}
	if err := os.RemoveAll(p.files); err != nil {
		fmt.Fprintf(os.Stderr, "devstacktest: removing %s: %v\n", p.filesName, err)
	}
}

// RestartableTemporal is a headless Temporal dev server whose state is in a
// SQLite file, so it can be stopped and started again on the same port with
// every workflow still there (Temporal's in-memory dev server, which
// Temporal() starts, forgets everything when it stops). Stop shuts it down
// cleanly, as Ctrl-C would.
type RestartableTemporal struct {
	restartablePart
	opts   devstack.TemporalOptions
	output *tailbuf.Buffer
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
	t := &RestartableTemporal{output: tailbuf.New(32 << 10)}
	t.restartablePart = restartablePart{name: "temporal dev server", files: dir, filesName: "Temporal state dir", start: t.startServer}
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

// startServer starts the dev server on the same port with the same state
// file, once it has a port: the first start keeps the one it chose.
func (t *RestartableTemporal) startServer(ctx context.Context) (stopper, error) {
	srv, err := devstack.StartTemporal(ctx, t.opts)
	if err != nil {
		return nil, err
	}
	if t.opts.Port == 0 {
		if _, err := fmt.Sscanf(srv.Address(), "127.0.0.1:%d", &t.opts.Port); err != nil {
			_ = srv.Stop()
			return nil, fmt.Errorf("reading the port from Temporal's address %q: %w", srv.Address(), err)
		}
	}
	return srv, nil
}

// Dial is a plain client of the server (no data converter), for the test's
// own checks. The caller closes it.
func (t *RestartableTemporal) Dial() (client.Client, error) {
	return client.Dial(client.Options{HostPort: t.Address(), Namespace: "default", Logger: quietSDKLogger})
}

// RestartablePostgres is a throwaway PostgreSQL cluster that a test can stop
// and start again: same data, same URL. Stop is pg_ctl stop -m fast: open
// transactions are rolled back and clients disconnected.
type RestartablePostgres struct {
	restartablePart
	opts devstack.PostgresOptions
	url  string
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
	p := &RestartablePostgres{opts: devstack.PostgresOptions{
		BinDir: binDir, DataDir: filepath.Join(base, "data"), Throwaway: true,
	}}
	p.restartablePart = restartablePart{name: "PostgreSQL", files: base, filesName: "PostgreSQL temp dir", start: p.startCluster}
	if err := p.Start(); err != nil {
		_ = os.RemoveAll(base)
		return nil, err
	}
	return p, nil
}

// URL is the database's URL (database "dsr"); it stays the same across
// restarts.
func (p *RestartablePostgres) URL() string { return p.url }

// startCluster starts the cluster on its data directory and returns once
// it accepts connections.
func (p *RestartablePostgres) startCluster(ctx context.Context) (stopper, error) {
	pg, err := devstack.StartPostgres(ctx, p.opts)
	if err != nil {
		return nil, err
	}
	// The socket lives in the (short) data directory, so the URL cannot
	// change; if it did, clients holding the old one would never recover,
	// and the test must say so rather than wait for them.
	if p.url != "" && pg.URL() != p.url {
		_ = pg.Stop()
		return nil, fmt.Errorf("PostgreSQL came back at %s, not %s", pg.URL(), p.url)
	}
	p.url = pg.URL()
	return pg, nil
}

// quietSDKLogger drops the SDK client's own logging, which would otherwise
// print a line per failed call while a server is deliberately down.
var quietSDKLogger = sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
