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

	"github.com/dsr-register/dsr/internal/config"
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

// configuredCommands are the commands that start from the configuration in
// the environment: run reads it for them, and a mistake in it ends the
// command before anything starts.
var configuredCommands = map[string]func(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error{
	"dev":          runDev,
	"serve":        runServe,
	"migrate":      runMigrate,
	"codec-server": runCodecServer,
	"healthcheck": func(ctx context.Context, cfg config.Config, _, _ io.Writer) error {
		return runHealthcheck(ctx, cfg)
	},
}

// run is the whole program, with its dependencies passed in so tests can
// run it in-process.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("no command given")
	}
	if command, ok := configuredCommands[args[0]]; ok {
		cfg, err := loadConfig(ctx, lookupEnv)
		if err != nil {
			return err
		}
		return command(ctx, cfg, stdout, stderr)
	}
	switch args[0] {
	case "setup":
		return runSetup(ctx, stdout)
	case "import":
		// import reads its arguments before its configuration, which it
		// may complete from a `dsr dev` running beside it.
		return runImport(ctx, args[1:], lookupEnv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
