package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// The person, escalation and meeting workflows each answer the status
// query and take coordinator actions as Updates. An Update's validator
// rejects what no longer applies before anything reaches history; its
// handler runs the validator again under the workflow's lock, as the state
// may have moved while it waited.

// update is one Update a workflow takes: its name, handler and validator.
type update struct {
	name              string
	handler, validate any
}

// registerHandlers sets the status query, answered with status at the
// moment of asking, and each Update with its validator.
func registerHandlers[S any](ctx workflow.Context, status func(now time.Time) S, updates []update) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (S, error) {
		return status(workflow.Now(ctx)), nil
	}); err != nil {
		return err
	}
	for _, u := range updates {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler,
			workflow.UpdateHandlerOptions{Validator: u.validate}); err != nil {
			return err
		}
	}
	return nil
}

// runLocked runs an Update's step holding lock, validating first, and
// answers with the status the step leaves.
func runLocked[S any](ctx workflow.Context, lock workflow.Mutex, validate func() error, step func(now time.Time) error, status func(now time.Time) S) (S, error) {
	var none S
	if err := underLock(ctx, lock, func() error {
		if err := validate(); err != nil {
			return err
		}
		return step(workflow.Now(ctx))
	}); err != nil {
		return none, err
	}
	return status(workflow.Now(ctx)), nil
}

// underLock runs step holding lock, so that no Update handler and no timer
// step interleaves with it.
func underLock(ctx workflow.Context, lock workflow.Mutex, step func() error) error {
	if err := lock.Lock(ctx); err != nil {
		return err
	}
	defer lock.Unlock()
	return step()
}
