package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
)

// TaskMbEDecision: a complete MbE request waits for the team to hold the
// meeting or decline it.
const TaskMbEDecision register.TaskKind = "mbe_decision"

// mbeDecisionTaskPrefix starts a decision task's key; the request's ID
// follows, which is how a click on the task finds its request.
const mbeDecisionTaskPrefix = "mbe-decision-"

// MbERequestOfTask is the MbE request a decision task is about, read from
// the task's key; ok is false for any other task.
func MbERequestOfTask(t Task) (id int64, ok bool) {
	rest, found := strings.CutPrefix(t.Key, mbeDecisionTaskPrefix)
	if !found || t.Kind != TaskMbEDecision {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil && id > 0
}

// personlessTaskOpened and personlessTaskClosed are the Slack notifications
// of a task that belongs to no person when it opens (an MbE decision, an
// identity check), keyed like every task's ("<task key>:opened"), so the
// prompt is posted once and edited once.
func personlessTaskOpened(taskKey string, taskID int64, kind register.TaskKind, due, at time.Time) notify.Notification {
	return notify.Notification{Key: taskKey + ":opened", Event: notify.TaskOpened, TaskID: taskID, TaskKind: kind, DueAt: due, At: at}
}

func personlessTaskClosed(taskKey string, taskID int64, kind register.TaskKind, outcome, actor string, at time.Time) notify.Notification {
	return notify.Notification{Key: taskKey + ":closed", Event: notify.TaskClosed, TaskID: taskID, TaskKind: kind, Outcome: outcome, Actor: actor, At: at}
}

// MbEDecisionDueWithin is how long the team has to decide before the task
// shows as overdue.
const MbEDecisionDueWithin = 5 * 24 * time.Hour

// The MbE request statuses.
const (
	MbEIncomplete       = "incomplete"
	MbEAwaitingDecision = "awaiting_decision"
	MbEHeld             = "held"
	MbEDeclined         = "declined"
)

// MbEMailbox is the audit actor for what the intake records.
const MbEMailbox = "mailbox"

// ErrMbEDecided: the request was already decided the other way, or is not
// ready for what was asked; the error says which.
var ErrMbEDecided = errors.New("the MbE request was already decided")

// ErrMbENotReady: the request cannot take the action yet (still incomplete)
// or any more (matched to someone else).
var ErrMbENotReady = errors.New("the MbE request does not allow this")

// MbEDetails are the four things the team asks for; "" is not given.
type MbEDetails struct {
	Name      string `json:"name"`
	Purpose   string `json:"purpose"`
	Invitees  string `json:"invitees"`
	WhyNotMDT string `json:"why_not_mdt"`
}

// Missing names the details not given, in the team's order.
func (d MbEDetails) Missing() []string {
	var out []string
	for _, f := range []struct{ name, v string }{
		{"name", d.Name}, {"purpose", d.Purpose}, {"invitees", d.Invitees}, {"why_not_mdt", d.WhyNotMDT},
	} {
		if strings.TrimSpace(f.v) == "" {
			out = append(out, f.name)
		}
	}
	return out
}

func (d MbEDetails) merge(later MbEDetails) MbEDetails {
	fill := func(have *string, v string) {
		if strings.TrimSpace(*have) == "" {
			*have = v
		}
	}
	fill(&d.Name, later.Name)
	fill(&d.Purpose, later.Purpose)
	fill(&d.Invitees, later.Invitees)
	fill(&d.WhyNotMDT, later.WhyNotMDT)
	return d
}

// MbERequest is a request for a Meeting by Exception, as recorded.
type MbERequest struct {
	ID          int64      `json:"id"`
	Status      string     `json:"status"`
	Requester   string     `json:"requester"`
	Subject     string     `json:"subject"`
	MessageID   string     `json:"message_id"`
	Details     MbEDetails `json:"details"`
	Missing     []string   `json:"missing"`
	ReceivedAt  time.Time  `json:"received_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	PersonID    int64      `json:"person_id,omitempty"`
	MatchedBy   string     `json:"matched_by,omitempty"`
	MatchedAt   *time.Time `json:"matched_at,omitempty"`
	ReferralID  int64      `json:"referral_id,omitempty"`
	TaskID      int64      `json:"task_id,omitempty"`
	Decision    string     `json:"decision,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	DecidedBy   string     `json:"decided_by,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
}

const mbeColumns = `id, status, requester, subject, message_id, person_name, purpose, invitees, why_not_mdt,
	received_at, completed_at, coalesce(person_id, 0), coalesce(matched_by, ''), matched_at, coalesce(referral_id, 0),
	coalesce(task_id, 0), coalesce(decision, ''), reason, coalesce(decided_by, ''), decided_at`

func scanMbE(row pgx.CollectableRow) (MbERequest, error) {
	var r MbERequest
	err := row.Scan(&r.ID, &r.Status, &r.Requester, &r.Subject, &r.MessageID, &r.Details.Name, &r.Details.Purpose,
		&r.Details.Invitees, &r.Details.WhyNotMDT, &r.ReceivedAt, &r.CompletedAt, &r.PersonID, &r.MatchedBy, &r.MatchedAt,
		&r.ReferralID, &r.TaskID, &r.Decision, &r.Reason, &r.DecidedBy, &r.DecidedAt)
	r.ReceivedAt = r.ReceivedAt.UTC()
	r.CompletedAt, r.MatchedAt, r.DecidedAt = utc(r.CompletedAt), utc(r.MatchedAt), utc(r.DecidedAt)
	r.Missing = r.Details.Missing()
	if r.Missing == nil {
		r.Missing = []string{}
	}
	return r, err
}

// MbEEmail is one email taken from the mailbox.
type MbEEmail struct {
	MessageID string
	Subject   string
	From      string
	// Thread is every Message-ID it says it answers (In-Reply-To and
	// References).
	Thread     []string
	Details    MbEDetails
	ReceivedAt time.Time
}

// MbEEmailOutcome says what recording an email did.
type MbEEmailOutcome struct {
	// Recorded is false when the email had been recorded already (a restart
	// before it was moved, or another dsr instance): nothing was done.
	Recorded  bool
	RequestID int64
	Status    string
	// Reply: the email answered an earlier request in its thread.
	Reply bool
}

// RecordMbEEmail records an email from the mailbox once, in one transaction:
// the Message-ID first (a second attempt, by this process after a restart
// or by another, finds it and does nothing), then its effect. A reply in
// the thread of an incomplete request fills in what was missing; anything
// else makes a new request. Still incomplete, the requester is sent a reply
// naming what is missing (a notification queued in this transaction);
// complete, an mbe_decision task opens for the team.
func (s *Store) RecordMbEEmail(ctx context.Context, e MbEEmail) (MbEEmailOutcome, error) {
	if e.MessageID == "" || e.From == "" {
		return MbEEmailOutcome{}, errors.New("store: record MbE email: a Message-ID and a sender are required")
	}
	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = time.Now()
	}
	var out MbEEmailOutcome
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `insert into mbe_emails (message_id) values ($1) on conflict (message_id) do nothing`, e.MessageID)
		if err != nil {
			return fmt.Errorf("recording the email: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		out.Recorded = true
		id, err := mbeOfThread(ctx, tx, e.Thread)
		if err != nil {
			return err
		}
		if id != 0 {
			out.Reply = true
			out.RequestID, out.Status, err = addToMbE(ctx, tx, id, e)
		} else {
			out.RequestID, out.Status, err = newMbE(ctx, tx, e)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `update mbe_emails set mbe_request_id = $2 where message_id = $1`, e.MessageID, out.RequestID)
		return err
	})
	if err != nil {
		return MbEEmailOutcome{}, fmt.Errorf("store: record MbE email: %w", err)
	}
	return out, nil
}

// MbEEmailRecorded reports whether an email was recorded already.
func (s *Store) MbEEmailRecorded(ctx context.Context, messageID string) (bool, error) {
	var n int
	err := s.pool.QueryRow(ctx, `select count(*) from mbe_emails where message_id = $1`, messageID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: MbE email recorded: %w", err)
	}
	return n > 0, nil
}

// mbeOfThread finds the request an email answers: one whose emails, or
// whose replies from the team, are in its thread.
func mbeOfThread(ctx context.Context, tx pgx.Tx, thread []string) (int64, error) {
	if len(thread) == 0 {
		return 0, nil
	}
	var id int64
	err := tx.QueryRow(ctx, `select id from (
			select mbe_request_id as id from mbe_emails where message_id = any($1) and mbe_request_id is not null
			union select mbe_request_id from mail_sent where message_id = any($1) and mbe_request_id is not null
		) t order by id desc limit 1`, thread).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("finding the request replied to: %w", err)
	}
	return id, nil
}

func newMbE(ctx context.Context, tx pgx.Tx, e MbEEmail) (int64, string, error) {
	var id int64
	err := tx.QueryRow(ctx, `insert into mbe_requests (requester, subject, message_id, person_name, purpose, invitees, why_not_mdt, received_at)
		values ($1, $2, $3, $4, $5, $6, $7, $8) returning id`,
		e.From, e.Subject, e.MessageID, e.Details.Name, e.Details.Purpose, e.Details.Invitees, e.Details.WhyNotMDT, e.ReceivedAt).Scan(&id)
	if err != nil {
		return 0, "", fmt.Errorf("recording the MbE request: %w", err)
	}
	if err := mbeAudit(ctx, tx, e.ReceivedAt, MbEMailbox, "mbe_request_received", 0, id, map[string]string{
		"missing": strings.Join(e.Details.Missing(), ","),
	}); err != nil {
		return 0, "", err
	}
	status, err := settleMbE(ctx, tx, id, e.Details, e.MessageID, e.ReceivedAt)
	return id, status, err
}

func addToMbE(ctx context.Context, tx pgx.Tx, id int64, e MbEEmail) (int64, string, error) {
	rows, err := tx.Query(ctx, `select `+mbeColumns+` from mbe_requests where id = $1 for update`, id)
	if err != nil {
		return 0, "", err
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanMbE)
	if err != nil {
		return 0, "", fmt.Errorf("reading MbE request %d: %w", id, err)
	}
	if r.Status != MbEIncomplete {
		// Complete already: the reply is kept with the request, and the
		// team reads it in the mailbox's Processed folder.
		return id, r.Status, mbeAudit(ctx, tx, e.ReceivedAt, MbEMailbox, "mbe_reply_received", r.PersonID, id, nil)
	}
	d := r.Details.merge(e.Details)
	if _, err := tx.Exec(ctx, `update mbe_requests set person_name = $2, purpose = $3, invitees = $4, why_not_mdt = $5 where id = $1`,
		id, d.Name, d.Purpose, d.Invitees, d.WhyNotMDT); err != nil {
		return 0, "", fmt.Errorf("completing MbE request %d: %w", id, err)
	}
	if err := mbeAudit(ctx, tx, e.ReceivedAt, MbEMailbox, "mbe_reply_received", r.PersonID, id, map[string]string{
		"missing": strings.Join(d.Missing(), ","),
	}); err != nil {
		return 0, "", err
	}
	status, err := settleMbE(ctx, tx, id, d, e.MessageID, e.ReceivedAt)
	return id, status, err
}

// settleMbE moves a request on from what it now holds: still incomplete,
// the requester is asked for what is missing (keyed by the email that left
// it so); complete, it waits for the team's decision on a task.
func settleMbE(ctx context.Context, tx pgx.Tx, id int64, d MbEDetails, emailID string, at time.Time) (string, error) {
	if len(d.Missing()) > 0 {
		return MbEIncomplete, queueNotifications(ctx, tx, []notify.Notification{{
			Key: fmt.Sprintf("mbe-%d:missing:%s", id, opaqueEmailKey(emailID)), Event: notify.MbEMissingFields, MbERequest: id,
			ReplyTo: emailID, At: at,
		}})
	}
	var taskID int64
	taskKey, due := fmt.Sprintf("%s%d", mbeDecisionTaskPrefix, id), at.Add(MbEDecisionDueWithin)
	err := tx.QueryRow(ctx, `insert into tasks (task_key, person_id, kind, actions, opened_at, due_at)
		values ($1, null, $2, $3, $4, $5) returning id`,
		taskKey, string(TaskMbEDecision), []string{"hold", "decline"}, at, due,
	).Scan(&taskID)
	if err != nil {
		return "", fmt.Errorf("opening the MbE decision task: %w", err)
	}
	if err := queueNotifications(ctx, tx, []notify.Notification{personlessTaskOpened(taskKey, taskID, TaskMbEDecision, due, at)}); err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, `update mbe_requests set status = $2, completed_at = $3, task_id = $4 where id = $1`,
		id, MbEAwaitingDecision, at, taskID); err != nil {
		return "", fmt.Errorf("completing MbE request %d: %w", id, err)
	}
	return MbEAwaitingDecision, mbeAudit(ctx, tx, at, MbEMailbox, "mbe_request_complete", 0, id, map[string]string{"task_id": fmt.Sprint(taskID)})
}

// MbERequests lists requests, oldest first; status "" is all.
func (s *Store) MbERequests(ctx context.Context, status string) ([]MbERequest, error) {
	return queryAll(ctx, s.pool, "MbE requests", scanMbE, `select `+mbeColumns+` from mbe_requests where ($1 = '' or status = $1) order by id`, status)
}

// MbERequest returns one request, or ErrNotFound.
func (s *Store) MbERequest(ctx context.Context, id int64) (MbERequest, error) {
	return queryOne(ctx, s.pool, fmt.Sprintf("MbE request %d", id), scanMbE, `select `+mbeColumns+` from mbe_requests where id = $1`, id)
}

// MbECandidate is someone on the register whose name is like the request's.
type MbECandidate struct {
	PersonID    int64          `json:"person_id"`
	Reference   string         `json:"reference"`
	GivenName   string         `json:"given_name"`
	FamilyName  string         `json:"family_name"`
	DateOfBirth string         `json:"date_of_birth"`
	Postcode    string         `json:"postcode"`
	Stage       register.Stage `json:"stage"`
}

// maxMbECandidates bounds the list a coordinator is shown.
const maxMbECandidates = 20

// MbECandidates lists the people whose names are like the full name a
// request gives, compared as identity checks compare them (case, accents,
// spaces and punctuation ignored; a typo or a known short form alike; first
// and last names either way round). Only a coordinator matches: this is a
// list to choose from, never a match.
func (s *Store) MbECandidates(ctx context.Context, fullName string) ([]MbECandidate, error) {
	words := strings.Fields(fullName)
	if len(words) == 0 {
		return []MbECandidate{}, nil
	}
	first, last := words[0], words[len(words)-1]
	rows, err := s.pool.Query(ctx, `select id, given_name, family_name, date_of_birth, postcode, stage from people
		where merged_into is null and given_name <> '' order by id`)
	if err != nil {
		return nil, fmt.Errorf("store: MbE candidates: %w", err)
	}
	defer rows.Close()
	out := []MbECandidate{}
	for rows.Next() {
		var c MbECandidate
		var dob time.Time
		if err := rows.Scan(&c.PersonID, &c.GivenName, &c.FamilyName, &dob, &c.Postcode, &c.Stage); err != nil {
			return nil, fmt.Errorf("store: MbE candidates: %w", err)
		}
		straight := register.NamesAlike(c.GivenName, first) && register.NamesAlike(c.FamilyName, last)
		swapped := register.NamesAlike(c.GivenName, last) && register.NamesAlike(c.FamilyName, first)
		if len(words) == 1 {
			straight, swapped = register.NamesAlike(c.FamilyName, first), register.NamesAlike(c.GivenName, first)
		}
		if !straight && !swapped {
			continue
		}
		c.Reference, c.DateOfBirth = register.Reference(c.PersonID), dob.Format("2006-01-02")
		out = append(out, c)
		if len(out) == maxMbECandidates {
			break
		}
	}
	return out, rows.Err()
}

// MatchMbE records a coordinator's word that a request is about someone on
// the register (and, from a referral started from it, which referral).
// Matching again to the same person answers the same; to someone else is
// ErrMbENotReady.
func (s *Store) MatchMbE(ctx context.Context, id, personID, referralID int64, actor string, at time.Time) (MbERequest, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		r, err := lockMbE(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.PersonID == personID && personID != 0 {
			return nil
		}
		if r.PersonID != 0 {
			return fmt.Errorf("%w: it is matched to %s already", ErrMbENotReady, register.Reference(r.PersonID))
		}
		if personID != 0 {
			var merged *int64
			err := tx.QueryRow(ctx, `select merged_into from people where id = $1`, personID).Scan(&merged)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("person %s: %w", register.Reference(personID), ErrNotFound)
			}
			if err != nil {
				return err
			}
			if merged != nil {
				return fmt.Errorf("%w: %s was merged into %s: match that record", ErrMbENotReady, register.Reference(personID), register.Reference(*merged))
			}
		}
		if _, err := tx.Exec(ctx, `update mbe_requests set person_id = $2, matched_by = $3, matched_at = $4,
			referral_id = coalesce($5, referral_id) where id = $1`, id, nullID(personID), actor, at, nullID(referralID)); err != nil {
			return fmt.Errorf("matching MbE request %d: %w", id, err)
		}
		if personID != 0 {
			if _, err := tx.Exec(ctx, `update tasks set person_id = $2 where id = $1 and person_id is null`, nullID(r.TaskID), personID); err != nil {
				return fmt.Errorf("filing the decision task: %w", err)
			}
		}
		return mbeAudit(ctx, tx, at, actor, "mbe_request_matched", personID, id, map[string]string{"referral_id": fmt.Sprint(referralID)})
	})
	if err != nil {
		return MbERequest{}, fmt.Errorf("store: match MbE request %d: %w", id, err)
	}
	return s.MbERequest(ctx, id)
}

// DecideMbE records the team's decision, closes its task and queues the
// email telling the requester, in one transaction. The same decision again
// answers the same; the other is ErrMbEDecided; a request still incomplete
// is ErrMbENotReady.
func (s *Store) DecideMbE(ctx context.Context, id int64, decision, reason, actor string, at time.Time) (MbERequest, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		r, err := lockMbE(ctx, tx, id)
		if err != nil {
			return err
		}
		switch r.Status {
		case MbEIncomplete:
			return fmt.Errorf("%w: it is still incomplete (missing %s)", ErrMbENotReady, strings.Join(r.Missing, ", "))
		case MbEHeld, MbEDeclined:
			if r.Decision == decision {
				return nil
			}
			return fmt.Errorf("%w: %s by %s", ErrMbEDecided, r.Decision, r.DecidedBy)
		}
		status := MbEHeld
		if decision == "decline" {
			status = MbEDeclined
		}
		if _, err := tx.Exec(ctx, `update mbe_requests set status = $2, decision = $3, reason = $4, decided_by = $5, decided_at = $6
			where id = $1`, id, status, decision, reason, actor, at); err != nil {
			return fmt.Errorf("deciding MbE request %d: %w", id, err)
		}
		closed, err := tx.Exec(ctx, `update tasks set status = 'done', closed_at = $2, closed_by = $3, outcome = $4
			where id = $1 and status = 'open'`, r.TaskID, at, actor, decision)
		if err != nil {
			return fmt.Errorf("closing the decision task: %w", err)
		}
		if closed.RowsAffected() > 0 {
			note := personlessTaskClosed(fmt.Sprintf("%s%d", mbeDecisionTaskPrefix, id), r.TaskID, TaskMbEDecision, decision, actor, at)
			if err := queueNotifications(ctx, tx, []notify.Notification{note}); err != nil {
				return err
			}
		}
		if err := mbeAudit(ctx, tx, at, actor, "mbe_request_decided", r.PersonID, id, map[string]string{
			"decision": decision, "reason": reason,
		}); err != nil {
			return err
		}
		return queueNotifications(ctx, tx, []notify.Notification{{
			Key: fmt.Sprintf("mbe-%d:decision", id), Event: notify.MbEDecision, MbERequest: id, Actor: actor, At: at, Outcome: decision,
		}})
	})
	if err != nil {
		return MbERequest{}, fmt.Errorf("store: decide MbE request %d: %w", id, err)
	}
	return s.MbERequest(ctx, id)
}

func lockMbE(ctx context.Context, tx pgx.Tx, id int64) (MbERequest, error) {
	rows, err := tx.Query(ctx, `select `+mbeColumns+` from mbe_requests where id = $1 for update`, id)
	if err != nil {
		return MbERequest{}, err
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanMbE)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("MbE request %d: %w", id, ErrNotFound)
	}
	return r, err
}

// mbeAudit appends one audit entry about a request (personID 0 until it is
// matched). The request's details are not copied into it: they stay on the
// request, which retention and erasure reach.
func mbeAudit(ctx context.Context, tx pgx.Tx, at time.Time, actor, action string, personID, requestID int64, d map[string]string) error {
	if d == nil {
		d = map[string]string{}
	}
	d["mbe_request_id"] = fmt.Sprint(requestID)
	if _, err := insertAudit(ctx, tx, at, actor, action, personID, d, ""); err != nil {
		return fmt.Errorf("auditing %s: %w", action, err)
	}
	return nil
}

// MailSent reports whether an email with this key has gone.
func (s *Store) MailSent(ctx context.Context, key string) (bool, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `select count(*) from mail_sent where key = $1`, key).Scan(&n); err != nil {
		return false, fmt.Errorf("store: mail sent: %w", err)
	}
	return n > 0, nil
}

// RecordMailSent records that the email with this key was accepted by the
// SMTP server; mbeRequestID (0: none) threads replies to it.
func (s *Store) RecordMailSent(ctx context.Context, key, messageID string, mbeRequestID int64) error {
	if _, err := s.pool.Exec(ctx, `insert into mail_sent (key, message_id, mbe_request_id) values ($1, $2, $3)
		on conflict (key) do nothing`, key, messageID, nullID(mbeRequestID)); err != nil {
		return fmt.Errorf("store: record mail sent: %w", err)
	}
	return nil
}

// opaqueEmailKey names an email in a notification key without its
// Message-ID, which can carry a sender's address into the logs.
func opaqueEmailKey(messageID string) string {
	sum := sha256.Sum256([]byte(messageID))
	return hex.EncodeToString(sum[:8])
}
