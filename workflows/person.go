// The person workflow's map. One person's time on the register, in these
// files:
//
//   - person.go: PersonWorkflow's state (PersonState), its main loop,
//     continue-as-new, and record/recordWithIDs, taskKey and openTask.
//   - person_updates.go: every Update's validator and handler (refer,
//     consent, rate, review, remove, assign, complete an action, convene a
//     meeting).
//   - person_timers.go: what the clock does (reviews and consent falling
//     due, lapse, chasing) and when the loop next wakes.
//   - person_colours.go: what each colour brings (the escalation on turning
//     red, amber's meeting, blue's C(E)TRs, the keyworker referral, the
//     discharge hold), behind rulesVersion.
//   - person_consent_age.go, person_import.go, person_meetings.go: consent
//     at 16, an imported person's first step, and convening a meeting.
//   - shared with the escalation and meetings: tasks.go (the task list and
//     the activities' calls; retry.go, how they are retried), wakeup.go
//     (when a sleeping workflow wakes), handlers.go (how an Update is
//     registered and run under the lock) and required_actions.go
//     (completing a required action).
//
// The rules between them:
//
//  1. Change the state first, then record(): the change's snapshot is
//     taken from the state when record runs. Handlers and timer steps do
//     both under p.lock (locked for an Update, underLock for a timer step),
//     since each records through an activity and they would otherwise
//     interleave.
//  2. Open and close tasks only inside record's build closure, through the
//     *register.Change it is given: a task's key is read from that change
//     (taskKey), one past its number, so it cannot be taken before the
//     change is numbered.
//  3. Rule changes to running workflows go behind workflow.GetVersion: the
//     colours' actions and the escalation behind p.rules >= 1
//     (rulesVersion), consent at 16 behind p.consentAge, with a recorded
//     history in testdata/ that the replay test replays. Where a change can
//     be settled when a run starts, settle it there (p.rules 2 settles
//     alertWithRating): a version asked for first on a red rating adds a
//     marker and a search-attribute upsert to the task the alert waits on.

package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/internal/register"
)

// TimerActor is the audit actor for what the register does on its own.
const TimerActor = "dsr:timer"

// PersonWorkflowInput starts (or continues) a person's workflow.
type PersonWorkflowInput struct {
	PersonID int64
	// State is carried across continue-as-new; nil on a first start.
	State *PersonState
	// ContinueAsNewAfterEvents, when above zero, continues as new once the
	// history is that long. Tests set it low to cross continue-as-new; in
	// production it is zero and the server's suggestion decides.
	ContinueAsNewAfterEvents int
}

// PersonResult is how a person's spell on the register ended.
type PersonResult struct {
	Stage         register.Stage
	RemovalReason register.RemovalReason
	RemovedAt     time.Time
}

// PersonState is everything the workflow knows about the person. It holds
// no names or NHS numbers: those stay in PostgreSQL. The date of birth is
// here because age rules need it; workflow payloads are encrypted.
type PersonState struct {
	PersonID    int64
	DateOfBirth time.Time
	Stage       register.Stage
	ReferredAt  time.Time
	// ReferralChased is set once the no-consent deadline has passed and the
	// chase task has opened, so it opens once per spell.
	ReferralChased bool

	Consent *ConsentState

	Rating         register.Rating
	RatedAt        time.Time
	LastReviewedAt time.Time

	RemovalReason register.RemovalReason
	RemovedAt     time.Time

	// AssignedTo is the coordinator the person is assigned to, if any.
	AssignedTo string

	// Tasks are the open tasks, in the order they opened.
	Tasks TaskList
	// Seq numbers the changes recorded for this person; with PersonID it
	// makes each recording idempotent.
	Seq int64
	// Recorded is the snapshot last written to the store, so a change of
	// policy that moves a date is written once, not on every wake.
	Recorded register.Snapshot
	// Policy is the policy last read. It is carried across continue-as-new
	// so validators of the first Updates in a new run have it.
	Policy register.Policy

	// Escalations counts the person's escalations (spells at red);
	// OpenEscalation is the number of the one running, 0 when none.
	Escalations    int
	OpenEscalation int
	// KeyworkerReferredOn is when a keyworker referral was made this spell.
	KeyworkerReferredOn time.Time
	// AdmittedAt is when the person was last rated blue, SecurePlacement
	// whether that placement is a secure service, and LastInpatientCTROn
	// the date the last post-admission or inpatient C(E)TR was held.
	AdmittedAt         time.Time
	SecurePlacement    bool
	LastInpatientCTROn time.Time
	// DischargedAt is when the person last left blue: the discharge hold
	// runs from it.
	DischargedAt time.Time
	// Meetings counts the person's meetings (MeetingWorkflow), numbered on
	// from the record in a new spell.
	Meetings int
}

// ConsentState is the consent in force.
type ConsentState struct {
	Basis     register.ConsentBasis
	GivenBy   string
	DecidedOn time.Time
	// RunsFrom is when the consent period starts: the decision date, or the
	// moment it was recorded when it was recorded on the day it was made.
	RunsFrom   time.Time
	RecordedAt time.Time
}

// person is the running workflow: state plus what it needs to act.
type person struct {
	PersonState
	// lock serialises the main loop's timer steps and Update handlers, which
	// both record changes through activities and so may interleave.
	lock    workflow.Mutex
	changed bool
	// rules is the workflow.GetVersion of rulesVersion for this run:
	// DefaultVersion for histories from before escalation and the colour
	// actions; 2 where a red rating records its alert (alertWithRating).
	rules workflow.Version
	// searchDone holds the search attributes last upserted.
	searchDone register.Snapshot
	// consentAge is the workflow.GetVersion of consentAgeVersion, once
	// consentAgeDecided (see person_consent_age.go).
	consentAge        workflow.Version
	consentAgeDecided bool
}

// PersonWorkflow is one person's time on the register: referral, consent,
// ratings and their reviews, renewal, lapse and removal. It is started by the
// first referral (Update-with-Start) and ends with removal.
func PersonWorkflow(ctx workflow.Context, in PersonWorkflowInput) (PersonResult, error) {
	p := &person{lock: workflow.NewMutex(ctx)}
	p.rules = workflow.GetVersion(ctx, rulesVersion, workflow.DefaultVersion, 2)
	if in.State != nil {
		p.PersonState = *in.State
		p.searchDone = p.Recorded
	}
	p.PersonID = in.PersonID
	if err := p.registerHandlers(ctx); err != nil {
		return PersonResult{}, err
	}
	p.receiveActionsDone(ctx)

	// A person's workflow is only ever started together with their
	// referral; wait for it to be taken in.
	if ok, err := workflow.AwaitWithTimeout(ctx, 24*time.Hour, func() bool { return p.Stage != "" }); err != nil {
		return PersonResult{}, err
	} else if !ok {
		return PersonResult{}, fmt.Errorf("person %d: workflow started without a referral", p.PersonID)
	}

	for p.Stage != register.Removed {
		if err := refreshPolicy(ctx, &p.Policy); err != nil {
			return PersonResult{}, err
		}
		if err := p.actOnWhatIsDue(ctx); err != nil {
			return PersonResult{}, err
		}
		if p.Stage == register.Removed {
			break
		}
		if err := p.recordMovedDates(ctx); err != nil {
			return PersonResult{}, err
		}
		if shouldContinueAsNew(ctx, in.ContinueAsNewAfterEvents) {
			// Let in-flight Updates finish so none is lost, then carry
			// the state into a fresh history.
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return PersonResult{}, err
			}
			p.drainActionsDone(ctx)
			return PersonResult{}, workflow.NewContinueAsNewError(ctx, PersonWorkflow, PersonWorkflowInput{
				PersonID:                 p.PersonID,
				State:                    &p.PersonState,
				ContinueAsNewAfterEvents: in.ContinueAsNewAfterEvents,
			})
		}
		p.changed = false
		wait := p.nextDeadline(workflow.Now(ctx)).Sub(workflow.Now(ctx))
		if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return p.changed }); err != nil {
			return PersonResult{}, err
		}
	}

	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return PersonResult{}, err
	}
	return PersonResult{Stage: p.Stage, RemovalReason: p.RemovalReason, RemovedAt: p.RemovedAt}, nil
}

// shouldContinueAsNew says when a long-lived workflow should carry its state
// into a fresh history: when the server suggests it, or past a test-only
// threshold.
func shouldContinueAsNew(ctx workflow.Context, afterEvents int) bool {
	info := workflow.GetInfo(ctx)
	if info.GetContinueAsNewSuggested() {
		return true
	}
	return afterEvents > 0 && info.GetCurrentHistoryLength() >= afterEvents
}

// record writes a change through the RecordChange activity and applies its
// results (task IDs) to the state. Callers hold the lock and have already
// updated the state the snapshot is taken from.
func (p *person) record(ctx workflow.Context, actor, action string, detail map[string]string, build func(*register.Change)) error {
	_, err := p.recordWithIDs(ctx, actor, action, detail, build)
	return err
}

// recordWithIDs is record, returning the IDs of every task the change (and
// a change recorded with it) names.
func (p *person) recordWithIDs(ctx workflow.Context, actor, action string, detail map[string]string, build func(*register.Change)) (map[string]int64, error) {
	// A consent given for a child is recorded with the expiry it has under
	// the rule this run follows, decided before the snapshot is taken.
	p.decideConsentAge(ctx, workflow.Now(ctx), true)
	p.Seq++
	c := register.Change{
		PersonID: p.PersonID,
		Seq:      p.Seq,
		At:       workflow.Now(ctx),
		Actor:    actor,
		Action:   action,
		Detail:   detail,
		Snapshot: p.snapshot(),
	}
	if build != nil {
		build(&c)
	}
	ids, err := p.Tasks.record(ctx, c)
	if err != nil {
		return nil, err
	}
	p.Recorded = c.Snapshot
	p.changed = true
	return ids, p.upsertSearchAttributes(ctx)
}

// snapshot is the person's standing for the store's projection.
func (p *person) snapshot() register.Snapshot {
	s := register.Snapshot{
		Stage:         p.Stage,
		Rating:        p.Rating,
		RatedAt:       p.RatedAt,
		RemovalReason: p.RemovalReason,
		RemovedAt:     p.RemovedAt,
		AssignedTo:    p.AssignedTo,
	}
	if p.Stage == register.Active {
		s.NextReviewDue = p.reviewDueAt()
	}
	if p.Consent != nil && p.Stage != register.Removed {
		s.ConsentBasis = p.Consent.Basis
		s.ConsentGivenBy = p.Consent.GivenBy
		s.ConsentDecidedOn = p.Consent.DecidedOn
		s.ConsentExpiresAt = p.consentExpiresAt()
	}
	return s
}

// recordMovedDates writes the projection when a date moved without anyone
// acting: a new policy changed a review cadence or the consent period.
func (p *person) recordMovedDates(ctx workflow.Context) error {
	return underLock(ctx, p.lock, func() error {
		if p.snapshot().Equal(p.Recorded) {
			return nil
		}
		return p.record(ctx, TimerActor, "", nil, nil)
	})
}

func (p *person) upsertSearchAttributes(ctx workflow.Context) error {
	s := p.Recorded
	if s.Stage == p.searchDone.Stage && s.Rating == p.searchDone.Rating &&
		s.NextReviewDue.Equal(p.searchDone.NextReviewDue) && s.ConsentExpiresAt.Equal(p.searchDone.ConsentExpiresAt) {
		return nil
	}
	updates := []temporal.SearchAttributeUpdate{SearchStage.ValueSet(string(s.Stage))}
	if s.Rating != "" {
		updates = append(updates, SearchRating.ValueSet(string(s.Rating)))
	} else {
		updates = append(updates, SearchRating.ValueUnset())
	}
	if !s.NextReviewDue.IsZero() {
		updates = append(updates, SearchNextReview.ValueSet(s.NextReviewDue))
	} else {
		updates = append(updates, SearchNextReview.ValueUnset())
	}
	if !s.ConsentExpiresAt.IsZero() {
		updates = append(updates, SearchConsentExpires.ValueSet(s.ConsentExpiresAt))
	} else {
		updates = append(updates, SearchConsentExpires.ValueUnset())
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		return fmt.Errorf("upsert search attributes: %w", err)
	}
	p.searchDone = s
	return nil
}

// taskKey names a task uniquely and stably: person, one past the number of
// the change that opens it, and its kind. "One past" because the key was
// first read from the person's Seq after recordWithIDs had numbered the
// change, plus one; every recorded key has that shape, so it stays. It is
// read from the change itself, so a key cannot be taken before the change
// is numbered.
func taskKey(c *register.Change, kind register.TaskKind) string {
	return fmt.Sprintf("%d-%d-%s", c.PersonID, c.Seq+1, kind)
}

// openTask adds a task to the state and to the change that records it. c
// is the change a record build closure is given.
func (p *person) openTask(c *register.Change, now time.Time, kind register.TaskKind, due time.Time, actions ...register.Action) {
	p.Tasks.open(c, taskKey(c, kind), now, kind, due, actions...)
}

// closeTasks closes every open task of the given kinds (all when none given).
func (p *person) closeTasks(c *register.Change, status register.TaskStatus, outcome string, kinds ...register.TaskKind) {
	p.Tasks.close(c, status, outcome, kinds...)
}

// status is what the status query and every Update answer with.
func (p *person) status(now time.Time) PersonStatus {
	s := p.snapshot()
	st := PersonStatus{
		PersonID:         p.PersonID,
		Stage:            s.Stage,
		Rating:           s.Rating,
		RatedAt:          s.RatedAt,
		NextReviewDue:    s.NextReviewDue,
		ConsentBasis:     s.ConsentBasis,
		ConsentExpiresAt: s.ConsentExpiresAt,
		RemovalReason:    s.RemovalReason,
	}
	st.OpenTasks = p.Tasks.refs(now)
	st.OpenEscalation = p.OpenEscalation
	if until := p.heldAtRedUntil(); now.Before(until) {
		st.HeldAtRedUntil = until
	}
	st.SecurePlacement = p.SecurePlacement && p.Rating == register.Blue
	st.NextInpatientCTRDue = p.nextInpatientCTRDue()
	return st
}

// PersonStatus is the person's standing as the workflow holds it.
type PersonStatus struct {
	PersonID         int64
	Stage            register.Stage
	Rating           register.Rating
	RatedAt          time.Time
	NextReviewDue    time.Time
	ConsentBasis     register.ConsentBasis
	ConsentExpiresAt time.Time
	RemovalReason    register.RemovalReason
	OpenTasks        []TaskRef
	// OpenEscalation is the number of the escalation running, 0 when none.
	OpenEscalation int
	// HeldAtRedUntil is when the discharge hold ends, if one runs.
	HeldAtRedUntil      time.Time
	SecurePlacement     bool
	NextInpatientCTRDue time.Time
}

// TaskRef is an open task as the status shows it.
type TaskRef struct {
	ID      int64
	Key     string
	Kind    register.TaskKind
	DueAt   time.Time
	Overdue bool
}
