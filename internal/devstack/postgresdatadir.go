package devstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// relocatedClusters is where, when we are root, a cluster goes if user
// postgres cannot reach the data dir asked for. /var/lib because it keeps
// state across reboots, unlike /tmp, and /var/tmp is emptied of files unused
// for 30 days by systemd-tmpfiles. A variable so tests can see where it went.
var relocatedClusters = "/var/lib/dsr"

// reachableDataDir returns the directory the cluster for dataDir really lives
// in, when we are root.
//
// Where user postgres can reach dataDir, that is dataDir itself, as before.
// Where it cannot (a state dir in /root, mode 0700), we choose a place it can
// reach rather than ask anyone to open up their home:
// relocatedClusters/postgres-<hash of dataDir>, owned by postgres, with
// dataDir a symlink to it. The name is a hash so that it says nothing about
// whose directory it serves, and stable so the data is there on the next run.
//
// The symlink is the only record that the cluster is wanted. Deleting the
// state dir deletes it; the next start in the same place then finds the
// cluster without its symlink, takes it for the remains of the deleted state
// and starts afresh, so the state dir stays the one thing to delete.
func (p *Postgres) reachableDataDir(ctx context.Context, dataDir string) (string, error) {
	st, err := os.Lstat(dataDir)
	switch {
	case err == nil && st.Mode()&os.ModeSymlink != 0:
		return p.followClusterLink(dataDir)
	case err == nil && !isEmptyDir(dataDir):
		// A cluster (or something else) already here: use it in place;
		// initIfNeeded says clearly if postgres cannot reach it.
		return dataDir, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("checking PostgreSQL data dir: %w", err)
	}
	blocked, mode := firstUnreachable(dataDir, p.runAs)
	if blocked == "" {
		return dataDir, nil
	}
	if err == nil {
		// An empty directory, such as the one an older dsr left behind
		// when initdb could not reach it: the symlink takes its place.
		if err := os.Remove(dataDir); err != nil {
			return "", fmt.Errorf("replacing empty PostgreSQL data dir %s with a link: %w", dataDir, err)
		}
	}
	sum := sha256.Sum256([]byte(dataDir))
	cluster := filepath.Join(relocatedClusters, "postgres-"+hex.EncodeToString(sum[:16]))
	if err := p.discardOrphanCluster(ctx, cluster); err != nil {
		return "", err
	}
	if err := p.makeClusterDir(cluster); err != nil {
		return "", err
	}
	if err := mkdirAllMode(filepath.Dir(dataDir), 0o755); err != nil {
		return "", fmt.Errorf("creating parent of PostgreSQL data dir: %w", err)
	}
	if err := os.Symlink(cluster, dataDir); err != nil {
		return "", fmt.Errorf("linking PostgreSQL data dir %s to %s: %w", dataDir, cluster, err)
	}
	fmt.Fprintf(p.log, "devstack: user postgres cannot enter %s (mode %04o), so the cluster lives in %s, linked from %s\n",
		blocked, mode, cluster, dataDir)
	return cluster, nil
}

// followClusterLink resolves a data dir that is a symlink. If it points to
// one of our relocated clusters that has gone (someone emptied /var/lib/dsr),
// the directory is made again and the cluster starts afresh there.
func (p *Postgres) followClusterLink(link string) (string, error) {
	target, err := os.Readlink(link)
	if err != nil {
		return "", fmt.Errorf("reading PostgreSQL data dir link %s: %w", link, err)
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(link), target)
	}
	if _, err := os.Stat(target); errors.Is(err, os.ErrNotExist) && filepath.Dir(target) == relocatedClusters {
		if err := p.makeClusterDir(target); err != nil {
			return "", err
		}
	}
	return target, nil
}

// discardOrphanCluster removes a relocated cluster whose symlink has gone
// with its state dir. A server still running there is not removed from
// under itself: that is refused with the command to stop it.
func (p *Postgres) discardOrphanCluster(ctx context.Context, cluster string) error {
	if _, err := os.Stat(cluster); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if out, err := p.run(ctx, "pg_ctl", "status", "-D", cluster); err == nil {
		return fmt.Errorf("a PostgreSQL server is still running in %s, left from a state dir that has since been deleted; stop it first with: runuser -u postgres -- %s stop -D %s (%s)",
			cluster, filepath.Join(p.binDir, "pg_ctl"), cluster, strings.TrimSpace(out))
	}
	fmt.Fprintf(p.log, "devstack: removing %s, the cluster of a state dir that was deleted\n", cluster)
	if err := os.RemoveAll(cluster); err != nil {
		return fmt.Errorf("removing the cluster of a deleted state dir: %w", err)
	}
	return nil
}

// makeClusterDir makes a relocated cluster's directory: its parent open to
// traversal, itself private to user postgres, as initdb wants.
func (p *Postgres) makeClusterDir(cluster string) error {
	if err := mkdirAllMode(filepath.Dir(cluster), 0o755); err != nil {
		return fmt.Errorf("creating %s for PostgreSQL clusters user postgres can reach: %w", filepath.Dir(cluster), err)
	}
	if err := os.Mkdir(cluster, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating PostgreSQL data dir %s: %w", cluster, err)
	}
	if err := os.Chown(cluster, int(p.runAs.Uid), int(p.runAs.Gid)); err != nil {
		return fmt.Errorf("giving PostgreSQL data dir %s to user postgres: %w", cluster, err)
	}
	return nil
}

// isEmptyDir reports whether dir is a directory with nothing in it.
func isEmptyDir(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err == nil && len(entries) == 0
}

// mkdirAllMode is os.MkdirAll, but the directories it creates get exactly
// perm whatever the umask.
func mkdirAllMode(dir string, perm os.FileMode) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := mkdirAllMode(filepath.Dir(dir), perm); err != nil {
		return err
	}
	if err := os.Mkdir(dir, perm); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil // made concurrently
		}
		return err
	}
	return os.Chmod(dir, perm)
}

// checkReachable fails with a clear message if user cred cannot traverse
// every directory above dir. Without this, initdb reports a bare "Permission
// denied" and it is not obvious that, say, /root is the culprit (directories
// from t.TempDir() and home directories are often mode 0700).
func checkReachable(dir string, cred *syscall.Credential) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("checking access to %s: %w", d, err)
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if ok && !searchable(st.Mode().Perm(), sys.Uid, sys.Gid, cred) {
			return fmt.Errorf("user postgres (uid %d) cannot reach PostgreSQL data dir %s because it cannot enter %s (mode %v): put the data dir somewhere it can reach, or run chmod o+x %s",
				cred.Uid, dir, d, st.Mode().Perm(), d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// firstUnreachable returns the nearest directory above dir that user cred
// cannot enter, and its mode, or "" if it can reach dir. Directories that do
// not exist yet do not count: we create them open to traversal.
func firstUnreachable(dir string, cred *syscall.Credential) (string, os.FileMode) {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil {
			sys, ok := st.Sys().(*syscall.Stat_t)
			if ok && !searchable(st.Mode().Perm(), sys.Uid, sys.Gid, cred) {
				return d, st.Mode().Perm()
			}
		}
		if d == filepath.Dir(d) {
			return "", 0
		}
	}
}

// searchable reports whether a user may enter a directory with the given
// permission bits and owner, by the usual owner/group/other rule.
func searchable(perm os.FileMode, uid, gid uint32, cred *syscall.Credential) bool {
	if uid == cred.Uid {
		return perm&0o100 != 0
	}
	inGroup := gid == cred.Gid
	for _, g := range cred.Groups {
		inGroup = inGroup || g == gid
	}
	if inGroup {
		return perm&0o010 != 0
	}
	return perm&0o001 != 0
}
