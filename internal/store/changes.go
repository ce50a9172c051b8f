package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
)

// The activities write through the store.
var _ activities.Recorder = (*Store)(nil)

// RecordChange applies one change decided by a person's workflow, or by an
// escalation or meeting workflow running for them, in one transaction: the
// audit entry, the row the change advances, the tasks it opens, closes and
// chases, the referral it accepts, and what it tells coordinators (queued in
// the notification outbox: notify.ForChange). A change with Also set records
// that second change in the same transaction (a red rating and the first step
// of its escalation: the rating and its alert are one fact). It returns the ID
// of every task the changes name (opened, closed, reminded or escalated to
// managers), keyed by task key.
//
// It is idempotent, because Temporal retries an activity whose result it did
// not see. Each workflow numbers its own steps: personStep, escalationStep
// and meetingStep say how a change of each kind is keyed, how it is known to
// be fresh (not applied already), and which row it advances. Only a fresh
// change writes its tasks and referral. The person's row is locked first, so
// changes to one person apply one at a time even when a timed-out attempt and
// its retry overlap.
func (s *Store) RecordChange(ctx context.Context, c register.Change) (map[string]int64, error) {
	changes := []register.Change{c}
	if c.Also != nil {
		also := *c.Also
		if also.PersonID != c.PersonID || also.Also != nil {
			return nil, fmt.Errorf("store: record change %d for person %d: a change recorded with it must be the same person's, one deep", c.Seq, c.PersonID)
		}
		changes = append(changes, also)
	}
	for _, ch := range changes {
		if err := checkChange(ch); err != nil {
			return nil, fmt.Errorf("store: record change %d for person %d: %w", ch.Seq, ch.PersonID, err)
		}
	}
	ids := map[string]int64{}
	var alerts []OutboxItem
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		got, notes, err := recordChanges(ctx, tx, changes)
		if err != nil {
			return err
		}
		maps.Copy(ids, got)
		alerts, err = queueAndPickAlerts(ctx, tx, notes)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: record change %d for person %d: %w", c.Seq, c.PersonID, err)
	}
	s.handAlerts(ctx, alerts)
	return ids, nil
}

// personLock is the person's row lock, taken by the first statement of
// the first batch a transaction sends (queueIn), so that taking it costs no
// round trip of its own while the row is held. Once sent, seq is the
// sequence number of the change their projection was last written from, as
// it stood before this transaction's changes.
type personLock struct {
	personID int64
	seq      int64
}

// queueIn queues the lock as w's next statement.
func (l *personLock) queueIn(w *writes) {
	w.addReading("locking the person", func(row pgx.Row) error {
		err := row.Scan(&l.seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("person %d: %w", l.personID, ErrNotFound)
		}
		return err
	}, "select projection_seq from people where id = $1 for update", l.personID)
}

// inPersonTx runs fn in a transaction that holds the person's row lock, so
// that it applies one at a time with the changes RecordChange records for
// them.
func (s *Store) inPersonTx(ctx context.Context, personID int64, fn func(pgx.Tx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var w writes
		lock := personLock{personID: personID}
		lock.queueIn(&w)
		if err := w.send(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

// recordChanges applies the changes (a change and the one recorded with
// it) within tx, in order, and returns the task IDs by key and what the
// changes tell (notifications), for the caller to queue in the same
// transaction. Their statements are sent in as few round trips as the
// order of their effects allows, since the person's row is held
// throughout: the lock with every change's step (personStep,
// escalationStep, meetingStep), then every fresh change's tasks with the
// reads of the IDs of the tasks each names.
func recordChanges(ctx context.Context, tx pgx.Tx, changes []register.Change) (ids map[string]int64, notes []notify.Notification, err error) {
	type applying struct {
		c         register.Change
		isFresh   func() bool // read once the steps are sent
		fresh     bool
		meetingID int64
		named     *taskNames
	}
	all := make([]*applying, len(changes))
	lock := personLock{personID: changes[0].PersonID}
	var steps writes
	lock.queueIn(&steps)
	for i, c := range changes {
		a := &applying{c: c}
		switch {
		case c.Escalation != nil:
			a.isFresh, err = escalationStep(&steps, c)
		case c.Meeting != nil:
			a.isFresh, err = meetingStep(&steps, c)
		default:
			a.isFresh, err = personStep(&steps, c, &lock)
		}
		if err != nil {
			return nil, nil, err
		}
		all[i] = a
	}
	if err := steps.send(ctx, tx); err != nil {
		return nil, nil, err
	}

	var tasks writes
	for _, a := range all {
		a.fresh = a.isFresh()
		if a.c.Meeting != nil {
			// The meeting's row, advanced as its step says; its ID is
			// needed for its actions and emails.
			if a.meetingID, err = upsertMeeting(ctx, tx, a.c, a.fresh); err != nil {
				return nil, nil, err
			}
		}
		if a.fresh {
			tasks.addTasks(a.c)
		}
		a.named = tasks.addTaskIDs(a.c)
	}
	if err := tasks.send(ctx, tx); err != nil {
		return nil, nil, err
	}

	ids = map[string]int64{}
	for _, a := range all {
		got, kinds, err := a.named.found()
		if err != nil {
			return nil, nil, err
		}
		maps.Copy(ids, got)
		c := a.c
		if a.fresh {
			if c.AcceptReferralID != 0 {
				if err := acceptReferral(ctx, tx, c); err != nil {
					return nil, nil, err
				}
			}
			if c.Meeting != nil {
				if err := recordMeetingActions(ctx, tx, c, a.meetingID); err != nil {
					return nil, nil, err
				}
			}
		}
		// Queued on a replay too: the keys make it a no-op when the first
		// attempt queued them, and mend it if that attempt was from before
		// notifications were queued here.
		notes = append(notes, notify.ForChange(c, got, kinds)...)
		if c.Meeting != nil {
			emails, err := meetingEmails(ctx, tx, c, a.meetingID)
			if err != nil {
				return nil, nil, err
			}
			notes = append(notes, emails...)
		}
	}
	return ids, notes, nil
}

// personStep records a change from the person's own workflow, numbered by
// Seq across the person's life. Its audit entry, if it has one, is keyed
// "<person>-<seq>"; it is fresh when that entry is new (even an older,
// never-applied change still gets its tasks written) or, for a change with
// no entry, when the projection has not reached Seq. It advances the
// person's projection, only WHERE projection_seq < Seq, so a replay or a
// late, older change never overwrites a newer standing.
func personStep(w *writes, c register.Change, lock *personLock) (fresh func() bool, err error) {
	if c.Action == "" {
		w.addProjection(c)
		return func() bool { return lock.seq < c.Seq }, nil
	}
	if fresh, err = w.addAuditOf(c, fmt.Sprintf("%d-%d", c.PersonID, c.Seq)); err != nil {
		return nil, err
	}
	w.addProjection(c)
	return fresh, nil
}

// escalationStep records a step of an escalation workflow, whose steps are
// numbered from 1 within each escalation. It is always audited (checkChange),
// keyed "<person>-e<number>-<seq>" so its Seq cannot collide with the
// person's, and fresh exactly when that entry is new. It leaves the person's
// projection alone (the escalation workflow does not own it) and advances
// the escalation's own row instead (addEscalation).
func escalationStep(w *writes, c register.Change) (fresh func() bool, err error) {
	if fresh, err = w.addAuditOf(c, fmt.Sprintf("%d-e%d-%d", c.PersonID, c.Escalation.Number, c.Seq)); err != nil {
		return nil, err
	}
	w.addEscalation(c)
	return fresh, nil
}

// meetingStep records a step of a meeting workflow, numbered within the
// meeting as an escalation's are: always audited, keyed
// "<person>-m<number>-<seq>", fresh exactly when that entry is new. Once it
// is sent, the meeting's row is advanced (upsertMeeting, recordChanges).
func meetingStep(w *writes, c register.Change) (fresh func() bool, err error) {
	return w.addAuditOf(c, fmt.Sprintf("%d-m%d-%d", c.PersonID, c.Meeting.Number, c.Seq))
}

// addAuditOf queues the change's audit entry under eventKey, its
// idempotency key; once sent, inserted reports whether the entry is new: a
// replay adds none. Free text (notes, rationales, who gave consent) is kept
// beside the entry, not in it, so erasure can blank it (freetext.go).
func (w *writes) addAuditOf(c register.Change, eventKey string) (inserted func() bool, err error) {
	var added bool
	if err := w.addAudit("auditing "+c.Action, &added, c.At, c.Actor, c.Action, c.PersonID, c.Detail, eventKey); err != nil {
		return nil, err
	}
	return func() bool { return added }, nil
}

// addProjection queues the write of the person's standing from the
// change's snapshot, unless the projection is already at or past the change.
func (w *writes) addProjection(c register.Change) {
	sn := c.Snapshot
	w.add("updating the projection", `update people set
			stage = $3, rating = $4, rated_at = $5, next_review_due = $6,
			consent_basis = $7, consent_given_by = $8, consent_decided_on = $9, consent_expires_at = $10,
			removal_reason = $11, removed_at = $12, projection_seq = $2, updated_at = $13, assigned_to = $14
		where id = $1 and projection_seq < $2`,
		c.PersonID, c.Seq, string(sn.Stage), nullText(string(sn.Rating)), nullTime(sn.RatedAt), nullTime(sn.NextReviewDue),
		nullText(string(sn.ConsentBasis)), nullText(sn.ConsentGivenBy), nullTime(sn.ConsentDecidedOn), nullTime(sn.ConsentExpiresAt),
		nullText(string(sn.RemovalReason)), nullTime(sn.RemovedAt), c.At, nullText(sn.AssignedTo))
}

// checkChange refuses a change the database would reject less clearly, or
// that would record nonsense.
func checkChange(c register.Change) error {
	var problems []string
	if c.PersonID <= 0 {
		problems = append(problems, "person ID must be positive")
	}
	if c.Seq <= 0 {
		problems = append(problems, "seq must be positive")
	}
	if c.At.IsZero() {
		problems = append(problems, "at is required")
	}
	if c.Action != "" && strings.TrimSpace(c.Actor) == "" {
		problems = append(problems, "an audited change needs an actor")
	}
	if e := c.Escalation; e != nil {
		// Without an audit entry nothing would tell a retry from a first
		// attempt (there is no projection_seq to compare against), so an
		// escalation step must always be audited.
		if c.Action == "" {
			problems = append(problems, "an escalation change needs an action (it is always audited)")
		}
		if e.Number <= 0 {
			problems = append(problems, "escalation number must be positive")
		}
		if e.StartedAt.IsZero() {
			problems = append(problems, "escalation started at is required")
		}
		if e.Alerts < 0 {
			problems = append(problems, "escalation alerts must not be negative")
		}
	} else if m := c.Meeting; m != nil {
		// As an escalation's: numbered within the meeting, so always
		// audited.
		if c.Action == "" {
			problems = append(problems, "a meeting change needs an action (it is always audited)")
		}
		if m.Number <= 0 {
			problems = append(problems, "meeting number must be positive")
		}
		if _, err := register.ParseMeetingKind(string(m.Kind)); err != nil {
			problems = append(problems, "meeting kind "+err.Error())
		}
		if m.StartsAt.IsZero() || m.Duration <= 0 {
			problems = append(problems, "a meeting needs a start and a duration")
		}
	} else {
		// An escalation change's snapshot is not written, so only the
		// person workflow's is checked.
		if _, err := register.ParseStage(string(c.Snapshot.Stage)); err != nil {
			problems = append(problems, "snapshot stage "+err.Error())
		}
		if c.Snapshot.Rating != "" {
			if _, err := register.ParseRating(string(c.Snapshot.Rating)); err != nil {
				problems = append(problems, "snapshot rating "+err.Error())
			}
		}
	}
	for _, t := range c.Open {
		if t.Key == "" || t.Kind == "" {
			problems = append(problems, "every opened task needs a key and a kind")
			break
		}
	}
	for _, t := range c.Close {
		if t.Status != register.TaskStatusDone && t.Status != register.TaskStatusCancelled {
			problems = append(problems, fmt.Sprintf("task %q must close as done or cancelled, not %q", t.Key, t.Status))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// addTasks queues the opening, closing and chasing of the change's tasks,
// in that order, so a change may open and close the same task. Each write is idempotent on its
// own too: a task opens ON CONFLICT (task_key) DO NOTHING, closes only while
// open, and a reminder counts only if last_reminded_at is not already c.At.
func (w *writes) addTasks(c register.Change) {
	// Tasks an escalation opened carry its number; the person workflow's
	// have none (null).
	var escalation, meeting any
	if c.Escalation != nil {
		escalation = c.Escalation.Number
	}
	if c.Meeting != nil {
		meeting = c.Meeting.Number
	}
	for _, t := range c.Open {
		w.add("opening task "+t.Key, `insert into tasks (task_key, person_id, kind, actions, opened_at, due_at, escalation, meeting)
			values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (task_key) do nothing`,
			t.Key, c.PersonID, string(t.Kind), stringsOf(t.Actions), c.At, nullTime(t.DueAt), escalation, meeting)
	}
	for _, t := range c.Close {
		w.add("closing task "+t.Key, `update tasks set status = $3, outcome = $4, closed_by = $5, closed_at = $6
			where task_key = $1 and person_id = $2 and status = 'open'`,
			t.Key, c.PersonID, string(t.Status), t.Outcome, c.Actor, c.At)
	}
	for _, key := range c.Remind {
		w.add("reminding task "+key, `update tasks set reminders = reminders + 1, last_reminded_at = $3
			where task_key = $1 and person_id = $2 and last_reminded_at is distinct from $3`,
			key, c.PersonID, c.At)
	}
}

// addEscalation queues the write of where the change's escalation stands.
// A newer step (higher Seq) overwrites every column, since each step
// carries the whole state; an equal or older one (a retry, a late delivery)
// changes nothing, so the row only ever moves forward.
func (w *writes) addEscalation(c register.Change) {
	e := c.Escalation
	w.add(fmt.Sprintf("recording escalation %d", e.Number), `insert into escalations (person_id, number, started_at, ack_due_at, acknowledged_at,
			acknowledged_by, alerts, ended_at, outcome, seq, updated_at)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		on conflict (person_id, number) do update set
			started_at = excluded.started_at, ack_due_at = excluded.ack_due_at,
			acknowledged_at = excluded.acknowledged_at, acknowledged_by = excluded.acknowledged_by,
			alerts = excluded.alerts, ended_at = excluded.ended_at, outcome = excluded.outcome,
			seq = excluded.seq, updated_at = excluded.updated_at
		where escalations.seq < excluded.seq`,
		c.PersonID, e.Number, e.StartedAt, nullTime(e.AckDueAt), nullTime(e.AcknowledgedAt),
		nullText(e.AcknowledgedBy), e.Alerts, nullTime(e.EndedAt), nullText(e.Outcome), c.Seq, c.At)
}

// acceptReferral marks the referral as taken in by the workflow, once.
func acceptReferral(ctx context.Context, tx pgx.Tx, c register.Change) error {
	var owner int64
	err := tx.QueryRow(ctx, `update referrals set accepted_at = coalesce(accepted_at, $2)
		where id = $1 returning person_id`, c.AcceptReferralID, c.At).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("accepting referral %d: %w", c.AcceptReferralID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("accepting referral %d: %w", c.AcceptReferralID, err)
	}
	if owner != c.PersonID {
		return fmt.Errorf("accepting referral %d: it is about person %d, not %d", c.AcceptReferralID, owner, c.PersonID)
	}
	return nil
}

// taskNames are the tasks a change names (opened, closed, reminded, or
// escalated to managers: the caller needs the IDs to find the tasks' Slack
// messages), and, once sent, the IDs and kinds found for them.
type taskNames struct {
	personID int64
	keys     []string
	gotKeys  []string
	gotIDs   []int64
	gotKinds []string
}

// addTaskIDs queues the read of the IDs of every task the change names.
func (w *writes) addTaskIDs(c register.Change) *taskNames {
	n := &taskNames{personID: c.PersonID}
	for _, t := range c.Open {
		n.keys = append(n.keys, t.Key)
	}
	for _, t := range c.Close {
		n.keys = append(n.keys, t.Key)
	}
	n.keys = append(n.keys, c.Remind...)
	n.keys = append(n.keys, c.Managers...)
	if len(n.keys) == 0 {
		return n
	}
	w.addReading("reading task IDs", func(row pgx.Row) error {
		return row.Scan(&n.gotKeys, &n.gotIDs, &n.gotKinds)
	}, `select coalesce(array_agg(task_key), '{}'), coalesce(array_agg(id), '{}'), coalesce(array_agg(kind), '{}')
		from tasks where task_key = any($1) and person_id = $2`, n.keys, c.PersonID)
	return n
}

// found returns the IDs and kinds by key. A name that is not this person's
// task means the workflow and the record disagree (a restore from an old
// backup, a bug): that is reported, not papered over.
func (n *taskNames) found() (map[string]int64, map[string]register.TaskKind, error) {
	ids := make(map[string]int64, len(n.keys))
	kinds := make(map[string]register.TaskKind, len(n.keys))
	for i, k := range n.gotKeys {
		ids[k], kinds[k] = n.gotIDs[i], register.TaskKind(n.gotKinds[i])
	}
	var missing []string
	for _, k := range n.keys {
		if _, ok := ids[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, nil, fmt.Errorf("no task %s for person %d (never opened, or opened for someone else)",
			strings.Join(missing, ", "), n.personID)
	}
	return ids, kinds, nil
}
