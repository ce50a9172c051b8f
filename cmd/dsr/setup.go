package main

import (
	"context"
	"fmt"
	"io"

	"github.com/dsr-register/dsr/internal/devstack"
)

// runSetup installs what dev and the tests need on this machine: the pinned
// Temporal CLI (built with go install from the module proxy), the pinned
// axe-core (from the npm registry into the user cache) and, where it can
// (root on Debian or Ubuntu), PostgreSQL's server binaries and Chromium for
// the browser tests; and the linters `make lint` runs.
// Otherwise it stops with a one-line instruction.
func runSetup(ctx context.Context, stdout io.Writer) error {
	cli, err := devstack.EnsureTemporalCLI(ctx, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dsr: Temporal CLI %s at %s\n", devstack.TemporalCLIVersion, cli)
	bin, err := devstack.FindPostgres(ctx, stdout, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dsr: PostgreSQL server binaries in %s\n", bin)
	chromium, err := devstack.FindChromium(ctx, stdout, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dsr: Chromium at %s\n", chromium)
	axe, err := devstack.EnsureAxeCore(ctx, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dsr: axe-core %s at %s\n", devstack.AxeCoreVersion, axe)
	return setupLintTools(ctx, stdout)
}

// setupLintTools installs the pinned staticcheck and deadcode that
// `make lint` (scripts/lint) runs, into the same tools cache as the Temporal
// CLI.
func setupLintTools(ctx context.Context, stdout io.Writer) error {
	tools, err := devstack.EnsureLintTools(ctx, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dsr: staticcheck %s at %s\n", devstack.StaticcheckVersion, tools.Staticcheck)
	fmt.Fprintf(stdout, "dsr: deadcode %s at %s\n", devstack.DeadcodeVersion, tools.Deadcode)
	return nil
}
