package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/register"
)

// OpenTask is a task a workflow has opened and not yet closed.
type OpenTask struct {
	Key            string
	ID             int64
	Kind           register.TaskKind
	OpenedAt       time.Time
	DueAt          time.Time
	LastRemindedAt time.Time
	Reminders      int
}

// TaskList is a workflow's open tasks, in the order they opened. The person
// and escalation workflows keep one each; the store holds the rows.
type TaskList []OpenTask

// open adds a task to the list and to the change that records it.
func (l *TaskList) open(c *register.Change, key string, now time.Time, kind register.TaskKind, due time.Time, actions ...register.Action) {
	*l = append(*l, OpenTask{Key: key, Kind: kind, OpenedAt: now, DueAt: due})
	c.Open = append(c.Open, register.TaskOpen{Key: key, Kind: kind, DueAt: due, Actions: actions})
}

// close closes every open task of the given kinds (all when none given).
func (l *TaskList) close(c *register.Change, status register.TaskStatus, outcome string, kinds ...register.TaskKind) {
	kept := (*l)[:0]
	for _, t := range *l {
		if len(kinds) == 0 || containsKind(kinds, t.Kind) {
			c.Close = append(c.Close, register.TaskClose{Key: t.Key, Kind: t.Kind, Status: status, Outcome: outcome})
			continue
		}
		kept = append(kept, t)
	}
	*l = kept
}

// find returns the open task of a kind.
func (l TaskList) find(kind register.TaskKind) (OpenTask, bool) {
	for _, t := range l {
		if t.Kind == kind {
			return t, true
		}
	}
	return OpenTask{}, false
}

// setIDs fills in the store's IDs for tasks the store has just opened.
func (l TaskList) setIDs(ids map[string]int64) {
	for i := range l {
		if id, ok := ids[l[i].Key]; ok && l[i].ID == 0 {
			l[i].ID = id
		}
	}
}

// record runs the RecordChange activity for a change and fills in the
// store's IDs for the tasks in the list it opened. It answers with the IDs
// of every task the change names. The list is read after the activity, as
// it stands then.
func (l *TaskList) record(ctx workflow.Context, c register.Change) (map[string]int64, error) {
	ids, err := recordChange(ctx, c)
	if err != nil {
		return nil, err
	}
	l.setIDs(ids)
	return ids, nil
}

// refs lists the tasks as a status shows them.
func (l TaskList) refs(now time.Time) []TaskRef {
	var out []TaskRef
	for _, t := range l {
		out = append(out, TaskRef{ID: t.ID, Key: t.Key, Kind: t.Kind, DueAt: t.DueAt, Overdue: now.After(t.DueAt)})
	}
	return out
}

func containsKind(kinds []register.TaskKind, k register.TaskKind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// recordChange runs the RecordChange activity for a change a workflow
// decided and returns the IDs of the tasks it names.
func recordChange(ctx workflow.Context, c register.Change) (map[string]int64, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		// No maximum attempts: a change the workflow decided must reach the
		// record; an outage delays it, never drops it.
		RetryPolicy: retryDoubling(time.Minute),
	})
	var a *activities.Activities
	var res activities.RecordChangeResult
	if err := workflow.ExecuteActivity(ctx, a.RecordChange, activities.RecordChangeInput{Change: c}).Get(ctx, &res); err != nil {
		return nil, fmt.Errorf("record %s: %w", c.Action, err)
	}
	return res.TaskIDs, nil
}

// lastRecorded reads how far the person's record has been numbered, through
// a local activity (by name, as readLocally).
//
// It retries through a database outage, as RecordChange does: an Update
// that failed here would keep its failure under its Update ID, so the
// referral's every later delivery (same ID) would fail too. The caller's
// own deadline answers the client meanwhile ("may have been recorded;
// retrying is safe"), and the retry finds the Update completed.
func lastRecorded(ctx workflow.Context, personID int64) (activities.LastRecordedResult, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy:            retryDoubling(15 * time.Second),
	})
	var res activities.LastRecordedResult
	if err := workflow.ExecuteLocalActivity(ctx, "LastRecorded", activities.LastRecordedInput{PersonID: personID}).Get(ctx, &res); err != nil {
		return res, fmt.Errorf("read the last recorded change: %w", err)
	}
	return res, nil
}

// readPolicy fetches the timings in force.
func readPolicy(ctx workflow.Context) (register.Policy, error) {
	res, err := readLocally[activities.CurrentPolicyResult](ctx, "CurrentPolicy", activities.CurrentPolicyInput{}, "policy")
	return res.Policy, err
}

// refreshPolicy reads the timings in force into a workflow's policy. The
// person, escalation and meeting workflows run it whenever they are about
// to set a timer, so a change of policy reaches running workflows.
func refreshPolicy(ctx workflow.Context, policy *register.Policy) error {
	read, err := readPolicy(ctx)
	if err != nil {
		return err
	}
	*policy = read
	return nil
}

// readLocally runs a quick read as a local activity, bounded to ten
// seconds, and names what it read (what) in its error. By activity name:
// the worker's registered Activities (with their store and settings) must
// run it, not a method on a nil receiver.
func readLocally[Res any](ctx workflow.Context, activity string, in any, what string) (Res, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
	})
	var res Res
	if err := workflow.ExecuteLocalActivity(ctx, activity, in).Get(ctx, &res); err != nil {
		return res, fmt.Errorf("read %s: %w", what, err)
	}
	return res, nil
}
