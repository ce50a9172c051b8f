package devstack

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions configures StartPostgres.
type PostgresOptions struct {
	// BinDir holds initdb and pg_ctl; "" means FindPostgres (no install).
	BinDir string
	// DataDir is the cluster's data directory; it is created and initialised
	// with initdb if it has no PG_VERSION file, and reused otherwise.
	DataDir string
	// Throwaway turns off fsync, synchronous_commit and full_page_writes:
	// much faster, but a crash can corrupt the cluster. For tests only,
	// never for a state directory someone wants to keep.
	Throwaway bool
	// Database is created if missing; "" means "dsr".
	Database string
	// Log receives progress lines and initdb/pg_ctl output; nil discards.
	Log io.Writer
}

// Postgres is a running private PostgreSQL cluster, reachable only on a unix
// socket.
type Postgres struct {
	binDir     string
	dataDir    string
	socketDir  string
	ownSockDir bool // socketDir is a temporary directory to remove on Stop
	logFile    string
	database   string
	runAs      *syscall.Credential // nil: run as ourselves
	log        io.Writer

	stopOnce sync.Once
	stopErr  error
}

// The server always uses the standard port number. With no TCP listener it
// only names the socket file (.s.PGSQL.5432), and each cluster has its own
// socket directory, so clusters cannot clash.
const postgresPort = 5432

// maxSocketPath is the usable length of sockaddr_un.sun_path on Linux (108
// bytes including the terminating NUL). Longer socket paths fail at start.
const maxSocketPath = 107

// StartPostgres initialises (if needed) and starts a cluster in
// opts.DataDir, listening only on a unix socket, and creates opts.Database.
//
// initdb and pg_ctl refuse to run as root. When we are root they run as the
// `postgres` system user (created by Debian's postgresql package), which then
// owns the data directory. If that user cannot reach opts.DataDir (root's
// home is mode 0700), the cluster lives where it can, and opts.DataDir
// becomes a symlink to it: see reachableDataDir.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	opts.Log = orDiscard(opts.Log)
	opts.Database = cmp.Or(opts.Database, "dsr")
	if opts.DataDir == "" {
		return nil, errors.New("devstack: PostgresOptions.DataDir is required")
	}
	if opts.BinDir == "" {
		dir, err := FindPostgres(ctx, opts.Log, false)
		if err != nil {
			return nil, err
		}
		opts.BinDir = dir
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("resolving PostgreSQL data dir: %w", err)
	}

	p := &Postgres{
		binDir:   opts.BinDir,
		dataDir:  dataDir,
		logFile:  filepath.Join(dataDir, "server.log"),
		database: opts.Database,
		log:      opts.Log,
	}
	if os.Geteuid() == 0 {
		if p.runAs, err = postgresUser(); err != nil {
			return nil, err
		}
		if p.dataDir, err = p.reachableDataDir(ctx, dataDir); err != nil {
			return nil, err
		}
		p.logFile = filepath.Join(p.dataDir, "server.log")
	}

	if err := p.initIfNeeded(ctx, opts.Throwaway); err != nil {
		return nil, err
	}
	if err := p.checkNotRunning(ctx); err != nil {
		return nil, err
	}
	if err := p.chooseSocketDir(); err != nil {
		return nil, err
	}
	if err := p.start(ctx, opts.Throwaway); err != nil {
		p.removeSocketDir()
		return nil, err
	}
	if err := p.createDatabase(ctx); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

// postgresUser returns credentials for the unprivileged `postgres` user.
//
// We switch user with SysProcAttr.Credential rather than runuser/su: it
// needs no extra program (util-linux) or PAM session, and Go passes our
// environment through unchanged.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, so initdb/pg_ctl must run as the unprivileged 'postgres' user, but looking it up failed (%v): %s", err, postgresInstallHint)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("parsing ids of user postgres: %w", err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(g))
			}
		}
	}
	return cred, nil
}

// initIfNeeded runs initdb unless DataDir already holds a cluster.
func (p *Postgres) initIfNeeded(ctx context.Context, throwaway bool) error {
	if _, err := os.Stat(filepath.Join(p.dataDir, "PG_VERSION")); err == nil {
		if p.runAs != nil {
			// An existing cluster moved or re-permissioned since: say so
			// rather than let pg_ctl fail with a bare "Permission denied".
			return checkReachable(p.dataDir, p.runAs)
		}
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("checking PostgreSQL data dir: %w", err)
	}
	// Parents we create must stay enterable by the postgres user (MkdirAll
	// would give them the data dir's 0700); chmod because umask may be 077.
	if err := mkdirAllMode(filepath.Dir(p.dataDir), 0o755); err != nil {
		return fmt.Errorf("creating parent of PostgreSQL data dir: %w", err)
	}
	// initdb wants 0700 (or 0750) and, when we are root, ownership by the
	// user it runs as.
	if err := os.Mkdir(p.dataDir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating PostgreSQL data dir: %w", err)
	}
	if err := os.Chmod(p.dataDir, 0o700); err != nil {
		return fmt.Errorf("setting PostgreSQL data dir mode: %w", err)
	}
	if p.runAs != nil {
		if err := os.Chown(p.dataDir, int(p.runAs.Uid), int(p.runAs.Gid)); err != nil {
			return fmt.Errorf("giving PostgreSQL data dir to user postgres: %w", err)
		}
		if err := checkReachable(p.dataDir, p.runAs); err != nil {
			return err
		}
	}
	args := []string{"-D", p.dataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale"}
	if throwaway {
		// Skip initdb's final fsync of every file: it dominates initdb's
		// run time and a throwaway cluster does not need it.
		args = append(args, "--no-sync")
	}
	start := time.Now()
	if out, err := p.run(ctx, "initdb", args...); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", p.dataDir, err, out)
	}
	fmt.Fprintf(p.log, "devstack: initialised PostgreSQL cluster in %s (%s)\n", p.dataDir, time.Since(start).Round(time.Millisecond))
	return nil
}

// checkNotRunning refuses to start a second server on a data dir in use.
// postgres itself would refuse too, but only after pg_ctl waited; and the
// likely cause (another `dsr dev` on the same state dir) deserves saying.
// A postmaster.pid left by a crash is not "running": pg_ctl checks the pid.
func (p *Postgres) checkNotRunning(ctx context.Context) error {
	out, err := p.run(ctx, "pg_ctl", "status", "-D", p.dataDir)
	if err == nil {
		return fmt.Errorf("a PostgreSQL server is already running on %s (is another dsr dev using the same state dir?): %s", p.dataDir, strings.TrimSpace(out))
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 { // 3: not running
		return nil
	}
	return fmt.Errorf("pg_ctl status -D %s: %w\n%s", p.dataDir, err, out)
}

// chooseSocketDir puts the socket in the data dir (private: mode 0700), or in
// a short temporary directory when that path would be too long for a unix
// socket, which happens with deep test temp dirs.
func (p *Postgres) chooseSocketDir() error {
	if len(filepath.Join(p.dataDir, ".s.PGSQL."+strconv.Itoa(postgresPort))) <= maxSocketPath {
		p.socketDir = p.dataDir
		return nil
	}
	dir, err := os.MkdirTemp("", "dsrpg")
	if err != nil {
		return fmt.Errorf("creating PostgreSQL socket dir: %w", err)
	}
	if p.runAs != nil {
		if err := os.Chown(dir, int(p.runAs.Uid), int(p.runAs.Gid)); err != nil {
			_ = os.Remove(dir)
			return fmt.Errorf("giving PostgreSQL socket dir to user postgres: %w", err)
		}
	}
	p.socketDir, p.ownSockDir = dir, true
	return nil
}

func (p *Postgres) removeSocketDir() {
	if p.ownSockDir {
		_ = os.RemoveAll(p.socketDir)
	}
}

// start runs pg_ctl start and waits for the server to accept connections.
func (p *Postgres) start(ctx context.Context, throwaway bool) error {
	// pg_ctl hands -o to /bin/sh, hence the shell quoting. listen_addresses
	// empty: no TCP at all, so no port clashes and nothing exposed.
	serverOpts := []string{
		"-c", "listen_addresses=''",
		"-k", shellQuote(p.socketDir),
		"-p", strconv.Itoa(postgresPort),
	}
	if throwaway {
		serverOpts = append(serverOpts,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off")
	}
	start := time.Now()
	out, err := p.run(ctx, "pg_ctl", "start", "-w", "-t", "60",
		"-D", p.dataDir, "-l", p.logFile, "-o", strings.Join(serverOpts, " "))
	if err != nil {
		return fmt.Errorf("pg_ctl start -D %s: %w\n%s\nserver log ends:\n%s", p.dataDir, err, strings.TrimSpace(out), fileTail(p.logFile, 4<<10))
	}
	fmt.Fprintf(p.log, "devstack: started PostgreSQL in %s on socket dir %s (%s)\n", p.dataDir, p.socketDir, time.Since(start).Round(time.Millisecond))
	return nil
}

// createDatabase creates p.database unless it exists.
func (p *Postgres) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.urlFor("postgres"))
	if err != nil {
		return fmt.Errorf("connecting to new PostgreSQL cluster: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "select exists(select 1 from pg_database where datname = $1)", p.database).Scan(&exists); err != nil {
		return fmt.Errorf("checking for database %q: %w", p.database, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "create database "+pgx.Identifier{p.database}.Sanitize()); err != nil {
		return fmt.Errorf("creating database %q: %w", p.database, err)
	}
	return nil
}

// URL is a pgx/libpq connection URL for the database over the unix socket.
func (p *Postgres) URL() string { return p.urlFor(p.database) }

func (p *Postgres) urlFor(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Path:     "/" + database,
		RawQuery: url.Values{"host": {p.socketDir}}.Encode(),
	}
	return u.String()
}

// DataDir is the cluster's data directory.
func (p *Postgres) DataDir() string { return p.dataDir }

// Stop shuts the server down with pg_ctl stop -m fast (rolls back open
// transactions, disconnects clients, then checkpoints), waiting for it to
// finish. Calling Stop again returns the first result.
func (p *Postgres) Stop() error {
	p.stopOnce.Do(func() {
		// Not the caller's context: Stop often runs in cleanup after it is
		// cancelled, and leaving a postmaster behind is worse than waiting.
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if out, err := p.run(ctx, "pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", p.dataDir); err != nil {
			p.stopErr = fmt.Errorf("pg_ctl stop -D %s: %w\n%s", p.dataDir, err, out)
		}
		p.removeSocketDir()
	})
	return p.stopErr
}

// run runs a PostgreSQL program from binDir (as user postgres when we are
// root) and returns its combined output.
func (p *Postgres) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(p.binDir, name), args...)
	// The postgres user may not be able to enter our working directory
	// (e.g. /root), and the child's chdir happens after it switches user.
	cmd.Dir = "/"
	// Let PostgreSQL's own messages be in English whatever the caller's
	// locale, so that errors we wrap read consistently.
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// pg_ctl start leaves the postmaster running with its output going to
	// the log file, but be safe should it ever keep our pipe open.
	cmd.WaitDelay = 5 * time.Second
	if p.runAs != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.runAs}
	}
	err := cmd.Run()
	return out.String(), err
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fileTail returns up to the last n bytes of a file, for error messages.
func fileTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}
