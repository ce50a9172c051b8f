package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/dsr-register/dsr/internal/slack/slackfake"
)

// TestEndToEndSlackDownAlertWaitsNotLost: with Slack answering 503 to
// everything, referring, recording consent and rating someone red are
// still answered (the change is recorded; what is to be told waits in the
// outbox), the health check says notifications are failing, and once Slack
// is back the alert is posted, once.
func TestEndToEndSlackDownAlertWaitsNotLost(t *testing.T) {
	f := slackfake.New(t)
	var down atomic.Bool
	target, err := url.Parse(f.GetAPIURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "slack is having a bad day", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(flaky.Close)
	s := startStack(t, slackEnv(f, map[string]string{"SLACK_API_URL": flaky.URL + "/", "SLACK_CHANNEL_ALERTS": alertsChannel}))

	// Before the outbox, each Update waited on Slack, so with Slack down
	// not even the referral was answered: the API client's timeout fails
	// this.
	down.Store(true)
	id, _ := s.ratedRed("1990-03-01")
	s.eventually("the health check to report failing notifications", func() bool {
		res := s.call("GET", "/healthz", "", nil).expect(t, 200, "healthz")
		n, _ := res.Body["notifications"].(map[string]any)
		return res.Body["status"] == "degraded" && n["failing"].(float64) > 0
	})
	if c := len(f.Calls()); c != 0 {
		t.Fatalf("%d calls reached Slack while it was down", c)
	}

	down.Store(false)
	alert := s.posted(f, "the red alert once Slack is back", isAlert)
	s.eventually("the outbox to empty", func() bool {
		res := s.call("GET", "/healthz", "", nil).expect(t, 200, "healthz")
		n, _ := res.Body["notifications"].(map[string]any)
		return res.Body["status"] == "ok" && n["waiting"].(float64) == 0
	})
	alerts := 0
	for _, c := range f.Calls() {
		if c.Method == "chat.postMessage" && isAlert(c) {
			alerts++
		}
	}
	if alerts != 1 {
		t.Errorf("%d red alerts posted for person %d, want exactly 1 (first: %s)", alerts, id, alert.TS)
	}
}
