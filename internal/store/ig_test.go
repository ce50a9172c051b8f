package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// Information governance (issue 10): reads audited, subject access,
// erasure leaving an anonymous skeleton, no personal data in audit entries.

// referNamed records a referral for a new person with the given names.
func referNamed(t *testing.T, s *store.Store, given, family, nhs string) store.ReferralReceipt {
	t.Helper()
	rc, err := s.CreateReferral(context.Background(), store.NewReferral{
		Referral: referral(nhs, given, family), Actor: "coordinator:jo", ReceivedAt: t0,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// consentRateRemove records consent (given by a named parent, with notes),
// a rating with a rationale, and removal with notes: the free text erasure
// must reach.
func consentRateRemove(t *testing.T, s *store.Store, rc store.ReferralReceipt, parent string) time.Time {
	t.Helper()
	personID := rc.PersonID
	removedAt := t0.Add(3 * time.Hour)
	record(t, s, register.Change{PersonID: personID, Seq: 1, At: t0.Add(time.Minute), Actor: "referrer", Action: "referral_accepted",
		AcceptReferralID: rc.ReferralID, Snapshot: register.Snapshot{Stage: register.Referred}})
	record(t, s, register.Change{PersonID: personID, Seq: 2, At: t0.Add(time.Hour), Actor: "alice", Action: "consent_recorded",
		Detail:   map[string]string{"basis": "parental", "given_by": parent, "notes": "spoke to " + parent + " at home"},
		Snapshot: register.Snapshot{Stage: register.Active, ConsentBasis: register.ConsentParental, ConsentGivenBy: parent, ConsentDecidedOn: date(2026, 11, 24)}})
	record(t, s, register.Change{PersonID: personID, Seq: 3, At: t0.Add(2 * time.Hour), Actor: "alice", Action: "rated",
		Detail:   map[string]string{"from": "", "to": "amber", "rationale": "placement with " + parent + " shaky"},
		Snapshot: register.Snapshot{Stage: register.Active, Rating: register.Amber, RatedAt: t0.Add(2 * time.Hour)}})
	record(t, s, register.Change{PersonID: personID, Seq: 4, At: removedAt, Actor: "alice", Action: "removed",
		Detail:   map[string]string{"reason": "risk_reduced", "notes": parent + " moved house"},
		Snapshot: register.Snapshot{Stage: register.Removed, Rating: register.Amber, RatedAt: t0.Add(2 * time.Hour), RemovalReason: register.RemovedRiskReduced, RemovedAt: removedAt}})
	return removedAt
}

// TestReadsAreAudited: a view is one audit entry naming who, when and the
// surface; Views lists them newest first and History leaves them out; a
// list is one entry with its filters and count, about no one.
func TestReadsAreAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := newStore(t)
	rc := referNamed(t, s, "Ada", "Lovelace", nhsNumber())
	for _, v := range []store.View{
		{Actor: "alice", PersonID: rc.PersonID, Via: store.ViaAPI, What: "record"},
		{Actor: "bob (slack U1)", PersonID: rc.PersonID, Via: store.ViaSlack, What: "record"},
	} {
		if err := s.RecordView(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	views, err := s.Views(ctx, rc.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 || views[0].Actor != "bob (slack U1)" || views[0].Detail["via"] != "slack" ||
		views[1].Actor != "alice" || views[1].Detail["via"] != "api" || views[1].At.IsZero() {
		t.Fatalf("views, newest first: %+v", views)
	}
	hist, _ := s.History(ctx, rc.PersonID)
	for _, e := range hist {
		if e.Action == store.ActionViewed {
			t.Errorf("a view is not part of the record's history: %+v", e)
		}
	}
	if err := s.RecordListing(ctx, store.Listing{Actor: "maria", Via: store.ViaAPI, List: "people",
		Filters: map[string]string{"rating": "red", "stage": ""}, Count: 17}); err != nil {
		t.Fatal(err)
	}
	var detail map[string]string
	if err := c.QueryRow(ctx, `select detail from audit_log where action = 'listed' and person_id is null`).Scan(&detail); err != nil {
		t.Fatal(err)
	}
	if detail["list"] != "people" || detail["count"] != "17" || detail["filters"] != "rating=red" || detail["via"] != "api" {
		t.Errorf("listing entry: %v", detail)
	}
	if err := s.RecordView(ctx, store.View{Actor: "", PersonID: rc.PersonID, Via: store.ViaAPI, What: "record"}); err == nil {
		t.Error("a view with no actor must be refused")
	}
}

// TestAuditEntriesHoldNoFreeText: notes, rationales and who gave consent
// are kept beside the entry, read back with it, and never in audit_log.
func TestAuditEntriesHoldNoFreeText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := newStore(t)
	rc := referNamed(t, s, "Ada", "Lovelace", nhsNumber())
	consentRateRemove(t, s, rc, "Pat Lovelace")
	if n := count(t, c, `select count(*) from audit_log where detail::text like '%Lovelace%'`); n != 0 {
		t.Errorf("%d audit entries hold a name in their detail", n)
	}
	hist, err := s.History(ctx, rc.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range hist {
		found = found || (e.Action == "consent_recorded" && e.Detail["given_by"] == "Pat Lovelace" && e.Detail["basis"] == "parental")
	}
	if !found {
		t.Errorf("the history must read the free text back with its entry: %+v", hist)
	}
}

// TestSubjectAccessHoldsOnlyThatPerson: two people; the export of one holds
// their details, referrals, consent, ratings, tasks and audit (views too),
// and none of the other's names, NHS number or reference.
func TestSubjectAccessHoldsOnlyThatPerson(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	nhsA, nhsB := nhsNumber(), nhsNumber()
	a := referNamed(t, s, "Ada", "Lovelace", nhsA)
	b := referNamed(t, s, "Grace", "Hopper", nhsB)
	consentRateRemove(t, s, a, "Pat Lovelace")
	consentRateRemove(t, s, b, "Sam Hopper")
	if err := s.RecordView(ctx, store.View{Actor: "alice", PersonID: a.PersonID, Via: store.ViaAPI, What: "record"}); err != nil {
		t.Fatal(err)
	}
	sa, err := s.SubjectAccess(ctx, a.PersonID, t0)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(sa)
	for _, want := range []string{"Ada", "Lovelace", nhsA, "Pat Lovelace", register.Reference(a.PersonID), "escalating crisis at home", `"viewed"`, "placement with Pat Lovelace shaky"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the export lacks %q", want)
		}
	}
	for _, other := range []string{"Grace", "Hopper", nhsB, register.Reference(b.PersonID)} {
		if strings.Contains(string(raw), other) {
			t.Errorf("the export of %s holds %q, the other person's", register.Reference(a.PersonID), other)
		}
	}
	if len(sa.Referrals) != 1 || len(sa.Consent) != 1 || len(sa.Ratings) != 1 {
		t.Errorf("export sections: %d referrals, %d consent, %d ratings", len(sa.Referrals), len(sa.Consent), len(sa.Ratings))
	}
	if _, err := s.SubjectAccess(ctx, 999999, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown person: %v, want ErrNotFound", err)
	}
}

// TestErasureLeavesAnAnonymousSkeleton: erasing a removed person blanks
// every identifying detail and free text, keeps the reference, dates,
// ratings, stage and every audit entry, and is itself audited once.
func TestErasureLeavesAnAnonymousSkeleton(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := newStore(t)
	nhs := nhsNumber()
	rc := referNamed(t, s, "Ada", "Lovelace", nhs)
	if _, err := s.Erase(ctx, store.Erasure{PersonID: rc.PersonID, Actor: "alice", Via: store.ViaAPI}); !errors.Is(err, store.ErrNotRemoved) {
		t.Fatalf("erasing someone on the register: %v, want ErrNotRemoved", err)
	}
	removedAt := consentRateRemove(t, s, rc, "Pat Lovelace")
	standing, err := s.RetentionOf(ctx, rc.PersonID)
	if err != nil || !standing.Removed || !standing.RemovedAt.Equal(removedAt) || standing.Erased || !standing.ChildRecordsUntil.IsZero() {
		t.Fatalf("retention standing: %+v %v", standing, err)
	}
	if _, err := s.Erase(ctx, store.Erasure{PersonID: rc.PersonID, Actor: "dsr:retention", Via: "retention", RemovedAt: removedAt.Add(-time.Hour)}); !errors.Is(err, store.ErrReferredAgain) {
		t.Fatalf("the timer of an earlier removal: %v, want ErrReferredAgain", err)
	}
	auditBefore := count(t, c, `select count(*) from audit_log where person_id = $1`, rc.PersonID)

	at, err := s.Erase(ctx, store.Erasure{PersonID: rc.PersonID, Actor: "dsr:retention", Via: "retention", RemovedAt: removedAt, At: t0.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Person(ctx, rc.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if p.GivenName != "" || p.FamilyName != "" || p.NHSNumber != "" || !p.DateOfBirth.IsZero() || p.Postcode != "" || p.ConsentGivenBy != "" {
		t.Errorf("identifying details left after erasure: %+v", p)
	}
	if p.ErasedAt == nil || !p.ErasedAt.Equal(at) || p.Stage != register.Removed || p.Rating != register.Amber ||
		p.RemovedAt == nil || !p.RemovedAt.Equal(removedAt) || p.LocalAuthority != "Staffordshire" || len(p.Diagnoses) != 2 {
		t.Errorf("the skeleton (stage, rating, dates, area) must stay: %+v", p)
	}
	refs, _ := s.Referrals(ctx, rc.PersonID)
	if len(refs) != 1 || refs[0].Reason != "" || refs[0].ReferrerName != "" || refs[0].ReferrerEmail != "" || refs[0].ReceivedAt.IsZero() {
		t.Errorf("referral after erasure: %+v", refs)
	}
	for _, q := range []string{
		`select count(*) from people where id = $1 and (given_name || family_name || postcode) like '%a%'`,
		`select count(*) from audit_free_text t join audit_log a on a.id = t.audit_id where a.person_id = $1 and a.action <> 'erased'`,
		`select count(*) from referrals where person_id = $1 and reason <> ''`,
	} {
		if n := count(t, c, q, rc.PersonID); n != 0 {
			t.Errorf("%s: %d left", q, n)
		}
	}
	if after := count(t, c, `select count(*) from audit_log where person_id = $1`, rc.PersonID); after != auditBefore+1 {
		t.Errorf("audit entries: %d before, %d after; want every one kept and the erasure added", auditBefore, after)
	}
	hist, _ := s.History(ctx, rc.PersonID)
	last := hist[len(hist)-1]
	if last.Action != store.ActionErased || last.Actor != "dsr:retention" || last.Detail["on_request"] != "false" {
		t.Errorf("the erasure's audit entry: %+v", last)
	}
	if _, err := s.Erase(ctx, store.Erasure{PersonID: rc.PersonID, Actor: "alice", Via: store.ViaAPI}); !errors.Is(err, store.ErrAlreadyErased) {
		t.Errorf("erasing twice: %v, want ErrAlreadyErased", err)
	}
	if n := count(t, c, `select count(*) from audit_log where person_id = $1 and action = 'erased'`, rc.PersonID); n != 1 {
		t.Errorf("%d erasure entries, want 1", n)
	}
}

// TestChildRecordsKeptUntilTwentyFive: the Code's children's period.
func TestChildRecordsKeptUntilTwentyFive(t *testing.T) {
	t.Parallel()
	dob := date(2012, 6, 1)
	if got := register.ChildRecordsKeptUntil(dob, date(2026, 1, 1)); !got.Equal(date(2037, 6, 1)) {
		t.Errorf("removed at 13: kept until %v, want the 25th birthday", got)
	}
	if got := register.ChildRecordsKeptUntil(dob, date(2029, 7, 1)); !got.Equal(date(2038, 6, 1)) {
		t.Errorf("removed at 17: kept until %v, want the 26th birthday", got)
	}
	if got := register.ChildRecordsKeptUntil(dob, date(2031, 1, 1)); !got.IsZero() {
		t.Errorf("removed at 18: %v, want no children's period", got)
	}
	removed := date(2026, 1, 1)
	if got := register.ErasureDue(removed, date(2037, 6, 1), 2922*24*time.Hour); !got.Equal(date(2037, 6, 1)) {
		t.Errorf("erasure due %v, want the later of 8 years and the 25th birthday", got)
	}
}
