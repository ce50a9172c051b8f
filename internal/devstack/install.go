package devstack

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/dsr-register/dsr/internal/devstack/internal/tailbuf"
)

// How devstack installs what the machine lacks: Debian's packages with
// apt-get (PostgreSQL, Chromium), and the commands it runs to do so with
// their output logged.

// canAptGetInstall says whether a missing package may be installed here:
// when the caller allows it (installing changes the machine), as root, on
// Debian or Ubuntu.
func canAptGetInstall(install bool) bool {
	_, err := os.Stat("/etc/debian_version")
	return install && os.Geteuid() == 0 && err == nil
}

// aptGetInstall installs one of Debian's packages: apt-get update, then
// apt-get install without the recommended extras.
func aptGetInstall(ctx context.Context, log io.Writer, pkg string) error {
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", pkg}} {
		if err := runLogged(ctx, log, "apt-get", args...); err != nil {
			return err
		}
	}
	return nil
}

// runLogged runs a command, copying its output to log and keeping the
// tail for the error.
func runLogged(ctx context.Context, log io.Writer, name string, args ...string) error {
	log = orDiscard(log)
	out := tailbuf.New(8 << 10)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout = io.MultiWriter(log, out)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return nil
}
