// Package slackfake is slack-go's slacktest server answering the Slack Web
// API calls dsr makes (chat.postMessage, chat.update, chat.postEphemeral,
// views.open, chat.getPermalink) like Slack does, and recording each call
// for tests.
//
// A test can make it fail for a while, as Slack does on a bad day: Fail
// answers those calls with 429 (and Retry-After) or a 5xx until Recover.
package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/dsr-register/dsr/internal/polltest"
)

// Call is one request the server received.
type Call struct {
	Method   string
	Channel  string
	TS       string // chat.postMessage: the ts the server gave the message
	ThreadTS string
	// Broadcast: a thread reply also sent to the channel (reply_broadcast).
	Broadcast bool
	User      string
	Text      string
	Blocks    string
	View      string    // views.open is sent as JSON: the whole body
	At        time.Time // when the server received it
	// Metadata is a posted message's metadata, as JSON.
	Metadata string
}

// Server records calls; GetAPIURL points a slack-go client (or
// SLACK_API_URL) at it.
type Server struct {
	*slacktest.Server
	mu    sync.Mutex
	calls []Call
	n     int

	// While faults is non-empty, each call is answered with the next
	// fault in turn (cycling) instead of being served and recorded.
	faults  []Fault
	next    int
	refused int
}

// Fault is one way Slack refuses a call for a while.
type Fault struct {
	// Status is the HTTP status: 429 (rate limited) or a 5xx.
	Status int
	// RetryAfter is sent as the Retry-After header (whole seconds, as
	// Slack sends it; at least 1) when Status is 429.
	RetryAfter time.Duration
}

// RateLimited is Slack's 429 asking the caller to wait retryAfter.
func RateLimited(retryAfter time.Duration) Fault {
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter}
}

// ServerError is a 5xx, as when Slack itself is failing.
func ServerError(status int) Fault { return Fault{Status: status} }

// Fail makes the server refuse every call dsr makes, answering each with
// the next of faults in turn, until Recover. Refused calls are counted
// (Refused) but not recorded as Calls: Slack did not act on them.
func (s *Server) Fail(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.next = append([]Fault(nil), faults...), 0
}

// Recover ends Fail: calls are served again.
func (s *Server) Recover() { s.Fail() }

// Refused is how many calls were answered with a fault so far.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// refuse answers the request with the next fault, if the server is
// failing, and reports whether it did.
func (s *Server) refuse(w http.ResponseWriter) bool {
	s.mu.Lock()
	if len(s.faults) == 0 {
		s.mu.Unlock()
		return false
	}
	f := s.faults[s.next%len(s.faults)]
	s.next++
	s.refused++
	s.mu.Unlock()
	if f.Status == http.StatusTooManyRequests {
		secs := max(1, int((f.RetryAfter+time.Second-1)/time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, `{"ok":false,"error":"ratelimited"}`)
		return true
	}
	http.Error(w, "slackfake: failing on purpose", f.Status)
	return true
}

// New starts a server that stops when the test ends.
func New(tb testing.TB) *Server {
	s := &Server{}
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		for _, m := range []string{"chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "chat.getPermalink"} {
			c.Handle("/"+m, s.record(m))
		}
		c.Handle("/conversations.history", s.history(false))
		c.Handle("/conversations.replies", s.history(true))
	})
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// request reads a Web API call: its body, and its parameters from the
// form body and the query (chat.getPermalink is a GET). A call the server
// refuses (see Fail) is answered here, and ok is false.
func (s *Server) request(w http.ResponseWriter, r *http.Request) (body []byte, form url.Values, ok bool) {
	body, _ = io.ReadAll(r.Body)
	if s.refuse(w) {
		return nil, nil, false
	}
	form, _ = url.ParseQuery(string(body))
	for k, v := range r.URL.Query() {
		if _, ok := form[k]; !ok {
			form[k] = v
		}
	}
	return body, form, true
}

func (s *Server) record(method string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		body, form, ok := s.request(w, r)
		if !ok {
			return
		}
		c := Call{At: time.Now(), Method: method, Channel: form.Get("channel"), TS: form.Get("ts"), ThreadTS: form.Get("thread_ts"),
			Broadcast: form.Get("reply_broadcast") == "true", User: form.Get("user"), Text: form.Get("text"), Blocks: form.Get("blocks"),
			Metadata: form.Get("metadata")}
		if method == "chat.getPermalink" {
			c.TS = form.Get("message_ts")
		}
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			c.View = string(body)
		}
		s.mu.Lock()
		if method == "chat.postMessage" {
			s.n++
			c.TS = fmt.Sprintf("1700000000.%06d", s.n)
		}
		s.calls = append(s.calls, c)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": c.Channel, "ts": c.TS, "message_ts": c.TS,
			"permalink": Permalink(c.Channel, c.TS)})
	}
}

// history answers conversations.history (top-level messages of a channel)
// and conversations.replies (a thread's replies) from the messages posted
// so far, with their metadata, newest first as Slack gives them. Slack
// filters by oldest; the server's timestamps are not the clock's, so it
// returns them all and the caller matches.
func (s *Server) history(replies bool) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		_, form, ok := s.request(w, r)
		if !ok {
			return
		}
		channel, thread := form.Get("channel"), form.Get("ts")
		var msgs []map[string]any
		for _, c := range s.Calls() {
			if c.Method != "chat.postMessage" || c.Channel != channel {
				continue
			}
			if replies && c.ThreadTS != thread || !replies && c.ThreadTS != "" && !c.Broadcast {
				continue
			}
			m := map[string]any{"type": "message", "ts": c.TS, "text": c.Text, "thread_ts": c.ThreadTS}
			if c.Metadata != "" {
				var md any
				if json.Unmarshal([]byte(c.Metadata), &md) == nil {
					m["metadata"] = md
				}
			}
			msgs = append([]map[string]any{m}, msgs...)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "messages": msgs, "has_more": false})
	}
}

// Permalink is the link chat.getPermalink gives for a message.
func Permalink(channel, ts string) string {
	return "https://dsr-test.slack.com/archives/" + channel + "/p" + strings.ReplaceAll(ts, ".", "")
}

// Calls returns every call so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Find returns the first call of method whose text, blocks or view contain
// the string.
func (s *Server) Find(method, contains string) (Call, bool) {
	for _, c := range s.Calls() {
		if c.Method == method && strings.Contains(c.Text+c.Blocks+c.View, contains) {
			return c, true
		}
	}
	return Call{}, false
}

// WaitFor polls cond until it holds, failing tb after five seconds: tests
// wait for the state they assert (what the fake has seen, what a handler
// has done), never for a fixed time. It polls often because the fake
// answers in microseconds.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	polltest.Until(tb, what, 5*time.Second, 100*time.Microsecond, cond)
}
