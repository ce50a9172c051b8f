// Command dsr runs the Dynamic Support Register.
//
//	dsr dev      everything locally: Temporal dev server, PostgreSQL, worker, API
//	dsr serve    worker and API against an existing Temporal and PostgreSQL
//	dsr migrate  migrate the database schema and exit
//	dsr setup    install the pinned Temporal CLI and PostgreSQL if missing
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "dsr:", err)
		os.Exit(1)
	}
}

const usage = `usage: dsr <command>

commands:
  dev      run everything locally (Temporal dev server, PostgreSQL, worker, API)
  serve    run the worker and API against TEMPORAL_ADDRESS and DATABASE_URL
  migrate  migrate the database at DATABASE_URL and exit
  setup    install the pinned Temporal CLI and PostgreSQL server binaries if missing
  healthcheck  exit 0 if the API at DSR_HTTP_ADDR answers /healthz (for container healthchecks)
  import [--dry-run] FILE.csv  import a team's existing register (README lists the columns)
  codec-server  decode payloads for the Temporal UI, for signed-in coordinators (DSR_CODEC_ADDR)

Configuration is read from the environment; see README.md.`

// run is the whole program, with its dependencies passed in so tests can
// run it in-process.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "dev":
		return runDev(ctx, lookupEnv, stdout, stderr)
	case "serve":
		return runServe(ctx, lookupEnv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, lookupEnv, stdout, stderr)
	case "setup":
		return runSetup(ctx, stdout)
	case "healthcheck":
		return runHealthcheck(ctx, lookupEnv)
	case "import":
		return runImport(ctx, args[1:], lookupEnv, stdout, stderr)
	case "codec-server":
		return runCodecServer(ctx, lookupEnv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
