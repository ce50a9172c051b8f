package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dsr-register/dsr/internal/importer"
	"github.com/dsr-register/dsr/internal/login"
)

// The managers' import page (/import): a team's register uploaded as CSV,
// checked by a dry run of internal/importer first, then imported on
// request. The file is kept on the server between the two steps, in a
// file named by a random token (nothing personal in a URL, a file name or
// a log line), and deleted when the import has finished or an hour after
// it was last touched. Both steps run in the background, one at a time per
// server, and their page says how far they have got.

// maxImportFile is the largest register accepted: a 50,000-row register
// is about 10 MB.
const maxImportFile = 20 << 20

// importKept is how long a checked file waits for "Start the import", and
// a finished import's result stays to be read.
const importKept = time.Hour

// Deadlines for the background steps: each row is bounded as well.
const (
	checkWithin  = 30 * time.Minute
	importWithin = 3 * time.Hour
)

// importStage is where an upload has got to.
type importStage string

const (
	stageChecking  importStage = "checking"
	stageChecked   importStage = "checked"
	stageImporting importStage = "importing"
	stageImported  importStage = "imported"
	stageFailed    importStage = "failed"
)

// importJob is one uploaded file and what has been done with it.
type importJob struct {
	Token string
	// Owner is the subject of the manager who uploaded it: only they see
	// its report (line numbers and the fixes, which may quote a value).
	Owner   string
	Actor   string
	path    string
	Stage   importStage
	Done    int
	Total   int
	Started time.Time
	Report  importer.Report
	// Problem is why the file could not be read at all, in words.
	Problem string
	touched time.Time
}

// importDesk holds the uploads of this server.
type importDesk struct {
	dir string

	mu   sync.Mutex
	jobs map[string]*importJob
	// busy is the token of the step running now, if any.
	busy string
}

func newImportDesk(dir string) *importDesk {
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "dsr-imports")
	}
	return &importDesk{dir: dir, jobs: map[string]*importJob{}}
}

// snapshot is a copy of the job for a page, safe to read unlocked.
func (d *importDesk) snapshot(token, owner string) (importJob, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	j, ok := d.jobs[token]
	if !ok || j.Owner != owner {
		return importJob{}, false
	}
	return *j, true
}

// running is the step under way, if any, for the upload page's notice.
func (d *importDesk) running() (importJob, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.busy == "" {
		return importJob{}, false
	}
	return *d.jobs[d.busy], true
}

// claim marks token's job as the one running, moving it from stage from to
// stage to; false if another step is running or the job is not at from.
func (d *importDesk) claim(token, owner string, from, to importStage) (busy bool, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	j, found := d.jobs[token]
	if !found || j.Owner != owner || j.Stage != from {
		return false, false
	}
	if d.busy != "" {
		return true, false
	}
	d.busy, j.Stage, j.Done, j.Total, j.Started, j.touched = token, to, 0, 0, time.Now(), time.Now()
	return false, true
}

func (d *importDesk) progress(token string, p importer.Progress) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if j, ok := d.jobs[token]; ok {
		j.Done, j.Total = p.Done, p.Total
	}
}

// finish records a step's outcome and frees the desk. A finished import's
// file is deleted at once; every job is forgotten importKept later.
func (d *importDesk) finish(token string, stage importStage, rep importer.Report, problem string) {
	d.mu.Lock()
	j := d.jobs[token]
	j.Stage, j.Report, j.Problem, j.touched = stage, rep, problem, time.Now()
	if d.busy == token {
		d.busy = ""
	}
	path := j.path
	d.mu.Unlock()
	if stage == stageImported || stage == stageFailed {
		_ = os.Remove(path)
	}
	time.AfterFunc(importKept+time.Minute, d.sweep)
}

// sweep forgets jobs untouched for importKept and deletes their files, and
// any file left in the directory by an earlier run of the server.
func (d *importDesk) sweep() {
	d.mu.Lock()
	kept := map[string]bool{}
	for token, j := range d.jobs {
		if token != d.busy && time.Since(j.touched) > importKept {
			_ = os.Remove(j.path)
			delete(d.jobs, token)
			continue
		}
		kept[filepath.Base(j.path)] = true
	}
	d.mu.Unlock()
	entries, _ := os.ReadDir(d.dir)
	for _, e := range entries {
		info, err := e.Info()
		if err == nil && !kept[e.Name()] && time.Since(info.ModTime()) > importKept {
			_ = os.Remove(filepath.Join(d.dir, e.Name()))
		}
	}
}

// keep stores an uploaded file under a new token; it fails with a field
// problem when the file is empty or too large.
func (d *importDesk) keep(src io.Reader, u login.User) (*importJob, error) {
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return nil, fmt.Errorf("import directory: %w", err)
	}
	token := newImportToken()
	path := filepath.Join(d.dir, token+".csv")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keeping the upload: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(src, maxImportFile+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		_ = os.Remove(path)
		return nil, fmt.Errorf("keeping the upload: %w", err)
	case n > maxImportFile:
		_ = os.Remove(path)
		return nil, errFileTooLarge
	case n == 0:
		_ = os.Remove(path)
		return nil, errFileEmpty
	}
	j := &importJob{Token: token, Owner: u.Subject, Actor: webActor(u), path: path, Stage: stageChecked, touched: time.Now()}
	d.mu.Lock()
	d.jobs[token] = j
	d.mu.Unlock()
	return j, nil
}

// newImportToken is 128 random bits: unguessable, and nothing about anyone.
func newImportToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var (
	errFileTooLarge = errors.New("the selected file must be smaller than 20 MB")
	errFileEmpty    = errors.New("the selected file is empty")
)

// LimitUploads refuses a body larger than the import page accepts before
// anything reads it (login's form-token check reads the whole form), and
// bounds every other body too. Put it around the protected pages.
func LimitUploads(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(1 << 20)
		if r.URL.Path == "/import" {
			// The file, the form token and multipart's framing.
			limit = maxImportFile + 64<<10
		}
		if r.ContentLength > limit {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, "The file is too large: the register to import must be smaller than 20 MB. Go back and choose a smaller file.\n")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// importPages are the import's two pages, in the staff layout (parsed
// from the error page's set, so they share its layout whatever it holds).
var importPages = map[string]*template.Template{
	"import":     withContent("templates/import.html"),
	"import-job": withContent("templates/import_job.html"),
}

func withContent(file string) *template.Template {
	return template.Must(template.Must(pages["error"].Clone()).ParseFS(templateFiles, file))
}

func (a *app) renderImport(w http.ResponseWriter, status int, name string, data any) error {
	var b strings.Builder
	if err := importPages[name].Execute(&b, data); err != nil {
		return fmt.Errorf("rendering %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := io.WriteString(w, b.String())
	return err
}

type uploadPage struct {
	base
	// Problem is what is wrong with the upload, for the error summary.
	Problem string
	Running *importJob
	// RunningIsMine: the step running is this manager's (linked).
	RunningIsMine bool
	MaxMB         int
}

// managersOnly is the answer to a coordinator who opens an import page.
func (a *app) managersOnly(w http.ResponseWriter, r *http.Request, u login.User) error {
	p := errorPage{base: a.base(r, u, "You cannot do this", ""), Heading: "You cannot do this",
		Message: "Only DSR managers can import a register. Ask your DSR manager if a register needs importing."}
	return a.render(w, http.StatusForbidden, "error", p)
}

func (a *app) importForm(w http.ResponseWriter, r *http.Request, u login.User) error {
	if !u.IsManager() {
		return a.managersOnly(w, r, u)
	}
	return a.showUpload(w, r, u, http.StatusOK, "")
}

func (a *app) showUpload(w http.ResponseWriter, r *http.Request, u login.User, status int, problem string) error {
	p := uploadPage{base: a.base(r, u, "Import a register", "dashboard"), Problem: problem, MaxMB: maxImportFile >> 20}
	if problem != "" {
		p.Title = "Error: " + p.Title
	}
	if j, ok := a.imports.running(); ok {
		p.Running, p.RunningIsMine = &j, j.Owner == u.Subject
	}
	return a.renderImport(w, status, "import", p)
}

// importUpload keeps the file and starts its dry run.
func (a *app) importUpload(w http.ResponseWriter, r *http.Request, u login.User) error {
	if !u.IsManager() {
		return a.managersOnly(w, r, u)
	}
	// Login's form-token check has usually parsed the form already; this
	// is then a no-op. Small parts stay in memory, the file goes to disk.
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return a.showUpload(w, r, u, http.StatusRequestEntityTooLarge, "The selected file must be smaller than 20 MB")
		}
		return a.showUpload(w, r, u, http.StatusBadRequest, "Select a CSV file of the register to import")
	}
	file, _, err := r.FormFile("file")
	if err != nil {
		return a.showUpload(w, r, u, http.StatusBadRequest, "Select a CSV file of the register to import")
	}
	defer file.Close()
	if _, busy := a.imports.running(); busy {
		return a.showUpload(w, r, u, http.StatusConflict, "Another import is running on this server: wait for it to finish, then upload the file again")
	}
	j, err := a.imports.keep(file, u)
	switch {
	case errors.Is(err, errFileTooLarge), errors.Is(err, errFileEmpty):
		return a.showUpload(w, r, u, http.StatusBadRequest, upperFirst(err.Error()))
	case err != nil:
		return err
	}
	go a.imports.sweep()
	if busy, ok := a.imports.claim(j.Token, u.Subject, stageChecked, stageChecking); !ok {
		if busy {
			return a.showUpload(w, r, u, http.StatusConflict, "Another import is running on this server: wait for it to finish, then upload the file again")
		}
		return errNotFound
	}
	go a.runImportStep(j.Token, j.path, j.Actor, true)
	http.Redirect(w, r, "/import/"+j.Token, http.StatusSeeOther)
	return nil
}

// importStart runs the real import of a checked file. Sent twice (a
// double click, a retry), the second finds it running and is shown it.
func (a *app) importStart(w http.ResponseWriter, r *http.Request, u login.User) error {
	if !u.IsManager() {
		return a.managersOnly(w, r, u)
	}
	token := r.PathValue("token")
	j, found := a.imports.snapshot(token, u.Subject)
	if !found {
		return errNotFound
	}
	if j.Stage == stageChecked {
		busy, ok := a.imports.claim(token, u.Subject, stageChecked, stageImporting)
		if busy {
			return a.showJob(w, r, u, j, "Another import is running on this server: start this one when it has finished")
		}
		if ok {
			go a.runImportStep(token, j.path, j.Actor, false)
		}
	}
	http.Redirect(w, r, "/import/"+token, http.StatusSeeOther)
	return nil
}

// runImportStep runs the importer in the background, bounded by its own
// deadline (the request that started it has long been answered).
func (a *app) runImportStep(token, path, actor string, dryRun bool) {
	within := importWithin
	if dryRun {
		within = checkWithin
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	stage := stageImported
	if dryRun {
		stage = stageChecked
	}
	f, err := os.Open(path)
	if err != nil {
		a.Logger.Error("web import: the kept file cannot be read", "error", err)
		a.imports.finish(token, stageFailed, importer.Report{}, "The uploaded file could not be read again on the server. Upload it again.")
		return
	}
	defer f.Close()
	deps := importer.Deps{Store: a.Casework.Store, Temporal: a.Casework.Temporal, TaskQueue: a.Casework.TaskQueue, Policy: a.Policy}
	rep, err := importer.Run(ctx, f, deps, importer.Options{DryRun: dryRun, Actor: actor, RowTimeout: 3 * a.Timeout,
		Now: a.Now, Progress: func(p importer.Progress) { a.imports.progress(token, p) }})
	if err != nil {
		var fe *importer.FileError
		if errors.As(err, &fe) {
			a.imports.finish(token, stageFailed, rep, fmt.Sprintf("Line %d: %s. Nothing was imported.", fe.Line, fe.Message))
			return
		}
		// The error may be the database's: logged without the file.
		a.Logger.Error("web import failed", "dry_run", dryRun, "error", err)
		a.imports.finish(token, stageFailed, rep, "The register did not answer while the file was read. Nothing more was imported: upload the file again to carry on (rows already imported are left as they are).")
		return
	}
	a.Logger.Info("web import step finished", "dry_run", dryRun, "rows", rep.Rows, "created", rep.Created, "failed", rep.Failed())
	a.imports.finish(token, stage, rep, "")
}

// jobPage is the progress, the dry run's report, or the import's result.
type jobPage struct {
	base
	Job importJob
	// Refresh: the manager asked for the progress page to refresh itself.
	Refresh  bool
	Problems []importProblem
	// Notice is an answer to "Start the import" that could not start it.
	Notice string
}

// importProblem is one row not imported (or that would not be), for the
// table and the error summary.
type importProblem struct {
	Line   int
	Column string
	Fix    string
}

func (a *app) importJobPage(w http.ResponseWriter, r *http.Request, u login.User) error {
	if !u.IsManager() {
		return a.managersOnly(w, r, u)
	}
	j, ok := a.imports.snapshot(r.PathValue("token"), u.Subject)
	if !ok {
		return errNotFound
	}
	return a.showJob(w, r, u, j, "")
}

func (a *app) showJob(w http.ResponseWriter, r *http.Request, u login.User, j importJob, notice string) error {
	title := map[importStage]string{
		stageChecking: "Checking the file", stageChecked: "Check the import", stageImporting: "Importing the register",
		stageImported: "Import finished", stageFailed: "The file could not be imported",
	}[j.Stage]
	p := jobPage{base: a.base(r, u, title, "dashboard"), Job: j, Notice: notice,
		Refresh:  r.URL.Query().Get("refresh") == "on" && (j.Stage == stageChecking || j.Stage == stageImporting),
		Problems: problemsOf(j.Report)}
	return a.renderImport(w, http.StatusOK, "import-job", p)
}

// problemsOf lists every row error and duplicate in line order, in the
// words of the command line's report.
func problemsOf(rep importer.Report) []importProblem {
	var out []importProblem
	for _, e := range rep.Errors {
		out = append(out, importProblem{Line: e.Line, Column: e.Column, Fix: upperFirst(e.Message)})
	}
	for _, d := range rep.Duplicates {
		var fix string
		switch {
		case d.OtherLine != 0:
			fix = fmt.Sprintf("May be the same person as line %d (%s): neither is imported until you remove or correct one", d.OtherLine, d.By)
		case d.By == "nhs_number":
			fix = "The NHS number is already on the register as " + d.Reference + ": check it is the same person and update their record there"
		default:
			fix = "May be " + d.Reference + ", already on the register (name, date of birth or postcode alike): if they are different people, refer this one so a coordinator can confirm"
		}
		out = append(out, importProblem{Line: d.Line, Fix: fix})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// Percent is how far the step has got, for the progress bar.
func (j importJob) Percent() int {
	if j.Total == 0 {
		return 0
	}
	return j.Done * 100 / j.Total
}

// NotRated is how many people come in without a rating.
func (j importJob) NotRated() int {
	c := j.Report.Counts
	return c.People - c.Red - c.Amber - c.Green - c.Blue
}
