// Package pacer delivers the register's Slack calls within Slack's limits:
// one post per channel per second, chat.update and chat.getPermalink by
// their tiers (ratelimits.go says where each limit comes from), 429s
// waited out as Retry-After says, transient errors retried a bounded
// number of times. A red alert is never queued behind routine work: in
// each lane, queued alerts go first. It says nothing about what is posted;
// that is package slack's.
package pacer

import (
	"container/heap"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
)

// Priority orders the Slack requests queued in one lane (a channel's
// posts, or all edits): higher first, first in first out within a priority.
type Priority int

const (
	// PriorityRoutine is for routine prompts, edits and reminders.
	PriorityRoutine Priority = iota
	// PriorityAlert is for urgent messages (a person rated red); queued
	// alerts go before queued routine requests in the same lane.
	PriorityAlert
)

func (p Priority) String() string {
	switch p {
	case PriorityRoutine:
		return "routine"
	case PriorityAlert:
		return "alert"
	default:
		return "priority(" + strconv.Itoa(int(p)) + ")"
	}
}

// ErrClosed is returned for writes made, or still waiting, when the
// Pacer is closed.
var ErrClosed = errors.New("slack: pacer closed")

// Defaults for Options.
const (
	DefaultPerChannelInterval = time.Second
	DefaultMaxAttempts        = 4
	DefaultRetryBackoff       = 500 * time.Millisecond

	// maxBackoffFactor caps the transient-error backoff at
	// RetryBackoff*maxBackoffFactor.
	maxBackoffFactor = 8
	// rateLimitFallback is how long to wait on a rate limit that came
	// without a usable Retry-After.
	rateLimitFallback = time.Second
)

// Options configures a Pacer. The zero value gives Slack's limits
// (ratelimits.go says where they come from).
type Options struct {
	// PerChannelInterval is the least time between the end of one post to
	// a channel and the start of the next (default 1s: Slack allows about
	// one message per second per channel). Measuring from the end means
	// Slack never sees two posts to a channel closer than this. Edits are
	// not counted against it: they have their own limit, UpdateRate.
	PerChannelInterval time.Duration
	// UpdateRate paces chat.update across all channels (default
	// DefaultUpdateRate, Slack's Tier 3).
	UpdateRate MethodRate
	// PermalinkRate paces chat.getPermalink (default DefaultPermalinkRate,
	// Tier 4).
	PermalinkRate MethodRate
	// MaxAttempts bounds the attempts at one request on transient errors
	// (HTTP 5xx, network errors): default 4. Rate limits (429) are not
	// counted: those are retried after Retry-After until the caller's
	// context ends.
	MaxAttempts int
	// RetryBackoff is the wait after the first transient error; it doubles
	// after each further one, capped at 8×RetryBackoff (default 500ms).
	RetryBackoff time.Duration
	// Logger receives rate-limit and retry events (default slog.Default()).
	Logger *slog.Logger
}

// Pacer is the single way the service writes to Slack. It queues each
// request in a lane for the limit it counts against (ratelimits.go): a lane
// per channel for posting, at most one post per PerChannelInterval; one
// lane for chat.update and one for chat.getPermalink, each paced by its
// tier. In every lane alerts go before routine requests, first in first out
// within a priority; lanes proceed independently, so an edit never waits
// for a channel's posting budget and a post never waits behind edits. On
// HTTP 429 the lane it came from waits Retry-After and sends the same
// request again, so a burst (a bulk change opening hundreds of tasks) is
// paced and nothing is dropped; other lanes carry on.
//
// Order across lanes is not kept: a caller that needs a message posted
// before it is edited (the Notifier) waits for the post to return first.
//
// Channels are keyed by the string given, so use one spelling (the channel
// ID) for a channel. Do not give the client slack-go's own OptionRetry: the
// Pacer does the retrying.
//
// A lane has a worker goroutine only while it has requests queued, and
// until its pacing has settled after the last one (one interval for a
// channel, a refilled bucket for a tier); Close stops them all.
type Pacer struct {
	client      *slackapi.Client
	interval    time.Duration
	updateRate  MethodRate
	linkRate    MethodRate
	maxAttempts int
	backoff     time.Duration
	log         *slog.Logger

	ctx    context.Context // done once Close is called
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	seq    uint64
	lanes  map[laneKey]*lane
}

// New returns a Pacer sending through client.
func New(client *slackapi.Client, opts Options) *Pacer {
	if opts.PerChannelInterval <= 0 {
		opts.PerChannelInterval = DefaultPerChannelInterval
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = DefaultRetryBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pacer{
		client:      client,
		interval:    opts.PerChannelInterval,
		updateRate:  opts.UpdateRate.orDefault(DefaultUpdateRate),
		linkRate:    opts.PermalinkRate.orDefault(DefaultPermalinkRate),
		maxAttempts: opts.MaxAttempts,
		backoff:     opts.RetryBackoff,
		log:         opts.Logger,
		ctx:         ctx,
		cancel:      cancel,
		lanes:       map[laneKey]*lane{},
	}
}

// PostMessage queues chat.postMessage to channel and waits until Slack has
// accepted it, returning the channel ID and the message's timestamp. It
// returns early if ctx ends (ctx.Err()) or the Pacer is closed
// (ErrClosed), and at once on a Slack error such as channel_not_found.
func (p *Pacer) PostMessage(ctx context.Context, channel string, prio Priority, opts ...slackapi.MsgOption) (channelID, ts string, err error) {
	r, err := p.do(ctx, laneKey{class: classPost, channel: channel}, channel, prio, "chat.postMessage",
		func(ctx context.Context) (result, error) {
			ch, ts, err := p.client.PostMessageContext(ctx, channel, opts...)
			return result{channel: ch, ts: ts}, err
		})
	return r.channel, r.ts, err
}

// UpdateMessage queues chat.update of the message ts in channel and waits
// until Slack has accepted it, as PostMessage does. Edits share one lane
// across channels (Slack limits chat.update per app, not per channel).
func (p *Pacer) UpdateMessage(ctx context.Context, channel, ts string, prio Priority, opts ...slackapi.MsgOption) error {
	_, err := p.do(ctx, laneKey{class: classUpdate}, channel, prio, "chat.update",
		func(ctx context.Context) (result, error) {
			ch, newTS, _, err := p.client.UpdateMessageContext(ctx, channel, ts, opts...)
			return result{channel: ch, ts: newTS}, err
		})
	return err
}

// GetPermalinkContext asks chat.getPermalink for a message's link, paced by
// its tier, so the Pacer can be a Notifier's Links. The Notifier asks only
// when telling managers about an alert, so these go as alerts.
func (p *Pacer) GetPermalinkContext(ctx context.Context, params *slackapi.PermalinkParameters) (string, error) {
	r, err := p.do(ctx, laneKey{class: classPermalink}, params.Channel, PriorityAlert, "chat.getPermalink",
		func(ctx context.Context) (result, error) {
			link, err := p.client.GetPermalinkContext(ctx, params)
			return result{permalink: link}, err
		})
	return r.permalink, err
}

// Close stops every lane's worker; requests still waiting return
// ErrClosed, as do later calls. A request in flight is cancelled.
func (p *Pacer) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}

// result is what one request came to.
type result struct {
	channel, ts string
	permalink   string
	err         error
}

// request is one queued Slack request.
type request struct {
	ctx      context.Context
	channel  string // for logs: the channel the request is about
	method   string
	prio     Priority
	seq      uint64
	send     func(ctx context.Context) (result, error)
	attempts int         // transient failures so far
	index    int         // position in the lane's heap; -1 when not queued
	done     chan result // buffered; receives exactly one result
}

// lane is the queue for one limit. It exists while its worker runs.
type lane struct {
	queue requestHeap
	// wake tells a worker waiting for its pacing to settle that a request
	// has been queued, so it need not wait for a full bucket to send it.
	wake chan struct{}
}

func (p *Pacer) newSchedule(key laneKey) *schedule {
	switch key.class {
	case classUpdate:
		return tieredSchedule(p.updateRate)
	case classPermalink:
		return tieredSchedule(p.linkRate)
	default:
		return postingSchedule(p.interval)
	}
}

func (p *Pacer) do(ctx context.Context, key laneKey, channel string, prio Priority, method string,
	send func(context.Context) (result, error)) (result, error) {
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	req := &request{ctx: ctx, channel: channel, method: method, prio: prio, send: send,
		done: make(chan result, 1)}

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return result{}, ErrClosed
	}
	p.seq++
	req.seq = p.seq
	l, ok := p.lanes[key]
	if !ok {
		l = &lane{wake: make(chan struct{}, 1)}
		p.lanes[key] = l
		p.wg.Add(1)
		go p.run(key, l, p.newSchedule(key))
	}
	heap.Push(&l.queue, req)
	select {
	case l.wake <- struct{}{}:
	default: // already woken
	}
	p.mu.Unlock()

	select {
	case r := <-req.done:
		return r, r.err
	case <-ctx.Done():
	case <-p.ctx.Done():
	}

	// Cancelled or closed: take the request out of the queue if it is still
	// there. If it is in flight its HTTP request is being cancelled too, and
	// the worker reports what came of it (possibly success) promptly.
	p.mu.Lock()
	if req.index >= 0 {
		heap.Remove(&l.queue, req.index)
		p.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return result{}, err
		}
		return result{}, ErrClosed
	}
	p.mu.Unlock()
	r := <-req.done
	return r, r.err
}

// run is a lane's worker: it sends the lane's requests one at a time,
// highest priority first, as its schedule allows (and no sooner than a
// rate limit's Retry-After), and exits once the lane is empty and its
// schedule has settled.
func (p *Pacer) run(key laneKey, l *lane, s *schedule) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		idle := l.queue.Len() == 0
		p.mu.Unlock()
		until := s.nextStart()
		if idle {
			until = s.settled()
		}
		if d := time.Until(until); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-l.wake:
				t.Stop()
				continue // something queued: wait for the next start instead
			case <-p.ctx.Done():
				t.Stop()
				// Waiting callers see p.ctx too and take their requests out.
				return
			}
		}

		p.mu.Lock()
		var req *request
		for l.queue.Len() > 0 {
			r := heap.Pop(&l.queue).(*request)
			if err := r.ctx.Err(); err != nil {
				r.done <- result{err: err}
				continue
			}
			req = r
			break
		}
		if req == nil && !idle {
			// Everything queued was cancelled while waiting: settle first.
			p.mu.Unlock()
			continue
		}
		if req == nil || p.closed {
			delete(p.lanes, key)
			p.mu.Unlock()
			if req != nil {
				req.done <- result{err: ErrClosed}
			}
			return
		}
		p.mu.Unlock()

		s.started(time.Now())
		r, wait, retry, limited := p.attempt(req)
		s.ended(time.Now(), wait, limited)
		if retry {
			p.mu.Lock()
			if err := req.ctx.Err(); err != nil {
				p.mu.Unlock()
				req.done <- result{err: err}
				continue
			}
			if p.closed {
				p.mu.Unlock()
				req.done <- result{err: ErrClosed}
				continue
			}
			// Back in the queue with its original place: nothing queued
			// behind it overtakes it, though a newer alert may go first.
			heap.Push(&l.queue, req)
			p.mu.Unlock()
			continue
		}
		req.done <- r
	}
}

// attempt sends req once. It says whether to send it again, how long the
// lane must then wait, and whether that is Slack's rate limit.
func (p *Pacer) attempt(req *request) (r result, wait time.Duration, retry, limited bool) {
	ctx, cancel := context.WithCancel(req.ctx)
	stop := context.AfterFunc(p.ctx, cancel)
	r, err := req.send(ctx)
	stop()
	cancel()
	if err == nil {
		return r, 0, false, false
	}
	if cerr := req.ctx.Err(); cerr != nil {
		return result{err: cerr}, 0, false, false
	}
	if p.ctx.Err() != nil {
		return result{err: ErrClosed}, 0, false, false
	}

	if d, ok := rateLimited(err); ok {
		p.log.Warn("slack rate limited; will retry", "channel", req.channel, "method", req.method,
			"priority", req.prio.String(), "retry_after", d)
		return result{}, d, true, true
	}
	if transient(err) {
		req.attempts++
		if req.attempts >= p.maxAttempts {
			p.log.Error("slack request failed; giving up", "channel", req.channel, "method", req.method,
				"attempts", req.attempts, "err", err)
			return result{err: err}, 0, false, false
		}
		d := p.backoff << (req.attempts - 1)
		d = min(d, p.backoff*maxBackoffFactor)
		p.log.Warn("slack request failed; will retry", "channel", req.channel, "method", req.method,
			"attempt", req.attempts, "backoff", d, "err", err)
		return result{}, d, true, false
	}
	return result{err: err}, 0, false, false
}

// rateLimited reports whether err is Slack's rate limit, and how long to
// wait before trying again.
func rateLimited(err error) (time.Duration, bool) {
	if rl, ok := errors.AsType[*slackapi.RateLimitedError](err); ok {
		if rl.RetryAfter <= 0 {
			return rateLimitFallback, true
		}
		return rl.RetryAfter, true
	}
	// A 429 without a Retry-After header.
	if sc, ok := errors.AsType[slackapi.StatusCodeError](err); ok && sc.Code == http.StatusTooManyRequests {
		return rateLimitFallback, true
	}
	if se, ok := errors.AsType[slackapi.SlackErrorResponse](err); ok && se.Err == "ratelimited" {
		return rateLimitFallback, true
	}
	return 0, false
}

// transient reports whether err may go away if the request is sent again:
// HTTP 5xx and network failures. Slack's own errors (channel_not_found,
// invalid_auth, msg_too_long…) are not.
func transient(err error) bool {
	if sc, ok := errors.AsType[slackapi.StatusCodeError](err); ok {
		return sc.Retryable()
	}
	if _, ok := errors.AsType[slackapi.SlackErrorResponse](err); ok {
		return false
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// enqueued is how many writes have been queued; tests use it to queue in a
// known order.
func (p *Pacer) enqueued() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seq
}

// activeLanes is how many lanes have a worker.
func (p *Pacer) activeLanes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lanes)
}

// requestHeap orders a lane: higher priority first, then queue order.
type requestHeap []*request

func (h requestHeap) Len() int { return len(h) }

func (h requestHeap) Less(i, j int) bool {
	if h[i].prio != h[j].prio {
		return h[i].prio > h[j].prio
	}
	return h[i].seq < h[j].seq
}

func (h requestHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *requestHeap) Push(x any) {
	r := x.(*request)
	r.index = len(*h)
	*h = append(*h, r)
}

func (h *requestHeap) Pop() any {
	old := *h
	n := len(old)
	r := old[n-1]
	old[n-1] = nil
	r.index = -1
	*h = old[:n-1]
	return r
}
