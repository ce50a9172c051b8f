package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// TestDashboardQueries: the register page's filters, its open-task counts
// and its total; the inbox's filters; what is late; and a day's count of the
// register that stands once taken.
func TestDashboardQueries(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	now := t0
	red, amber, waiting := refer(t, s, now.Add(-48*time.Hour)), refer(t, s, now.Add(-48*time.Hour)), refer(t, s, now.Add(-48*time.Hour))
	record(t, s, register.Change{PersonID: red.PersonID, Seq: 1, At: now.Add(-time.Hour), Actor: "jo", Action: "rated",
		Detail: map[string]string{"from": "", "to": "red"},
		Snapshot: register.Snapshot{Stage: register.Active, Rating: register.Red, RatedAt: now.Add(-time.Hour),
			NextReviewDue: now.Add(-time.Minute), ConsentExpiresAt: now.Add(10 * 24 * time.Hour), AssignedTo: "jo"},
		Open: []register.TaskOpen{{Key: "red-ctr", Kind: register.TaskCommunityCTR, DueAt: now.Add(-time.Hour), Actions: []register.Action{register.ActionMarkDone}}}})
	record(t, s, register.Change{PersonID: amber.PersonID, Seq: 1, At: now.Add(-time.Hour), Actor: "jo", Action: "rated",
		Detail:   map[string]string{"from": "", "to": "amber"},
		Snapshot: register.Snapshot{Stage: register.Active, Rating: register.Amber, NextReviewDue: now.Add(24 * time.Hour), ConsentExpiresAt: now.Add(90 * 24 * time.Hour)},
		Open:     []register.TaskOpen{{Key: "amber-meeting", Kind: register.TaskAmberMeeting, DueAt: now.Add(24 * time.Hour), Actions: []register.Action{register.ActionMarkDone}}}})

	page := func(q store.RegisterQuery) store.RegisterPage {
		t.Helper()
		q.Now = now
		p, err := s.Register(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := page(store.RegisterQuery{}); p.Total != 3 || len(p.People) != 3 {
		t.Errorf("everyone: %d of %d, want 3", len(p.People), p.Total)
	}
	if p := page(store.RegisterQuery{ReviewOverdue: true}); p.Total != 1 || p.People[0].ID != red.PersonID || p.People[0].OpenTasks != 1 || p.People[0].AssignedTo != "jo" {
		t.Errorf("review overdue: %+v, want the red person with one open task, assigned to jo", p)
	}
	if p := page(store.RegisterQuery{ConsentLapsingBy: now.Add(30 * 24 * time.Hour)}); p.Total != 1 || p.People[0].ID != red.PersonID {
		t.Errorf("consent lapsing in 30 days: %+v, want the red person", p)
	}
	if p := page(store.RegisterQuery{Stage: register.Referred}); p.Total != 1 || p.People[0].ID != waiting.PersonID {
		t.Errorf("referred: %+v", p)
	}
	if p := page(store.RegisterQuery{Name: "love%"}); p.Total != 0 {
		t.Errorf("a %% in a name search must match a %%, not anything: %+v", p)
	}
	if p := page(store.RegisterQuery{Name: "lovelace", Limit: 2, Offset: 2}); p.Total != 3 || len(p.People) != 1 {
		t.Errorf("by name, second page of two: %d of %d, want 1 of 3", len(p.People), p.Total)
	}

	none := ""
	inbox, err := s.Inbox(ctx, store.InboxQuery{Now: now, Overdue: true})
	if err != nil || inbox.Total != 1 || inbox.Tasks[0].Kind != register.TaskCommunityCTR || !inbox.Tasks[0].Overdue || inbox.Tasks[0].Rating != register.Red {
		t.Errorf("overdue tasks: %+v (%v), want the red person's C(E)TR", inbox, err)
	}
	if inbox, err := s.Inbox(ctx, store.InboxQuery{Now: now, AssignedTo: &none}); err != nil || inbox.Total != 1 || inbox.Tasks[0].Kind != register.TaskAmberMeeting {
		t.Errorf("unassigned: %+v (%v), want the amber meeting", inbox, err)
	}

	late, err := s.Late(ctx, now, now.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if late.ReviewsOverdue != 1 || late.ConsentLapsingSoon != 1 || late.AwaitingConsent != 1 || late.ActionsOverdue[register.TaskCommunityCTR] != 1 || late.ActionsOverdue[register.TaskAmberMeeting] != 0 {
		t.Errorf("late: %+v", late)
	}
	work, err := s.WorkloadByCoordinator(ctx, now)
	if err != nil || len(work) != 2 {
		t.Fatalf("workload: %+v (%v), want jo and unassigned", work, err)
	}

	// A day's count stands once taken: people added later that day are
	// counted the next day.
	today := date(2026, 11, 24)
	if err := s.SnapshotRegister(ctx, today); err != nil {
		t.Fatal(err)
	}
	refer(t, s, now)
	if err := s.SnapshotRegister(ctx, today); err != nil {
		t.Fatal(err)
	}
	snaps, err := s.RegisterSnapshots(ctx, today.AddDate(0, 0, -7), today)
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots: %+v (%v)", snaps, err)
	}
	total := 0
	for _, c := range snaps[0].Counts {
		total += c.People
	}
	if total != 3 {
		t.Errorf("the day's count is %d people, want the first count (3) to stand", total)
	}
}
