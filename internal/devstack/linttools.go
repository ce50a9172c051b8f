package devstack

import (
	"context"
	"io"
)

// The linters `make lint` runs, pinned. staticcheck v0.8.x is the line
// that builds with Go 1.26; deadcode comes with golang.org/x/tools.
// scripts/lint reads these two constants to find the binaries, so a version
// changes here only.
const (
	StaticcheckVersion = "v0.8.2"
	DeadcodeVersion    = "v0.52.0"
)

// LintTools are the linters' binaries.
type LintTools struct {
	Staticcheck, Deadcode string
}

// EnsureLintTools returns staticcheck and deadcode, building each pinned
// version into the tools cache (beside the Temporal CLI) the first time.
func EnsureLintTools(ctx context.Context, log io.Writer) (LintTools, error) {
	if log == nil {
		log = io.Discard
	}
	var tools LintTools
	var err error
	tools.Staticcheck, err = installGoTool(ctx, log, goTool{
		what: "staticcheck", binary: "staticcheck",
		pkg: "honnef.co/go/tools/cmd/staticcheck", version: StaticcheckVersion,
		takes: "about a minute", orElse: "or skip `make lint`",
	})
	if err != nil {
		return LintTools{}, err
	}
	tools.Deadcode, err = installGoTool(ctx, log, goTool{
		what: "deadcode", binary: "deadcode",
		pkg: "golang.org/x/tools/cmd/deadcode", version: DeadcodeVersion,
		takes: "about a minute", orElse: "or skip `make lint`",
	})
	if err != nil {
		return LintTools{}, err
	}
	return tools, nil
}
