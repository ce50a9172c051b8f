package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/activities"
)

// FeedbackWorkflow chases one feedback request to a service until it is
// answered: a chaser DSR_FEEDBACK_CHASE_AFTER after the request, then every
// DSR_CHASE_EVERY, at most FeedbackChases times, after which the request is
// recorded as unanswered. The request, its email and its answer are the
// store's (casework and the feedback page write them); this workflow only
// keeps the time, so its ID (dsr-feedback-<request>) and history hold a
// number and nothing else.
func FeedbackWorkflow(ctx workflow.Context, in FeedbackInput) (FeedbackResult, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         retryDoubling(time.Minute),
	})
	answered := false
	workflow.Go(ctx, func(ctx workflow.Context) {
		workflow.GetSignalChannel(ctx, SignalFeedbackAnswered).Receive(ctx, nil)
		answered = true
	})
	for chase := 1; chase <= FeedbackChases+1; chase++ {
		policy, err := readPolicy(ctx)
		if err != nil {
			return FeedbackResult{}, err
		}
		_, _, firstAfter := policy.MeetingTimings()
		wait := policy.ChaseEvery
		if chase == 1 {
			wait = firstAfter
		}
		if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return answered }); err != nil {
			return FeedbackResult{}, err
		}
		if answered {
			return FeedbackResult{Answered: true, Chases: chase - 1}, nil
		}
		var res activities.ChaseFeedbackResult
		in := activities.ChaseFeedbackInput{RequestID: in.RequestID, Chase: chase, GiveUp: chase > FeedbackChases, At: workflow.Now(ctx)}
		if err := workflow.ExecuteActivity(actx, "ChaseFeedback", in).Get(ctx, &res); err != nil {
			return FeedbackResult{}, fmt.Errorf("chase feedback request %d: %w", in.RequestID, err)
		}
		if res.Answered {
			return FeedbackResult{Answered: true, Chases: chase - 1}, nil
		}
	}
	return FeedbackResult{Chases: FeedbackChases}, nil
}

// FeedbackChases is how many chasers a request gets before it is recorded
// as unanswered.
const FeedbackChases = 3

// FeedbackInput starts the chasing of one request.
type FeedbackInput struct {
	RequestID int64
	PersonID  int64
}

// FeedbackResult is how it ended.
type FeedbackResult struct {
	Answered bool
	Chases   int
}
