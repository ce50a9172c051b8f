// Package activities does what the workflows decide: it records changes in
// PostgreSQL and notifies coordinators. Every activity is idempotent, because
// Temporal may run it more than once.
package activities

import (
	"context"
	"fmt"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
)

// Recorder is the part of the store the activities write through.
type Recorder interface {
	// RecordChange applies a change once, keyed by (PersonID, Seq), and
	// returns the IDs of the tasks the change opened.
	RecordChange(ctx context.Context, c register.Change) (map[string]int64, error)
}

// Activities holds the activities' dependencies.
type Activities struct {
	Store    Recorder
	Notifier notify.Notifier
	// Policy returns the policy in force now. It is read on every call so a
	// restarted service with new settings reaches running workflows.
	Policy func() register.Policy
}

// CurrentPolicyInput asks for the timings in force.
type CurrentPolicyInput struct{}

// CurrentPolicyResult carries the timings in force.
type CurrentPolicyResult struct {
	Policy register.Policy
}

// CurrentPolicy returns the policy from configuration. Workflows call it as a
// local activity whenever they set a timer.
func (a *Activities) CurrentPolicy(ctx context.Context, _ CurrentPolicyInput) (CurrentPolicyResult, error) {
	return CurrentPolicyResult{Policy: a.Policy()}, nil
}

// RecordChangeInput is one change decided by a person workflow.
type RecordChangeInput struct {
	Change register.Change
}

// RecordChangeResult gives the IDs of the task rows the change opened.
type RecordChangeResult struct {
	TaskIDs map[string]int64
}

// RecordChange writes the change (audit, projection, tasks) in one
// transaction, then notifies. On a retry the write is a no-op and the
// notifications go again under the same keys, which notifiers dedupe.
func (a *Activities) RecordChange(ctx context.Context, in RecordChangeInput) (RecordChangeResult, error) {
	c := in.Change
	ids, err := a.Store.RecordChange(ctx, c)
	if err != nil {
		return RecordChangeResult{}, fmt.Errorf("record change %d for person %d: %w", c.Seq, c.PersonID, err)
	}
	for _, n := range notificationsFor(c, ids) {
		if err := a.Notifier.Notify(ctx, n); err != nil {
			return RecordChangeResult{}, fmt.Errorf("notify %s: %w", n.Key, err)
		}
	}
	return RecordChangeResult{TaskIDs: ids}, nil
}

// notificationsFor turns a change into what coordinators are told: tasks
// closed first (so a channel reads in order), then stage moves, chasers,
// what managers are told, and new tasks.
func notificationsFor(c register.Change, ids map[string]int64) []notify.Notification {
	var out []notify.Notification
	base := notify.Notification{PersonID: c.PersonID, Actor: c.Actor, At: c.At}
	if c.Escalation != nil {
		base.Alerts = c.Escalation.Alerts
	}
	for _, t := range c.Close {
		n := base
		n.Key, n.Event, n.TaskID, n.TaskKind, n.Outcome = t.Key+":closed", notify.TaskClosed, ids[t.Key], t.Kind, t.Outcome
		out = append(out, n)
	}
	if c.Detail["stage_from"] != "" {
		n := base
		n.Key, n.Event, n.Stage = fmt.Sprintf("%d-%d:stage", c.PersonID, c.Seq), notify.StageChanged, c.Snapshot.Stage
		n.Outcome = c.Action
		out = append(out, n)
	}
	for _, key := range c.Remind {
		n := base
		n.Key, n.Event, n.TaskID = fmt.Sprintf("%s:reminder:%d", key, c.Seq), notify.TaskReminder, ids[key]
		out = append(out, n)
	}
	for _, key := range c.Managers {
		n := base
		n.Key, n.Event, n.TaskID = fmt.Sprintf("%s:managers:%d", key, c.Seq), notify.ManagersAlerted, ids[key]
		out = append(out, n)
	}
	for _, t := range c.Open {
		n := base
		n.Key, n.Event, n.TaskID, n.TaskKind, n.DueAt = t.Key+":opened", notify.TaskOpened, ids[t.Key], t.Kind, t.DueAt
		out = append(out, n)
	}
	return out
}
