// Package storetest gives tests a register on real PostgreSQL (a fresh
// database in devstacktest's throwaway cluster), migrated, and the person
// most tests start from: one referral.
package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// Migrated is a store on a fresh database with the schema migrated,
// closed when the test ends.
func Migrated(tb testing.TB) *store.Store {
	tb.Helper()
	return MigratedAt(tb, devstacktest.Postgres(tb))
}

// MigratedAt is a store on the database at dbURL (a package's shared
// cluster, say) with the schema migrated, closed when the test ends — so
// before a database made for the test is dropped, as cleanups run last
// first.
func MigratedAt(tb testing.TB, dbURL string) *store.Store {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return st
}

// Cluster is a package's throwaway PostgreSQL cluster that gives each test
// a migrated register on a database of its own. A package declares one and
// runs its tests inside it:
//
//	var cluster = storetest.NewCluster("web")
//
//	func TestMain(m *testing.M) { os.Exit(cluster.Run(m)) }
type Cluster struct{ *devstacktest.Cluster }

// NewCluster is a cluster not yet started; prefix begins its databases'
// names.
func NewCluster(prefix string) Cluster { return Cluster{devstacktest.NewCluster(prefix)} }

// Migrated is a store on a fresh database of the cluster with the schema
// migrated, and the database's URL for what the store's API does not
// offer; both go when tb ends.
func (c Cluster) Migrated(tb testing.TB) (*store.Store, string) {
	tb.Helper()
	dbURL := c.Database(tb)
	return MigratedAt(tb, dbURL), dbURL
}

// Referral is a self-referral by phone of an autistic adult, Ada with
// the given family name and NHS number: made-up test data.
func Referral(familyName, nhsNumber string) register.Referral {
	return register.Referral{
		Person: register.Person{GivenName: "Ada", FamilyName: familyName, DateOfBirth: time.Date(1990, 3, 1, 0, 0, 0, 0, time.UTC),
			NHSNumber: nhsNumber, Diagnoses: []register.Diagnosis{register.Autism}},
		Referrer: register.Referrer{Kind: register.ReferrerSelf}, Channel: register.ChannelPhone, Reason: "crisis",
	}
}

// WithOneReferral is Migrated with one person, Ada Lovelace, referred by
// alice at receivedAt (zero: the database's now).
func WithOneReferral(tb testing.TB, receivedAt time.Time) (*store.Store, store.ReferralReceipt) {
	tb.Helper()
	st := Migrated(tb)
	rc, err := st.CreateReferral(context.Background(), store.NewReferral{
		Referral: Referral("Lovelace", "9434765919"), Actor: "alice", ReceivedAt: receivedAt,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return st, rc
}

// AcceptReferral records the referral accepted at at, opening its consent
// task (due four weeks on) as the person workflow does; it returns the
// task's key and ID.
func AcceptReferral(tb testing.TB, st *store.Store, rc store.ReferralReceipt, at time.Time) (key string, taskID int64) {
	tb.Helper()
	key = fmt.Sprintf("%d-1-consent_needed", rc.PersonID)
	ids, err := st.RecordChange(context.Background(), register.Change{
		PersonID: rc.PersonID, Seq: 1, At: at, Actor: "alice", Action: "referral_accepted",
		Snapshot: register.Snapshot{Stage: register.Referred}, AcceptReferralID: rc.ReferralID,
		Open: []register.TaskOpen{{Key: key, Kind: register.TaskConsentNeeded, DueAt: at.Add(28 * 24 * time.Hour),
			Actions: []register.Action{register.ActionRecordConsent, register.ActionCloseReferral}}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return key, ids[key]
}

// CompleteMbERequest records a complete MbE request (Jo Bloggs, made-up)
// mailed in as messageID and received at receivedAt, as the mailbox intake
// would, and returns it: awaiting a decision, on a task of its own.
func CompleteMbERequest(tb testing.TB, st *store.Store, messageID string, receivedAt time.Time) store.MbERequest {
	tb.Helper()
	ctx := context.Background()
	out, err := st.RecordMbEEmail(ctx, store.MbEEmail{MessageID: messageID, Subject: "MbE request", From: "sw@example.org",
		Details:    store.MbEDetails{Name: "Jo Bloggs", Purpose: "to agree a discharge plan", Invitees: "Jo and her mum", WhyNotMDT: "the MDT has not met"},
		ReceivedAt: receivedAt})
	if err != nil {
		tb.Fatal(err)
	}
	r, err := st.MbERequest(ctx, out.RequestID)
	if err != nil || r.TaskID == 0 {
		tb.Fatalf("request %+v, %v: want it awaiting a decision on a task", r, err)
	}
	return r
}

// Escalation is a person rated red at Start, their first escalation
// started then: the alert (due in four hours) and the three required
// actions, whose task IDs Tasks holds by kind.
type Escalation struct {
	PersonID int64
	Start    time.Time
	Tasks    map[register.TaskKind]int64
}

// Escalated records the referral rc's person rated red at at and their
// escalation started, as the workflows do.
func Escalated(tb testing.TB, st *store.Store, rc store.ReferralReceipt, at time.Time) Escalation {
	tb.Helper()
	ctx := context.Background()
	if _, err := st.RecordChange(ctx, register.Change{PersonID: rc.PersonID, Seq: 1, At: at, Actor: "alice", Action: "rated",
		Snapshot: register.Snapshot{Stage: register.Active, Rating: register.Red, RatedAt: at}, AcceptReferralID: rc.ReferralID}); err != nil {
		tb.Fatal(err)
	}
	e := Escalation{PersonID: rc.PersonID, Start: at, Tasks: map[register.TaskKind]int64{}}
	open := []register.TaskOpen{
		{Key: e.Key(register.TaskEscalationAlert), Kind: register.TaskEscalationAlert, DueAt: at.Add(4 * time.Hour), Actions: []register.Action{register.ActionAcknowledge}},
		{Key: e.Key(register.TaskCommunityCTR), Kind: register.TaskCommunityCTR, DueAt: at.Add(14 * 24 * time.Hour), Actions: []register.Action{register.ActionMarkDone}},
		{Key: e.Key(register.TaskKeyworkerReferral), Kind: register.TaskKeyworkerReferral, DueAt: at.Add(5 * 24 * time.Hour), Actions: []register.Action{register.ActionMarkDone}},
		{Key: e.Key(register.TaskMultiAgencyMeeting), Kind: register.TaskMultiAgencyMeeting, DueAt: at.Add(5 * 24 * time.Hour),
			Actions: []register.Action{register.ActionMarkDone, register.ActionNotNeeded}},
	}
	ids, err := st.RecordChange(ctx, e.Step(1, "escalation_started", at, "dsr:timer", func(c *register.Change) { c.Open = open }))
	if err != nil {
		tb.Fatal(err)
	}
	for _, o := range open {
		e.Tasks[o.Kind] = ids[o.Key]
	}
	return e
}

// Key is the event key of the escalation's first-step task of kind, as
// the workflows make it: "<person>-e1-1-<kind>".
func (e Escalation) Key(kind register.TaskKind) string {
	return fmt.Sprintf("%d-e1-1-%s", e.PersonID, kind)
}

// WithEscalation is WithOneReferral with Ada rated red at at and her first
// escalation started then.
func WithEscalation(tb testing.TB, at time.Time) (*store.Store, Escalation) {
	tb.Helper()
	st, rc := WithOneReferral(tb, at)
	return st, Escalated(tb, st, rc, at)
}

// Step is the escalation's step seq: action by actor at when, with what
// build adds (tasks opened or closed).
func (e Escalation) Step(seq int64, action string, when time.Time, actor string, build func(*register.Change)) register.Change {
	c := register.Change{PersonID: e.PersonID, Seq: seq, At: when, Actor: actor, Action: action,
		Detail:     map[string]string{"escalation": "1"},
		Escalation: &register.Escalation{Number: 1, StartedAt: e.Start, AckDueAt: e.Start.Add(4 * time.Hour), Alerts: int(seq)}}
	build(&c)
	return c
}
