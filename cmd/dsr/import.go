package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/encryption"
	"github.com/dsr-register/dsr/internal/importer"
)

// devStack is what `dsr dev` tells a `dsr import` run beside it: where its
// database and Temporal are. Kept in the state directory while dev runs.
type devStack struct {
	DatabaseURL     string `json:"database_url"`
	TemporalAddress string `json:"temporal_address"`
}

func devStackFile(stateDir string) string { return filepath.Join(stateDir, "dev-stack.json") }

func writeDevStack(stateDir string, cfg config.Config) error {
	b, err := json.Marshal(devStack{DatabaseURL: cfg.DatabaseURL, TemporalAddress: cfg.TemporalAddress})
	if err != nil {
		return err
	}
	if err := os.WriteFile(devStackFile(stateDir), b, 0o600); err != nil {
		return fmt.Errorf("noting the dev stack for dsr import: %w", err)
	}
	return nil
}

// errImportRows is returned (exit status 1) when any row was not imported;
// the report has already said which and why.
var errImportRows = errors.New("import: some rows were not imported (see the report above)")

// runImport is `dsr import [--dry-run] FILE.csv`: it uses DATABASE_URL,
// TEMPORAL_ADDRESS and DSR_PAYLOAD_KEYS like serve; without DATABASE_URL it
// uses the stack of a `dsr dev` running in DSR_STATE_DIR. The worker that
// runs the people's workflows is serve's (or dev's): it must be running.
func runImport(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "check every row and report what would be created; write nothing")
	concurrency := fs.Int("concurrency", 16, "people started at once")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dsr import [--dry-run] FILE.csv\n\nImports a team's existing register; README lists the columns.")
		fs.PrintDefaults()
	}
	// Flags may come after the file name too.
	var files []string
	for rest := args; len(rest) > 0; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		rest = fs.Args()
		if len(rest) > 0 {
			files, rest = append(files, rest[0]), rest[1:]
		}
	}
	if len(files) != 1 {
		fs.Usage()
		return errors.New("import: give one CSV file")
	}
	cfg, err := loadConfig(ctx, lookupEnv)
	if err != nil {
		return err
	}
	keys, err := importConnection(&cfg)
	if err != nil {
		return err
	}
	f, err := os.Open(files[0])
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()

	logger := newLogger(cfg, stderr)
	st, err := openMigratedStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	tc, err := dialTemporal(ctx, cfg, keys, logger, nil)
	if err != nil {
		return err
	}
	defer tc.Close()

	progress := newProgressPrinter(stdout, *dryRun)
	rep, err := importer.Run(ctx, f, importer.Deps{Store: st, Temporal: tc, TaskQueue: cfg.TaskQueue, Policy: cfg.Policy.Register()},
		importer.Options{DryRun: *dryRun, Concurrency: *concurrency, RowTimeout: time.Duration(cfg.APITimeout) * 3, Progress: progress.show})
	progress.finish()
	if err != nil {
		var fe *importer.FileError
		if errors.As(err, &fe) {
			return fmt.Errorf("import: %s, line %d: %s (nothing was imported)", files[0], fe.Line, fe.Message)
		}
		return fmt.Errorf("import: %w", err)
	}
	rep.Write(stdout)
	if !rep.OK() {
		return errImportRows
	}
	return nil
}

// importConnection fills in the database and Temporal of a `dsr dev`
// running in DSR_STATE_DIR when DATABASE_URL is not set, and returns the
// payload keys (DSR_PAYLOAD_KEYS, or dev's key file).
func importConnection(cfg *config.Config) ([]encryption.Key, error) {
	stateDir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("DSR_STATE_DIR: %w", err)
	}
	if cfg.DatabaseURL == "" {
		b, err := os.ReadFile(devStackFile(stateDir))
		if err != nil {
			return nil, fmt.Errorf("import: DATABASE_URL is not set and no dsr dev is running in %s: set DATABASE_URL, TEMPORAL_ADDRESS and DSR_PAYLOAD_KEYS as for serve, or start dsr dev", stateDir)
		}
		var dev devStack
		if err := json.Unmarshal(b, &dev); err != nil {
			return nil, fmt.Errorf("import: %s: %w", devStackFile(stateDir), err)
		}
		cfg.DatabaseURL, cfg.TemporalAddress = dev.DatabaseURL, dev.TemporalAddress
	}
	if cfg.PayloadKeys != "" {
		keys, err := encryption.ParseKeys(cfg.PayloadKeys)
		if err != nil {
			return nil, fmt.Errorf("DSR_PAYLOAD_KEYS: %w", err)
		}
		return keys, nil
	}
	if _, err := os.Stat(filepath.Join(stateDir, "payload.key")); err != nil {
		return nil, errors.New("import: DSR_PAYLOAD_KEYS is required (the same keys as serve)")
	}
	return devPayloadKeys(*cfg, stateDir)
}

// progressPrinter shows how far an import has got: a bar redrawn in place
// on a terminal, otherwise a plain line every 10% or 10 seconds (for logs
// and CI).
type progressPrinter struct {
	w        io.Writer
	terminal bool
	verb     string

	mu       sync.Mutex
	last     time.Time
	lastPct  int
	drawn    bool
	started  time.Time
	lastDone int
}

func newProgressPrinter(w io.Writer, dryRun bool) *progressPrinter {
	p := &progressPrinter{w: w, verb: "imported", started: time.Now(), lastPct: -1}
	if dryRun {
		p.verb = "checked"
	}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progressPrinter) show(pr importer.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.lastDone = pr.Done
	elapsed := now.Sub(p.started)
	rate := float64(pr.Done) / max(elapsed.Seconds(), 0.001)
	left := "?"
	if rate > 0 && pr.Total >= pr.Done {
		left = (time.Duration(float64(pr.Total-pr.Done)/rate) * time.Second).Round(time.Second).String()
	}
	pct := 100
	if pr.Total > 0 {
		pct = pr.Done * 100 / pr.Total
	}
	if p.terminal {
		if now.Sub(p.last) < 100*time.Millisecond && pr.Done != pr.Total {
			return
		}
		const width = 30
		fill := width * pct / 100
		fmt.Fprintf(p.w, "\r[%s%s] %d/%d rows %s  %.0f rows/s  %s left ", strings.Repeat("#", fill), strings.Repeat(".", width-fill),
			pr.Done, pr.Total, p.verb, rate, left)
		p.last, p.drawn = now, true
		return
	}
	if pct/10 == p.lastPct/10 && now.Sub(p.last) < 10*time.Second && pr.Done != pr.Total {
		return
	}
	fmt.Fprintf(p.w, "%d/%d rows %s (%d%%), %.0f rows/s, about %s left\n", pr.Done, pr.Total, p.verb, pct, rate, left)
	p.last, p.lastPct = now, pct
}

func (p *progressPrinter) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
