package devstack_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/dsr-register/dsr/internal/devstack"
	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
)

// testWriter sends devstack's progress lines to the test log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// pgBaseDir returns a directory the postgres user can enter even when the
// tests run as root (t.TempDir() is mode 0700), removed after the test.
func pgBaseDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dsrpgtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startPostgres starts a cluster for one test; it is stopped when the test
// ends, if the test has not stopped it.
func startPostgres(t *testing.T, opts devstack.PostgresOptions) *devstack.Postgres {
	t.Helper()
	pg, err := devstack.StartPostgres(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	return pg
}

// stopPostgres stops pg, failing the test if it does not stop cleanly.
func stopPostgres(t *testing.T, pg *devstack.Postgres) {
	t.Helper()
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
}

// queryValue is the one value sql selects from the database at url.
func queryValue[T any](t *testing.T, url, sql string) T {
	t.Helper()
	ctx := context.Background()
	conn := devstacktest.Connect(t, url)
	defer conn.Close(ctx)
	var v T
	if err := conn.QueryRow(ctx, sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// execSQL runs sql on the database at url.
func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	ctx := context.Background()
	conn := devstacktest.Connect(t, url)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

func TestThrowawayPostgres(t *testing.T) {
	start := time.Now()
	url := devstacktest.Postgres(t)
	t.Logf("throwaway cluster ready in %v: %s", time.Since(start), url)
	if got := queryValue[int](t, url, "select 1"); got != 1 {
		t.Fatalf("select 1 = %d", got)
	}
	// The URL names the database the service uses, and it exists.
	if !strings.Contains(url, "/dsr?") {
		t.Errorf("URL %q does not name database dsr", url)
	}
	// Throwaway really means fsync off.
	if fsync := queryValue[string](t, url, "show fsync"); fsync != "off" {
		t.Errorf("fsync = %q in a throwaway cluster, want off", fsync)
	}
	// And there is no TCP listener, only the unix socket.
	if listen := queryValue[string](t, url, "show listen_addresses"); listen != "" {
		t.Errorf("listen_addresses = %q, want empty (unix socket only)", listen)
	}
}

func TestPersistentPostgresSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dataDir := filepath.Join(pgBaseDir(t), "state", "pg")
	opts := devstack.PostgresOptions{DataDir: dataDir, Log: testWriter{t}}

	start := time.Now()
	pg := startPostgres(t, opts)
	t.Logf("initdb + start in %v", time.Since(start))
	if got := queryValue[int](t, pg.URL(), "select 1"); got != 1 {
		t.Fatalf("select 1 = %d", got)
	}
	execSQL(t, pg.URL(), "create table kept (n int); insert into kept values (42)")

	// A second server on the same data dir is refused with a clear message.
	if _, err := devstack.StartPostgres(ctx, opts); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second StartPostgres on a running data dir: err = %v, want 'already running'", err)
	}

	stopPostgres(t, pg)

	start = time.Now()
	pg2 := startPostgres(t, opts)
	t.Logf("restart in %v", time.Since(start))
	if got := queryValue[int](t, pg2.URL(), "select n from kept"); got != 42 {
		t.Fatalf("after restart, kept.n = %d, want 42", got)
	}
	stopPostgres(t, pg2)
}

// A data dir whose socket path would exceed the unix socket limit still
// works: the socket goes to a short temporary directory instead.
func TestPostgresLongDataDir(t *testing.T) {
	dataDir := filepath.Join(pgBaseDir(t), strings.Repeat("d", 60), strings.Repeat("e", 60))
	pg := startPostgres(t, devstack.PostgresOptions{DataDir: dataDir, Throwaway: true})
	if strings.Contains(pg.URL(), "dddd") {
		t.Errorf("URL %q uses the long data dir for the socket", pg.URL())
	}
	if got := queryValue[int](t, pg.URL(), "select 1"); got != 1 {
		t.Fatalf("select 1 = %d", got)
	}
	stopPostgres(t, pg)
}

// A state dir inside a private home directory (root's is mode 0700, as
// t.TempDir() is) works with no chmod: as root, where user postgres cannot
// reach it, the cluster lives where it can, the data dir is a symlink to it,
// the data is kept from one start to the next, and deleting the state dir
// is still all it takes to start afresh.
func TestPostgresInPrivateHome(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(home, ".dsr")
	if err := os.Mkdir(stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(stateDir, "postgres")
	opts := devstack.PostgresOptions{DataDir: dataDir, Throwaway: true, Log: testWriter{t}}

	startAndCount := func(what string) (pg *devstack.Postgres, kept int) {
		t.Helper()
		pg, err := devstack.StartPostgres(ctx, opts)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Cleanup(func() { _ = pg.Stop() })
		return pg, queryValue[int](t, pg.URL(), "select count(*) from pg_tables where tablename = 'kept'")
	}

	pg, kept := startAndCount("first start")
	if kept != 0 {
		t.Fatalf("a new cluster already has table kept")
	}
	if os.Geteuid() == 0 {
		// Where the cluster went: out of the home, named without the path.
		// The test's own directory names the path (home's last element is
		// a counter, "001", which the hex name may contain by chance).
		t.Cleanup(func() { _ = os.RemoveAll(pg.DataDir()) })
		if strings.HasPrefix(pg.DataDir(), home) || strings.Contains(pg.DataDir(), filepath.Base(filepath.Dir(home))) {
			t.Errorf("as root the cluster is at %s, which user postgres cannot reach or which names the home dir", pg.DataDir())
		}
		if target, err := os.Readlink(dataDir); err != nil || target != pg.DataDir() {
			t.Errorf("data dir %s should be a symlink to %s: %q, %v", dataDir, pg.DataDir(), target, err)
		}
	} else if pg.DataDir() != dataDir {
		t.Errorf("not root: the cluster is at %s, want %s as asked", pg.DataDir(), dataDir)
	}
	execSQL(t, pg.URL(), "create table kept (n int); checkpoint")
	stopPostgres(t, pg)

	pg, kept = startAndCount("second start")
	if kept != 1 {
		t.Errorf("after a restart the table made before it has gone: the data must be kept")
	}
	stopPostgres(t, pg)

	// Deleting the state dir starts afresh, whatever is left elsewhere.
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// An empty data dir, as an older dsr left when initdb could not reach
	// it, is no obstacle either.
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	pg, kept = startAndCount("start after deleting the state dir")
	if kept != 0 {
		t.Errorf("after deleting the state dir the old data is back")
	}
	stopPostgres(t, pg)
}

func TestTemporalRestartKeepsSearchAttributes(t *testing.T) {
	ctx := context.Background()
	cli, err := devstack.EnsureTemporalCLI(ctx, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	opts := devstack.TemporalOptions{
		CLIPath: cli,
		DBFile:  filepath.Join(t.TempDir(), "state", "temporal.db"),
		SearchAttributes: []devstack.SearchAttribute{
			{Name: "DsrStage", Type: "Keyword"},
			{Name: "DsrNextReview", Type: "Datetime"},
		},
		DynamicConfig: []string{"system.enableActivityEagerExecution=true"},
	}
	want := map[string]enums.IndexedValueType{
		"DsrStage":      enums.INDEXED_VALUE_TYPE_KEYWORD,
		"DsrNextReview": enums.INDEXED_VALUE_TYPE_DATETIME,
	}

	// Rounds 1 and 2 pass the same flags, as `dsr dev` does on every
	// start; round 3 passes none, to show the attributes live in the file.
	for round := 1; round <= 3; round++ {
		if round == 3 {
			opts.SearchAttributes = nil
		}
		start := time.Now()
		tmp, err := devstack.StartTemporal(ctx, opts)
		if err != nil {
			t.Fatalf("start %d: %v", round, err)
		}
		t.Logf("start %d (%s) ready in %v", round, tmp.Address(), time.Since(start))
		t.Cleanup(func() { _ = tmp.Stop() })
		if tmp.UIURL() != "" {
			t.Errorf("headless server has UI URL %q", tmp.UIURL())
		}
		c, err := client.Dial(client.Options{HostPort: tmp.Address()})
		if err != nil {
			t.Fatal(err)
		}
		checkSearchAttributes(t, c, want)
		c.Close()
		start = time.Now()
		if err := tmp.Stop(); err != nil {
			t.Fatalf("stop %d: %v", round, err)
		}
		t.Logf("stop %d in %v", round, time.Since(start))
	}
}

// TestTemporalTriesAnotherPortWhenItsOwnIsTaken: a port chosen for the
// server and taken by another process before the server binds it (tests
// start several servers at once) costs another try, not a failed start.
func TestTemporalTriesAnotherPortWhenItsOwnIsTaken(t *testing.T) {
	ctx := context.Background()
	cli, err := devstack.EnsureTemporalCLI(ctx, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenAddress := taken.Addr().String()
	var chosen []int
	defer devstack.SetFreePort(func() (int, error) {
		if len(chosen) == 0 {
			chosen = append(chosen, taken.Addr().(*net.TCPAddr).Port)
			return chosen[0], nil
		}
		p, err := devstack.FreePort()
		chosen = append(chosen, p)
		return p, err
	})()

	tmp, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{CLIPath: cli, Log: testWriter{t}})
	if err != nil {
		t.Fatalf("a chosen port already taken failed the start: %v", err)
	}
	defer func() { _ = tmp.Stop() }()
	if tmp.Address() == takenAddress || len(chosen) != 2 {
		t.Errorf("listening on %s after choosing ports %v; want the second port, not the taken %s", tmp.Address(), chosen, takenAddress)
	}
}

func TestTemporalEarlyExitIsReported(t *testing.T) {
	ctx := context.Background()
	cli, err := devstack.EnsureTemporalCLI(ctx, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = devstack.StartTemporal(ctx, devstack.TemporalOptions{
		CLIPath:          cli,
		SearchAttributes: []devstack.SearchAttribute{{Name: "Bad", Type: "NoSuchType"}},
	})
	if err == nil || !strings.Contains(err.Error(), "NoSuchType") {
		t.Fatalf("err = %v, want the CLI's complaint about NoSuchType", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("early exit took %v to report", d)
	}
	t.Logf("reported in %v: %v", time.Since(start), err)
}

func TestTemporalCLIFromEnv(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-temporal")
	t.Setenv(devstack.EnvTemporalCLI, missing)
	_, err := devstack.EnsureTemporalCLI(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "DSR_TEMPORAL_CLI") {
		t.Fatalf("err = %v, want one naming DSR_TEMPORAL_CLI", err)
	}

	// Unset (empty), the cached build is used; named, that same file is.
	t.Setenv(devstack.EnvTemporalCLI, "")
	real, err := devstack.EnsureTemporalCLI(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(devstack.EnvTemporalCLI, real)
	if got, err := devstack.EnsureTemporalCLI(context.Background(), nil); err != nil || got != real {
		t.Fatalf("with %s=%s: got %q, %v", devstack.EnvTemporalCLI, real, got, err)
	}
}

func TestDevstacktestTemporal(t *testing.T) {
	start := time.Now()
	srv := devstacktest.TemporalWith(t, devstacktest.TemporalConfig{
		SearchAttributes: []devstack.SearchAttribute{{Name: "DsrStage", Type: "Keyword"}},
		DynamicConfig:    []string{"system.enableActivityEagerExecution=true"},
	})
	t.Logf("testsuite dev server ready in %v on %s", time.Since(start), srv.FrontendHostPort())
	// The server's own client works after start-up returned.
	checkSearchAttributes(t, srv.Client(), map[string]enums.IndexedValueType{
		"DsrStage": enums.INDEXED_VALUE_TYPE_KEYWORD,
	})
}

// checkSearchAttributes asks the operator service which custom search
// attributes namespace "default" has and compares with want.
func checkSearchAttributes(t *testing.T, c client.Client, want map[string]enums.IndexedValueType) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	for name, typ := range want {
		if got, ok := resp.GetCustomAttributes()[name]; !ok || got != typ {
			t.Errorf("search attribute %s: got %v (present %v), want %v; all custom: %v", name, got, ok, typ, resp.GetCustomAttributes())
		}
	}
}
