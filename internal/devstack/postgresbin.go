package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
)

// postgresInstallHint is the one line every "no PostgreSQL" error ends with.
const postgresInstallHint = "install the PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to an existing database"

// FindPostgres returns the directory holding the PostgreSQL server binaries
// (initdb, pg_ctl, postgres).
//
// It looks on PATH first (a symlink there is followed to the real directory,
// because pg_ctl finds `postgres` beside itself), then in the newest
// /usr/lib/postgresql/<version>/bin, where Debian puts them off PATH.
//
// If none are found and install is true, and we are root on Debian/Ubuntu, it
// installs the distribution's postgresql package with apt-get and looks
// again. Installing is opt-in because it changes the machine.
func FindPostgres(ctx context.Context, log io.Writer, install bool) (string, error) {
	log = orDiscard(log)
	if dir, ok := lookPostgres(); ok {
		return dir, nil
	}
	if !canAptGetInstall(install) {
		return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin: " + postgresInstallHint)
	}

	fmt.Fprintln(log, "devstack: PostgreSQL server binaries not found; installing them with apt-get install postgresql")
	if err := aptGetInstall(ctx, log, "postgresql"); err != nil {
		return "", err
	}
	if dir, ok := lookPostgres(); ok {
		return dir, nil
	}
	return "", errors.New("apt-get install postgresql succeeded but initdb and pg_ctl are still not found in /usr/lib/postgresql/*/bin: " + postgresInstallHint)
}

// lookPostgres implements FindPostgres's search without installing.
func lookPostgres() (string, bool) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if dir := filepath.Dir(real); hasPostgresBinaries(dir) {
				return dir, true
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first; compare numerically so 9.6 < 10.
	sort.Slice(dirs, func(i, j int) bool {
		return versionOf(dirs[i]) > versionOf(dirs[j])
	})
	for _, dir := range dirs {
		if hasPostgresBinaries(dir) {
			return dir, true
		}
	}
	return "", false
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func hasPostgresBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}
