package pacer

import "time"

// Slack's Web API limits, as the Pacer applies them. Sources:
// https://docs.slack.dev/apis/web-api/rate-limits ("Rate limits": tiers are
// applied per method, per app, per workspace; "Tier 3: 50+ per minute …
// sporadic bursts are welcome"; "Tier 4: 100+ per minute … generous burst
// behavior"; chat.postMessage is the special tier: "generally allows posting
// one message per second per channel … Short bursts >1 allowed") and the
// method reference pages: chat.update is Tier 3; chat.getPermalink lists
// "special" limits without figures, so it is paced as Tier 4, the tier of
// Slack's other cheap read methods. A 429 (with Retry-After) is honoured
// whatever these say, so being slightly off costs a pause, never a message.

// MethodRate paces one Slack method app-wide as a token bucket: on average
// one request per Interval, and up to Burst back to back after a quiet
// spell. A zero field takes the method's default.
type MethodRate struct {
	Interval time.Duration
	Burst    int
}

// Defaults for Options' method rates.
var (
	// DefaultUpdateRate is Tier 3, 50 a minute. The burst of 10 lets the
	// edits that close a handful of prompts go at once; even a full burst
	// followed by the steady rate stays within 60 in any minute, inside
	// Slack's "50+ … sporadic bursts are welcome".
	DefaultUpdateRate = MethodRate{Interval: time.Minute / 50, Burst: 10}
	// DefaultPermalinkRate is Tier 4, 100 a minute, with a burst of 20
	// ("generous burst behavior").
	DefaultPermalinkRate = MethodRate{Interval: time.Minute / 100, Burst: 20}
)

func (r MethodRate) orDefault(d MethodRate) MethodRate {
	if r.Interval <= 0 {
		r.Interval = d.Interval
	}
	if r.Burst <= 0 {
		r.Burst = d.Burst
	}
	return r
}

// methodClass is which of Slack's limits a request counts against.
type methodClass int

const (
	// classPost is chat.postMessage, limited per channel.
	classPost methodClass = iota
	// classUpdate is chat.update, limited app-wide by its tier.
	classUpdate
	// classPermalink is chat.getPermalink, limited app-wide by its tier.
	classPermalink
)

// laneKey names a lane: one per channel for posting, one app-wide for each
// tiered method. A 429 pauses only the lane it came from.
type laneKey struct {
	class   methodClass
	channel string // posting only; "" for the app-wide lanes
}

// schedule is when a lane may next send, and how it spaces its requests.
//
// Posting lanes measure from the end of one request to the start of the
// next (gap), so Slack never sees two posts to a channel closer than that.
// Tiered lanes are token buckets kept as one "theoretical arrival time"
// (the generic cell rate algorithm): a request may start once
// tat-(burst-1)*interval has passed, and each start moves tat on by one
// interval; the bucket is full again when tat has passed.
type schedule struct {
	gap      time.Duration // posting: least time from one end to the next start
	interval time.Duration // tiered: average time between starts
	burst    int           // tiered: starts allowed back to back

	notBefore time.Time // nothing starts before this (spacing, Retry-After, backoff)
	tat       time.Time
}

func postingSchedule(gap time.Duration) *schedule { return &schedule{gap: gap, burst: 1} }

func tieredSchedule(r MethodRate) *schedule {
	return &schedule{interval: r.Interval, burst: r.Burst}
}

// nextStart is the earliest time the next request may start.
func (s *schedule) nextStart() time.Time {
	return later(s.notBefore, s.tat.Add(-time.Duration(s.burst-1)*s.interval))
}

// settled is when the lane is no different from a new one (nothing paused,
// the bucket full): until then an idle lane is kept, so closing and
// reopening it cannot make room for more than the limit allows.
func (s *schedule) settled() time.Time { return later(s.notBefore, s.tat) }

// started records a request starting at t.
func (s *schedule) started(t time.Time) {
	if s.interval > 0 {
		s.tat = later(s.tat, t).Add(s.interval)
	}
}

// ended records a request ending at t, after which the lane must wait at
// least wait (a rate limit's Retry-After, or a backoff).
func (s *schedule) ended(t time.Time, wait time.Duration, rateLimited bool) {
	s.notBefore = later(s.notBefore, t.Add(max(s.gap, wait)))
	if rateLimited && s.interval > 0 {
		// Slack has said the bucket is empty: after the pause, go at the
		// steady rate until it has refilled rather than bursting into
		// another 429.
		s.tat = later(s.tat, t.Add(wait+time.Duration(s.burst-1)*s.interval))
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
