package devstacktest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is one throwaway PostgreSQL cluster shared by a package's tests,
// each of which takes a fresh database of its own from it (the audit log
// cannot be emptied between tests, by design). A package declares one and
// runs its tests inside it:
//
//	var cluster = devstacktest.NewCluster("mypkg_test")
//
//	func TestMain(m *testing.M) { os.Exit(cluster.Run(m)) }
//
// Packages whose tests want a migrated store use storetest.Cluster, which
// wraps this.
type Cluster struct {
	prefix string
	url    string
	made   atomic.Int64
}

// NewCluster is a cluster not yet started; prefix begins its databases'
// names.
func NewCluster(prefix string) *Cluster { return &Cluster{prefix: prefix} }

// Run starts the cluster, runs the tests and stops it, returning the exit
// code for os.Exit.
func (c *Cluster) Run(m *testing.M) int {
	u, stop, err := StartPostgresForMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, "these tests need PostgreSQL (make setup installs it):", err)
		return 1
	}
	defer stop()
	c.url = u
	return m.Run()
}

// Database creates an empty database for tb and returns its URL; it is
// dropped when tb ends.
func (c *Cluster) Database(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("%s_%d_%d", c.prefix, os.Getpid(), c.made.Add(1))
	if err := c.exec(ctx, "create database "+name); err != nil {
		tb.Fatalf("creating database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if err := c.exec(ctx, "drop database "+name+" with (force)"); err != nil {
			tb.Errorf("dropping %s: %v", name, err)
		}
	})
	dbURL, err := otherDatabase(c.url, name)
	if err != nil {
		tb.Fatal(err)
	}
	return dbURL
}

func (c *Cluster) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// otherDatabase is clusterURL naming database name instead, in either
// form a cluster's URL takes (key=value, or a postgres:// URL).
func otherDatabase(clusterURL, name string) (string, error) {
	cfg, err := pgx.ParseConfig(clusterURL)
	if err != nil {
		return "", err
	}
	if s := strings.Replace(clusterURL, "dbname="+cfg.Database, "dbname="+name, 1); s != clusterURL {
		return s, nil
	}
	u, err := url.Parse(clusterURL)
	if err != nil {
		return "", fmt.Errorf("cannot name another database in the cluster's URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// connectTimeout bounds opening a test's own connection: a cluster that
// does not answer fails the test rather than hanging it.
const connectTimeout = 30 * time.Second

// Connect opens a connection of the test's own to the database at url, for
// the checks and set-ups the code under test offers no call for. It is
// closed when the test ends.
func Connect(tb testing.TB, url string) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("devstacktest: connecting to the test database: %v", err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
