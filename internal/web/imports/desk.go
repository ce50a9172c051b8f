package imports

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dsr-register/dsr/internal/importer"
	"github.com/dsr-register/dsr/internal/login"
)

// MaxFile is the largest register accepted: a 50,000-row register
// is about 10 MB.
const MaxFile = 20 << 20

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

// importDesk holds the uploads of this server, between their check and their
// import.
type importDesk struct {
	dir string

	mu   sync.Mutex
	jobs map[string]*importJob
	// busy is the token of the step running now, if any.
	busy string
}

// newImportDesk keeps uploads in dir (default: dsr-imports in the system's temp
// dir).
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
	n, err := io.Copy(f, io.LimitReader(src, MaxFile+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		_ = os.Remove(path)
		return nil, fmt.Errorf("keeping the upload: %w", err)
	case n > MaxFile:
		_ = os.Remove(path)
		return nil, errFileTooLarge
	case n == 0:
		_ = os.Remove(path)
		return nil, errFileEmpty
	}
	j := &importJob{Token: token, Owner: u.Subject, Actor: u.AuditName(), path: path, Stage: stageChecked, touched: time.Now()}
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
