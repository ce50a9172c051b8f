package pacer

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

	"github.com/dsr-register/dsr/internal/slack/slackfake"
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

// pacerFault is a scripted answer for a channel's next request (of method,
// if set).
type pacerFault struct {
	method   string        // only this method's requests take it; "" any
	status   int           // HTTP status; 429 comes with Retry-After: 1
	slackErr string        // answer {"ok":false,"error":slackErr}
	delay    time.Duration // hold the request this long, then answer normally
}

// pacerServer is slacktest's server with chat.postMessage and chat.update
// that enforce Slack's limits: a post to a channel less than limit after the
// last one it accepted there gets HTTP 429 with Retry-After: 1 (whole
// seconds, as Slack sends it); chat.update, if updateRate is set, is held
// to that rate app-wide as a token bucket, 429 beyond it.
type pacerServer struct {
	*slacktest.Server
	limit      time.Duration
	updateRate MethodRate

	mu        sync.Mutex
	last      map[string]time.Time
	updateTAT time.Time
	hits      []pacerHit
	faults    map[string][]pacerFault
	ts        int
	// gate, while set, holds every request in flight until it is closed;
	// held counts the requests it is holding.
	gate chan struct{}
	held int
}

// holdRequests holds every request in flight until the returned release is
// called: a test can queue writes behind one it knows is in flight.
func (s *pacerServer) holdRequests() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gate := make(chan struct{})
	s.gate = gate
	return func() {
		s.mu.Lock()
		s.gate = nil
		s.mu.Unlock()
		close(gate)
	}
}

func (s *pacerServer) holding() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

func newPacerServer(tb testing.TB, limit time.Duration) *pacerServer {
	return newPacerServerWithUpdates(tb, limit, MethodRate{})
}

func newPacerServerWithUpdates(tb testing.TB, limit time.Duration, updateRate MethodRate) *pacerServer {
	s := &pacerServer{limit: limit, updateRate: updateRate, last: map[string]time.Time{}, faults: map[string][]pacerFault{}}
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

// takeFault is the first fault scripted for a request, taken off the list.
func (s *pacerServer) takeFault(method, channel string) *pacerFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[channel]
	for i, f := range q {
		if f.method == "" || f.method == method {
			s.faults[channel] = slices.Delete(slices.Clone(q), i, i+1)
			return &f
		}
	}
	return nil
}

// withinLimit says whether Slack would accept the request now, and if so
// counts it.
func (s *pacerServer) withinLimit(method, channel string, now time.Time) bool {
	if method == "chat.update" {
		if s.updateRate.Interval <= 0 {
			return true
		}
		r := s.updateRate
		if now.Before(s.updateTAT.Add(-time.Duration(r.Burst-1) * r.Interval)) {
			return false
		}
		s.updateTAT = later(s.updateTAT, now).Add(r.Interval)
		return true
	}
	last, seen := s.last[channel]
	if seen && now.Sub(last) < s.limit {
		return false
	}
	s.last[channel] = now
	return true
}

func (s *pacerServer) handle(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		gate := s.gate
		if gate != nil {
			s.held++
		}
		s.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
			}
			s.mu.Lock()
			s.held--
			s.mu.Unlock()
		}
		now := time.Now()
		_ = r.ParseForm()
		h := pacerHit{Method: method, Channel: r.FormValue("channel"), Text: r.FormValue("text"), At: now}

		f := s.takeFault(method, h.Channel)
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
		switch {
		case f != nil && f.slackErr != "":
			h.Status, h.Err = http.StatusOK, f.slackErr
		case f != nil:
			h.Status = f.status
		case !s.withinLimit(method, h.Channel, now):
			h.Status = http.StatusTooManyRequests
		default:
			h.Status = http.StatusOK
			if method == "chat.postMessage" {
				s.ts++
			}
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

// AcceptedMethod is the requests of method answered ok, in arrival order.
func (s *pacerServer) AcceptedMethod(method string) []pacerHit {
	var out []pacerHit
	for _, h := range s.Hits() {
		if h.ok() && h.Method == method {
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

func newTestPacer(tb testing.TB, s *pacerServer, opts Options) *Pacer {
	client := slackapi.New("xoxb-test", slackapi.OptionAPIURL(s.GetAPIURL()))
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := New(client, opts)
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
		slackfake.WaitFor(tb, "write queued", func() bool { return p.enqueued() > before })
	}
	return wg.Wait
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
	p := newTestPacer(t, srv, Options{PerChannelInterval: interval})

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
		p := newTestPacer(t, srv, Options{PerChannelInterval: interval})
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
		p := newTestPacer(t, srv, Options{PerChannelInterval: interval})
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
		p := newTestPacer(t, srv, Options{PerChannelInterval: interval})
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

// writeToC1 writes text to channel C1 by method: a post, or (chat.update)
// an edit of one message, each in its own lane.
func writeToC1(ctx context.Context, p *Pacer, method string, prio Priority, text string) error {
	if method == "chat.update" {
		return p.UpdateMessage(ctx, "C1", "1764000000.000001", prio, msg(text))
	}
	_, _, err := p.PostMessage(ctx, "C1", prio, msg(text))
	return err
}

// TestPacerAlertBeforeQueuedRoutine queues routine requests, then alerts,
// in the posting lane and in the edits' lane: in each the alerts go next.
func TestPacerAlertBeforeQueuedRoutine(t *testing.T) {
	const interval, routine = 100 * time.Millisecond, 6
	for _, method := range []string{"chat.postMessage", "chat.update"} {
		t.Run(method, func(t *testing.T) {
			srv := newPacerServer(t, interval)
			p := newTestPacer(t, srv, Options{PerChannelInterval: interval,
				UpdateRate: MethodRate{Interval: interval, Burst: 1}})

			send := func(prio Priority, text string) {
				if err := writeToC1(t.Context(), p, method, prio, text); err != nil {
					t.Errorf("%s: %v", text, err)
				}
			}
			// The first routine write is held in flight while the rest and
			// then the alerts are queued behind it, so the order does not
			// depend on how fast this machine queues them.
			release := srv.holdRequests()
			waitRoutine := queueInOrder(t, p, routine, func(i int) { send(PriorityRoutine, fmt.Sprintf("r%d", i)) })
			slackfake.WaitFor(t, "the first routine write in flight", func() bool { return srv.holding() == 1 })
			waitAlerts := queueInOrder(t, p, 2, func(i int) { send(PriorityAlert, fmt.Sprintf("a%d", i)) })
			release()
			waitRoutine()
			waitAlerts()

			got := texts(srv.AcceptedMethod(method))
			if want := []string{"r0", "a0", "a1", "r1", "r2", "r3", "r4", "r5"}; !slices.Equal(got, want) {
				t.Errorf("arrived %v, want %v: the alerts next after the write in flight, routine in order", got, want)
			}
			if method == "chat.postMessage" {
				checkSpacing(t, srv.Accepted("C1"), interval)
			}
		})
	}
}

// TestPacerEditsDoNotWaitForPosting queues posts and edits to one channel
// alternately. Posting is slow (one a posting interval); edits have their
// own, faster limit, so they all go while the second post is still waiting
// for the channel: n posts and n edits take about n posting intervals, not
// 2n as when edits shared the channel's lane.
func TestPacerEditsDoNotWaitForPosting(t *testing.T) {
	const interval, n = 200 * time.Millisecond, 6
	srv := newPacerServer(t, interval)
	p := newTestPacer(t, srv, Options{PerChannelInterval: interval,
		UpdateRate: MethodRate{Interval: time.Millisecond, Burst: 1}})

	start := time.Now()
	queueInOrder(t, p, 2*n, func(i int) {
		text := fmt.Sprintf("%d", i/2)
		var err error
		if i%2 == 0 {
			_, _, err = p.PostMessage(t.Context(), "C1", PriorityRoutine, msg("post-"+text))
		} else {
			err = p.UpdateMessage(t.Context(), "C1", "1764000000.000001", PriorityRoutine, msg("edit-"+text))
		}
		if err != nil {
			t.Error(err)
		}
	})()
	elapsed := time.Since(start)

	posts, edits := srv.AcceptedMethod("chat.postMessage"), srv.AcceptedMethod("chat.update")
	if len(posts) != n || len(edits) != n || srv.RateLimited() != 0 {
		t.Fatalf("posts %v, edits %v, %d rate limited", texts(posts), texts(edits), srv.RateLimited())
	}
	checkSpacing(t, posts, interval)
	for _, e := range edits {
		if !e.At.Before(posts[1].At) {
			t.Errorf("%s arrived %v after the first post, not before the second (%v): edits waited for the posting interval",
				e.Text, e.At.Sub(posts[0].At), posts[1].At.Sub(posts[0].At))
		}
	}
	t.Logf("%d posts and %d edits to one channel took %v (posting interval %v)", n, n, elapsed, interval)
}

// TestPacerUpdatesPacedByTier checks the edits' token bucket: a burst goes
// at once, then one per interval; and an idle lane keeps its bucket, so
// edits sent one after another (each waiting for the last) are paced too.
func TestPacerUpdatesPacedByTier(t *testing.T) {
	const interval, burst, n = 200 * time.Millisecond, 3, 6
	rate := MethodRate{Interval: interval, Burst: burst}
	// The arrivals may be a little closer together than the starts.
	atLeast := func(k int) time.Duration { return time.Duration(k-burst+1) * interval * 4 / 5 }

	check := func(t *testing.T, edits []pacerHit) {
		t.Helper()
		if len(edits) != n {
			t.Fatalf("edits %v", texts(edits))
		}
		for k := burst; k < n; k++ {
			if gap := edits[k].At.Sub(edits[0].At); gap < atLeast(k) {
				t.Errorf("edit %d arrived %v after the first, want >= %v (%v a request after a burst of %d)",
					k, gap, atLeast(k), interval, burst)
			}
		}
	}

	t.Run("at once", func(t *testing.T) {
		srv := newPacerServer(t, time.Millisecond)
		p := newTestPacer(t, srv, Options{UpdateRate: rate})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if err := p.UpdateMessage(t.Context(), fmt.Sprintf("C%d", i), "1.2", PriorityRoutine, msg(fmt.Sprint(i))); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		edits := srv.AcceptedMethod("chat.update")
		check(t, edits)
		// The burst went without waiting a whole interval.
		if gap := edits[burst-1].At.Sub(edits[0].At); gap >= interval {
			t.Errorf("the first %d edits took %v, want a burst (< %v)", burst, gap, interval)
		}
	})

	t.Run("one after another", func(t *testing.T) {
		srv := newPacerServer(t, time.Millisecond)
		p := newTestPacer(t, srv, Options{UpdateRate: rate})
		for i := range n {
			if err := p.UpdateMessage(t.Context(), "C1", "1.2", PriorityRoutine, msg(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		check(t, srv.AcceptedMethod("chat.update"))
		slackfake.WaitFor(t, "the idle lane to close once its bucket is full", func() bool { return p.activeLanes() == 0 })
	})
}

// TestPacerRetryAfterPausesOnlyItsLane: a 429 on chat.update holds back
// edits, not posts to the same channel; a 429 on a post holds back that
// channel's posts, not edits.
func TestPacerRetryAfterPausesOnlyItsLane(t *testing.T) {
	const interval = 50 * time.Millisecond
	opts := Options{PerChannelInterval: interval, UpdateRate: MethodRate{Interval: time.Millisecond, Burst: 1}}

	for _, limited := range []string{"chat.update", "chat.postMessage"} {
		t.Run(limited, func(t *testing.T) {
			srv := newPacerServer(t, interval)
			p := newTestPacer(t, srv, opts)
			srv.fault("C1", pacerFault{method: limited, status: http.StatusTooManyRequests})
			send := func(method, text string) {
				if err := writeToC1(t.Context(), p, method, PriorityRoutine, text); err != nil {
					t.Errorf("%s: %v", text, err)
				}
			}
			other := "chat.postMessage"
			if limited == other {
				other = "chat.update"
			}
			wait := queueInOrder(t, p, 4, func(i int) {
				if i == 0 {
					send(limited, "limited")
					return
				}
				send(other, fmt.Sprintf("other-%d", i))
			})
			slackfake.WaitFor(t, "the 429", func() bool { return srv.RateLimited() == 1 })
			wait()

			retried, others := srv.AcceptedMethod(limited), srv.AcceptedMethod(other)
			if len(retried) != 1 || len(others) != 3 {
				t.Fatalf("%s accepted %v, %s accepted %v", limited, texts(retried), other, texts(others))
			}
			if last := others[len(others)-1]; !last.At.Before(retried[0].At) {
				t.Errorf("%s finished at %v, after the %s retry at %v: its Retry-After held them up",
					other, last.At.Format(time.StampMicro), limited, retried[0].At.Format(time.StampMicro))
			}
			i429 := slices.IndexFunc(srv.Hits(), func(h pacerHit) bool { return h.Status == http.StatusTooManyRequests })
			if gap := retried[0].At.Sub(srv.Hits()[i429].At); gap < time.Second {
				t.Errorf("retry came %v after the 429, want >= Retry-After 1s", gap)
			}
		})
	}
}

func TestPacerChannelsInParallel(t *testing.T) {
	const interval, n = 200 * time.Millisecond, 5
	srv := newPacerServer(t, interval)
	p := newTestPacer(t, srv, Options{PerChannelInterval: interval})

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
	t.Logf("two channels of %d took %v (one alone needs %v)", n, elapsed, time.Duration(n-1)*interval)
	// In parallel, not in series: C2's first post does not wait for C1's
	// (an order, not a time, so a loaded machine cannot fail it).
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
		p := newTestPacer(t, srv, Options{PerChannelInterval: interval})
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
		p := newTestPacer(t, srv, Options{PerChannelInterval: 10 * time.Millisecond})
		srv.fault("C1", pacerFault{status: http.StatusTooManyRequests})
		if d := postPastDeadline(t, p, "m1"); d > 900*time.Millisecond {
			t.Errorf("returned after %v; Retry-After was 1s", d)
		}
		time.Sleep(1200 * time.Millisecond) // past Retry-After: no retry comes
		if hits := srv.Hits(); len(hits) != 1 {
			t.Errorf("server saw %+v, want only the rate-limited attempt", hits)
		}
	})

	t.Run("in flight", func(t *testing.T) {
		srv := newPacerServer(t, 10*time.Millisecond)
		p := newTestPacer(t, srv, Options{PerChannelInterval: 10 * time.Millisecond})
		srv.fault("C1", pacerFault{delay: 10 * time.Second})
		if d := postPastDeadline(t, p, "slow"); d > 5*time.Second {
			t.Errorf("returned after %v, not at its deadline: it waited for the 10s answer", d)
		}
		// The channel carries on.
		if _, _, err := p.PostMessage(t.Context(), "C1", PriorityRoutine, msg("next")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("already done", func(t *testing.T) {
		srv := newPacerServer(t, 10*time.Millisecond)
		p := newTestPacer(t, srv, Options{})
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

// postPastDeadline posts text to C1 with a deadline of 100ms, which must
// run out first, and says how long the post took to return.
func postPastDeadline(t *testing.T, p *Pacer, text string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := p.PostMessage(ctx, "C1", PriorityRoutine, msg(text))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want deadline exceeded", err)
	}
	return time.Since(start)
}

func TestPacerClose(t *testing.T) {
	srv := newPacerServer(t, 10*time.Second)
	p := newTestPacer(t, srv, Options{PerChannelInterval: 10 * time.Second})
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
	if !errors.Is(pendingErr, ErrClosed) {
		t.Errorf("pending post returned %v, want ErrClosed", pendingErr)
	}
	if _, _, err := p.PostMessage(t.Context(), "C1", PriorityRoutine, msg("m3")); !errors.Is(err, ErrClosed) {
		t.Errorf("post after Close returned %v, want ErrClosed", err)
	}
	if got := texts(srv.Hits()); !slices.Equal(got, []string{"m1"}) {
		t.Errorf("server saw %v", got)
	}
}

func TestPacerWorkerExitsWhenIdle(t *testing.T) {
	const interval = 20 * time.Millisecond
	srv := newPacerServer(t, interval)
	p := newTestPacer(t, srv, Options{PerChannelInterval: interval})
	for round := range 2 {
		queueInOrder(t, p, 3, func(i int) {
			ch := fmt.Sprintf("C%d", i%2)
			if _, _, err := p.PostMessage(t.Context(), ch, PriorityRoutine, msg(fmt.Sprintf("%d-%d", round, i))); err != nil {
				t.Error(err)
			}
		})()
		slackfake.WaitFor(t, "workers to exit", func() bool { return p.activeLanes() == 0 })
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
		p := newTestPacer(t, srv, Options{PerChannelInterval: interval, RetryBackoff: 10 * time.Millisecond})
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
		p := newTestPacer(t, srv, Options{PerChannelInterval: interval, RetryBackoff: time.Millisecond, MaxAttempts: 3})
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
		p := newTestPacer(t, srv, Options{PerChannelInterval: interval})
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

// burstResult is what a burst came to.
type burstResult struct {
	lastPost, lastEdit      time.Duration // from the start to the last arrival
	postsPerSecond          float64       // posts to the channel over the time to the last
	limited, dropped, dupes int           // 429s; posts or edits lost; extra copies
}

// burst posts n messages at once to one channel and reports when the last
// arrived, how many requests were rate limited, and how many messages were
// dropped or duplicated. The server allows one request per serverLimit.
func burst(tb testing.TB, n int, interval, serverLimit time.Duration) (last time.Duration, limited, dropped, dupes int) {
	r := burstWithEdits(tb, n, 0, Options{PerChannelInterval: interval}, serverLimit, MethodRate{})
	return r.lastPost, r.limited, r.dropped, r.dupes
}

// burstWithEdits posts n messages at once to one channel and, as the
// Notifier does when a task closes, edits every editEvery-th message once
// it has been posted (none if editEvery is 0). The server allows one post
// per serverLimit per channel and chat.update at serverUpdates.
func burstWithEdits(tb testing.TB, n, editEvery int, opts Options, serverLimit time.Duration, serverUpdates MethodRate) burstResult {
	srv := newPacerServerWithUpdates(tb, serverLimit, serverUpdates)
	p := newTestPacer(tb, srv, opts)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, n)
	edited := func(i int) bool { return editEvery > 0 && i%editEvery == 0 }
	for i := range n {
		wg.Go(func() {
			ctx := context.Background()
			ch, ts, err := p.PostMessage(ctx, "C-BULK", PriorityRoutine, msg(fmt.Sprintf("task-%03d", i)))
			if err == nil && edited(i) {
				err = p.UpdateMessage(ctx, ch, ts, PriorityRoutine, msg(fmt.Sprintf("done-%03d", i)))
			}
			errs[i] = err
		})
	}
	wg.Wait()

	var r burstResult
	seen := map[string]int{}
	posts, edits := srv.AcceptedMethod("chat.postMessage"), srv.AcceptedMethod("chat.update")
	for _, h := range append(posts, edits...) {
		seen[h.Text]++
	}
	for i := range n {
		for _, text := range []string{fmt.Sprintf("task-%03d", i), fmt.Sprintf("done-%03d", i)} {
			if text[0] == 'd' && !edited(i) {
				continue
			}
			switch c := seen[text]; {
			case c == 0 || errs[i] != nil:
				r.dropped++
			case c > 1:
				r.dupes += c - 1
			}
		}
	}
	if len(posts) > 0 {
		r.lastPost = posts[len(posts)-1].At.Sub(start)
		r.postsPerSecond = float64(len(posts)) / r.lastPost.Seconds()
	}
	if len(edits) > 0 {
		r.lastEdit = edits[len(edits)-1].At.Sub(start)
	}
	r.limited = srv.RateLimited()
	return r
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
// go test ./internal/slack/pacer -run XXX -bench Burst300 -benchtime 1x
func BenchmarkBurst300OneChannel(b *testing.B) {
	for range b.N {
		last, limited, dropped, dupes := burst(b, 300, 0, time.Second) // default interval
		b.ReportMetric(last.Seconds(), "s-to-last")
		b.ReportMetric(300/last.Seconds(), "posts/s")
		b.ReportMetric(float64(limited), "429s")
		b.ReportMetric(float64(dropped), "dropped")
		b.ReportMetric(float64(dupes), "duplicates")
		if dropped != 0 || dupes != 0 {
			b.Errorf("%d dropped, %d duplicated", dropped, dupes)
		}
	}
}

// BenchmarkBurst300WithEdits is the same burst on a busy morning: every
// other prompt is closed (edited) as soon as it is posted, as when
// coordinators work through them. At Slack's real limits (posting 1 a
// second per channel; chat.update Tier 3, 50 a minute, which the stand-in
// enforces with 10% leeway for the requests' travel time) and the Pacer's
// defaults, the edits go in their own lane: the channel still drains at
// about one post a second (target >= 0.9). About five minutes; run with
// the command above (-bench Burst300 runs both).
func BenchmarkBurst300WithEdits(b *testing.B) {
	const n, editEvery = 300, 2
	serverUpdates := MethodRate{Interval: DefaultUpdateRate.Interval * 9 / 10, Burst: DefaultUpdateRate.Burst}
	for range b.N {
		r := burstWithEdits(b, n, editEvery, Options{}, time.Second, serverUpdates)
		b.ReportMetric(r.postsPerSecond, "posts/s")
		b.ReportMetric(r.lastPost.Seconds(), "s-to-last-post")
		b.ReportMetric(r.lastEdit.Seconds(), "s-to-last-edit")
		b.ReportMetric(float64(r.limited), "429s")
		b.ReportMetric(float64(r.dropped), "dropped")
		b.ReportMetric(float64(r.dupes), "duplicates")
		if r.dropped != 0 || r.dupes != 0 {
			b.Errorf("%d dropped, %d duplicated", r.dropped, r.dupes)
		}
		if r.postsPerSecond < 0.9 {
			b.Errorf("the channel drained at %.2f posts a second, want >= 0.9", r.postsPerSecond)
		}
	}
}
