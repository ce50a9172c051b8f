// Package slackfake is slack-go's slacktest server answering the Slack Web
// API calls dsr makes (chat.postMessage, chat.update, chat.postEphemeral,
// views.open, chat.getPermalink) like Slack does, and recording each call
// for tests.
package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/slack-go/slack/slacktest"
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
	View      string // views.open is sent as JSON: the whole body
}

// Server records calls; GetAPIURL points a slack-go client (or
// SLACK_API_URL) at it.
type Server struct {
	*slacktest.Server
	mu    sync.Mutex
	calls []Call
	n     int
}

// New starts a server that stops when the test ends.
func New(tb testing.TB) *Server {
	s := &Server{}
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		for _, m := range []string{"chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "chat.getPermalink"} {
			c.Handle("/"+m, s.record(m))
		}
	})
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

func (s *Server) record(method string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		for k, v := range r.URL.Query() { // chat.getPermalink is a GET
			if _, ok := form[k]; !ok {
				form[k] = v
			}
		}
		c := Call{Method: method, Channel: form.Get("channel"), TS: form.Get("ts"), ThreadTS: form.Get("thread_ts"),
			Broadcast: form.Get("reply_broadcast") == "true", User: form.Get("user"), Text: form.Get("text"), Blocks: form.Get("blocks")}
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
