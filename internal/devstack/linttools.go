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
	log = orDiscard(log)
	var tools LintTools
	var err error
	tools.Staticcheck, err = installGoTool(ctx, log, lintTool("staticcheck", "honnef.co/go/tools/cmd/staticcheck", StaticcheckVersion))
	if err != nil {
		return LintTools{}, err
	}
	tools.Deadcode, err = installGoTool(ctx, log, lintTool("deadcode", "golang.org/x/tools/cmd/deadcode", DeadcodeVersion))
	if err != nil {
		return LintTools{}, err
	}
	return tools, nil
}

// lintTool is a linter named after its binary; without it, `make lint`
// is what cannot run.
func lintTool(binary, pkg, version string) goTool {
	return goTool{what: binary, binary: binary, pkg: pkg, version: version,
		takes: "about a minute", orElse: "or skip `make lint`"}
}
