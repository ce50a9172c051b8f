package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/dsr-register/dsr/activities"
	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/workflows"
)

// digestSettings is the digest's settings from configuration.
func digestSettings(cfg config.Config) func() activities.DigestSettings {
	s := activities.DigestSettings{
		Schedule:         string(cfg.Digest.Schedule),
		SkipBankHolidays: cfg.Digest.SkipBankHolidays,
		Calendar:         cfg.Policy.WorkingHours(),
	}
	return func() activities.DigestSettings { return s }
}

// ensureDigest starts the team's digest workflow unless it is running.
// Every `dsr serve` does this; the workflow ID is the team's and an
// existing run is used, so however many start only one digest runs. A
// Temporal that does not answer is asked again every minute.
func ensureDigest(ctx context.Context, tc client.Client, taskQueue string, logger *slog.Logger) {
	for {
		startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		run, err := tc.ExecuteWorkflow(startCtx, client.StartWorkflowOptions{
			ID:                       workflows.DigestWorkflowID(taskQueue),
			TaskQueue:                taskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			// A digest that ended (terminated by an operator, failed) is
			// started again.
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		}, workflows.DigestWorkflow, workflows.DigestInput{})
		cancel()
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		switch {
		case err == nil:
			logger.Info("digest workflow running", "workflow_id", run.GetID(), "run_id", run.GetRunID())
			return
		case errors.As(err, &started):
			return
		}
		logger.Warn("digest workflow not started; trying again in a minute", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Minute):
		}
	}
}
