package register

import "time"

// Snapshot is a person's current standing as the workflow sees it. The store
// keeps it as the projection that dashboards and lists read.
type Snapshot struct {
	Stage            Stage
	Rating           Rating
	RatedAt          time.Time
	NextReviewDue    time.Time
	ConsentBasis     ConsentBasis
	ConsentGivenBy   string
	ConsentDecidedOn time.Time
	ConsentExpiresAt time.Time
	RemovalReason    RemovalReason
	RemovedAt        time.Time
	// AssignedTo is the coordinator (actor name) the person is assigned to.
	AssignedTo string
}

// Change is one step in a person's time on the register, as the workflow
// decided it: the audit entry, the new snapshot, and the tasks it opens,
// closes or chases. (PersonID, Seq) identifies it, so recording it twice
// (an activity retry) changes nothing the second time.
type Change struct {
	PersonID int64
	Seq      int64
	At       time.Time
	Actor    string
	// Action names the audit entry ("consent_recorded", "rated", …). Empty
	// means the snapshot moved without anyone acting (a policy change moved
	// a due date): the projection is updated but nothing is audited.
	Action   string
	Detail   map[string]string
	Snapshot Snapshot
	// AcceptReferralID marks that referral as taken in by the workflow.
	AcceptReferralID int64
	Open             []TaskOpen
	Close            []TaskClose
	// Remind lists the keys of open tasks chased by this change.
	Remind []string
	// Managers lists the keys of open tasks escalated to managers by this
	// change (an alert not acknowledged in time, an overdue action).
	Managers []string
	// Escalation is set when an escalation workflow decided the change.
	// Its changes are numbered within the escalation (Seq counts its
	// steps), leave the person's projection alone, and carry where the
	// escalation stands.
	Escalation *Escalation
	// Meeting is set when a meeting workflow decided the change: like
	// Escalation, its changes are numbered within the meeting, leave the
	// person's projection alone, and carry where the meeting stands.
	Meeting *MeetingStep `json:",omitempty"`
	// Quiet marks a change whose routine prompts are not announced one by
	// one: an imported person's tasks (review due, consent renewal, …) are
	// opened as usual but no TaskOpened notification is queued for them, so
	// importing a register of hundreds does not flood Slack; the import
	// posts one summary instead. What is urgent — a red alert, carried in
	// Also, which is not quiet — is told as usual.
	Quiet bool `json:",omitempty"`
	// Also is a second change recorded in the same transaction, after this
	// one: a red rating carries its escalation's first step (the alert), so
	// there is no moment when someone is red and no alert exists. Each keeps
	// its own key, so each is idempotent on its own.
	Also *Change
}

// Escalation is where one escalation (one spell at red) stands.
type Escalation struct {
	// Number counts the person's escalations from 1.
	Number         int
	StartedAt      time.Time
	AckDueAt       time.Time
	AcknowledgedAt time.Time
	AcknowledgedBy string
	// Alerts counts alerts sent: the first and every re-alert.
	Alerts  int
	EndedAt time.Time
	// Outcome says why it ended and what was done, once it has.
	Outcome string
}

// TaskOpen asks for a task row.
type TaskOpen struct {
	Key     string
	Kind    TaskKind
	DueAt   time.Time
	Actions []Action
}

// TaskClose closes a task row, recording who closed it (the change's Actor) and how.
type TaskClose struct {
	Key     string
	Kind    TaskKind
	Status  TaskStatus
	Outcome string
}

// Equal reports whether two snapshots say the same thing. Times compare as
// instants, so a snapshot carried through serialisation still matches.
func (s Snapshot) Equal(o Snapshot) bool {
	return s.Stage == o.Stage && s.Rating == o.Rating && s.RatedAt.Equal(o.RatedAt) &&
		s.NextReviewDue.Equal(o.NextReviewDue) && s.ConsentBasis == o.ConsentBasis &&
		s.ConsentGivenBy == o.ConsentGivenBy && s.ConsentDecidedOn.Equal(o.ConsentDecidedOn) &&
		s.ConsentExpiresAt.Equal(o.ConsentExpiresAt) && s.RemovalReason == o.RemovalReason &&
		s.RemovedAt.Equal(o.RemovedAt) && s.AssignedTo == o.AssignedTo
}
