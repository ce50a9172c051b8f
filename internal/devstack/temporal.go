package devstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/dsr-register/dsr/internal/devstack/internal/tailbuf"
)

// SearchAttribute is a custom search attribute to register on the dev server.
// Type is one of the CLI's names: Text, Keyword, Int, Double, Bool, Datetime,
// KeywordList.
type SearchAttribute struct {
	Name string
	Type string
}

// Arg returns the value for the CLI's --search-attribute flag.
func (a SearchAttribute) Arg() string { return a.Name + "=" + a.Type }

// TemporalOptions configures StartTemporal.
type TemporalOptions struct {
	// CLIPath is the temporal binary; "" means EnsureTemporalCLI.
	CLIPath string
	// Port is the frontend gRPC port on 127.0.0.1; 0 picks a free one.
	Port int
	// UIPort is the Web UI port; 0 runs headless (no UI).
	UIPort int
	// DBFile is the SQLite file that keeps state across restarts; "" keeps
	// everything in memory.
	DBFile string
	// Namespace is registered at start; "" means "default" (which the CLI
	// always registers anyway).
	Namespace string
	// SearchAttributes are registered at start (idempotent on an existing
	// DBFile).
	SearchAttributes []SearchAttribute
	// DynamicConfig holds "key=value" pairs for --dynamic-config-value; the
	// value is JSON, e.g. "system.enableActivityEagerExecution=true".
	DynamicConfig []string
	// Log receives the server's stdout and stderr; nil discards them (the
	// tail still appears in errors).
	Log io.Writer
}

// Temporal is a running `temporal server start-dev` child process.
type Temporal struct {
	cmd       *exec.Cmd
	address   string
	uiURL     string
	namespace string
	output    *tailbuf.Buffer

	exited  chan struct{} // closed when the process has exited
	waitErr error         // cmd.Wait's result, valid after exited is closed

	stopOnce sync.Once
	stopErr  error
}

// temporalStartTimeout bounds how long the frontend may take to answer. A
// fresh SQLite file takes a few seconds; a slow CI machine, more.
const temporalStartTimeout = 60 * time.Second

// temporalStopTimeout is how long Stop waits after SIGINT before killing.
const temporalStopTimeout = 10 * time.Second

// StartTemporal starts the Temporal CLI dev server as a child process and
// returns once its frontend answers health checks.
//
// ctx bounds only the start-up; the server runs until Stop (deliberately not
// exec.CommandContext, whose kill-on-cancel would tie the server's life to a
// start-up deadline).
func StartTemporal(ctx context.Context, opts TemporalOptions) (*Temporal, error) {
	opts.Log = orDiscard(opts.Log)
	opts.Namespace = cmp.Or(opts.Namespace, "default")
	if opts.CLIPath == "" {
		p, err := EnsureTemporalCLI(ctx, opts.Log)
		if err != nil {
			return nil, err
		}
		opts.CLIPath = p
	}
	if opts.DBFile != "" {
		// The CLI creates the file but not its directory.
		if err := os.MkdirAll(filepath.Dir(opts.DBFile), 0o755); err != nil {
			return nil, fmt.Errorf("creating directory for Temporal DB file: %w", err)
		}
	}
	if opts.Port != 0 {
		return startTemporal(ctx, opts)
	}
	// A port FreePort chose can be taken by another process before the
	// server binds it (tests start several servers at once): then the
	// server exits at once, and another port is tried.
	for attempt := 1; ; attempt++ {
		p, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("choosing a port for Temporal: %w", err)
		}
		opts.Port = p
		t, err := startTemporal(ctx, opts)
		if err == nil || !errors.Is(err, errPortTaken) || attempt == temporalPortAttempts {
			return t, err
		}
	}
}

// freePort is FreePort, replaced by a test that hands out a taken port.
var freePort = FreePort

// temporalPortAttempts is how many free ports StartTemporal tries when
// each is taken before the server binds it.
const temporalPortAttempts = 3

// errPortTaken: the server exited during start-up because a port it was
// to listen on was already in use.
var errPortTaken = errors.New("a port it was to listen on was taken")

// startTemporal starts the server once, on opts.Port.
func startTemporal(ctx context.Context, opts TemporalOptions) (*Temporal, error) {
	args := []string{
		"server", "start-dev",
		"--ip", "127.0.0.1",
		"--port", strconv.Itoa(opts.Port),
		"--namespace", opts.Namespace,
		"--log-level", "warn",
	}
	if opts.UIPort != 0 {
		args = append(args, "--ui-port", strconv.Itoa(opts.UIPort))
	} else {
		args = append(args, "--headless")
	}
	if opts.DBFile != "" {
		args = append(args, "--db-filename", opts.DBFile)
	}
	for _, a := range opts.SearchAttributes {
		args = append(args, "--search-attribute", a.Arg())
	}
	for _, kv := range opts.DynamicConfig {
		args = append(args, "--dynamic-config-value", kv)
	}

	t := &Temporal{
		address:   net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port)),
		namespace: opts.Namespace,
		output:    tailbuf.New(16 << 10),
		exited:    make(chan struct{}),
	}
	if opts.UIPort != 0 {
		t.uiURL = "http://127.0.0.1:" + strconv.Itoa(opts.UIPort)
	}

	t.cmd = exec.Command(opts.CLIPath, args...)
	w := io.MultiWriter(opts.Log, t.output)
	t.cmd.Stdout, t.cmd.Stderr = w, w
	t.cmd.SysProcAttr = childProcAttr()
	// The pipes copying output close when the process exits; do not let a
	// stray grandchild holding them keep Wait from returning.
	t.cmd.WaitDelay = time.Second
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", opts.CLIPath, err)
	}
	go func() {
		t.waitErr = t.cmd.Wait()
		close(t.exited)
	}()

	if err := t.waitReady(ctx); err != nil {
		_ = t.Stop()
		return nil, err
	}
	return t, nil
}

// waitReady polls the frontend until a health check passes, the process
// exits, or the start-up time runs out.
func (t *Temporal) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, temporalStartTimeout)
	defer cancel()
	var lastErr error
	for {
		select {
		case <-t.exited:
			err := fmt.Errorf("temporal dev server exited during start-up (%v); its output ends:\n%s", t.waitErr, t.output)
			if strings.Contains(t.output.String(), "address already in use") {
				err = fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return err
		default:
		}
		lastErr = checkTemporal(ctx, t.address, t.namespace)
		if lastErr == nil {
			return nil
		}
		select {
		case <-t.exited:
			// Loop round to report the exit.
		case <-ctx.Done():
			return fmt.Errorf("temporal dev server on %s not ready after %v (last error: %v); its output ends:\n%s",
				t.address, temporalStartTimeout, lastErr, t.output)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// checkTemporal dials the frontend and runs the gRPC health check once.
func checkTemporal(ctx context.Context, address, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  address,
		Namespace: namespace,
		Logger:    quietLogger,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

// quietLogger drops the SDK client's own logging, which would otherwise print
// a line per failed dial while the server boots.
var quietLogger = sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// Address is the frontend's host:port, for client.Options.HostPort.
func (t *Temporal) Address() string { return t.address }

// UIURL is the Web UI's base URL, or "" when headless.
func (t *Temporal) UIURL() string { return t.uiURL }

// Stop interrupts the server (SIGINT, as Ctrl-C would, so it shuts down
// cleanly and leaves the SQLite file consistent), waits up to 10 seconds, and
// then kills it. Calling Stop again returns the first result.
func (t *Temporal) Stop() error {
	t.stopOnce.Do(func() { t.stopErr = t.stop() })
	return t.stopErr
}

func (t *Temporal) stop() error {
	select {
	case <-t.exited:
		return nil // already gone (e.g. failed start-up); nothing to stop
	default:
	}
	// Negative pid: the whole process group (see childProcAttr).
	pgid := -t.cmd.Process.Pid
	if err := syscall.Kill(pgid, syscall.SIGINT); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("interrupting temporal dev server: %w", err)
	}
	select {
	case <-t.exited:
		return nil
	case <-time.After(temporalStopTimeout):
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	<-t.exited
	return fmt.Errorf("temporal dev server did not stop within %v of SIGINT and was killed; its output ends:\n%s",
		temporalStopTimeout, t.output)
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1, for a server
// that must be told its port before it starts. There is a small window
// before the server binds it, in which another process may take it:
// StartTemporal then tries another.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
