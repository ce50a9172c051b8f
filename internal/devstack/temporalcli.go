package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dsr-register/dsr/internal/devstack/internal/tailbuf"
)

// TemporalCLIVersion is the pinned Temporal CLI release. It is the newest that
// `go install` can build (v1.9.1's go.mod has replace directives) and bundles
// Temporal Server 1.29.1 and UI 2.42.1.
const TemporalCLIVersion = "v1.5.1"

// temporalCLIPackage is what `go install` builds.
const temporalCLIPackage = "github.com/temporalio/cli/cmd/temporal"

// EnvTemporalCLI names an existing temporal binary to use instead of the
// cached build, e.g. one installed by a package manager or in CI images.
const EnvTemporalCLI = "DSR_TEMPORAL_CLI"

// EnsureTemporalCLI returns the path of a temporal CLI binary, building the
// pinned version into the user cache the first time.
//
// Order: $DSR_TEMPORAL_CLI if set (it must exist); else
// <user cache>/dsr/tools/temporal-<version>/temporal if present; else it is
// built there with `go install`, which takes about two minutes on two cores.
func EnsureTemporalCLI(ctx context.Context, log io.Writer) (string, error) {
	log = orDiscard(log)
	if p := os.Getenv(EnvTemporalCLI); p != "" {
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("%s=%q: %w", EnvTemporalCLI, p, err)
		}
		if st.IsDir() {
			return "", fmt.Errorf("%s=%q is a directory, want the temporal binary", EnvTemporalCLI, p)
		}
		return p, nil
	}

	return installGoTool(ctx, log, goTool{
		what:    "the Temporal CLI",
		binary:  "temporal",
		pkg:     temporalCLIPackage,
		version: TemporalCLIVersion,
		takes:   "about 2 minutes",
		orElse:  "or set " + EnvTemporalCLI + " to an existing temporal binary",
	})
}

// goTool is a command built once with `go install pkg@version` into the
// user cache: <user cache>/dsr/tools/<binary>-<version>/<binary>.
type goTool struct {
	what, binary, pkg, version string
	// takes is how long a build takes on two cores, for the log.
	takes string
	// orElse is the alternative to building it, for the error without Go.
	orElse string
}

// installGoTool returns the path of tool, building it into the user cache
// the first time.
//
// Several test binaries (go test runs packages in parallel) may call this at
// once on a fresh machine. They serialise on an exclusive flock beside the
// binary so that exactly one builds and the others wait and reuse its result.
func installGoTool(ctx context.Context, log io.Writer, tool goTool) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("locating the user cache directory for %s (%s): %w", tool.what, tool.orElse, err)
	}
	dir := filepath.Join(cache, "dsr", "tools", tool.binary+"-"+tool.version)
	bin := filepath.Join(dir, tool.binary)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating the cache directory for %s: %w", tool.what, err)
	}

	unlock, err := lockFile(ctx, filepath.Join(dir, ".lock"), func() {
		fmt.Fprintf(log, "devstack: waiting for another process building %s in %s\n", tool.what, dir)
	})
	if err != nil {
		return "", fmt.Errorf("locking the cache of %s: %w", tool.what, err)
	}
	defer unlock()

	// Checked under the lock: the binary only ever appears by an atomic
	// rename (below), so if it exists it is complete.
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("checking the cached %s: %w", tool.what, err)
	}

	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%s is not built yet and building it needs the Go toolchain: install Go (https://go.dev/dl/) and put `go` on PATH, %s", tool.what, tool.orElse)
	}

	fmt.Fprintf(log, "devstack: building %s %s into %s with go install (once; takes %s)\n", tool.what, tool.version, dir, tool.takes)
	start := time.Now()

	// Install into a scratch directory and rename, because go install may
	// copy the binary into GOBIN in place: a build interrupted half-way
	// would otherwise leave a truncated binary that the fast path above
	// would trust forever.
	stage, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", fmt.Errorf("creating the staging directory for %s: %w", tool.what, err)
	}
	defer os.RemoveAll(stage)

	out := tailbuf.New(8 << 10)
	cmd := exec.CommandContext(ctx, goBin, "install", tool.pkg+"@"+tool.version)
	// Outside any module, so a go.work or GOFLAGS=-mod=vendor in the
	// caller's tree cannot interfere with a pkg@version install.
	cmd.Dir = stage
	cmd.Env = append(os.Environ(), "GOBIN="+stage, "GOFLAGS=", "GOWORK=off")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", tool.pkg, tool.version, err, out)
	}
	if err := os.Rename(filepath.Join(stage, tool.binary), bin); err != nil {
		return "", fmt.Errorf("moving the built %s into place: %w", tool.what, err)
	}
	fmt.Fprintf(log, "devstack: built %s in %s\n", tool.what, time.Since(start).Round(time.Second))
	return bin, nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can cancel
// the wait (a blocking flock cannot be interrupted). onWait is called once if
// the lock is held by someone else. The returned func releases it.
func lockFile(ctx context.Context, path string, onWait func()) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	release := func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}
	waited := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return release, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("flock %s: %w", path, err)
		}
		if !waited {
			waited = true
			if onWait != nil {
				onWait()
			}
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
