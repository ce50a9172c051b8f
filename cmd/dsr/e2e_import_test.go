package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
	"github.com/dsr-register/dsr/internal/importer"
	"github.com/dsr-register/dsr/internal/logtest"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/workflows"
)

// importFile is a small register as a team keeps it: six people in several
// states, one row with a mistake, two rows that are one person.
func importFile(t *testing.T, today time.Time) string {
	t.Helper()
	d := func(daysAgo int) string { return today.AddDate(0, 0, -daysAgo).Format("02/01/2006") }
	rows := []string{
		"Name,Date of Birth,NHS Number,Postcode,Local Authority,Diagnoses,Current Rating,Last Reviewed,Consent Basis,Consent Given By,Consent Date,Assigned Coordinator,Notes",
		// 2: amber, reviewed 10 days ago, consent 100 days ago.
		"Ann Amber,1990-01-01,943 476 5919,ST4 1AA,Stoke-on-Trent,autism,amber," + d(10) + ",self,," + d(100) + ",alice,",
		// 3: green, review overdue, consent lapsing.
		"Gus Green,1985-03-04,,ST5 2BB,Stoke-on-Trent,learning disability,green," + d(200) + ",best interest,Dr Who," + d(350) + ",,",
		// 4: consent lapsed 10 days ago.
		"Lou Lapsed,1970-07-08,,ST6 3CC,Stoke-on-Trent,both,green," + d(30) + ",self,," + d(375) + ",,",
		// 5: red.
		"Rae Red,2000-09-10,,ST7 4DD,Stoke-on-Trent,autism,red," + d(2) + ",self,," + d(20) + ",,crisis plan in place",
		// 6: no consent yet.
		"Nat New,1995-11-12,,ST8 5EE,Stoke-on-Trent,autism,,,,,,,",
		// 7: a mistake: no such date.
		"Mo Mistake,31/02/1990,,ST9 6FF,Stoke-on-Trent,autism,,,,,,,",
		// 8 and 9: one person twice (short form, same date of birth).
		"Robert Twice,1980-01-02,,ST1 1GG,Stoke-on-Trent,autism,,,,,,,",
		"Bob Twice,1980-01-02,,ST1 1GG,Stoke-on-Trent,autism,,,,,,,",
		// 10: fine.
		"Pat Plain,1999-12-31,,ST2 2HH,Stoke-on-Trent,autism,amber," + d(5) + ",self,," + d(5) + ",,",
	}
	path := filepath.Join(t.TempDir(), "register.csv")
	if err := os.WriteFile(path, []byte(strings.Join(rows, "\r\n")+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// importCounts is what the record holds after an import.
type importCounts struct {
	people, imported, referrals, summaries, routinePrompts, alerts int
}

func countImport(t *testing.T, db *pgx.Conn) importCounts {
	t.Helper()
	var c importCounts
	err := db.QueryRow(context.Background(), `select
		(select count(*) from people),
		(select count(*) from audit_log where action = 'imported'),
		(select count(*) from referrals where channel = 'import'),
		(select count(*) from notification_outbox where payload->>'Event' = 'import_summary'),
		-- A red person's escalation (its alert and the actions it tracks)
		-- is told as usual; every other prompt of an import is quiet.
		(select count(*) from notification_outbox where payload->>'Event' = 'task_opened'
			and payload->>'TaskKind' not in ('escalation_alert', 'community_ctr', 'keyworker_referral', 'multi_agency_meeting')),
		(select count(*) from notification_outbox where payload->>'Event' = 'task_opened' and urgent)`,
	).Scan(&c.people, &c.imported, &c.referrals, &c.summaries, &c.routinePrompts, &c.alerts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEndToEndImport(t *testing.T) {
	s := startStack(t, nil)
	ctx := context.Background()
	lookup := envLookup(s.env)
	path := importFile(t, time.Now().UTC())
	db := devstacktest.Connect(t, s.env["DATABASE_URL"])

	runImport := func(args ...string) (string, error) {
		var out, errOut logtest.Buffer
		err := run(ctx, append([]string{"import"}, args...), lookup, &out, &errOut)
		t.Logf("dsr import %v: %v\n%s%s", args, err, out.String(), errOut.String())
		return out.String(), err
	}

	// Dry run: every failing row reported by line and column, what would be
	// created counted, nothing written, and a non-zero exit.
	out, err := runImport("--dry-run", path)
	if !errors.Is(err, errImportRows) {
		t.Fatalf("dry run with bad rows: want errImportRows, got %v", err)
	}
	for _, want := range []string{
		"would create 6 people", "line 7, Date of Birth:", "line 8: may be the same person as line 9",
		"line 9: may be the same person as line 8", "by colour: red 1, amber 2, green 2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run report lacks %q", want)
		}
	}
	if c := countImport(t, db); c.people != 0 || c.imported != 0 {
		t.Fatalf("a dry run wrote: %+v", c)
	}

	// A run stopped after two people (Ctrl-C), as the command would be.
	stopped := importWithCancel(t, s, path, 2)
	if !stopped.Interrupted {
		t.Fatalf("the cancelled run should say it stopped: %+v", stopped)
	}
	if c := countImport(t, db); c.people < 2 || c.people >= 6 {
		t.Fatalf("after a cancel at 2 rows: %+v", c)
	}

	// Run again: it carries on, creating nobody twice. Rows 7, 8 and 9 are
	// still reported, so the exit is non-zero.
	out, err = runImport(path)
	if !errors.Is(err, errImportRows) {
		t.Fatalf("resumed run: want errImportRows for the bad rows, got %v", err)
	}
	if !strings.Contains(out, "3 rows were not imported") {
		t.Errorf("resumed run report: %s", out)
	}
	after := countImport(t, db)
	want := importCounts{people: 6, imported: 6, referrals: 6, summaries: 1, routinePrompts: 0, alerts: 1}
	if after != want {
		t.Fatalf("after resuming: %+v, want %+v", after, want)
	}
	ids := importedPeople(t, db)
	for name, id := range ids {
		d, err := s.temporal.DescribeWorkflowExecution(ctx, workflows.PersonWorkflowID(id), "")
		if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			t.Errorf("%s: workflow not running: %v", name, err)
		}
	}

	// Each person in their current state.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	policy := configPolicy(t, lookup)
	checkPerson := func(name, stage, rating string, reviewDue time.Time, openKinds ...string) {
		t.Helper()
		var gotStage string
		var gotRating *string
		var due *time.Time
		var kinds []string
		err := db.QueryRow(ctx, `select stage, rating, next_review_due,
			coalesce((select array_agg(kind order by kind) from tasks where person_id = p.id and status = 'open'), '{}')
			from people p where id = $1`, ids[name]).Scan(&gotStage, &gotRating, &due, &kinds)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r := ""
		if gotRating != nil {
			r = *gotRating
		}
		if gotStage != stage || r != rating || strings.Join(kinds, ",") != strings.Join(openKinds, ",") {
			t.Errorf("%s: stage %s rating %s tasks %v; want %s %s %v", name, gotStage, r, kinds, stage, rating, openKinds)
		}
		if !reviewDue.IsZero() && (due == nil || !due.Equal(reviewDue)) {
			t.Errorf("%s: next review %v, want %v", name, due, reviewDue)
		}
	}
	checkPerson("Ann", "active", "amber", today.AddDate(0, 0, -10).Add(policy.ReviewEvery(register.Amber)), "amber_meeting")
	checkPerson("Gus", "active", "green", today.AddDate(0, 0, -200).Add(policy.ReviewEvery(register.Green)), "consent_renewal", "review_due")
	checkPerson("Lou", "consent_lapsed", "green", time.Time{}, "consent_lapsed")
	checkPerson("Rae", "active", "red", time.Time{}, "community_ctr", "escalation_alert", "multi_agency_meeting")
	checkPerson("Nat", "referred", "", time.Time{}, "consent_needed")

	// The import is one step of the person's history, not a replay.
	if n := len(s.history(ids["Ann"]).GetEvents()); n > 30 {
		t.Errorf("an imported person's history has %d events: the import should be one small step", n)
	}

	// Kept for the replay test: an import with overdue tasks, and a red one
	// starting its escalation.
	for name, file := range map[string]string{"Gus": "person_imported_overdue.json", "Rae": "person_imported_red.json"} {
		raw, err := protojson.Marshal(s.history(ids[name]))
		if err != nil {
			t.Fatal(err)
		}
		recordHistory(t, file, raw)
	}

	// A re-run of a finished import changes nothing.
	if _, err := runImport(path); !errors.Is(err, errImportRows) {
		t.Fatalf("re-run: %v", err)
	}
	if again := countImport(t, db); again != after {
		t.Errorf("a re-run changed the record: %+v, was %+v", again, after)
	}
}

// importWithCancel runs the import through importer.Run, as the command
// does, cancelling it once n rows are done (Ctrl-C).
func importWithCancel(t *testing.T, s *stack, path string, n int) importer.Report {
	t.Helper()
	deps := importDeps(t, s.env)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := importer.Run(ctx, f, deps,
		importer.Options{Concurrency: 1, Progress: func(p importer.Progress) {
			if p.Done >= n {
				cancel()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// importDeps connects to the stack serving with env with `dsr import`'s
// configuration (its database, not migrated again, and its Temporal
// client; no row timeout), for a test that calls importer.Run itself; the
// connections close when the test ends.
func importDeps(tb testing.TB, env map[string]string) importer.Deps {
	tb.Helper()
	cfg, err := loadConfig(context.Background(), envLookup(env))
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := importConnection(&cfg)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := store.Open(context.Background(), cfg.DatabaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(st.Close)
	tc, err := dialTemporal(context.Background(), cfg, keys, newLogger(cfg, os.Stderr), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(tc.Close)
	return importer.Deps{Store: st, Temporal: tc, TaskQueue: cfg.TaskQueue, Policy: cfg.Policy.Register()}
}

// importedPeople maps each imported person's given name to their ID.
func importedPeople(t *testing.T, db *pgx.Conn) map[string]int64 {
	t.Helper()
	rows, err := db.Query(context.Background(), `select given_name, id from people where import_key is not null`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var id int64
		if err := rows.Scan(&name, &id); err != nil {
			t.Fatal(err)
		}
		out[name] = id
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func configPolicy(t *testing.T, lookup func(string) (string, bool)) register.Policy {
	t.Helper()
	cfg, err := loadConfig(context.Background(), lookup)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Policy.Register()
}

// Beside `dsr dev` (no DATABASE_URL), import uses the stack dev noted in its
// state directory, and dev's payload key; with neither it says what to set.
func TestImportFindsTheDevStack(t *testing.T) {
	dir := t.TempDir()
	lookup := func(k string) (string, bool) {
		if k == "DSR_STATE_DIR" {
			return dir, true
		}
		return "", false
	}
	cfg, err := loadConfig(context.Background(), lookup)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := importConnection(&cfg); err == nil || !strings.Contains(err.Error(), "DATABASE_URL is not set and no dsr dev is running") {
		t.Fatalf("no dev running: want a message naming DATABASE_URL, got %v", err)
	}
	cfg.DatabaseURL, cfg.TemporalAddress = "postgres://dev/dsr?host=/sock", "127.0.0.1:7299"
	if err := writeDevStack(dir, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := devPayloadKeys(cfg, dir); err != nil { // dev makes its key file
		t.Fatal(err)
	}
	cfg, _ = loadConfig(context.Background(), lookup)
	keys, err := importConnection(&cfg)
	if err != nil || len(keys) != 1 || cfg.DatabaseURL != "postgres://dev/dsr?host=/sock" || cfg.TemporalAddress != "127.0.0.1:7299" {
		t.Fatalf("beside dev: keys %d, database %q, temporal %q, err %v", len(keys), cfg.DatabaseURL, cfg.TemporalAddress, err)
	}
}
