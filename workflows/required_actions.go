package workflows

import (
	"time"

	"github.com/dsr-register/dsr/internal/register"
)

// Required actions (a C(E)TR held, a keyworker referral made, a meeting
// held) are completed the same way in the person's workflow (amber, blue)
// and in an escalation's (red): one input, one check, one outcome.

// ActionDone is a required action recorded as done (or not needed).
type ActionDone struct {
	Kind      register.TaskKind
	On        time.Time
	By        string
	NotNeeded bool
	// RecordedAt is when it was recorded (On is the date it happened).
	RecordedAt time.Time
}

// CompleteActionInput records a required action as done: a C(E)TR held, a
// keyworker referral made, a meeting held — or, for a multi-agency meeting
// (needed only "where needed"), as not needed. The person's workflow takes
// the same input for its own tasks (amber, blue).
type CompleteActionInput struct {
	Kind register.TaskKind
	// DoneOn is the date it happened; zero means today.
	DoneOn    time.Time
	NotNeeded bool
	Notes     string
	Actor     string
}

// validateCompletion checks a completion against the open tasks: the kind
// must be open and completable, "not needed" only where the action is
// needed only where needed, and the date neither in the future nor before
// the task's window began.
func validateCompletion(in CompleteActionInput, tasks TaskList, done []ActionDone, policy register.Policy, now time.Time) error {
	errs := register.FieldErrors{}
	if !in.Kind.Completable() {
		errs.Add("kind", "must be one of the required actions: "+register.RequiredActionNames())
		return invalidInput(errs)
	}
	task, open := tasks.find(in.Kind)
	earliest := policy.LocalDate(task.OpenedAt)
	if !open {
		for _, d := range done {
			if d.Kind == in.Kind {
				return noLongerApplies("%s was already recorded by %s on %s", in.Kind, d.By, d.RecordedAt.Format(time.RFC3339))
			}
		}
		return noLongerApplies("there is no open %s task for this person now", in.Kind)
	}
	if in.NotNeeded && in.Kind != register.TaskMultiAgencyMeeting {
		errs.Add("not_needed", "only a multi-agency meeting can be closed as not needed; the other actions are required")
	}
	if !in.DoneOn.IsZero() {
		if register.CalendarDate(in.DoneOn).After(policy.LocalDate(now)) {
			errs.Add("done_on", "is in the future: record it on or after the day it happens")
		}
		if register.CalendarDate(in.DoneOn).Before(earliest) {
			errs.Add("done_on", "is before this was asked for ("+earliest.Format("2006-01-02")+")")
		}
	}
	errs.Merge(actorErrors(in.Actor))
	return refuseBadFields(errs)
}

func completion(in CompleteActionInput, policy register.Policy, now time.Time) ActionDone {
	on := policy.LocalDate(now)
	if !in.DoneOn.IsZero() {
		on = register.CalendarDate(in.DoneOn)
	}
	return ActionDone{Kind: in.Kind, On: on, By: in.Actor, NotNeeded: in.NotNeeded, RecordedAt: now}
}

// completionOutcome says what was done, for the task and the audit trail.
func completionOutcome(d ActionDone) string {
	on := d.On.Format("2 Jan 2006")
	if d.NotNeeded {
		return "not needed"
	}
	switch d.Kind {
	case register.TaskKeyworkerReferral:
		return "keyworker referral made on " + on
	case register.TaskMultiAgencyMeeting, register.TaskAmberMeeting:
		return "meeting held on " + on
	}
	return "C(E)TR held on " + on
}
