package main

import (
	"context"
	"fmt"
	"io"

	"github.com/dsr-register/dsr/internal/devstack"
)

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
