package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/workflows"
)

// Deps is what an import needs: the record, Temporal, and the policy the
// rows are checked against.
type Deps struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	Policy    register.Policy
}

// Options tune one import.
type Options struct {
	// DryRun checks every row (and the register, for duplicates) and says
	// what would be created, writing nothing.
	DryRun bool
	// Actor is who the audit trail says imported (default dsr:import).
	Actor string
	// Concurrency is how many people are started at once (default 16).
	Concurrency int
	// RowTimeout bounds each person's recording and start (default 30s).
	RowTimeout time.Duration
	// Progress, if set, is told as rows are done.
	Progress func(Progress)
	Now      func() time.Time
}

// Progress is how far an import has got.
type Progress struct {
	Done, Total int
	Started     time.Time
}

// Duplicate is a row that is, or may be, someone else: another row of the
// file, or someone on the register. It is reported, not merged, and not
// imported until it is resolved (fix the row, or take it out and refer or
// merge the person by hand).
type Duplicate struct {
	Line int
	// OtherLine is the row of the file it matches, or 0.
	OtherLine int
	// Reference is who on the register it matches (DSR-1042), or "".
	Reference string
	// By says how: "nhs_number", "name and date of birth", "likely".
	By string
}

// Report is what an import found and did.
type Report struct {
	DryRun   bool
	Encoding string
	// Ignored lists header names that are not columns the import reads.
	Ignored []string
	// Rows counts the file's rows (blank lines aside).
	Rows       int
	Errors     []RowError
	Duplicates []Duplicate
	// Counts is what was created (dry run: what would be), with the
	// people earlier runs of the file created.
	Counts notify.ImportCounts
	// Created counts people created by this run; AlreadyImported rows an
	// earlier run had finished.
	Created, AlreadyImported int
	// Interrupted: the run was stopped; run it again to carry on.
	Interrupted bool
	// ImportID names the file's content (a hash), and so its summary.
	ImportID string
}

// Failed is how many rows were not imported (or would not be).
func (r Report) Failed() int {
	lines := map[int]bool{}
	for _, e := range r.Errors {
		lines[e.Line] = true
	}
	for _, d := range r.Duplicates {
		lines[d.Line] = true
	}
	return len(lines)
}

// OK reports whether every row was imported (or would be).
func (r Report) OK() bool { return r.Failed() == 0 && !r.Interrupted }

// Run imports a register CSV read from file (read twice: once to check
// every row and find duplicates within the file, once to import, so the
// file is streamed, never held). Valid rows are imported even when others
// fail; rows with errors and duplicates are reported. A file error (no
// usable header, unreadable CSV) stops it before anything is written.
func Run(ctx context.Context, file io.ReadSeeker, deps Deps, opts Options) (Report, error) {
	opts = opts.withDefaults()
	now := opts.Now()
	rep := Report{DryRun: opts.DryRun}
	plan, err := checkFile(ctx, file, deps, opts, now, &rep)
	if err != nil {
		return rep, err
	}
	if opts.DryRun {
		return rep, nil
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return rep, fmt.Errorf("reading the file again: %w", err)
	}
	rd, err := NewReader(file)
	if err != nil {
		return rep, err
	}
	imp := &importRun{deps: deps, opts: opts, now: now, rep: &rep, total: plan.valid}
	imp.run(ctx, rd, plan)
	if !rep.Interrupted && rep.Counts.People > 0 {
		rep.Counts.NotImported = rep.Failed()
		n := notify.ForImport(rep.ImportID, rep.Counts, opts.Now())
		if err := deps.Store.QueueNotifications(ctx, n); err != nil {
			return rep, fmt.Errorf("queueing the import's summary: %w", err)
		}
	}
	return rep, nil
}

func (o Options) withDefaults() Options {
	if o.Actor == "" {
		o.Actor = workflows.ImportActor
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.RowTimeout <= 0 {
		o.RowTimeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// plan is what the first pass decided: the lines not to import.
type plan struct {
	skip  map[int]bool
	valid int
}

// checkFile is the first pass: every row checked, duplicates within the
// file found, and on a dry run the register asked what each row would
// meet. Memory grows only with the small index of keys used to find
// duplicates, never with the rows.
func checkFile(ctx context.Context, file io.Reader, deps Deps, opts Options, now time.Time, rep *Report) (plan, error) {
	hash := sha256.New()
	rd, err := NewReader(io.TeeReader(file, hash))
	if err != nil {
		return plan{}, err
	}
	rep.Encoding, rep.Ignored = rd.Encoding, rd.Header.Ignored
	ck := Checker{Header: rd.Header, Policy: deps.Policy, Now: now}
	pl := plan{skip: map[int]bool{}}
	dups := newDuplicateIndex()
	for {
		if err := ctx.Err(); err != nil {
			rep.Interrupted = true
			return pl, nil
		}
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return pl, err
		}
		rep.Rows++
		row, errs := ck.Check(rec)
		if errs != nil {
			rep.Errors = append(rep.Errors, errs...)
			pl.skip[rec.Line] = true
			continue
		}
		for _, d := range dups.add(row) {
			rep.Duplicates = append(rep.Duplicates, d)
			pl.skip[d.Line] = true
		}
	}
	rep.ImportID = hex.EncodeToString(hash.Sum(nil)[:12])
	pl.valid = rep.Rows - len(pl.skip)
	if !opts.DryRun {
		return pl, nil
	}
	return pl, dryRun(ctx, file, deps, opts, now, rep, pl)
}

// dryRun asks the register about every row that would be imported.
func dryRun(ctx context.Context, file io.Reader, deps Deps, opts Options, now time.Time, rep *Report, pl plan) error {
	seeker, ok := file.(io.Seeker)
	if !ok {
		return errors.New("the file cannot be read twice")
	}
	if _, err := seeker.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("reading the file again: %w", err)
	}
	rd, err := NewReader(file)
	if err != nil {
		return err
	}
	ck := Checker{Header: rd.Header, Policy: deps.Policy, Now: now}
	done := 0
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if pl.skip[rec.Line] {
			continue
		}
		row, _ := ck.Check(rec)
		rc, err := deps.Store.CheckImport(ctx, store.ImportedPerson{Person: row.Person, Key: row.Key})
		if err != nil {
			return err
		}
		switch {
		case rc.DuplicateOf != 0:
			rep.Duplicates = append(rep.Duplicates, Duplicate{Line: row.Line, Reference: register.Reference(rc.DuplicateOf), By: rc.DuplicateBy})
		case rc.PersonID != 0 && rc.Accepted:
			rep.AlreadyImported++
			countStanding(&rep.Counts, predict(row, deps.Policy, now))
		default:
			rep.Created++
			countStanding(&rep.Counts, predict(row, deps.Policy, now))
		}
		done++
		if opts.Progress != nil {
			opts.Progress(Progress{Done: done, Total: pl.valid})
		}
	}
}

// importRun is the second pass: each row not skipped recorded and started,
// Concurrency at a time.
type importRun struct {
	deps  Deps
	opts  Options
	now   time.Time
	total int

	mu      sync.Mutex
	rep     *Report
	done    int
	started time.Time
}

func (r *importRun) run(ctx context.Context, rd *Reader, pl plan) {
	r.started = time.Now()
	ck := Checker{Header: rd.Header, Policy: r.deps.Policy, Now: r.now}
	rows := make(chan Row)
	var wg sync.WaitGroup
	for range r.opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for row := range rows {
				r.importRow(ctx, row)
			}
		}()
	}
	func() {
		defer close(rows)
		for {
			rec, err := rd.Next()
			if err != nil {
				// The first pass read the whole file: only a file changed
				// since can fail here.
				if !errors.Is(err, io.EOF) {
					r.fail(RowError{Line: rec.Line, Message: "the file changed while it was imported: " + err.Error()})
				}
				return
			}
			if pl.skip[rec.Line] {
				continue
			}
			row, errs := ck.Check(rec)
			if errs != nil {
				r.fail(errs...)
				continue
			}
			select {
			case rows <- row:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	if ctx.Err() != nil {
		r.rep.Interrupted = true
	}
}

// importRow records one person and starts their workflow in their current
// state. Both steps are keyed (the row's key; UpdateID import-<referral>),
// so a row cut off half way is finished, once, by the next run.
func (r *importRun) importRow(ctx context.Context, row Row) {
	if ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.RowTimeout)
	defer cancel()
	rc, err := r.deps.Store.ImportPerson(ctx, store.ImportedPerson{Person: row.Person, Key: row.Key, Actor: r.opts.Actor, ReceivedAt: r.now})
	if err != nil {
		r.failUnlessStopped(ctx, row, "could not be recorded (the database did not answer): run the import again to carry on", err)
		return
	}
	if rc.DuplicateOf != 0 {
		r.mu.Lock()
		r.rep.Duplicates = append(r.rep.Duplicates, Duplicate{Line: row.Line, Reference: register.Reference(rc.DuplicateOf), By: rc.DuplicateBy})
		r.mu.Unlock()
		r.tick()
		return
	}
	if !rc.Accepted {
		if err := r.start(ctx, row, rc); err != nil {
			r.failUnlessStopped(ctx, row, workflowProblem(err), err)
			return
		}
	}
	st, err := r.deps.Store.ImportedStanding(ctx, rc.PersonID, r.opts.Now())
	if err != nil {
		r.failUnlessStopped(ctx, row, "imported, but its standing could not be read for the summary: run the import again", err)
		return
	}
	r.mu.Lock()
	if rc.Accepted {
		r.rep.AlreadyImported++
	} else {
		r.rep.Created++
	}
	countStanding(&r.rep.Counts, st)
	r.mu.Unlock()
	r.tick()
}

// start sends the UpdateImport Update with Update-with-Start: the person's
// workflow begins in their current state.
func (r *importRun) start(ctx context.Context, row Row, rc store.ImportReceipt) error {
	start := r.deps.Temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       workflows.PersonWorkflowID(rc.PersonID),
		TaskQueue:                r.deps.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    temporal.NewSearchAttributes(workflows.SearchStage.ValueSet(string(register.Referred))),
	}, workflows.PersonWorkflow, workflows.PersonWorkflowInput{PersonID: rc.PersonID})
	handle, err := r.deps.Temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName:   workflows.UpdateImport,
			UpdateID:     fmt.Sprintf("import-%d", rc.ReferralID),
			WaitForStage: client.WorkflowUpdateStageCompleted,
			Args: []any{workflows.ImportInput{
				ReferralID: rc.ReferralID, DateOfBirth: rc.DateOfBirth,
				Rating: row.Rating, LastReviewedOn: row.LastReviewed,
				ConsentBasis: row.Consent.Basis, ConsentGivenBy: row.Consent.GivenBy, ConsentDecidedOn: row.Consent.DecidedOn,
				AssignedTo: row.AssignedTo, Notes: row.Notes, ProjectionSeq: rc.ProjectionSeq, Actor: r.opts.Actor,
			}},
		},
	})
	if err != nil {
		return err
	}
	return handle.Get(ctx, nil)
}

// workflowProblem says what a refused or failed start means for the row.
func workflowProblem(err error) string {
	if r, ok := workflows.Refused(err); ok {
		switch {
		case r.Type == workflows.ErrNoLongerApplies:
			return "refused by the register: " + r.Message
		case r.Fields != nil:
			return "refused by the register: " + r.Fields.Error()
		}
	}
	return "recorded but not started (Temporal did not answer in time): run the import again to carry on"
}

// failUnlessStopped reports a row that failed, unless the import was
// stopped (Ctrl-C): then the row is simply left for the next run.
func (r *importRun) failUnlessStopped(ctx context.Context, row Row, msg string, _ error) {
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		return
	}
	r.fail(RowError{Line: row.Line, Message: msg})
}

func (r *importRun) fail(errs ...RowError) {
	r.mu.Lock()
	r.rep.Errors = append(r.rep.Errors, errs...)
	r.mu.Unlock()
	r.tick()
}

func (r *importRun) tick() {
	r.mu.Lock()
	r.done++
	p := Progress{Done: r.done, Total: r.total, Started: r.started}
	r.mu.Unlock()
	if r.opts.Progress != nil {
		r.opts.Progress(p)
	}
}

// countStanding adds one person to the summary's counts.
func countStanding(c *notify.ImportCounts, st store.ImportStanding) {
	c.People++
	switch st.Stage {
	case register.Active:
		c.Active++
	case register.Referred:
		c.Referred++
	case register.ConsentLapsed:
		c.ConsentLapsed++
	}
	switch st.Rating {
	case register.Red:
		c.Red++
	case register.Amber:
		c.Amber++
	case register.Green:
		c.Green++
	case register.Blue:
		c.Blue++
	}
	for _, t := range st.OpenTasks {
		switch {
		case t.Kind == register.TaskReviewDue && t.Overdue:
			c.ReviewsOverdue++
		case t.Kind == register.TaskReviewDue:
			c.ReviewsDue++
		case t.Kind == register.TaskConsentRenewal:
			c.ConsentsLapsing++
		}
	}
}

// predict is a dry run's view of where a row's person would stand, by the
// rules the person's workflow applies on import.
func predict(row Row, policy register.Policy, now time.Time) store.ImportStanding {
	st := store.ImportStanding{Stage: register.Referred, Rating: row.Rating}
	if row.Consent.Basis == "" {
		return st
	}
	st.Stage = register.Active
	exp := ConsentExpiry(row.Consent, row.Person.DateOfBirth, policy)
	if !now.Before(exp) {
		st.Stage = register.ConsentLapsed
		return st
	}
	if !now.Before(exp.Add(-policy.RenewalNotice)) {
		st.OpenTasks = append(st.OpenTasks, store.ImportTask{Kind: register.TaskConsentRenewal})
	}
	due := now.Add(policy.ReviewNotice)
	if row.Rating != "" {
		due = row.LastReviewed.Add(policy.ReviewEvery(row.Rating))
	}
	if !now.Before(due.Add(-policy.ReviewNotice)) {
		st.OpenTasks = append(st.OpenTasks, store.ImportTask{Kind: register.TaskReviewDue, Overdue: due.Before(now)})
	}
	return st
}
