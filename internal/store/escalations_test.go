package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// escalationStep is one step of escalation number for the person, as an
// escalation workflow records it. Its Snapshot is left empty on purpose:
// the store must not read it.
func escalationStep(personID int64, number int, seq int64, at time.Time, action string, e register.Escalation) register.Change {
	e.Number = number
	return register.Change{PersonID: personID, Seq: seq, At: at, Actor: "dsr:escalation", Action: action,
		Detail: map[string]string{"escalation": fmt.Sprint(number)}, Escalation: &e}
}

// ratedRed records the person workflow's changes up to a red rating: the
// referral accepted (a consent task opened) and rated red at seq 2.
func ratedRed(t *testing.T, s *store.Store, rc store.ReferralReceipt, at time.Time) (consentKey string) {
	t.Helper()
	accept := acceptChange(rc, 1, at)
	record(t, s, accept)
	record(t, s, register.Change{PersonID: rc.PersonID, Seq: 2, At: at.Add(time.Minute), Actor: "coordinator:jo", Action: "rated",
		Detail:   map[string]string{"from": "", "to": "red", "rationale": "crisis"},
		Snapshot: register.Snapshot{Stage: register.Referred, Rating: register.Red, RatedAt: at.Add(time.Minute), NextReviewDue: at.Add(7 * 24 * time.Hour)}})
	return accept.Open[0].Key
}

func TestEscalationChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c, rc := newStoreWithReferral(t)
	consentKey := ratedRed(t, s, rc, t0)
	before, err := s.Person(ctx, rc.PersonID)
	if err != nil {
		t.Fatal(err)
	}

	started := t0.Add(time.Hour)
	alertKey := fmt.Sprintf("%d-e1-1-escalation_alert", rc.PersonID)
	first := escalationStep(rc.PersonID, 1, 1, started, "escalation_started",
		register.Escalation{StartedAt: started, AckDueAt: started.Add(4 * time.Hour), Alerts: 1})
	first.Open = []register.TaskOpen{{Key: alertKey, Kind: register.TaskEscalationAlert, DueAt: started.Add(4 * time.Hour),
		Actions: []register.Action{register.ActionAcknowledge}}}
	// Its Seq (1) is the person workflow's seq 1 too: the e-key keeps both.
	first.Managers = []string{consentKey}

	state := func() string {
		var out string
		if err := c.QueryRow(ctx, `select
			(select count(*) from audit_log)::text || '|' ||
			(select string_agg(concat_ws(',', id, task_key, status, escalation, reminders, closed_at), ';' order by id) from tasks) || '|' ||
			(select string_agg(concat_ws(',', person_id, number, started_at, ack_due_at, acknowledged_at, acknowledged_by,
				alerts, ended_at, outcome, seq, updated_at), ';' order by person_id, number) from escalations) || '|' ||
			(select concat_ws(',', stage, rating, projection_seq, updated_at) from people where id = $1)`, rc.PersonID).Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}

	ids1 := record(t, s, first)
	once := state()
	ids2 := record(t, s, first) // the activity retried
	if twice := state(); twice != once {
		t.Fatalf("escalation step applied twice changed the record:\nonce:  %s\ntwice: %s", once, twice)
	}
	if fmt.Sprint(ids1) != fmt.Sprint(ids2) || len(ids1) != 2 || ids1[alertKey] == 0 || ids1[consentKey] == 0 {
		t.Fatalf("IDs (opened and escalated to managers): %v then %v", ids1, ids2)
	}

	// The audit entry is keyed within the escalation, beside the person's own seq 1.
	hist, err := s.History(ctx, rc.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]store.AuditEntry{}
	for _, e := range hist {
		keys[e.EventKey] = e
	}
	eKey := fmt.Sprintf("%d-e1-1", rc.PersonID)
	if e, ok := keys[eKey]; !ok || e.Action != "escalation_started" || e.Actor != "dsr:escalation" || !e.At.Equal(started) || e.Detail["escalation"] != "1" {
		t.Fatalf("no audit entry %s: %+v", eKey, hist)
	}
	if _, ok := keys[fmt.Sprintf("%d-1", rc.PersonID)]; !ok || len(hist) != 4 {
		t.Fatalf("audit entries (received, accepted, rated, escalation started): %+v", hist)
	}

	// The task carries the escalation's number; the person workflow's do not.
	task, err := s.Task(ctx, ids1[alertKey])
	if err != nil {
		t.Fatal(err)
	}
	if task.Escalation != 1 || task.Kind != register.TaskEscalationAlert || task.Status != register.TaskStatusOpen || !task.OpenedAt.Equal(started) {
		t.Fatalf("escalation task: %+v", task)
	}
	if consent, _ := s.Task(ctx, ids1[consentKey]); consent.Escalation != 0 || consent.Status != register.TaskStatusOpen {
		t.Fatalf("person workflow's task: %+v", consent)
	}

	// The projection is the person workflow's alone.
	after, err := s.Person(ctx, rc.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if after.ProjectionSeq != 2 || after.Rating != register.Red || after.Stage != register.Referred ||
		!after.Snapshot().Equal(before.Snapshot()) || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("escalation change moved the projection:\nbefore %+v\nafter  %+v", before, after)
	}

	es, err := s.Escalations(ctx, rc.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 {
		t.Fatalf("escalations: %+v", es)
	}
	e := es[0]
	if e.PersonID != rc.PersonID || e.Number != 1 || !e.StartedAt.Equal(started) || !e.AckDueAt.Equal(started.Add(4*time.Hour)) ||
		e.AcknowledgedAt != nil || e.AcknowledgedBy != "" || e.Alerts != 1 || e.EndedAt != nil || e.Outcome != "" ||
		!e.Open || !e.Unacknowledged {
		t.Fatalf("escalation after its first step: %+v", e)
	}
	if n := count(t, c, "select seq from escalations where person_id = $1 and number = 1", rc.PersonID); n != 1 {
		t.Fatalf("escalation seq = %d, want 1", n)
	}

	// Step 3 (acknowledged) arrives before step 2 (a re-alert): step 2 is
	// audited and its task written, but the row stays at step 3.
	ackAt := started.Add(2 * time.Hour)
	third := escalationStep(rc.PersonID, 1, 3, ackAt, "escalation_acknowledged",
		register.Escalation{StartedAt: started, AckDueAt: started.Add(4 * time.Hour), Alerts: 2, AcknowledgedAt: ackAt, AcknowledgedBy: "coordinator:jo"})
	third.Close = []register.TaskClose{{Key: alertKey, Status: register.TaskStatusDone, Outcome: "acknowledged"}}
	record(t, s, third)
	realertKey := fmt.Sprintf("%d-e1-2-escalation_alert", rc.PersonID)
	second := escalationStep(rc.PersonID, 1, 2, started.Add(time.Hour), "escalation_realerted",
		register.Escalation{StartedAt: started, AckDueAt: started.Add(4 * time.Hour), Alerts: 2})
	second.Open = []register.TaskOpen{{Key: realertKey, Kind: register.TaskEscalationAlert, Actions: []register.Action{register.ActionAcknowledge}}}
	ids := record(t, s, second)
	if task, err := s.Task(ctx, ids[realertKey]); err != nil || task.Escalation != 1 {
		t.Fatalf("late step's task: %+v %v", task, err)
	}
	if n := count(t, c, "select count(*) from audit_log where event_key like $1", fmt.Sprintf("%d-e1-%%", rc.PersonID)); n != 3 {
		t.Fatalf("escalation audit entries = %d, want 3", n)
	}
	// And the first step retried once more, now two steps behind.
	record(t, s, first)
	open, err := s.OpenEscalation(ctx, rc.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if open.Number != 1 || open.AcknowledgedAt == nil || !open.AcknowledgedAt.Equal(ackAt) || open.AcknowledgedBy != "coordinator:jo" ||
		open.Alerts != 2 || open.Unacknowledged || open.AckOverdue {
		t.Fatalf("an older step overwrote a newer one: %+v", open)
	}
	if n := count(t, c, "select seq from escalations where person_id = $1 and number = 1", rc.PersonID); n != 3 {
		t.Fatalf("escalation seq = %d, want 3", n)
	}
	if p, _ := s.Person(ctx, rc.PersonID); p.ProjectionSeq != 2 || !p.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("projection moved: %+v", p)
	}

	// The end: every column follows the newest step, and nothing is open.
	endAt := started.Add(3 * 24 * time.Hour)
	record(t, s, escalationStep(rc.PersonID, 1, 4, endAt, "escalation_ended",
		register.Escalation{StartedAt: started, AckDueAt: started.Add(4 * time.Hour), Alerts: 2, AcknowledgedAt: ackAt,
			AcknowledgedBy: "coordinator:jo", EndedAt: endAt, Outcome: "rated amber"}))
	es, _ = s.Escalations(ctx, rc.PersonID)
	if len(es) != 1 || es[0].Open || es[0].EndedAt == nil || !es[0].EndedAt.Equal(endAt) || es[0].Outcome != "rated amber" {
		t.Fatalf("ended escalation: %+v", es)
	}
	if _, err := s.OpenEscalation(ctx, rc.PersonID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("open escalation after the end: %v", err)
	}
}

func TestManagersKeysResolve(t *testing.T) {
	t.Parallel()
	s, _, rc := newStoreWithReferral(t)
	accept, id := openConsentTask(t, s, rc, t0)

	// A person workflow's change (an overdue action escalated to managers).
	ids := record(t, s, register.Change{PersonID: rc.PersonID, Seq: 2, At: t0.Add(time.Hour), Actor: "dsr:timer", Action: "managers_alerted",
		Snapshot: register.Snapshot{Stage: register.Referred}, Managers: []string{accept.Open[0].Key}})
	if len(ids) != 1 || ids[accept.Open[0].Key] != id {
		t.Fatalf("managers IDs: %v, want %s → %d", ids, accept.Open[0].Key, id)
	}
	// A key that names no task of theirs is reported, and nothing written.
	refusedForUnknownTask(t, s, register.Change{PersonID: rc.PersonID, Seq: 3, At: t0.Add(2 * time.Hour), Actor: "dsr:timer", Action: "managers_alerted",
		Snapshot: register.Snapshot{Stage: register.Active}, Managers: []string{"no-such-task"}}, 2)
}

func TestEscalationChangeRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c, rc := newStoreWithReferral(t)
	valid := register.Escalation{StartedAt: t0, Alerts: 1}

	noAction := escalationStep(rc.PersonID, 1, 1, t0, "", valid)
	_, err := s.RecordChange(ctx, noAction)
	if err == nil || !strings.Contains(err.Error(), "escalation change needs an action") {
		t.Fatalf("escalation change without an action: %v", err)
	}
	noActor := escalationStep(rc.PersonID, 1, 1, t0, "escalation_started", valid)
	noActor.Actor = ""
	for name, ch := range map[string]register.Change{
		"no number":       escalationStep(rc.PersonID, 0, 1, t0, "escalation_started", valid),
		"no start":        escalationStep(rc.PersonID, 1, 1, t0, "escalation_started", register.Escalation{Alerts: 1}),
		"negative alerts": escalationStep(rc.PersonID, 1, 1, t0, "escalation_started", register.Escalation{StartedAt: t0, Alerts: -1}),
		"no actor":        noActor,
		"unknown person":  escalationStep(999999, 1, 1, t0, "escalation_started", valid),
	} {
		if _, err := s.RecordChange(ctx, ch); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if n := count(t, c, "select count(*) from escalations"); n != 0 {
		t.Fatalf("a refused escalation change was written: %d rows", n)
	}
	if n := count(t, c, "select count(*) from audit_log where event_key is not null"); n != 0 {
		t.Fatalf("a refused escalation change was audited: %d entries", n)
	}
}

func TestEscalationReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	a, b, none := refer(t, s, t0), refer(t, s, t0), refer(t, s, t0)
	due := t0.Add(10 * time.Hour)

	// a: escalation 1 ended unacknowledged (never overdue once ended), and
	// escalation 2 open and unacknowledged, its acknowledgement due at due.
	record(t, s, escalationStep(a.PersonID, 1, 2, t0.Add(time.Hour), "escalation_ended",
		register.Escalation{StartedAt: t0, AckDueAt: t0.Add(4 * time.Hour), Alerts: 3, EndedAt: t0.Add(time.Hour), Outcome: "rated amber"}))
	record(t, s, escalationStep(a.PersonID, 2, 1, t0.Add(6*time.Hour), "escalation_started",
		register.Escalation{StartedAt: t0.Add(6 * time.Hour), AckDueAt: due, Alerts: 1}))
	// b: escalation 1 open, started between a's two, already acknowledged.
	record(t, s, escalationStep(b.PersonID, 1, 1, t0.Add(2*time.Hour), "escalation_acknowledged",
		register.Escalation{StartedAt: t0.Add(2 * time.Hour), AckDueAt: t0.Add(3 * time.Hour), Alerts: 1,
			AcknowledgedAt: t0.Add(150 * time.Minute), AcknowledgedBy: "coordinator:max"}))

	es, err := s.Escalations(ctx, a.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Number != 1 || es[1].Number != 2 || es[0].Open || !es[1].Open ||
		es[0].Outcome != "rated amber" || es[0].Alerts != 3 || es[0].AckOverdue || !es[1].Unacknowledged {
		t.Fatalf("a's escalations: %+v", es)
	}
	if es, err := s.Escalations(ctx, none.PersonID); err != nil || len(es) != 0 {
		t.Fatalf("escalations of someone never escalated: %+v %v", es, err)
	}
	// A new spell numbers on from the last escalation (and meeting) number.
	for person, want := range map[int64]int{a.PersonID: 2, b.PersonID: 1, none.PersonID: 0} {
		if n, err := s.LastEscalationNumber(ctx, person); err != nil || n != want {
			t.Errorf("last escalation number of person %d: %d %v, want %d", person, n, err, want)
		}
	}
	if n, err := s.LastMeetingNumber(ctx, a.PersonID); err != nil || n != 0 {
		t.Errorf("last meeting number of someone never met: %d %v", n, err)
	}
	open, err := s.OpenEscalation(ctx, a.PersonID)
	if err != nil || open.Number != 2 || open.PersonID != a.PersonID || !open.AckDueAt.Equal(due) {
		t.Fatalf("a's open escalation: %+v %v", open, err)
	}
	// OpenEscalation judges AckOverdue against the database's now().
	if open.AckOverdue != time.Now().After(due) {
		t.Fatalf("open escalation's AckOverdue against now() (due %s): %+v", due, open)
	}
	if _, err := s.OpenEscalation(ctx, none.PersonID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("open escalation of someone never escalated: %v", err)
	}

	type ref struct {
		person  int64
		number  int
		overdue bool
	}
	list := func(f store.EscalationFilter) []ref {
		t.Helper()
		got, err := s.ListEscalations(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []ref
		for _, e := range got {
			out = append(out, ref{e.PersonID, e.Number, e.AckOverdue})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.EscalationFilter
		want []ref
	}{
		{"all, by start", store.EscalationFilter{Now: due.Add(-time.Minute)},
			[]ref{{a.PersonID, 1, false}, {b.PersonID, 1, false}, {a.PersonID, 2, false}}},
		{"open", store.EscalationFilter{Open: true, Now: due.Add(-time.Minute)},
			[]ref{{b.PersonID, 1, false}, {a.PersonID, 2, false}}},
		{"unacknowledged", store.EscalationFilter{Unacknowledged: true, Now: due.Add(-time.Minute)},
			[]ref{{a.PersonID, 1, false}, {a.PersonID, 2, false}}},
		{"open and unacknowledged, past due", store.EscalationFilter{Open: true, Unacknowledged: true, Now: due.Add(time.Minute)},
			[]ref{{a.PersonID, 2, true}}},
		{"all, past every due", store.EscalationFilter{Now: due.Add(time.Minute)},
			[]ref{{a.PersonID, 1, false}, {b.PersonID, 1, false}, {a.PersonID, 2, true}}},
	} {
		if got := list(tc.f); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
