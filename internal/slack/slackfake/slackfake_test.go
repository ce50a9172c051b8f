package slackfake_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/dsr-register/dsr/internal/slack/slackfake"
)

// TestFailAnswersWithFaultsInTurnThenRecovers: while failing, slack-go sees
// Slack's 429 with its Retry-After and then a 5xx, nothing is recorded as a
// call, and after Recover calls are served and recorded again.
func TestFailAnswersWithFaultsInTurnThenRecovers(t *testing.T) {
	f := slackfake.New(t)
	client := slackapi.New("xoxb-test", slackapi.OptionAPIURL(f.GetAPIURL()))
	post := func() error {
		_, _, err := client.PostMessage("C-DSR", slackapi.MsgOptionText("hello", false))
		return err
	}

	f.Fail(slackfake.RateLimited(2*time.Second), slackfake.ServerError(http.StatusBadGateway))
	var limited *slackapi.RateLimitedError
	if err := post(); !errors.As(err, &limited) || limited.RetryAfter != 2*time.Second {
		t.Fatalf("first call while failing: %v, want rate limited with Retry-After 2s", err)
	}
	var status slackapi.StatusCodeError
	if err := post(); !errors.As(err, &status) || status.Code != http.StatusBadGateway {
		t.Fatalf("second call while failing: %v, want status 502", err)
	}
	if err := post(); !errors.As(err, &limited) {
		t.Fatalf("third call while failing: %v, want the faults in turn again (429)", err)
	}
	if n := len(f.Calls()); n != 0 || f.Refused() != 3 {
		t.Fatalf("while failing: %d calls recorded, %d refused; want 0 and 3", n, f.Refused())
	}

	f.Recover()
	if err := post(); err != nil {
		t.Fatalf("after Recover: %v", err)
	}
	if calls := f.Calls(); len(calls) != 1 || calls[0].Method != "chat.postMessage" || calls[0].TS == "" {
		t.Fatalf("after Recover the post should be recorded with its ts: %+v", calls)
	}
}
