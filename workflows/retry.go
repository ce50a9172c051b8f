package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
)

// retryDoubling is how every activity the workflows run is retried (not
// the quick local reads, readLocally, which keep the SDK's default): a
// second after the first failure, then twice as long each time, at most
// every ceiling. It sets no limit on attempts: where an activity must give
// up, its caller bounds it (a schedule-to-close timeout, or attempts).
func retryDoubling(ceiling time.Duration) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: ceiling}
}
