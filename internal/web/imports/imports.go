// Package imports is the managers' import of an existing register
// (/import): a team's register uploaded as CSV, checked by a dry run of
// internal/importer first, then imported on request. The file is kept on
// the server between the two steps, in a file named by a random token
// (nothing personal in a URL, a file name or a log line), and deleted when
// the import has finished or an hour after it was last touched. Both steps
// run in the background, one at a time per server, and their page says how
// far they have got.
package imports

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"

	"github.com/dsr-register/dsr/internal/htmlpage"
	"github.com/dsr-register/dsr/internal/importer"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/web/staffpage"
)

//go:embed templates
var templateFiles embed.FS

var (
	uploadTemplate = staffpage.Parse(templateFiles, "templates/import.html", nil)
	jobTemplate    = staffpage.Parse(templateFiles, "templates/import_job.html", nil)
)

// handlers are the import's pages, over the uploads desk keeps.
type handlers struct {
	*staffpage.Site
	desk *importDesk
}

// Pages are the import's four pages, for managers only.
type Pages struct {
	// Form is the upload page (GET /import); Upload keeps an uploaded
	// file and starts its check (POST /import); Job is an upload's
	// progress, report or result (GET /import/{token}); Start starts the
	// import of a checked file (POST /import/{token}/start).
	Form, Upload, Job, Start staffpage.Handler
}

// New is the import's pages, keeping uploads in s.ImportDir (default:
// dsr-imports in the system's temp dir) between their check and their
// import.
func New(s *staffpage.Site) Pages {
	h := &handlers{Site: s, desk: newImportDesk(s.ImportDir)}
	return Pages{Form: h.managersOnly(h.importForm), Upload: h.managersOnly(h.importUpload),
		Job: h.managersOnly(h.importJobPage), Start: h.managersOnly(h.importStart)}
}

// managersOnly lets a manager through to page; a coordinator who opens an
// import page is told only managers import.
func (h *handlers) managersOnly(page staffpage.Handler) staffpage.Handler {
	return func(w http.ResponseWriter, r *http.Request, u login.User) error {
		if !u.IsManager() {
			return h.ShowError(w, r, u, http.StatusForbidden, "You cannot do this",
				"Only DSR managers can import a register. Ask your DSR manager if a register needs importing.")
		}
		return page(w, r, u)
	}
}

type uploadPage struct {
	staffpage.Base
	// Problem is what is wrong with the upload, for the error summary.
	Problem string
	Running *importJob
	// RunningIsMine: the step running is this manager's (linked).
	RunningIsMine bool
	MaxMB         int
}

// Summary is the error summary: the problem, linking to the file box.
func (p uploadPage) Summary() []staffpage.Problem {
	if p.Problem == "" {
		return nil
	}
	return []staffpage.Problem{{Href: "#register-file", Message: p.Problem}}
}

func (h *handlers) importForm(w http.ResponseWriter, r *http.Request, u login.User) error {
	return h.showUpload(w, r, u, http.StatusOK, "")
}

func (h *handlers) showUpload(w http.ResponseWriter, r *http.Request, u login.User, status int, problem string) error {
	p := uploadPage{Base: h.Base(r, u, "Import a register", "dashboard"), Problem: problem, MaxMB: MaxFile >> 20}
	if problem != "" {
		p.Title = "Error: " + p.Title
	}
	if j, ok := h.desk.running(); ok {
		p.Running, p.RunningIsMine = &j, j.Owner == u.Subject
	}
	return htmlpage.Render(w, status, uploadTemplate, p)
}

// importUpload keeps the file and starts its dry run.
func (h *handlers) importUpload(w http.ResponseWriter, r *http.Request, u login.User) error {
	// Login's form-token check has usually parsed the form already; this
	// is then a no-op. Small parts stay in memory, the file goes to disk.
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return h.showUpload(w, r, u, http.StatusRequestEntityTooLarge, "The selected file must be smaller than 20 MB")
		}
		return h.showUpload(w, r, u, http.StatusBadRequest, "Select a CSV file of the register to import")
	}
	file, _, err := r.FormFile("file")
	if err != nil {
		return h.showUpload(w, r, u, http.StatusBadRequest, "Select a CSV file of the register to import")
	}
	defer file.Close()
	if _, busy := h.desk.running(); busy {
		return h.showUpload(w, r, u, http.StatusConflict, "Another import is running on this server: wait for it to finish, then upload the file again")
	}
	j, err := h.desk.keep(file, u)
	switch {
	case errors.Is(err, errFileTooLarge), errors.Is(err, errFileEmpty):
		return h.showUpload(w, r, u, http.StatusBadRequest, staffpage.UpperFirst(err.Error()))
	case err != nil:
		return err
	}
	go h.desk.sweep()
	if busy, ok := h.desk.claim(j.Token, u.Subject, stageChecked, stageChecking); !ok {
		if busy {
			return h.showUpload(w, r, u, http.StatusConflict, "Another import is running on this server: wait for it to finish, then upload the file again")
		}
		return staffpage.ErrNotFound
	}
	go h.runImportStep(j.Token, j.path, j.Actor, true)
	http.Redirect(w, r, "/import/"+j.Token, http.StatusSeeOther)
	return nil
}

// importStart runs the real import of a checked file. Sent twice (a
// double click, a retry), the second finds it running and is shown it.
func (h *handlers) importStart(w http.ResponseWriter, r *http.Request, u login.User) error {
	token := r.PathValue("token")
	j, found := h.desk.snapshot(token, u.Subject)
	if !found {
		return staffpage.ErrNotFound
	}
	if j.Stage == stageChecked {
		busy, ok := h.desk.claim(token, u.Subject, stageChecked, stageImporting)
		if busy {
			return h.showJob(w, r, u, j, "Another import is running on this server: start this one when it has finished")
		}
		if ok {
			go h.runImportStep(token, j.path, j.Actor, false)
		}
	}
	http.Redirect(w, r, "/import/"+token, http.StatusSeeOther)
	return nil
}

// runImportStep runs the importer in the background, bounded by its own
// deadline (the request that started it has long been answered).
func (h *handlers) runImportStep(token, path, actor string, dryRun bool) {
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
		h.Logger.Error("web import: the kept file cannot be read", "error", err)
		h.desk.finish(token, stageFailed, importer.Report{}, "The uploaded file could not be read again on the server. Upload it again.")
		return
	}
	defer f.Close()
	deps := importer.Deps{Store: h.Casework.Store, Temporal: h.Casework.Temporal, TaskQueue: h.Casework.TaskQueue, Policy: h.Policy}
	rep, err := importer.Run(ctx, f, deps, importer.Options{DryRun: dryRun, Actor: actor, RowTimeout: 3 * h.Timeout,
		Now: h.Now, Progress: func(p importer.Progress) { h.desk.progress(token, p) }})
	if err != nil {
		var fe *importer.FileError
		if errors.As(err, &fe) {
			h.desk.finish(token, stageFailed, rep, fmt.Sprintf("Line %d: %s. Nothing was imported.", fe.Line, fe.Message))
			return
		}
		// The error may be the database's: logged without the file.
		h.Logger.Error("web import failed", "dry_run", dryRun, "error", err)
		h.desk.finish(token, stageFailed, rep, "The register did not answer while the file was read. Nothing more was imported: upload the file again to carry on (rows already imported are left as they are).")
		return
	}
	h.Logger.Info("web import step finished", "dry_run", dryRun, "rows", rep.Rows, "created", rep.Created, "failed", rep.Failed())
	h.desk.finish(token, stage, rep, "")
}

// jobPage is the progress, the dry run's report, or the import's result.
type jobPage struct {
	staffpage.Base
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

func (h *handlers) importJobPage(w http.ResponseWriter, r *http.Request, u login.User) error {
	j, ok := h.desk.snapshot(r.PathValue("token"), u.Subject)
	if !ok {
		return staffpage.ErrNotFound
	}
	return h.showJob(w, r, u, j, "")
}

func (h *handlers) showJob(w http.ResponseWriter, r *http.Request, u login.User, j importJob, notice string) error {
	title := map[importStage]string{
		stageChecking: "Checking the file", stageChecked: "Check the import", stageImporting: "Importing the register",
		stageImported: "Import finished", stageFailed: "The file could not be imported",
	}[j.Stage]
	p := jobPage{Base: h.Base(r, u, title, "dashboard"), Job: j, Notice: notice,
		Refresh:  r.URL.Query().Get("refresh") == "on" && (j.Stage == stageChecking || j.Stage == stageImporting),
		Problems: problemsOf(j.Report)}
	return htmlpage.Render(w, http.StatusOK, jobTemplate, p)
}

// problemsOf lists every row error and duplicate in line order, in the
// words of the command line's report.
func problemsOf(rep importer.Report) []importProblem {
	var out []importProblem
	for _, e := range rep.Errors {
		out = append(out, importProblem{Line: e.Line, Column: e.Column, Fix: staffpage.UpperFirst(e.Message)})
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
