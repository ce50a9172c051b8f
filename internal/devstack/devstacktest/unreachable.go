package devstacktest

import (
	"fmt"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/dsr-register/dsr/internal/devstack"
)

// UnreachableTemporal is a Temporal client for an address nothing listens
// on: every call fails or waits until its deadline, as while the server
// restarts. The SDK's retry chatter is dropped; the client is closed when
// the test ends.
func UnreachableTemporal(tb testing.TB) client.Client {
	tb.Helper()
	port, err := devstack.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	tc, err := client.NewLazyClient(client.Options{HostPort: fmt.Sprintf("127.0.0.1:%d", port), Logger: quietSDKLogger})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(tc.Close)
	return tc
}
