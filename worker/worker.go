// Package worker registers the register's workflows and activities on a
// Temporal worker. Registration only: what they do lives in workflows/ and
// activities/.
package worker

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/workflows"
)

// New returns a worker on taskQueue with everything registered.
func New(c client.Client, taskQueue string, acts *activities.Activities) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, sdkworker.Options{
		// More pollers than the SDK's two: on a busy morning (an import, a
		// burst of referrals) a red rating's workflow task must not wait
		// for a poll behind hundreds of routine ones.
		MaxConcurrentWorkflowTaskPollers: 8,
		MaxConcurrentActivityTaskPollers: 8,
	})
	w.RegisterWorkflow(workflows.PersonWorkflow)
	w.RegisterWorkflow(workflows.EscalationWorkflow)
	w.RegisterWorkflow(workflows.DigestWorkflow)
	if acts.Digest != nil {
		w.RegisterActivity(acts.Digest)
	}
	w.RegisterWorkflow(workflows.RetentionWorkflow)
	w.RegisterWorkflow(workflows.MeetingWorkflow)
	w.RegisterWorkflow(workflows.FeedbackWorkflow)
	if acts.Meetings != nil {
		w.RegisterActivity(acts.Meetings)
	}
	w.RegisterActivity(acts)
	return w
}

// Run runs a worker until ctx is done, then stops it gracefully (in-flight
// activities finish or time out; workflows are unaffected).
func Run(ctx context.Context, c client.Client, taskQueue string, acts *activities.Activities) error {
	w := New(c, taskQueue, acts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker on task queue %q: %w", taskQueue, err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
