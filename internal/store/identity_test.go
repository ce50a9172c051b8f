package store_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// knownPerson refers a new person, Ada Lovelace (referNamed), and returns
// the receipt and their record.
func knownPerson(t *testing.T, s *store.Store, nhs string) (store.ReferralReceipt, store.PersonRecord) {
	t.Helper()
	rc := referNamed(t, s, "Ada", "Lovelace", nhs)
	p, err := s.Person(context.Background(), rc.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	return rc, p
}

func TestKnownNHSNumberWithAnotherNameIsHeldForAnIdentityCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := newStore(t)
	nhs := nhsNumber()
	first, before := knownPerson(t, s, nhs)
	historyBefore, _ := s.History(ctx, first.PersonID)
	people := count(t, c, "select count(*) from people")

	other := referral(nhs, "Ada", "Byron")
	held, err := s.CreateReferral(ctx, store.NewReferral{Referral: other, Actor: "portal", ReceivedAt: t0.Add(time.Hour), IdempotencyKey: "held-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !held.Held() || held.Existing || held.IdentityCheck == nil || held.IdentityCheck.CandidatePersonID != first.PersonID ||
		held.IdentityCheck.Kind != register.IdentityNHSNumberMismatch || !slices.Equal(held.IdentityCheck.Differences, []string{"family_name"}) {
		t.Fatalf("held receipt: %+v (check %+v)", held, held.IdentityCheck)
	}
	if held.Receipt == "" || held.Receipt == first.Receipt {
		t.Fatalf("receipts: %q and %q", first.Receipt, held.Receipt)
	}
	// Nothing about the known person changed: record, history, tasks.
	after, _ := s.Person(ctx, first.PersonID)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("the known person changed:\n%+v\n%+v", before, after)
	}
	if h, _ := s.History(ctx, first.PersonID); len(h) != len(historyBefore) {
		t.Fatalf("the known person's history grew: %+v", h)
	}
	if n := count(t, c, "select count(*) from tasks where person_id = $1", first.PersonID); n != 0 {
		t.Fatalf("the known person has %d tasks", n)
	}
	if n := count(t, c, "select count(*) from people"); n != people {
		t.Fatalf("people %d, want %d: nobody is created until a coordinator says who this is", n, people)
	}
	// The task is there for coordinators, belonging to nobody yet.
	task, err := s.Task(ctx, held.IdentityCheck.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	if task.Kind != register.TaskIdentityCheck || task.PersonID != 0 || task.Status != register.TaskStatusOpen ||
		!slices.Equal(task.Actions, []register.Action{register.ActionSamePerson, register.ActionDifferentPerson}) {
		t.Fatalf("task: %+v", task)
	}
	// Slack's /dsr tasks counts it among the team's unassigned work.
	none := ""
	team, err := s.ListTasks(ctx, store.TaskFilter{Status: "open", AssignedTo: &none})
	if err != nil || !slices.ContainsFunc(team, func(x store.Task) bool { return x.ID == task.ID }) {
		t.Fatalf("unassigned tasks %+v (%v) lack the identity check", team, err)
	}
	// Never redelivered on its own.
	if pending, _ := s.PendingReferrals(ctx, t0.Add(48*time.Hour), 100); slices.ContainsFunc(pending, func(p store.PendingReferral) bool { return p.ReferralID == held.ReferralID }) {
		t.Fatal("a held referral is pending delivery")
	}
	// A retry under the same key answers the same, holding still.
	again, err := s.CreateReferral(ctx, store.NewReferral{Referral: other, Actor: "portal", ReceivedAt: t0.Add(2 * time.Hour), IdempotencyKey: "held-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.Receipt != held.Receipt || again.IdentityCheck == nil || again.IdentityCheck.ID != held.IdentityCheck.ID {
		t.Fatalf("replay: %+v", again)
	}

	// Same person: filed against them, the name updated and audited with
	// what it was.
	check, pending, err := s.ResolveIdentityCheck(ctx, store.IdentityResolution{
		CheckID: held.IdentityCheck.ID, Decision: register.DecisionSamePerson, Notes: "married", Actor: "coordinator:max", At: t0.Add(3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if check.Status != "resolved" || check.PersonID != first.PersonID || pending.PersonID != first.PersonID || pending.ReferralID != held.ReferralID {
		t.Fatalf("resolved: %+v, pending %+v", check, pending)
	}
	p, _ := s.Person(ctx, first.PersonID)
	if p.FamilyName != "Byron" || p.NHSNumber != nhs {
		t.Fatalf("person after same_person: %+v", p)
	}
	h, _ := s.History(ctx, first.PersonID)
	var confirmed *store.AuditEntry
	for i := range h {
		if h[i].Action == "identity_confirmed" {
			confirmed = &h[i]
		}
	}
	if confirmed == nil || confirmed.Actor != "coordinator:max" || confirmed.Detail["changed"] != "family_name" || confirmed.Detail["family_name_was"] != "Lovelace" {
		t.Fatalf("audit: %+v", h)
	}
	// The name the record had is kept beside the entry, erasable, never in
	// the append-only audit row itself.
	if n := count(t, c, `select count(*) from audit_log where person_id = $1 and detail::text like '%Lovelace%'`, first.PersonID); n != 0 {
		t.Errorf("%d audit rows hold the old family name in their detail", n)
	}
	if task, _ := s.Task(ctx, held.IdentityCheck.TaskID); task.Status != register.TaskStatusDone || task.ClosedBy != "coordinator:max" {
		t.Fatalf("task after resolving: %+v", task)
	}
	// Again the same way: the same answer; the other way: refused.
	if _, again, err := s.ResolveIdentityCheck(ctx, store.IdentityResolution{CheckID: check.ID, Decision: register.DecisionSamePerson,
		Actor: "coordinator:max", At: t0.Add(4 * time.Hour)}); err != nil || again != pending {
		t.Fatalf("resolving again: %+v, %v", again, err)
	}
	if _, _, err := s.ResolveIdentityCheck(ctx, store.IdentityResolution{CheckID: check.ID, Decision: register.DecisionDifferentPerson,
		Actor: "coordinator:max", At: t0.Add(4 * time.Hour)}); !errors.Is(err, store.ErrIdentityCheckResolved) {
		t.Fatalf("resolving the other way: %v", err)
	}
}

func TestDifferentPersonGetsANewRecordAndTheNHSNumberIsFlagged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	nhs := nhsNumber()
	first, _ := knownPerson(t, s, nhs)
	other := referral(nhs, "Grace", "Hopper")
	other.Person.DateOfBirth = date(1999, 9, 9)
	held, err := s.CreateReferral(ctx, store.NewReferral{Referral: other, Actor: "portal", ReceivedAt: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(held.IdentityCheck.Differences, []string{"given_name", "family_name", "date_of_birth"}) {
		t.Fatalf("differences: %v", held.IdentityCheck.Differences)
	}
	_, pending, err := s.ResolveIdentityCheck(ctx, store.IdentityResolution{
		CheckID: held.IdentityCheck.ID, Decision: register.DecisionDifferentPerson, Actor: "coordinator:max", At: t0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if pending.PersonID == 0 || pending.PersonID == first.PersonID {
		t.Fatalf("pending: %+v", pending)
	}
	newcomer, _ := s.Person(ctx, pending.PersonID)
	known, _ := s.Person(ctx, first.PersonID)
	if newcomer.NHSNumber != "" || newcomer.DisputedNHSNumber != nhs || !newcomer.NHSNumberDisputed || newcomer.GivenName != "Grace" {
		t.Fatalf("new person: %+v", newcomer)
	}
	if known.NHSNumber != nhs || !known.NHSNumberDisputed || known.GivenName != "Ada" {
		t.Fatalf("known person: %+v", known)
	}
	for _, id := range []int64{first.PersonID, pending.PersonID} {
		h, _ := s.History(ctx, id)
		if !slices.ContainsFunc(h, func(e store.AuditEntry) bool { return e.Action == "nhs_number_disputed" }) {
			t.Errorf("person %d: no nhs_number_disputed in %+v", id, h)
		}
	}
}

func TestLikelyDuplicateWithoutNHSNumberIsOfferedAndMergeMovesReferrals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	noNHS := referral("", "Elizabeth", "Harrington")
	first, err := s.CreateReferral(ctx, store.NewReferral{Referral: noNHS, Actor: "coordinator:jo", ReceivedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	if first.Held() || first.PersonID == 0 {
		t.Fatalf("first: %+v", first)
	}
	if p, _ := s.Person(ctx, first.PersonID); p.NHSNumber != "" {
		t.Fatalf("NHS number: %q", p.NHSNumber)
	}
	// Liz Harington, day and month swapped: offered, not filed.
	dup := referral("", "Liz", "Harington")
	dup.Person.DateOfBirth = date(2001, 3, 2)
	held, err := s.CreateReferral(ctx, store.NewReferral{Referral: dup, Actor: "coordinator:jo", ReceivedAt: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !held.Held() || held.IdentityCheck.Kind != register.IdentityPossibleDuplicate || held.IdentityCheck.CandidatePersonID != first.PersonID {
		t.Fatalf("duplicate: %+v %+v", held, held.IdentityCheck)
	}
	// Somebody else entirely is a new person.
	stranger := referral("", "Margaret", "Oduya")
	stranger.Person.Postcode = "M1 1AA"
	rc, err := s.CreateReferral(ctx, store.NewReferral{Referral: stranger, Actor: "coordinator:jo", ReceivedAt: t0.Add(time.Hour)})
	if err != nil || rc.Held() {
		t.Fatalf("stranger: %+v, %v", rc, err)
	}
	// They turn out to be one person: merged, referrals and audit follow.
	if err := s.MergePeople(ctx, store.Merge{From: rc.PersonID, Into: first.PersonID, Reason: "same person", Actor: "coordinator:max", At: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.MergePeople(ctx, store.Merge{From: rc.PersonID, Into: first.PersonID, Reason: "same person", Actor: "coordinator:max", At: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatalf("merging again: %v", err)
	}
	refs, _ := s.Referrals(ctx, first.PersonID)
	if len(refs) != 2 {
		t.Fatalf("survivor's referrals: %+v", refs)
	}
	merged, _ := s.Person(ctx, rc.PersonID)
	if merged.MergedInto != first.PersonID {
		t.Fatalf("merged record: %+v", merged)
	}
	if err := s.MergePeople(ctx, store.Merge{From: first.PersonID, Into: rc.PersonID, Reason: "x", Actor: "coordinator:max"}); !errors.Is(err, store.ErrMergeRefused) {
		t.Fatalf("merging into a merged record: %v", err)
	}
	for id, action := range map[int64]string{first.PersonID: "merged_in", rc.PersonID: "merged_into"} {
		h, _ := s.History(ctx, id)
		if !slices.ContainsFunc(h, func(e store.AuditEntry) bool { return e.Action == action && e.Actor == "coordinator:max" }) {
			t.Errorf("person %d: no %s in %+v", id, action, h)
		}
	}
}
