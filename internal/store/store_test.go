package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/register/registertest"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/store/storetest"
)

// cluster is shared by every test in the package; each test gets a
// database of its own in it, because the audit log cannot be truncated
// between tests — by design.
var cluster = storetest.NewCluster("store_test")

func TestMain(m *testing.M) { os.Exit(cluster.Run(m)) }

// newStore opens a migrated store on a fresh database, and a plain
// connection to it for checks the store's API does not offer.
func newStore(t testing.TB) (*store.Store, *pgx.Conn) {
	t.Helper()
	s, dbURL := cluster.Migrated(t)
	return s, devstacktest.Connect(t, dbURL)
}

// newStoreWithReferral is newStore with one person referred at t0
// (refer): where the tests of a person's record start.
func newStoreWithReferral(t testing.TB) (*store.Store, *pgx.Conn, store.ReferralReceipt) {
	t.Helper()
	s, c := newStore(t)
	return s, c, refer(t, s, t0)
}

func count(t testing.TB, c *pgx.Conn, query string, args ...any) int {
	t.Helper()
	var n int
	if err := c.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// nhsNumbers keeps the store's tests to NHS numbers from 400 000 001 up.
var nhsNumbers = registertest.NHSNumbersAfter(400_000_000)

// nhsNumber returns a fresh, valid NHS number.
func nhsNumber() string { return nhsNumbers.Next() }

var t0 = time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func referral(nhs, given, family string) register.Referral {
	return register.Referral{
		Person: register.Person{GivenName: given, FamilyName: family, DateOfBirth: date(2001, 2, 3), NHSNumber: nhs,
			Diagnoses: []register.Diagnosis{register.Autism, register.LearningDisability}, LocalAuthority: "Staffordshire", Postcode: "ST16 1AA"},
		Referrer: register.Referrer{Kind: register.ReferrerProfessional, Name: "Sam Carter", Organisation: "CLDT", Email: "sam@example.nhs.uk"},
		Channel:  register.ChannelEmail,
		Reason:   "escalating crisis at home",
	}
}

// refer records a referral for a new person and returns the receipt.
func refer(t testing.TB, s *store.Store, at time.Time) store.ReferralReceipt {
	t.Helper()
	rc, err := s.CreateReferral(context.Background(), store.NewReferral{
		Referral: referral(nhsNumber(), "Ada", "Lovelace"), Actor: "coordinator:jo", ReceivedAt: at,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func record(t testing.TB, s *store.Store, c register.Change) map[string]int64 {
	t.Helper()
	ids, err := s.RecordChange(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestOpenRefusesBadURLWithoutEchoingIt(t *testing.T) {
	t.Parallel()
	_, err := store.Open(context.Background(), "postgres://u:s3cret@%zz/db")
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "cannot be parsed") {
		t.Fatalf("got %v", err)
	}
}

func TestMigrateIsIdempotentAndSerialised(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := cluster.Database(t)
	s, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Several replicas starting at once: the advisory lock makes one apply
	// and the others find nothing to do.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- s.Migrate(ctx) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	c := devstacktest.Connect(t, dbURL)
	if n := count(t, c, "select count(*) from schema_migrations where version = 1 and name = '0001_initial.sql'"); n != 1 {
		t.Fatalf("schema_migrations has %d rows for 0001", n)
	}
	files, _ := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if n := count(t, c, "select count(*) from schema_migrations"); n != len(files) {
		t.Fatalf("schema_migrations has %d rows, want one per migration (%d)", n, len(files))
	}
	// People are numbered from 1001, so a register reference never looks
	// like a small test number.
	rc := refer(t, s, t0)
	if rc.PersonID != 1001 {
		t.Fatalf("first person ID = %d, want 1001", rc.PersonID)
	}
}

func TestCreateReferral(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := newStore(t)
	nhs := nhsNumber()

	first, err := s.CreateReferral(ctx, store.NewReferral{
		Referral: referral(nhs, "Ada", "Lovelace"), Actor: "coordinator:jo", ReceivedAt: t0, IdempotencyKey: "k-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if first.Existing || first.Replayed || first.PersonID == 0 || first.ReferralID == 0 ||
		first.Stage != register.Referred || first.ProjectionSeq != 0 || !first.DateOfBirth.Equal(date(2001, 2, 3)) {
		t.Fatalf("new person receipt: %+v", first)
	}
	p, err := s.Person(ctx, first.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if p.NHSNumber != nhs || p.GivenName != "Ada" || p.Postcode != "ST16 1AA" || len(p.Diagnoses) != 2 ||
		p.Stage != register.Referred || p.Rating != "" || p.RatedAt != nil || p.ProjectionSeq != 0 {
		t.Fatalf("stored person: %+v", p)
	}
	hist, err := s.History(ctx, first.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Action != "referral_received" || hist[0].Actor != "coordinator:jo" ||
		!hist[0].At.Equal(t0) || hist[0].Detail["referral_id"] != fmt.Sprint(first.ReferralID) || hist[0].Detail["existing"] != "false" {
		t.Fatalf("audit: %+v", hist)
	}

	// The same NHS number again, the name spelt differently only in case
	// and spacing: the same person, a new referral, and the recorded
	// details are not overwritten. (Other names or another date of birth
	// are held for an identity check: identity_test.go.)
	again := referral(nhs, " ADA", "love lace")
	again.Channel = register.ChannelPhone
	second, err := s.CreateReferral(ctx, store.NewReferral{Referral: again, Actor: "coordinator:max", ReceivedAt: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !second.Existing || second.Replayed || second.PersonID != first.PersonID || second.ReferralID == first.ReferralID ||
		!second.DateOfBirth.Equal(date(2001, 2, 3)) {
		t.Fatalf("re-referral receipt: %+v (first %+v)", second, first)
	}
	if p2, _ := s.Person(ctx, first.PersonID); p2.GivenName != "Ada" || p2.FamilyName != "Lovelace" || !p2.DateOfBirth.Equal(date(2001, 2, 3)) {
		t.Fatalf("existing person's details were overwritten: %+v", p2)
	}
	refs, err := s.Referrals(ctx, first.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 || refs[0].IdempotencyKey != "k-1" || refs[1].Channel != register.ChannelPhone ||
		refs[1].ReceivedBy != "coordinator:max" || refs[0].ReferrerOrganisation != "CLDT" || refs[0].AcceptedAt != nil {
		t.Fatalf("referrals: %+v", refs)
	}

	// A retry under the first key: the first receipt, nothing inserted.
	before := count(t, c, "select count(*) from referrals") + count(t, c, "select count(*) from audit_log") + count(t, c, "select count(*) from people")
	replay, err := s.CreateReferral(ctx, store.NewReferral{
		Referral: referral(nhs, "Ada", "Lovelace"), Actor: "coordinator:jo", ReceivedAt: t0.Add(2 * time.Hour), IdempotencyKey: "k-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !replay.Replayed || replay.Existing || replay.PersonID != first.PersonID || replay.ReferralID != first.ReferralID {
		t.Fatalf("replay receipt: %+v, first %+v", replay, first)
	}
	after := count(t, c, "select count(*) from referrals") + count(t, c, "select count(*) from audit_log") + count(t, c, "select count(*) from people")
	if after != before {
		t.Fatalf("replay inserted rows: %d before, %d after", before, after)
	}

	// The key reused for someone else is an error, not a silent replay.
	_, err = s.CreateReferral(ctx, store.NewReferral{Referral: referral(nhsNumber(), "Bo", "Diddley"), Actor: "api", IdempotencyKey: "k-1"})
	if !errors.Is(err, store.ErrIdempotencyKeyReused) {
		t.Fatalf("reused key: got %v", err)
	}

	// Not normalised or no actor: refused before touching the database.
	if _, err := s.CreateReferral(ctx, store.NewReferral{Referral: referral("943 476 5919", "A", "B"), Actor: "x"}); err == nil {
		t.Fatal("unnormalised NHS number accepted")
	}
	if _, err := s.CreateReferral(ctx, store.NewReferral{Referral: referral(nhsNumber(), "A", "B")}); err == nil {
		t.Fatal("referral without actor accepted")
	}
}

func TestCreateReferralConcurrentSameKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := newStore(t)
	nhs := nhsNumber()
	const n = 6
	var wg sync.WaitGroup
	receipts := make([]store.ReferralReceipt, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			receipts[i], errs[i] = s.CreateReferral(ctx, store.NewReferral{
				Referral: referral(nhs, "Ada", "Lovelace"), Actor: "portal", ReceivedAt: t0, IdempotencyKey: "double-click",
			})
		}()
	}
	wg.Wait()
	replayed := 0
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("submission %d: %v", i, errs[i])
		}
		if receipts[i].ReferralID != receipts[0].ReferralID || receipts[i].PersonID != receipts[0].PersonID {
			t.Fatalf("receipts differ: %+v vs %+v", receipts[i], receipts[0])
		}
		if receipts[i].Replayed {
			replayed++
		}
	}
	if replayed != n-1 {
		t.Fatalf("%d of %d receipts were replays, want %d", replayed, n, n-1)
	}
	if got := count(t, c, "select count(*) from referrals") + count(t, c, "select count(*) from people"); got != 2 {
		t.Fatalf("want one person and one referral, got %d rows", got)
	}
}

// acceptChange is the first change a workflow records for a new referral.
func acceptChange(rc store.ReferralReceipt, seq int64, at time.Time) register.Change {
	key := fmt.Sprintf("%d-%d-%s", rc.PersonID, seq, register.TaskConsentNeeded)
	return register.Change{
		PersonID: rc.PersonID, Seq: seq, At: at, Actor: "coordinator:jo", Action: "referral_accepted",
		Detail:           map[string]string{"referral_id": fmt.Sprint(rc.ReferralID), "stage_from": "none"},
		Snapshot:         register.Snapshot{Stage: register.Referred},
		AcceptReferralID: rc.ReferralID,
		Open: []register.TaskOpen{{Key: key, Kind: register.TaskConsentNeeded, DueAt: at.Add(28 * 24 * time.Hour),
			Actions: []register.Action{register.ActionRecordConsent, register.ActionCloseReferral}}},
	}
}

// openConsentTask records rc's referral taken in at at (acceptChange),
// which opens the person's consent task, and returns the change and the
// task's ID.
func openConsentTask(t testing.TB, s *store.Store, rc store.ReferralReceipt, at time.Time) (register.Change, int64) {
	t.Helper()
	accept := acceptChange(rc, 1, at)
	ids := record(t, s, accept)
	id := ids[accept.Open[0].Key]
	if id == 0 {
		t.Fatalf("no ID for opened task: %v", ids)
	}
	return accept, id
}

func TestRecordChangeTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c, rc := newStoreWithReferral(t)
	ch := acceptChange(rc, 1, t0.Add(time.Second))
	key := ch.Open[0].Key

	snapshot := func() string {
		var out string
		if err := c.QueryRow(ctx, `select
			(select count(*) from audit_log)::text || '|' ||
			(select string_agg(concat_ws(',', id, task_key, status, reminders, last_reminded_at, closed_at, closed_by, outcome), ';' order by id) from tasks) || '|' ||
			(select concat_ws(',', stage, rating, projection_seq, updated_at) from people where id = $1) || '|' ||
			(select string_agg(concat_ws(',', id, accepted_at), ';' order by id) from referrals)`, rc.PersonID).Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}

	steps := []register.Change{
		ch,
		// Consent recorded: active, the consent task done, a review task opened.
		{PersonID: rc.PersonID, Seq: 2, At: t0.Add(time.Hour), Actor: "coordinator:jo", Action: "consent_recorded",
			Detail:   map[string]string{"basis": "self", "stage_from": "referred"},
			Snapshot: register.Snapshot{Stage: register.Active, ConsentBasis: register.ConsentSelf, ConsentDecidedOn: date(2026, 11, 24), ConsentExpiresAt: t0.AddDate(1, 0, 0)},
			Close:    []register.TaskClose{{Key: key, Status: register.TaskStatusDone, Outcome: "consent recorded (self)"}},
			Open:     []register.TaskOpen{{Key: fmt.Sprintf("%d-2-review_due", rc.PersonID), Kind: register.TaskReviewDue, DueAt: t0.Add(48 * time.Hour), Actions: []register.Action{register.ActionRate}}}},
		// A chaser for the review task.
		{PersonID: rc.PersonID, Seq: 3, At: t0.Add(72 * time.Hour), Actor: "dsr:timer", Action: "tasks_chased",
			Detail:   map[string]string{"tasks": "1"},
			Snapshot: register.Snapshot{Stage: register.Active, ConsentBasis: register.ConsentSelf, ConsentDecidedOn: date(2026, 11, 24), ConsentExpiresAt: t0.AddDate(1, 0, 0)},
			Remind:   []string{fmt.Sprintf("%d-2-review_due", rc.PersonID)}},
		// A projection-only change (policy moved a date): no audit entry.
		{PersonID: rc.PersonID, Seq: 4, At: t0.Add(73 * time.Hour), Actor: "dsr:timer",
			Snapshot: register.Snapshot{Stage: register.Active, ConsentBasis: register.ConsentSelf, ConsentDecidedOn: date(2026, 11, 24), ConsentExpiresAt: t0.AddDate(2, 0, 0)}},
	}
	for _, step := range steps {
		ids1 := record(t, s, step)
		want := snapshot()
		ids2 := record(t, s, step) // the activity retried
		if got := snapshot(); got != want {
			t.Fatalf("seq %d applied twice changed the record:\nonce:  %s\ntwice: %s", step.Seq, want, got)
		}
		if fmt.Sprint(ids1) != fmt.Sprint(ids2) {
			t.Fatalf("seq %d: IDs differ on retry: %v vs %v", step.Seq, ids1, ids2)
		}
		if n := len(step.Open) + len(step.Close) + len(step.Remind); len(ids1) != n {
			t.Fatalf("seq %d: IDs for %d keys, want %d: %v", step.Seq, len(ids1), n, ids1)
		}
	}
	// Replaying the chaser after later changes still counts it once.
	record(t, s, steps[2])
	if n := count(t, c, "select reminders from tasks where kind = 'review_due'"); n != 1 {
		t.Fatalf("reminders = %d after replays, want 1", n)
	}
	if n := count(t, c, "select count(*) from audit_log where person_id = $1", rc.PersonID); n != 4 {
		t.Fatalf("audit entries = %d, want 4 (received, accepted, consent, chased)", n)
	}
	p, err := s.Person(ctx, rc.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if p.ProjectionSeq != 4 || p.Stage != register.Active || !p.ConsentExpiresAt.Equal(t0.AddDate(2, 0, 0)) ||
		!p.Snapshot().Equal(steps[3].Snapshot) || !p.UpdatedAt.Equal(steps[3].At) {
		t.Fatalf("projection: %+v", p)
	}
	hist, _ := s.History(ctx, rc.PersonID)
	if hist[1].EventKey != fmt.Sprintf("%d-1", rc.PersonID) || !hist[1].At.Equal(steps[0].At) || hist[1].Detail["stage_from"] != "none" {
		t.Fatalf("audit entry for seq 1: %+v", hist[1])
	}
}

func TestOlderChangeDoesNotOverwriteProjection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c, rc := newStoreWithReferral(t)

	rated := register.Snapshot{Stage: register.Active, Rating: register.Red, RatedAt: t0.Add(2 * time.Hour), NextReviewDue: t0.Add(7 * 24 * time.Hour)}
	record(t, s, register.Change{PersonID: rc.PersonID, Seq: 5, At: t0.Add(2 * time.Hour), Actor: "coordinator:jo", Action: "rated",
		Detail: map[string]string{"from": "", "to": "red", "rationale": "crisis"}, Snapshot: rated})

	// A late, older change: audited (it happened), but the projection stays.
	record(t, s, register.Change{PersonID: rc.PersonID, Seq: 4, At: t0.Add(time.Hour), Actor: "coordinator:jo", Action: "consent_recorded",
		Snapshot: register.Snapshot{Stage: register.Active, ConsentBasis: register.ConsentSelf}})
	// An older projection-only change: nothing at all.
	record(t, s, register.Change{PersonID: rc.PersonID, Seq: 3, At: t0.Add(time.Minute), Actor: "dsr:timer",
		Snapshot: register.Snapshot{Stage: register.Referred}})
	// The same seq again with a different snapshot: still the first wins.
	record(t, s, register.Change{PersonID: rc.PersonID, Seq: 5, At: t0.Add(3 * time.Hour), Actor: "coordinator:jo", Action: "rated",
		Snapshot: register.Snapshot{Stage: register.Active, Rating: register.Green}})

	p, err := s.Person(ctx, rc.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if p.ProjectionSeq != 5 || !p.Snapshot().Equal(rated) || p.ConsentBasis != "" {
		t.Fatalf("projection overwritten by an older change: %+v", p)
	}
	if n := count(t, c, "select count(*) from audit_log where person_id = $1", rc.PersonID); n != 3 {
		t.Fatalf("audit entries = %d, want 3 (received, rated, late consent)", n)
	}
	ratings, err := s.RatingHistory(ctx, rc.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ratings) != 1 || ratings[0].Detail["to"] != "red" || ratings[0].Detail["rationale"] != "crisis" {
		t.Fatalf("rating history: %+v", ratings)
	}
	record(t, s, register.Change{PersonID: rc.PersonID, Seq: 6, At: t0.Add(4 * time.Hour), Actor: "coordinator:max", Action: "review_confirmed",
		Detail: map[string]string{"rating": "red", "notes": "no change"}, Snapshot: rated})
	record(t, s, register.Change{PersonID: rc.PersonID, Seq: 7, At: t0.Add(5 * time.Hour), Actor: "coordinator:max", Action: "note_added", Snapshot: rated})
	ratings, _ = s.RatingHistory(ctx, rc.PersonID)
	if len(ratings) != 2 || ratings[1].Action != "review_confirmed" || ratings[1].Actor != "coordinator:max" || ratings[1].Detail["rating"] != "red" {
		t.Fatalf("rating history: %+v", ratings)
	}
}

func TestTasksOpenCloseRemind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, rc := newStoreWithReferral(t)
	open, id := openConsentTask(t, s, rc, t0.Add(time.Second))
	key := open.Open[0].Key
	task, err := s.Task(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if task.Key != key || task.PersonID != rc.PersonID || task.Kind != register.TaskConsentNeeded || task.Status != register.TaskStatusOpen ||
		!task.OpenedAt.Equal(open.At) || !task.DueAt.Equal(open.Open[0].DueAt) || len(task.Actions) != 2 ||
		task.Actions[0] != register.ActionRecordConsent || task.ClosedAt != nil || task.Reminders != 0 || task.LastRemindedAt != nil {
		t.Fatalf("opened task: %+v", task)
	}

	snap := register.Snapshot{Stage: register.Referred}
	remind := func(seq int64, at time.Time) {
		ids := record(t, s, register.Change{PersonID: rc.PersonID, Seq: seq, At: at, Actor: "dsr:timer", Action: "tasks_chased", Snapshot: snap, Remind: []string{key}})
		if ids[key] != id {
			t.Fatalf("reminder IDs: %v", ids)
		}
	}
	r1 := t0.Add(3 * 24 * time.Hour).Add(123456 * time.Nanosecond) // sub-microsecond: stored to the microsecond
	remind(2, r1)
	remind(2, r1)
	remind(3, t0.Add(6*24*time.Hour))
	task, _ = s.Task(ctx, id)
	if task.Reminders != 2 || !task.LastRemindedAt.Equal(t0.Add(6*24*time.Hour)) {
		t.Fatalf("after two reminders (one retried): %+v", task)
	}

	closeAt := t0.Add(7 * 24 * time.Hour)
	ids := record(t, s, register.Change{PersonID: rc.PersonID, Seq: 4, At: closeAt, Actor: "coordinator:jo", Action: "consent_recorded",
		Snapshot: register.Snapshot{Stage: register.Active},
		Close:    []register.TaskClose{{Key: key, Status: register.TaskStatusDone, Outcome: "consent recorded (self)"}}})
	if ids[key] != id {
		t.Fatalf("close IDs: %v", ids)
	}
	// A later change cannot close it again with a different outcome.
	record(t, s, register.Change{PersonID: rc.PersonID, Seq: 5, At: closeAt.Add(time.Hour), Actor: "coordinator:max", Action: "removed",
		Snapshot: register.Snapshot{Stage: register.Removed, RemovalReason: register.RemovedOther, RemovedAt: closeAt.Add(time.Hour)},
		Close:    []register.TaskClose{{Key: key, Status: register.TaskStatusCancelled, Outcome: "removed"}}})
	task, _ = s.Task(ctx, id)
	if task.Status != register.TaskStatusDone || task.Outcome != "consent recorded (self)" || task.ClosedBy != "coordinator:jo" ||
		!task.ClosedAt.Equal(closeAt) || task.Overdue {
		t.Fatalf("closed task: %+v", task)
	}

	// A change naming a task that does not exist is an error, and writes nothing.
	refusedForUnknownTask(t, s, register.Change{PersonID: rc.PersonID, Seq: 6, At: closeAt, Actor: "x", Action: "y",
		Snapshot: register.Snapshot{Stage: register.Removed}, Remind: []string{"no-such-task"}}, 5)
	if _, err := s.Task(ctx, id+1000); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing task: %v", err)
	}
}

// refusedForUnknownTask records c, which names "no-such-task", a task the
// person does not have, and checks that it is refused, naming the task, and
// that nothing was written: the projection still stands at seq.
func refusedForUnknownTask(t *testing.T, s *store.Store, c register.Change, seq int64) {
	t.Helper()
	_, err := s.RecordChange(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "no-such-task") {
		t.Fatalf("a change naming a task that does not exist: %v", err)
	}
	if p, _ := s.Person(context.Background(), c.PersonID); p.ProjectionSeq != seq {
		t.Fatalf("failed change was partly written: %+v", p)
	}
}

func TestRecordChangeRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, rc := newStoreWithReferral(t)
	other := refer(t, s, t0)
	if _, err := s.RecordChange(ctx, register.Change{PersonID: 999999, Seq: 1, At: t0, Actor: "x", Action: "y",
		Snapshot: register.Snapshot{Stage: register.Referred}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown person: %v", err)
	}
	for name, c := range map[string]register.Change{
		"no seq":      {PersonID: rc.PersonID, At: t0, Snapshot: register.Snapshot{Stage: register.Referred}},
		"no time":     {PersonID: rc.PersonID, Seq: 1, Snapshot: register.Snapshot{Stage: register.Referred}},
		"no stage":    {PersonID: rc.PersonID, Seq: 1, At: t0},
		"bad rating":  {PersonID: rc.PersonID, Seq: 1, At: t0, Snapshot: register.Snapshot{Stage: register.Active, Rating: "purple"}},
		"no actor":    {PersonID: rc.PersonID, Seq: 1, At: t0, Action: "rated", Snapshot: register.Snapshot{Stage: register.Active}},
		"close open":  {PersonID: rc.PersonID, Seq: 1, At: t0, Snapshot: register.Snapshot{Stage: register.Active}, Close: []register.TaskClose{{Key: "k", Status: register.TaskStatusOpen}}},
		"other's ref": {PersonID: rc.PersonID, Seq: 1, At: t0, Actor: "x", Action: "y", Snapshot: register.Snapshot{Stage: register.Referred}, AcceptReferralID: other.ReferralID},
	} {
		if _, err := s.RecordChange(ctx, c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if p, _ := s.Person(ctx, rc.PersonID); p.ProjectionSeq != 0 {
		t.Fatalf("a refused change was written: %+v", p)
	}
}

func TestPendingReferrals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	a := refer(t, s, t0)
	b := refer(t, s, t0.Add(time.Minute))

	pending, err := s.PendingReferrals(ctx, t0.Add(30*time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].ReferralID != a.ReferralID || pending[0].PersonID != a.PersonID ||
		pending[0].ReceivedBy != "coordinator:jo" || !pending[0].DateOfBirth.Equal(date(2001, 2, 3)) || !pending[0].ReceivedAt.Equal(t0) {
		t.Fatalf("pending before the cut-off: %+v", pending)
	}
	if pending, _ = s.PendingReferrals(ctx, t0.Add(time.Hour), 1); len(pending) != 1 {
		t.Fatalf("limit not applied: %+v", pending)
	}

	acceptAt := t0.Add(2 * time.Minute)
	record(t, s, acceptChange(a, 1, acceptAt))
	pending, _ = s.PendingReferrals(ctx, t0.Add(time.Hour), 10)
	if len(pending) != 1 || pending[0].ReferralID != b.ReferralID {
		t.Fatalf("pending after accepting a: %+v", pending)
	}
	refs, _ := s.Referrals(ctx, a.PersonID)
	if refs[0].AcceptedAt == nil || !refs[0].AcceptedAt.Equal(acceptAt) {
		t.Fatalf("accepted_at: %+v", refs[0])
	}

	// A re-referral of a known person is pending until the workflow takes
	// it in, and carries the projection's seq so numbering continues.
	again, err := s.CreateReferral(ctx, store.NewReferral{Referral: referral(mustNHS(t, s, a.PersonID), "Ada", "Lovelace"), Actor: "portal", ReceivedAt: t0.Add(3 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Existing || again.ProjectionSeq != 1 {
		t.Fatalf("re-referral receipt: %+v", again)
	}
	pending, _ = s.PendingReferrals(ctx, t0.Add(time.Hour), 10)
	if len(pending) != 2 || pending[1].ReferralID != again.ReferralID || pending[1].ProjectionSeq != 1 || pending[1].ReceivedBy != "portal" {
		t.Fatalf("pending with re-referral: %+v", pending)
	}
	record(t, s, register.Change{PersonID: a.PersonID, Seq: 2, At: t0.Add(4 * time.Minute), Actor: "portal", Action: "re_referred",
		Snapshot: register.Snapshot{Stage: register.Referred}, AcceptReferralID: again.ReferralID})
	pending, _ = s.PendingReferrals(ctx, t0.Add(time.Hour), 10)
	if len(pending) != 1 || pending[0].ReferralID != b.ReferralID {
		t.Fatalf("pending after re-referral accepted: %+v", pending)
	}
}

func mustNHS(t testing.TB, s *store.Store, id int64) string {
	p, err := s.Person(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p.NHSNumber
}

func TestListPeopleAndTasks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	now := t0.Add(10 * 24 * time.Hour)

	// referred: just referred, consent task due in 28 days.
	referred := refer(t, s, t0)
	record(t, s, acceptChange(referred, 1, t0))
	// red: active, review was due yesterday (overdue), a review task overdue.
	red := refer(t, s, t0)
	record(t, s, acceptChange(red, 1, t0))
	reviewKey := fmt.Sprintf("%d-2-review_due", red.PersonID)
	record(t, s, register.Change{PersonID: red.PersonID, Seq: 2, At: t0.Add(time.Hour), Actor: "jo", Action: "rated",
		Snapshot: register.Snapshot{Stage: register.Active, Rating: register.Red, RatedAt: t0.Add(time.Hour), NextReviewDue: now.Add(-24 * time.Hour), ConsentExpiresAt: t0.AddDate(1, 0, 0)},
		Close:    []register.TaskClose{{Key: fmt.Sprintf("%d-1-consent_needed", red.PersonID), Status: register.TaskStatusDone, Outcome: "ok"}},
		Open:     []register.TaskOpen{{Key: reviewKey, Kind: register.TaskReviewDue, DueAt: now.Add(-24 * time.Hour), Actions: []register.Action{register.ActionConfirmRating}}}})
	// green: active, review due next month.
	green := refer(t, s, t0)
	record(t, s, register.Change{PersonID: green.PersonID, Seq: 1, At: t0, Actor: "jo", Action: "rated",
		Snapshot: register.Snapshot{Stage: register.Active, Rating: register.Green, NextReviewDue: now.AddDate(0, 1, 0)}})
	// removed: was red, review date stale, but removed people are never overdue.
	removed := refer(t, s, t0)
	record(t, s, register.Change{PersonID: removed.PersonID, Seq: 1, At: t0, Actor: "jo", Action: "removed",
		Snapshot: register.Snapshot{Stage: register.Removed, Rating: register.Red, NextReviewDue: now.Add(-48 * time.Hour), RemovalReason: register.RemovedDeceased, RemovedAt: t0}})

	all, err := s.ListPeople(ctx, store.PeopleFilter{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 || all[0].ID != referred.PersonID || all[3].ID != removed.PersonID {
		t.Fatalf("all people: %+v", all)
	}
	byID := map[int64]store.PersonSummary{}
	for _, p := range all {
		byID[p.ID] = p
		if p.Initials != "AL" {
			t.Errorf("initials %q", p.Initials)
		}
	}
	if p := byID[red.PersonID]; !p.ReviewOverdue || p.OpenTasks != 1 || p.Rating != register.Red || p.ConsentExpiresAt == nil || !p.NextReviewDue.Equal(now.Add(-24*time.Hour)) {
		t.Errorf("red: %+v", p)
	}
	if p := byID[green.PersonID]; p.ReviewOverdue || p.OpenTasks != 0 {
		t.Errorf("green: %+v", p)
	}
	if p := byID[removed.PersonID]; p.ReviewOverdue {
		t.Errorf("removed person reported overdue: %+v", p)
	}
	if p := byID[referred.PersonID]; p.OpenTasks != 1 || p.Rating != "" || p.NextReviewDue != nil || p.Stage != register.Referred {
		t.Errorf("referred: %+v", p)
	}
	// Judged against an earlier Now, the red review is not yet overdue.
	if early, _ := s.ListPeople(ctx, store.PeopleFilter{Rating: "red", Stage: "active", Now: t0}); len(early) != 1 || early[0].ReviewOverdue {
		t.Errorf("red at t0: %+v", early)
	}
	for _, tc := range []struct {
		f    store.PeopleFilter
		want []int64
	}{
		{store.PeopleFilter{Rating: "red"}, []int64{red.PersonID, removed.PersonID}},
		{store.PeopleFilter{Stage: "active"}, []int64{red.PersonID, green.PersonID}},
		{store.PeopleFilter{Rating: "red", Stage: "removed"}, []int64{removed.PersonID}},
		{store.PeopleFilter{Rating: "amber"}, nil},
	} {
		got, err := s.ListPeople(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, p := range got {
			ids = append(ids, p.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
			t.Errorf("filter %+v: got %v, want %v", tc.f, ids, tc.want)
		}
	}
	var fe register.FieldErrors
	if _, err := s.ListPeople(ctx, store.PeopleFilter{Rating: "purple", Stage: "gone"}); !errors.As(err, &fe) || fe["rating"] == "" || fe["stage"] == "" {
		t.Errorf("bad filter: %v", err)
	}

	// Tasks: the referred person's consent task (due t0+28d, not overdue),
	// the red person's closed consent task, and their overdue review.
	tasks, err := s.ListTasks(ctx, store.TaskFilter{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 3 || tasks[0].Key != reviewKey || !tasks[0].Overdue {
		t.Fatalf("all tasks, soonest due first: %+v", tasks)
	}
	if tasks[1].DueAt.After(*tasks[2].DueAt) || (tasks[1].DueAt.Equal(*tasks[2].DueAt) && tasks[1].ID > tasks[2].ID) {
		t.Errorf("tasks not ordered by due_at, id: %+v", tasks)
	}
	open, _ := s.ListTasks(ctx, store.TaskFilter{Status: "open", Now: now})
	if len(open) != 2 || open[0].Key != reviewKey || open[1].PersonID != referred.PersonID || open[1].Overdue {
		t.Errorf("open tasks: %+v", open)
	}
	done, _ := s.ListTasks(ctx, store.TaskFilter{Status: "done", PersonID: red.PersonID, Now: now.AddDate(1, 0, 0)})
	if len(done) != 1 || done[0].Kind != register.TaskConsentNeeded || done[0].Overdue || done[0].ClosedBy != "jo" {
		t.Errorf("done tasks for red (closed tasks are never overdue): %+v", done)
	}
	mine, _ := s.ListTasks(ctx, store.TaskFilter{PersonID: referred.PersonID, Now: now.AddDate(1, 0, 0)})
	if len(mine) != 1 || !mine[0].Overdue {
		t.Errorf("referred person's task a year on: %+v", mine)
	}
	if none, _ := s.ListTasks(ctx, store.TaskFilter{PersonID: green.PersonID}); len(none) != 0 {
		t.Errorf("green has no tasks: %+v", none)
	}
	if _, err := s.ListTasks(ctx, store.TaskFilter{Status: "pending"}); !errors.As(err, &fe) || fe["status"] == "" {
		t.Errorf("bad status filter: %v", err)
	}
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c, rc := newStoreWithReferral(t)
	if err := s.AuditAppend(ctx, "manager:kim", "report_exported", 0, map[string]string{"report": "monthly"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AuditAppend(ctx, "coordinator:jo", "record_viewed", rc.PersonID, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AuditAppend(ctx, "", "x", 0, nil); err == nil {
		t.Fatal("audit without actor accepted")
	}
	hist, err := s.History(ctx, rc.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[1].Action != "record_viewed" || hist[1].Detail == nil || hist[0].ID >= hist[1].ID {
		t.Fatalf("history: %+v", hist)
	}

	before := count(t, c, "select count(*) from audit_log")
	for _, stmt := range []string{
		"update audit_log set actor = 'someone else'",
		"update audit_log set detail = '{}' where action = 'report_exported'",
		"delete from audit_log",
		fmt.Sprintf("delete from audit_log where person_id = %d", rc.PersonID),
		"truncate audit_log",
		"truncate audit_log cascade",
	} {
		_, err := c.Exec(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "audit_log is append-only") {
			t.Errorf("%s: got %v, want the append-only error", stmt, err)
		}
	}
	if after := count(t, c, "select count(*) from audit_log"); after != before {
		t.Fatalf("audit rows %d → %d", before, after)
	}
	if n := count(t, c, "select count(*) from audit_log where actor = 'someone else'"); n != 0 {
		t.Fatal("an audit entry was rewritten")
	}
}

func TestPersonNotFound(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	if _, err := s.Person(context.Background(), 424242); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("got %v", err)
	}
	if h, err := s.History(context.Background(), 424242); err != nil || len(h) != 0 {
		t.Fatalf("history of no one: %v %v", h, err)
	}
}

// BenchmarkRecordChange measures one audited change that opens a task, the
// commonest write a workflow makes.
func BenchmarkRecordChange(b *testing.B) {
	s, _ := newStore(b)
	rc := refer(b, s, t0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seq := int64(i + 1)
		record(b, s, register.Change{PersonID: rc.PersonID, Seq: seq, At: t0.Add(time.Duration(i) * time.Second), Actor: "bench", Action: "bench",
			Snapshot: register.Snapshot{Stage: register.Referred},
			Open:     []register.TaskOpen{{Key: fmt.Sprintf("%d-%d-bench", rc.PersonID, seq), Kind: register.TaskReviewDue, DueAt: t0}}})
	}
}

// BenchmarkCreateReferral measures recording a referral for a new person.
func BenchmarkCreateReferral(b *testing.B) {
	s, _ := newStore(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		refer(b, s, t0)
	}
}

func TestSlackMessageFirstRecordWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	_, id := openConsentTask(t, s, refer(t, s, t0), t0.Add(time.Second))

	if _, err := s.SlackMessageFor(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before posting: %v", err)
	}
	if err := s.SaveSlackMessage(ctx, store.SlackMessage{TaskID: id, Channel: "C1", TS: "111.1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSlackMessage(ctx, store.SlackMessage{TaskID: id, Channel: "C2", TS: "222.2"}); err != nil {
		t.Fatal(err)
	}
	m, err := s.SlackMessageFor(ctx, id)
	if err != nil || m.Channel != "C1" || m.TS != "111.1" {
		t.Fatalf("first record should win: %+v %v", m, err)
	}
	if err := s.SaveSlackMessage(ctx, store.SlackMessage{TaskID: 999999, Channel: "C", TS: "1"}); err == nil {
		t.Fatal("a message for an unknown task must be refused")
	}
}
