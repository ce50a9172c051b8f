package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// reportPerson walks one person through changes as their workflow would
// record them, numbering the changes.
type reportPerson struct {
	t   *testing.T
	s   *store.Store
	id  int64
	seq int64
	sn  register.Snapshot
}

func referPerson(t *testing.T, s *store.Store, at time.Time, kind register.ReferrerKind, dob time.Time) *reportPerson {
	t.Helper()
	ref := referral(nhsNumber(), "Ada", "Lovelace")
	ref.Referrer.Kind = kind
	ref.Person.DateOfBirth = dob
	rc, err := s.CreateReferral(context.Background(), store.NewReferral{Referral: ref, Actor: "coordinator:jo", ReceivedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	p := &reportPerson{t: t, s: s, id: rc.PersonID, seq: 1, sn: register.Snapshot{Stage: register.Referred}}
	record(t, s, acceptChange(rc, 1, at))
	return p
}

func (p *reportPerson) change(at time.Time, action string, detail map[string]string, build func(*register.Change)) {
	p.t.Helper()
	p.seq++
	c := register.Change{PersonID: p.id, Seq: p.seq, At: at, Actor: "coordinator:jo", Action: action, Detail: detail, Snapshot: p.sn}
	if build != nil {
		build(&c)
	}
	record(p.t, p.s, c)
}

func (p *reportPerson) consent(at time.Time) {
	p.sn.Stage = register.Active
	p.change(at, "consent_recorded", map[string]string{"basis": "self", "stage_from": "referred"}, nil)
}

func (p *reportPerson) rate(at time.Time, from, to register.Rating) {
	p.sn.Rating = to
	p.change(at, "rated", map[string]string{"from": string(from), "to": string(to), "rationale": "test"}, nil)
}

func (p *reportPerson) remove(at time.Time, reason register.RemovalReason) {
	from := p.sn.Stage
	p.sn.Stage, p.sn.RemovalReason, p.sn.RemovedAt = register.Removed, reason, at
	p.change(at, "removed", map[string]string{"stage_from": string(from), "reason": string(reason)}, nil)
}

func (p *reportPerson) openCTR(at time.Time, kind register.TaskKind, due time.Time) string {
	key := fmt.Sprintf("%d-%d-%s", p.id, p.seq+1, kind)
	p.change(at, "", nil, func(c *register.Change) {
		c.Open = []register.TaskOpen{{Key: key, Kind: kind, DueAt: due, Actions: []register.Action{register.ActionMarkDone}}}
	})
	return key
}

func (p *reportPerson) holdCTR(at time.Time, key string, kind register.TaskKind, on string) {
	p.change(at, "action_done", map[string]string{"kind": string(kind), "on": on}, func(c *register.Change) {
		c.Close = []register.TaskClose{{Key: key, Kind: kind, Status: register.TaskStatusDone, Outcome: "C(E)TR held on " + on}}
	})
}

// escalate records escalation n's start and, if ackAt is set, its
// acknowledgement, as the escalation workflow does.
func (p *reportPerson) escalate(n int, started, ackAt time.Time) {
	p.t.Helper()
	e := register.Escalation{StartedAt: started, AckDueAt: started.Add(4 * time.Hour), Alerts: 1}
	record(p.t, p.s, escalationStep(p.id, n, 1, started, "escalation_started", e))
	if !ackAt.IsZero() {
		e.AcknowledgedAt, e.AcknowledgedBy = ackAt, "coordinator:jo"
		record(p.t, p.s, escalationStep(p.id, n, 2, ackAt, "escalation_acknowledged", e))
	}
}

// TestMonthlyReportFromARegisterOfKnownNumbers builds March and April 2026
// (the clocks go forward on 29 March) and checks March's return, then
// checks it is the same after April's changes.
func TestMonthlyReportFromARegisterOfKnownNumbers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	london, _ := time.LoadLocation("Europe/London")
	at := func(m time.Month, d, h, min int) time.Time { return time.Date(2026, m, d, h, min, 0, 0, london) }

	// Referred in February, so not a new referral in March; on the register, green.
	old := referPerson(t, s, at(2, 10, 9, 0), register.ReferrerProfessional, date(1980, 1, 1))
	old.consent(at(2, 11, 9, 0))
	old.rate(at(2, 12, 9, 0), "", register.Green)

	// A 15-year-old: red with an alert acknowledged in an hour, then admitted
	// (blue), whose post-admission C(E)TR is held before it is due.
	child := referPerson(t, s, at(3, 2, 9, 0), register.ReferrerProfessional, date(2010, 5, 1))
	child.consent(at(3, 3, 9, 0))
	child.rate(at(3, 4, 10, 0), "", register.Red)
	child.escalate(1, at(3, 4, 10, 0), at(3, 4, 11, 0))
	child.rate(at(3, 20, 9, 0), register.Red, register.Blue)
	key := child.openCTR(at(3, 20, 9, 0), register.TaskPostAdmissionCTR, at(3, 25, 17, 0))
	child.holdCTR(at(3, 26, 9, 0), key, register.TaskPostAdmissionCTR, "2026-03-24") // recorded late, held in time

	// Self-referred, 25: amber in March.
	young := referPerson(t, s, at(3, 5, 9, 0), register.ReferrerSelf, date(2001, 2, 3))
	young.consent(at(3, 6, 9, 0))
	young.rate(at(3, 7, 9, 0), "", register.Amber)

	// Referred by family, removed before consent.
	gone := referPerson(t, s, at(3, 10, 9, 0), register.ReferrerFamily, date(1995, 6, 1))
	gone.remove(at(3, 12, 9, 0), register.RemovedRiskReduced)

	// Red at 21:00 BST on 31 March (20:00 UTC: still March in London), its
	// alert acknowledged in April; a community C(E)TR due in March held late.
	late := referPerson(t, s, at(3, 15, 9, 0), register.ReferrerProfessional, date(1990, 3, 1))
	late.consent(at(3, 16, 9, 0))
	ctr := late.openCTR(at(3, 16, 9, 0), register.TaskCommunityCTR, at(3, 31, 17, 0))
	late.rate(at(3, 31, 21, 0), "", register.Red)
	late.escalate(1, at(3, 31, 21, 0), time.Time{})
	// Referred, not yet consented: on the register, unrated.
	referPerson(t, s, at(3, 31, 23, 30), register.ReferrerProfessional, date(2004, 1, 1))

	march, err := s.MonthlyReport(ctx, "2026-03", london)
	if err != nil {
		t.Fatal(err)
	}
	m := func(kv ...any) map[string]int {
		out := map[string]int{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1].(int)
		}
		return out
	}
	sixty := 60.0
	want := store.MonthlyReport{
		Month: "2026-03", From: at(3, 1, 0, 0).UTC(), To: at(4, 1, 0, 0).UTC(),
		OnRegister: store.OnRegisterCounts{Total: 5,
			ByRating:  m("red", 1, "amber", 1, "green", 1, "blue", 1, "unrated", 1),
			ByAgeBand: m("0-17", 1, "18-25", 2, "26+", 2),
			ByStage:   m("referred", 1, "active", 4, "consent_lapsed", 0)},
		Referrals: store.KindCounts{Total: 5, By: m("professional", 3, "self", 1, "family", 1)},
		Removals: store.KindCounts{Total: 1, By: m("risk_reduced", 1, "moved_out_of_area", 0, "aged_out", 0, "deceased", 0,
			"other", 0, "consent_withdrawn", 0, "consent_lapsed", 0)},
		Admissions: 1,
		RedAlerts:  store.RedAlertFigures{Started: 2, Acknowledged: 1, MedianAckMinutes: &sixty},
		CTRs:       store.CTRFigures{Due: 2, HeldInTime: 1},
	}
	if !reflect.DeepEqual(march, want) {
		g, _ := json.MarshalIndent(march, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("March:\n%s\nwant\n%s", g, w)
	}

	// April happens: the late alert acknowledged, the late C(E)TR held, the
	// amber person turns red and is removed, someone else referred.
	late.escalate(2, at(4, 1, 9, 0), at(4, 1, 9, 30))
	late.holdCTR(at(4, 2, 9, 0), ctr, register.TaskCommunityCTR, "2026-04-02")
	young.rate(at(4, 2, 9, 0), register.Amber, register.Red)
	young.remove(at(4, 10, 9, 0), register.RemovedMovedOutOfArea)
	referPerson(t, s, at(4, 11, 9, 0), register.ReferrerSelf, date(2012, 1, 1))

	again, err := s.MonthlyReport(ctx, "2026-03", london)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, march) {
		g, _ := json.MarshalIndent(again, "", " ")
		t.Fatalf("March asked again after April's changes differs:\n%s", g)
	}
	april, err := s.MonthlyReport(ctx, "2026-04", london)
	if err != nil {
		t.Fatal(err)
	}
	if april.OnRegister.Total != 5 || april.Removals.By["moved_out_of_area"] != 1 || april.Referrals.Total != 1 || april.OnRegister.ByRating["red"] != 1 {
		t.Errorf("April: %+v", april)
	}
	if len(march.CSVRow()) != len(store.MonthlyReportColumns()) {
		t.Errorf("CSV row has %d fields, %d columns", len(march.CSVRow()), len(store.MonthlyReportColumns()))
	}
	t.Logf("March 2026:\n%v\n%v", store.MonthlyReportColumns(), march.CSVRow())
}

func TestMonthlyReportRefusesABadMonth(t *testing.T) {
	for _, m := range []string{"2026-13", "2026-3", "March", ""} {
		if _, _, err := store.ParseReportMonth(m, time.UTC); err == nil {
			t.Errorf("month %q accepted", m)
		}
	}
}
