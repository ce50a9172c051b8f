// Package polltest waits in tests for the state they assert — what a
// server, a workflow or a fake has done — never for a fixed time.
package polltest

import (
	"testing"
	"time"
)

// Until checks cond every interval until it holds, failing tb once within
// has passed without it.
func Until(tb testing.TB, what string, within, every time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(every)
	}
}
