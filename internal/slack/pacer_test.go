package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// pacerHit is one request the rate-limiting test server received.
type pacerHit struct {
	Method  string
	Channel string
	Text    string
	At      time.Time
	Status  int    // HTTP status answered; 499 if the client gave up first
	Err     string // Slack error answered, if any
}

func (h pacerHit) ok() bool { return h.Status == http.StatusOK && h.Err == "" }

// pacerFault is a scripted answer for a channel's next request.
type pacerFault struct {
	status   int           // HTTP status; 429 comes with Retry-After: 1
	slackErr string        // answer {"ok":false,"error":slackErr}
	delay    time.Duration // hold the request this long, then answer normally
}

// pacerServer is slacktest's server with chat.postMessage and chat.update
// that enforce Slack's per-channel limit: a request to a channel less than
// limit after the last one it accepted there gets HTTP 429 with
// Retry-After: 1 (whole seconds, as Slack sends it).
type pacerServer struct {
	*slacktest.Server
	limit time.Duration

	mu     sync.Mutex
	last   map[string]time.Time
	hits   []pacerHit
	faults map[string][]pacerFault
	ts     int
}

func newPacerServer(tb testing.TB, limit time.Duration) *pacerServer {
	s := &pacerServer{limit: limit, last: map[string]time.Time{}, faults: map[string][]pacerFault{}}
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", s.handle("chat.postMessage"))
		c.Handle("/chat.update", s.handle("chat.update"))
	})
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// fault scripts the answers to channel's next requests, ahead of the limit.
func (s *pacerServer) fault(channel string, f ...pacerFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[channel] = append(s.faults[channel], f...)
}

func (s *pacerServer) handle(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		_ = r.ParseForm()
		h := pacerHit{Method: method, Channel: r.FormValue("channel"), Text: r.FormValue("text"), At: now}

		s.mu.Lock()
		var f *pacerFault
		if q := s.faults[h.Channel]; len(q) > 0 {
			f = &q[0]
			s.faults[h.Channel] = q[1:]
		}
		s.mu.Unlock()

		if f != nil && f.delay > 0 {
			t := time.NewTimer(f.delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				h.Status = 499
				s.record(h)
				return
			}
			f = nil
		}

		s.mu.Lock()
		last, seen := s.last[h.Channel]
		switch {
		case f != nil && f.slackErr != "":
			h.Status, h.Err = http.StatusOK, f.slackErr
		case f != nil:
			h.Status = f.status
		case seen && now.Sub(last) < s.limit:
			h.Status = http.StatusTooManyRequests
		default:
			h.Status = http.StatusOK
			s.last[h.Channel] = now
			s.ts++
		}
		ts := fmt.Sprintf("1764000000.%06d", s.ts)
		if method == "chat.update" {
			ts = r.FormValue("ts")
		}
		s.hits = append(s.hits, h)
		s.mu.Unlock()

		switch {
		case h.Status == http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		case h.Status != http.StatusOK:
			w.WriteHeader(h.Status)
		case h.Err != "":
			fmt.Fprintf(w, `{"ok":false,"error":%q}`, h.Err)
		default:
			fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":%q,"text":%q}`, h.Channel, ts, h.Text)
		}
	}
}

func (s *pacerServer) record(h pacerHit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits = append(s.hits, h)
}

// Hits is every request received, in arrival order.
func (s *pacerServer) Hits() []pacerHit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.hits)
}

// Accepted is the requests answered ok, in arrival order.
func (s *pacerServer) Accepted(channel string) []pacerHit {
	var out []pacerHit
	for _, h := range s.Hits() {
		if h.ok() && (channel == "" || h.Channel == channel) {
			out = append(out, h)
		}
	}
	return out
}

func (s *pacerServer) RateLimited() int {
	n := 0
	for _, h := range s.Hits() {
		if h.Status == http.StatusTooManyRequests {
			n++
		}
	}
	return n
}

func newTestPacer(tb testing.TB, s *pacerServer, opts PacerOptions) *Pacer {
	client := slackapi.New("xoxb-test", slackapi.OptionAPIURL(s.GetAPIURL()))
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := NewPacer(client, opts)
	tb.Cleanup(p.Close)
	return p
}

// queueInOrder calls fn(0..n-1), each in its own goroutine, starting each
// only once the one before has been queued by p, so the queue order is
// known. It returns a func that waits for them all.
func queueInOrder(tb testing.TB, p *Pacer, n int, fn func(i int)) (wait func()) {
	tb.Helper()
	var wg sync.WaitGroup
	for i := range n {
		before := p.enqueued()
		wg.Go(func() { fn(i) })
		waitFor(tb, "write queued", func() bool { return p.enqueued() > before })
	}
	return wg.Wait
}

func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func texts(hs []pacerHit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Text
	}
	return out
}

// checkSpacing fails if two accepted requests to a channel arrived less than
// interval apart.
func checkSpacing(tb testing.TB, hs []pacerHit, interval time.Duration) {
	tb.Helper()
	for i := 1; i < len(hs); i++ {
		if gap := hs[i].At.Sub(hs[i-1].At); gap < interval {
			tb.Errorf("%s and %s arrived %v apart, want >= %v", hs[i-1].Text, hs[i].Text, gap, interval)
		}
	}
}

func msg(text string) slackapi.MsgOption { return slackapi.MsgOptionText(text, false) }

func TestPacerBurstOneChannelPacedInOrder(t *testing.T) {
	const interval, n = 50 * time.Millisecond, 12
	srv := newPacerServer(t, interval)
	p := newTestPacer(t, srv, PacerOptions{PerChannelInterval: interval})

	errs := make([]error, n)
	tss := make([]string, n)
	start := time.Now()
	queueInOrder(t, p, n, func(i int) {
		_, tss[i], errs[i] = p.PostMessage(t.Context(), "C1", PriorityRoutine, msg(fmt.Sprintf("m%02d", i)))
	})()
	elapsed := time.Since(start)

	var want []string
	for i := range n {
		if errs[i] != nil {
			t.Errorf("post %d: %v", i, errs[i])
		}
		want = append(want, fmt.Sprintf("m%02d", i))
	}
	got := srv.Accepted("C1")
	if !slices.Equal(texts(got), want) {
		t.Fatalf("arrived %v, want each once in order %v", texts(got), want)
	}
	if len(srv.Hits()) != n {
		t.Errorf("server saw %d requests (%d rate limited), want %d", len(srv.Hits()), srv.RateLimited(), n)
	}
	checkSpacing(t, got, interval)
	slices.Sort(tss)
	if len(slices.Compact(tss)) != n || tss[0] == "" {
		t.Errorf("timestamps returned %v, want %d distinct", tss, n)
	}
	if min := time.Duration(n-1) * interval; elapsed < min {
		t.Errorf("burst took %v, want >= %v", elapsed, min)
	}
}

func TestPacerHonoursRetryAfter(t *testing.T) {
	const interval = 50 * time.Millisecond

	t.Run("post", func(t *testing.T) {
		srv := newPacerServer(t, interval)
		p := newTestPacer(t, srv, PacerOptions{PerChannelInterval: interval})
		srv.fault("C1", pacerFault{status: http.StatusTooManyRequests})

		errs := make([]error, 3)
		queueInOrder(t, p, 3, func(i int) {
			_, _, errs[i] = p.PostMessage(t.Context(), "C1", PriorityRoutine, msg(fmt.Sprintf("m%d", i)))
		})()
		for i, err := range errs {
			if err != nil {
				t.Errorf("post %d: %v", i, err)
			}
		}

		hits := srv.Hits()
		if len(hits) != 4 || hits[0].Status != http.StatusTooManyRequests || hits[0].Text != "m0" {
			t.Fatalf("hits %+v, want m0 rate limited then m0, m1, m2", hits)
		}
		if got, want := texts(srv.Accepted("C1")), []string{"m0", "m1", "m2"}; !slices.Equal(got, want) {
			t.Fatalf("arrived %v, want %v", got, want)
		}
		// The retry, and everything queued behind it, waited Retry-After.
		if gap := hits[1].At.Sub(hits[0].At); gap < time.Second {
			t.Errorf("retry came %v after the 429, want >= Retry-After 1s", gap)
		}
		checkSpacing(t, srv.Accepted("C1"), interval)
	})

	t.Run("update", func(t *testing.T) {
		srv := newPacerServer(t, interval)
		p := newTestPacer(t, srv, PacerOptions{PerChannelInterval: interval})
		ch, ts, err := p.PostMessage(t.Context(), "C1", PriorityRoutine, msg("opened"))
		if err != nil {
			t.Fatal(err)
		}
		srv.fault("C1", pacerFault{status: http.StatusTooManyRequests})
		if err := p.UpdateMessage(t.Context(), ch, ts, PriorityRoutine, msg("closed")); err != nil {
			t.Fatal(err)
		}
		hits := srv.Hits()
		if len(hits) != 3 || hits[1].Status != http.StatusTooManyRequests || !hits[2].ok() ||
			hits[2].Method != "chat.update" || hits[2].Text != "closed" {
			t.Fatalf("hits %+v, want post, update rate limited, update", hits)
		}
		if gap := hits[2].At.Sub(hits[1].At); gap < time.Second {
			t.Errorf("retry came %v after the 429, want >= 1s", gap)
		}
	})

	t.Run("only its channel waits", func(t *testing.T) {
		srv := newPacerServer(t, interval)
		p := newTestPacer(t, srv, PacerOptions{PerChannelInterval: interval})
		srv.fault("C1", pacerFault{status: http.StatusTooManyRequests})
		wait := queueInOrder(t, p, 4, func(i int) {
			ch, text := "C2", fmt.Sprintf("y%d", i)
			if i == 0 {
				ch, text = "C1", "x"
			}
			if _, _, err := p.PostMessage(t.Context(), ch, PriorityRoutine, msg(text)); err != nil {
				t.Errorf("%s: %v", text, err)
			}
		})
		wait()
		c1, c2 := srv.Accepted("C1"), srv.Accepted("C2")
		if len(c1) != 1 || len(c2) != 3 {
			t.Fatalf("C1 got %v, C2 got %v", texts(c1), texts(c2))
		}
		if !c2[2].At.Before(c1[0].At) {
			t.Errorf("C2 finished at %v, after C1's retry at %v: C1's rate limit held up C2", c2[2].At, c1[0].At)
		}
	})
}

func TestPacerAlertBeforeQueuedRoutine(t *testing.T) {
	const interval, routine = 100 * time.Millisecond, 6
	srv := newPacerServer(t, interval)
	p := newTestPacer(t, srv, PacerOptions{PerChannelInterval: interval})

	post := func(prio Priority, text string) {
		if _, _, err := p.PostMessage(t.Context(), "C1", prio, msg(text)); err != nil {
			t.Errorf("%s: %v", text, err)
		}
	}
	waitRoutine := queueInOrder(t, p, routine, func(i int) { post(PriorityRoutine, fmt.Sprintf("r%d", i)) })
	waitAlerts := queueInOrder(t, p, 2, func(i int) { post(PriorityAlert, fmt.Sprintf("a%d", i)) })
	sentBefore := len(srv.Hits()) // one more may be in flight
	waitRoutine()
	waitAlerts()

	got := texts(srv.Accepted("C1"))
	t.Logf("order: %v (%d sent before the alerts were queued)", got, sentBefore)
	if len(got) != routine+2 {
		t.Fatalf("arrived %v", got)
	}
	a0, a1 := slices.Index(got, "a0"), slices.Index(got, "a1")
	if a0 > sentBefore || a1 != a0+1 {
		t.Errorf("alerts at %d and %d in %v; want them next after the %d already sent (or in flight)", a0, a1, got, sentBefore)
	}
	var rs []string
	for _, s := range got {
		if s[0] == 'r' {
			rs = append(rs, s)
		}
	}
	if want := []string{"r0", "r1", "r2", "r3", "r4", "r5"}; !slices.Equal(rs, want) {
		t.Errorf("routine order %v, want %v", rs, want)
	}
	if after := len(got) - a1 - 1; after < routine-sentBefore-1 {
		t.Errorf("only %d routine posts after the alerts", after)
	}
	checkSpacing(t, srv.Accepted("C1"), interval)
}

func TestPacerChannelsInParallel(t *testing.T) {
	const interval, n = 200 * time.Millisecond, 5
	srv := newPacerServer(t, interval)
	p := newTestPacer(t, srv, PacerOptions{PerChannelInterval: interval})

	start := time.Now()
	queueInOrder(t, p, 2*n, func(i int) {
		ch := []string{"C1", "C2"}[i%2]
		if _, _, err := p.PostMessage(t.Context(), ch, PriorityRoutine, msg(fmt.Sprintf("%s-%d", ch, i/2))); err != nil {
			t.Error(err)
		}
	})()
	elapsed := time.Since(start)

	c1, c2 := srv.Accepted("C1"), srv.Accepted("C2")
	for _, c := range [][]pacerHit{c1, c2} {
		if len(c) != n {
			t.Fatalf("C1 got %v, C2 got %v", texts(c1), texts(c2))
		}
		checkSpacing(t, c, interval)
		for i, h := range c {
			if want := fmt.Sprintf("%s-%d", h.Channel, i); h.Text != want {
				t.Errorf("%s: %dth arrival %s, want %s", h.Channel, i, h.Text, want)
			}
		}
	}
	// One channel alone needs (n-1) intervals; the two in series 2n-1.
	if limit := time.Duration(2*n-1) * interval * 3 / 4; elapsed > limit {
		t.Errorf("two channels of %d took %v, want < %v (in parallel)", n, elapsed, limit)
	}
	if !c2[0].At.Before(c1[1].At) {
		t.Errorf("C2 started at %v, only after C1's second post at %v", c2[0].At, c1[1].At)
	}
	if srv.RateLimited() != 0 {
		t.Errorf("%d requests rate limited", srv.RateLimited())
	}
}

func TestPacerContextCancel(t *testing.T) {
	t.Run("queued", func(t *testing.T) {
		const interval = 300 * time.Millisecond
		srv := newPacerServer(t, interval)
		p := newTestPacer(t, srv, PacerOptions{PerChannelInterval: interval})
		if _, _, err := p.PostMessage(t.Context(), "C1", PriorityRoutine, msg("m1")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		var m3err error
		wait := queueInOrder(t, p, 2, func(i int) {
			if i == 0 {
				start := time.Now()
				_, _, err := p.PostMessage(ctx, "C1", PriorityRoutine, msg("m2"))
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("cancelled post returned %v, want deadline exceeded", err)
				}
				if d := time.Since(start); d > 200*time.Millisecond {
					t.Errorf("cancelled post returned after %v", d)
				}
				return
			}
			_, _, m3err = p.PostMessage(t.Context(), "C1", PriorityRoutine, msg("m3"))
		})
		wait()
		if m3err != nil {
			t.Fatal(m3err)
		}
		if got := texts(srv.Hits()); !slices.Equal(got, []string{"m1", "m3"}) {
			t.Errorf("server saw %v, want m1, m3 (m2 cancelled while queued)", got)
		}
	})

	t.Run("waiting out a rate limit", func(t *testing.T) {
		srv := newPacerServer(t, 10*time.Millisecond)
		p := newTestPacer(t, srv, PacerOptions{PerChannelInterval: 10 * time.Millisecond})
		srv.fault("C1", pacerFault{status: http.StatusTooManyRequests})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, _, err := p.PostMessage(ctx, "C1", PriorityRoutine, msg("m1"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want deadline exceeded", err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("returned after %v; Retry-After was 1s", d)
		}
		time.Sleep(1200 * time.Millisecond) // past Retry-After: no retry comes
		if hits := srv.Hits(); len(hits) != 1 {
			t.Errorf("server saw %+v, want only the rate-limited attempt", hits)
		}
	})

	t.Run("in flight", func(t *testing.T) {
		srv := newPacerServer(t, 10*time.Millisecond)
		p := newTestPacer(t, srv, PacerOptions{PerChannelInterval: 10 * time.Millisecond})
		srv.fault("C1", pacerFault{delay: 10 * time.Second})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, _, err := p.PostMessage(ctx, "C1", PriorityRoutine, msg("slow"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want deadline exceeded", err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("returned after %v", d)
		}
		// The channel carries on.
		if _, _, err := p.PostMessage(t.Context(), "C1", PriorityRoutine, msg("next")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("already done", func(t *testing.T) {
		srv := newPacerServer(t, 10*time.Millisecond)
		p := newTestPacer(t, srv, PacerOptions{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := p.UpdateMessage(ctx, "C1", "1.2", PriorityAlert, msg("x")); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want canceled", err)
		}
		if len(srv.Hits()) != 0 {
			t.Errorf("server saw %+v", srv.Hits())
		}
	})
}

func TestPacerClose(t *testing.T) {
	srv := newPacerServer(t, 10*time.Second)
	p := newTestPacer(t, srv, PacerOptions{PerChannelInterval: 10 * time.Second})
	if _, _, err := p.PostMessage(t.Context(), "C1", PriorityRoutine, msg("m1")); err != nil {
		t.Fatal(err)
	}
	var pendingErr error
	wait := queueInOrder(t, p, 1, func(int) {
		_, _, pendingErr = p.PostMessage(t.Context(), "C1", PriorityRoutine, msg("m2"))
	})
	start := time.Now()
	p.Close()
	wait()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	if !errors.Is(pendingErr, ErrPacerClosed) {
		t.Errorf("pending post returned %v, want ErrPacerClosed", pendingErr)
	}
	if _, _, err := p.PostMessage(t.Context(), "C1", PriorityRoutine, msg("m3")); !errors.Is(err, ErrPacerClosed) {
		t.Errorf("post after Close returned %v, want ErrPacerClosed", err)
	}
	if got := texts(srv.Hits()); !slices.Equal(got, []string{"m1"}) {
		t.Errorf("server saw %v", got)
	}
}

func TestPacerWorkerExitsWhenIdle(t *testing.T) {
	const interval = 20 * time.Millisecond
	srv := newPacerServer(t, interval)
	p := newTestPacer(t, srv, PacerOptions{PerChannelInterval: interval})
	for round := range 2 {
		queueInOrder(t, p, 3, func(i int) {
			ch := fmt.Sprintf("C%d", i%2)
			if _, _, err := p.PostMessage(t.Context(), ch, PriorityRoutine, msg(fmt.Sprintf("%d-%d", round, i))); err != nil {
				t.Error(err)
			}
		})()
		waitFor(t, "workers to exit", func() bool { return p.activeLanes() == 0 })
	}
	if n := len(srv.Accepted("")); n != 6 || srv.RateLimited() != 0 {
		t.Errorf("accepted %d, rate limited %d; want 6, 0", n, srv.RateLimited())
	}
	checkSpacing(t, srv.Accepted("C0"), interval)
}

func TestPacerErrors(t *testing.T) {
	const interval = 20 * time.Millisecond

	t.Run("5xx retried", func(t *testing.T) {
		srv := newPacerServer(t, interval)
		p := newTestPacer(t, srv, PacerOptions{PerChannelInterval: interval, RetryBackoff: 10 * time.Millisecond})
		srv.fault("C1", pacerFault{status: http.StatusInternalServerError}, pacerFault{status: http.StatusServiceUnavailable})
		if _, _, err := p.PostMessage(t.Context(), "C1", PriorityRoutine, msg("m")); err != nil {
			t.Fatal(err)
		}
		hits := srv.Hits()
		if len(hits) != 3 || !hits[2].ok() || len(srv.Accepted("C1")) != 1 {
			t.Fatalf("hits %+v, want 500, 503, ok", hits)
		}
		checkSpacing(t, hits, interval)
	})

	t.Run("5xx gives up", func(t *testing.T) {
		srv := newPacerServer(t, interval)
		p := newTestPacer(t, srv, PacerOptions{PerChannelInterval: interval, RetryBackoff: time.Millisecond, MaxAttempts: 3})
		for range 5 {
			srv.fault("C1", pacerFault{status: http.StatusBadGateway})
		}
		_, _, err := p.PostMessage(t.Context(), "C1", PriorityRoutine, msg("m"))
		if sc, ok := errors.AsType[slackapi.StatusCodeError](err); !ok || sc.Code != http.StatusBadGateway {
			t.Fatalf("got %v, want the 502", err)
		}
		if n := len(srv.Hits()); n != 3 {
			t.Errorf("%d attempts, want 3", n)
		}
	})

	t.Run("slack error not retried", func(t *testing.T) {
		srv := newPacerServer(t, interval)
		p := newTestPacer(t, srv, PacerOptions{PerChannelInterval: interval})
		srv.fault("C1", pacerFault{slackErr: "channel_not_found"})
		_, _, err := p.PostMessage(t.Context(), "C1", PriorityAlert, msg("m"))
		if se, ok := errors.AsType[slackapi.SlackErrorResponse](err); !ok || se.Err != "channel_not_found" {
			t.Fatalf("got %v, want channel_not_found", err)
		}
		if n := len(srv.Hits()); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
		if _, _, err := p.PostMessage(t.Context(), "C1", PriorityRoutine, msg("next")); err != nil {
			t.Fatal(err)
		}
	})
}

// burst posts n messages at once to one channel and reports when the last
// arrived, how many requests were rate limited, and how many messages were
// dropped or duplicated. The server allows one request per serverLimit.
func burst(tb testing.TB, n int, interval, serverLimit time.Duration) (last time.Duration, limited, dropped, dupes int) {
	srv := newPacerServer(tb, serverLimit)
	p := newTestPacer(tb, srv, PacerOptions{PerChannelInterval: interval})
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, _, errs[i] = p.PostMessage(context.Background(), "C-BULK", PriorityRoutine, msg(fmt.Sprintf("task-%03d", i)))
		})
	}
	wg.Wait()

	seen := map[string]int{}
	got := srv.Accepted("C-BULK")
	for _, h := range got {
		seen[h.Text]++
	}
	for i := range n {
		switch c := seen[fmt.Sprintf("task-%03d", i)]; {
		case c == 0 || errs[i] != nil:
			dropped++
		case c > 1:
			dupes += c - 1
		}
	}
	if len(got) > 0 {
		last = got[len(got)-1].At.Sub(start)
	}
	return last, srv.RateLimited(), dropped, dupes
}

func TestPacerBurst300Fast(t *testing.T) {
	const interval = 10 * time.Millisecond
	last, limited, dropped, dupes := burst(t, 300, interval, interval)
	t.Logf("300 posts at %v: last arrived after %v; %d rate limited, %d dropped, %d duplicated", interval, last, limited, dropped, dupes)
	if dropped != 0 || dupes != 0 {
		t.Errorf("%d dropped, %d duplicated", dropped, dupes)
	}
	if limited != 0 {
		t.Errorf("%d requests rate limited; pacing should keep within the limit", limited)
	}
	if min := 299 * interval; last < min {
		t.Errorf("last arrived after %v, want >= %v", last, min)
	}
}

// BenchmarkBurst300OneChannel is a bulk change opening 300 tasks in one
// channel, at Slack's real limit (1 message per second per channel, 429
// beyond it) and the default interval: about five minutes. Run it with
// go test ./internal/slack/ -run XXX -bench Burst300 -benchtime 1x
func BenchmarkBurst300OneChannel(b *testing.B) {
	for range b.N {
		last, limited, dropped, dupes := burst(b, 300, 0, time.Second) // default interval
		b.ReportMetric(last.Seconds(), "s-to-last")
		b.ReportMetric(float64(limited), "429s")
		b.ReportMetric(float64(dropped), "dropped")
		b.ReportMetric(float64(dupes), "duplicates")
		if dropped != 0 || dupes != 0 {
			b.Errorf("%d dropped, %d duplicated", dropped, dupes)
		}
	}
}
