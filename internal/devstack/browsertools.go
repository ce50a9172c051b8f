package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// The browser tests (cmd/dsr's e2e_browser_test.go) drive Debian's
// Chromium and inject axe-core into every page. Setup installs both; the
// tests look for them exactly where these say and fail naming what to
// install when they are missing.

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// ChromiumInstallHint is the one line a "no Chromium" error ends with.
const ChromiumInstallHint = "install Debian's Chromium as root: apt-get install -y chromium (or run `go run ./cmd/dsr setup` as root)"

// AxeCoreVersion is the pinned axe-core release the accessibility checks
// run: a newer axe has new rules, so it moves only on purpose.
const AxeCoreVersion = "4.14.1"

// axeInstallTimeout bounds npm: the registry may be slow, never forever.
const axeInstallTimeout = 5 * time.Minute

// FindChromium returns ChromiumPath if Chromium is installed. With install
// set, as root on Debian or Ubuntu, it installs the chromium package with
// apt-get first; otherwise it says the one command to run.
func FindChromium(ctx context.Context, log io.Writer, install bool) (string, error) {
	log = orDiscard(log)
	if isExecutable(ChromiumPath) {
		return ChromiumPath, nil
	}
	if !canAptGetInstall(install) {
		return "", fmt.Errorf("no Chromium at %s: %s", ChromiumPath, ChromiumInstallHint)
	}
	fmt.Fprintln(log, "devstack: Chromium not found; installing it with apt-get install chromium")
	if err := aptGetInstall(ctx, log, "chromium"); err != nil {
		return "", err
	}
	if !isExecutable(ChromiumPath) {
		return "", fmt.Errorf("apt-get install chromium succeeded but %s is still missing: %s", ChromiumPath, ChromiumInstallHint)
	}
	return ChromiumPath, nil
}

// AxeCoreScript is where the pinned axe-core's browser bundle is once
// EnsureAxeCore has run: <user cache>/dsr/npm/axe-core-<version>/
// node_modules/axe-core/axe.min.js.
func AxeCoreScript() (string, error) {
	dir, err := axeCoreDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"), nil
}

// AxeCoreInstallHint is the one line a "no axe-core" error ends with.
const AxeCoreInstallHint = "run `go run ./cmd/dsr setup` (it runs npm install axe-core@" + AxeCoreVersion + " into the user cache; Debian: apt-get install -y npm first)"

func axeCoreDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("locating the user cache directory for axe-core: %w", err)
	}
	return filepath.Join(cache, "dsr", "npm", "axe-core-"+AxeCoreVersion), nil
}

// EnsureAxeCore returns AxeCoreScript, installing the pinned axe-core from
// the npm registry the first time. Several processes may call it at once:
// they take turns on a lock, and the package appears whole by a rename, so
// a half-finished install is never taken for a finished one.
func EnsureAxeCore(ctx context.Context, log io.Writer) (string, error) {
	log = orDiscard(log)
	dir, err := axeCoreDir()
	if err != nil {
		return "", err
	}
	script, _ := AxeCoreScript()
	if isFile(script) {
		return script, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", errors.New("npm not found on PATH, needed once to install axe-core for the browser tests: apt-get install -y npm")
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("creating the axe-core cache directory: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(parent, ".lock"), func() {
		fmt.Fprintf(log, "devstack: waiting for another process installing axe-core in %s\n", parent)
	})
	if err != nil {
		return "", fmt.Errorf("locking the axe-core cache: %w", err)
	}
	defer unlock()
	if isFile(script) { // another process finished while we waited
		return script, nil
	}

	fmt.Fprintf(log, "devstack: installing axe-core@%s from the npm registry into %s\n", AxeCoreVersion, dir)
	staging, err := os.MkdirTemp(parent, ".axe-core-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(staging)
	ctx, cancel := context.WithTimeout(ctx, axeInstallTimeout)
	defer cancel()
	if err := runLogged(ctx, log, npm, "install", "--prefix", staging, "--no-audit", "--no-fund", "--ignore-scripts",
		"axe-core@"+AxeCoreVersion); err != nil {
		return "", err
	}
	if !isFile(filepath.Join(staging, "node_modules", "axe-core", "axe.min.js")) {
		return "", fmt.Errorf("npm install axe-core@%s left no axe.min.js in %s", AxeCoreVersion, staging)
	}
	_ = os.RemoveAll(dir) // a directory without the script is an old failed attempt
	if err := os.Rename(staging, dir); err != nil {
		return "", fmt.Errorf("moving axe-core into place: %w", err)
	}
	return script, nil
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Size() > 0
}
