package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
)

// A meeting workflow's steps reach the record through RecordChange with
// Change.Meeting set (see changes.go): the meetings row is upserted, only
// ever forward (seq), before the step's tasks are written; its actions and
// its emails to invitees after.

// upsertMeeting writes where the change's meeting stands and returns the
// meeting's ID. Plan (convening, a change) rewrites the details and adds
// the new sequence's invitee list; Outcome records what happened.
func upsertMeeting(ctx context.Context, tx pgx.Tx, c register.Change, fresh bool) (int64, error) {
	m := c.Meeting
	var id int64
	_, err := tx.Exec(ctx, `insert into meetings (person_id, number, kind, status, sequence, starts_at, duration,
			convened_at, convened_by, seq, updated_at)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $8)
		on conflict (person_id, number) do update set
			status = excluded.status, sequence = excluded.sequence, starts_at = excluded.starts_at,
			duration = excluded.duration, seq = excluded.seq, updated_at = excluded.updated_at
		where meetings.seq < excluded.seq`,
		c.PersonID, m.Number, string(m.Kind), string(m.Status), m.Sequence, m.StartsAt, m.Duration, c.At, c.Actor, c.Seq)
	if err != nil {
		return 0, fmt.Errorf("recording meeting %d: %w", m.Number, err)
	}
	if err := tx.QueryRow(ctx, `select id from meetings where person_id = $1 and number = $2`, c.PersonID, m.Number).Scan(&id); err != nil {
		return 0, fmt.Errorf("reading meeting %d: %w", m.Number, err)
	}
	if !fresh {
		return id, nil
	}
	if p := m.Plan; p != nil {
		if _, err := tx.Exec(ctx, `update meetings set purpose = $2, location = $3 where id = $1`, id, p.Purpose, p.Location); err != nil {
			return 0, fmt.Errorf("recording meeting %d's details: %w", m.Number, err)
		}
		for i, inv := range p.Invitees {
			if _, err := tx.Exec(ctx, `insert into meeting_invitees (meeting_id, sequence, position, name, role, email)
				values ($1, $2, $3, $4, $5, $6) on conflict (meeting_id, sequence, position) do nothing`,
				id, m.Sequence, i, inv.Name, inv.Role, inv.Email); err != nil {
				return 0, fmt.Errorf("recording meeting %d's invitees: %w", m.Number, err)
			}
		}
	}
	if o := m.Outcome; o != nil {
		if _, err := tx.Exec(ctx, `update meetings set held_on = $2, notes = $3, outcome_at = $4 where id = $1`,
			id, nullTime(o.HeldOn), o.Notes, c.At); err != nil {
			return 0, fmt.Errorf("recording meeting %d's outcome: %w", m.Number, err)
		}
	}
	if m.CancelReason != "" {
		if _, err := tx.Exec(ctx, `update meetings set cancelled_reason = $2 where id = $1`, id, m.CancelReason); err != nil {
			return 0, fmt.Errorf("recording meeting %d's cancellation: %w", m.Number, err)
		}
	}
	return id, nil
}

// recordMeetingActions keeps what each meeting_action task the change
// opened stands for: what, who, by when.
func recordMeetingActions(ctx context.Context, tx pgx.Tx, c register.Change, meetingID int64) error {
	m := c.Meeting
	if m.Outcome == nil {
		return nil
	}
	if len(m.ActionKeys) != len(m.Outcome.Actions) {
		return fmt.Errorf("meeting %d: %d action keys for %d actions", m.Number, len(m.ActionKeys), len(m.Outcome.Actions))
	}
	for i, a := range m.Outcome.Actions {
		if _, err := tx.Exec(ctx, `insert into meeting_actions (task_key, meeting_id, position, description, owner, due_on)
			values ($1, $2, $3, $4, $5, $6) on conflict (task_key) do nothing`,
			m.ActionKeys[i], meetingID, i, a.Description, a.Owner, a.DueOn); err != nil {
			return fmt.Errorf("recording meeting %d's action %d: %w", m.Number, i, err)
		}
	}
	return nil
}

// meetingEmails is one notification per invitee of the step's sequence for
// the email the step sends, if any.
func meetingEmails(ctx context.Context, tx pgx.Tx, c register.Change, meetingID int64) ([]notify.Notification, error) {
	m := c.Meeting
	if m.Email == "" {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `select id from meeting_invitees where meeting_id = $1
		and sequence = (select max(sequence) from meeting_invitees where meeting_id = $1 and sequence <= $2)
		order by position`, meetingID, m.Sequence)
	if err != nil {
		return nil, fmt.Errorf("reading meeting %d's invitees: %w", m.Number, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("reading meeting %d's invitees: %w", m.Number, err)
	}
	var out []notify.Notification
	for _, inv := range ids {
		out = append(out, notify.ForMeetingEmail(c.PersonID, notify.MeetingNote{
			MeetingID: meetingID, Number: m.Number, Sequence: m.Sequence, InviteeID: inv, Email: m.Email,
		}, c.Actor, c))
	}
	return out, nil
}

// Meeting is a meeting as the API shows it.
type Meeting struct {
	ID              int64                  `json:"id"`
	PersonID        int64                  `json:"person_id"`
	Reference       string                 `json:"reference"`
	Number          int                    `json:"number"`
	Kind            register.MeetingKind   `json:"kind"`
	Status          register.MeetingStatus `json:"status"`
	Sequence        int                    `json:"sequence"`
	Purpose         string                 `json:"purpose"`
	StartsAt        time.Time              `json:"starts_at"`
	Duration        string                 `json:"duration"`
	DurationValue   time.Duration          `json:"-"`
	Location        string                 `json:"location"`
	ConvenedAt      time.Time              `json:"convened_at"`
	ConvenedBy      string                 `json:"convened_by"`
	HeldOn          *time.Time             `json:"held_on,omitempty"`
	Notes           string                 `json:"notes,omitempty"`
	CancelledReason string                 `json:"cancelled_reason,omitempty"`
	Invitees        []MeetingInvitee       `json:"invitees"`
	Actions         []MeetingActionRow     `json:"actions"`
}

// MeetingInvitee is one invitee of the meeting's latest list.
type MeetingInvitee struct {
	ID int64 `json:"id"`
	register.Invitee
}

// MeetingActionRow is an action agreed at the meeting, with its task.
type MeetingActionRow struct {
	TaskID      int64               `json:"task_id"`
	Description string              `json:"description"`
	Owner       string              `json:"owner"`
	DueOn       time.Time           `json:"due_on"`
	Status      register.TaskStatus `json:"status"`
}

const meetingColumns = `m.id, m.person_id, m.number, m.kind, m.status, m.sequence, m.purpose, m.starts_at, m.duration,
	m.location, m.convened_at, m.convened_by, m.held_on, coalesce(m.notes, ''), coalesce(m.cancelled_reason, '')`

func scanMeeting(row pgx.CollectableRow) (Meeting, error) {
	var m Meeting
	var kind, status string
	err := row.Scan(&m.ID, &m.PersonID, &m.Number, &kind, &status, &m.Sequence, &m.Purpose, &m.StartsAt, &m.DurationValue,
		&m.Location, &m.ConvenedAt, &m.ConvenedBy, &m.HeldOn, &m.Notes, &m.CancelledReason)
	m.Kind, m.Status = register.MeetingKind(kind), register.MeetingStatus(status)
	m.Reference = register.Reference(m.PersonID)
	m.Duration = m.DurationValue.String()
	m.StartsAt, m.ConvenedAt = m.StartsAt.UTC(), m.ConvenedAt.UTC()
	m.HeldOn = utc(m.HeldOn)
	return m, err
}

// Meeting returns one meeting with its invitees and actions, or ErrNotFound.
func (s *Store) Meeting(ctx context.Context, id int64) (Meeting, error) {
	m, err := queryOne(ctx, s.pool, fmt.Sprintf("meeting %d", id), scanMeeting, `select `+meetingColumns+` from meetings m where m.id = $1`, id)
	if err != nil {
		return Meeting{}, err
	}
	if err := s.fillMeetings(ctx, []*Meeting{&m}); err != nil {
		return Meeting{}, err
	}
	return m, nil
}

// MeetingByNumber finds a person's nth meeting.
func (s *Store) MeetingByNumber(ctx context.Context, personID int64, number int) (Meeting, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `select id from meetings where person_id = $1 and number = $2`, personID, number).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Meeting{}, fmt.Errorf("store: meeting %d of person %d: %w", number, personID, ErrNotFound)
	}
	if err != nil {
		return Meeting{}, fmt.Errorf("store: meeting %d of person %d: %w", number, personID, err)
	}
	return s.Meeting(ctx, id)
}

// LastMeetingNumber is the person's highest meeting number, 0 for none.
func (s *Store) LastMeetingNumber(ctx context.Context, personID int64) (int, error) {
	return s.lastNumber(ctx, "meeting", personID)
}

// PersonMeetings lists a person's meetings, newest first.
func (s *Store) PersonMeetings(ctx context.Context, personID int64) ([]Meeting, error) {
	return s.listMeetings(ctx, `select `+meetingColumns+` from meetings m where m.person_id = $1 order by m.starts_at desc, m.id desc`, personID)
}

// UpcomingMeetings lists the register's meetings still to come (scheduled,
// not yet ended at now), soonest first.
func (s *Store) UpcomingMeetings(ctx context.Context, now time.Time, limit int) ([]Meeting, error) {
	return s.listMeetings(ctx, `select `+meetingColumns+` from meetings m
		where m.status = 'scheduled' and m.starts_at + m.duration > $1 order by m.starts_at, m.id limit $2`, now, limit)
}

// AllMeetings lists the register's meetings, newest first.
func (s *Store) AllMeetings(ctx context.Context, limit int) ([]Meeting, error) {
	return s.listMeetings(ctx, `select `+meetingColumns+` from meetings m order by m.starts_at desc, m.id desc limit $1`, limit)
}

func (s *Store) listMeetings(ctx context.Context, query string, args ...any) ([]Meeting, error) {
	ms, err := queryAll(ctx, s.pool, "list meetings", scanMeeting, query, args...)
	if err != nil {
		return nil, err
	}
	ptrs := make([]*Meeting, len(ms))
	for i := range ms {
		ptrs[i] = &ms[i]
	}
	if err := s.fillMeetings(ctx, ptrs); err != nil {
		return nil, err
	}
	return ms, nil
}

// fillMeetings reads each meeting's latest invitees and its actions.
func (s *Store) fillMeetings(ctx context.Context, ms []*Meeting) error {
	if len(ms) == 0 {
		return nil
	}
	byID := map[int64]*Meeting{}
	ids := make([]int64, len(ms))
	for i, m := range ms {
		byID[m.ID], ids[i] = m, m.ID
		m.Invitees, m.Actions = []MeetingInvitee{}, []MeetingActionRow{}
	}
	var mid int64
	var inv MeetingInvitee
	err := queryEach(ctx, s.pool, "meeting invitees", []any{&mid, &inv.ID, &inv.Name, &inv.Role, &inv.Email}, func() error {
		byID[mid].Invitees = append(byID[mid].Invitees, inv)
		return nil
	}, `select i.meeting_id, i.id, i.name, i.role, i.email from meeting_invitees i
		where i.meeting_id = any($1) and i.sequence = (select max(sequence) from meeting_invitees j where j.meeting_id = i.meeting_id)
		order by i.meeting_id, i.position`, ids)
	if err != nil {
		return err
	}
	var a MeetingActionRow
	var status string
	return queryEach(ctx, s.pool, "meeting actions", []any{&mid, &a.TaskID, &a.Description, &a.Owner, &a.DueOn, &status}, func() error {
		a.Status = register.TaskStatus(status)
		byID[mid].Actions = append(byID[mid].Actions, a)
		return nil
	}, `select a.meeting_id, t.id, a.description, a.owner, a.due_on, t.status from meeting_actions a
		join tasks t on t.task_key = a.task_key where a.meeting_id = any($1) order by a.meeting_id, a.position`, ids)
}

// MeetingEmail is everything one meeting email needs: the meeting, the
// invitee it goes to, and everyone invited (for the calendar's ATTENDEEs).
type MeetingEmail struct {
	Meeting Meeting
	To      MeetingInvitee
	// Invitees are the list as of the email's sequence.
	Invitees []MeetingInvitee
}

// MeetingEmailFor reads what a MeetingEmailed notification sends.
func (s *Store) MeetingEmailFor(ctx context.Context, n notify.MeetingNote) (MeetingEmail, error) {
	m, err := s.Meeting(ctx, n.MeetingID)
	if err != nil {
		return MeetingEmail{}, err
	}
	out := MeetingEmail{Meeting: m}
	var inv MeetingInvitee
	err = queryEach(ctx, s.pool, fmt.Sprintf("meeting %d invitees", n.MeetingID), []any{&inv.ID, &inv.Name, &inv.Role, &inv.Email}, func() error {
		out.Invitees = append(out.Invitees, inv)
		if inv.ID == n.InviteeID {
			out.To = inv
		}
		return nil
	}, `select id, name, role, email from meeting_invitees where meeting_id = $1 and sequence =
		(select max(sequence) from meeting_invitees where meeting_id = $1 and sequence <= $2) order by position`, n.MeetingID, n.Sequence)
	if err != nil {
		return out, err
	}
	if out.To.ID == 0 {
		return out, fmt.Errorf("store: meeting %d has no invitee %d: %w", n.MeetingID, n.InviteeID, ErrNotFound)
	}
	return out, nil
}
