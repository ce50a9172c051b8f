package portal

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// bucket is a token bucket: it holds up to capacity tokens and gains rate
// tokens a second; each request takes one.
type bucket struct {
	tokens float64
	last   time.Time
}

// limiter is one token bucket per client address.
type limiter struct {
	capacity float64
	perSec   float64

	mu      sync.Mutex
	buckets map[string]*bucket
}

// maxClients bounds the limiter's memory: past it, buckets that have
// refilled (clients gone quiet) are forgotten, which loses nothing.
const maxClients = 100_000

func newLimiter(n int, per time.Duration) *limiter {
	return &limiter{capacity: float64(n), perSec: float64(n) / per.Seconds(), buckets: map[string]*bucket{}}
}

// allow takes a token for client at now, reporting whether there was one.
func (l *limiter) allow(client string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[client]
	if !ok {
		if len(l.buckets) >= maxClients {
			l.forgetFull(now)
		}
		b = &bucket{tokens: l.capacity, last: now}
		l.buckets[client] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(l.capacity, b.tokens+elapsed*l.perSec)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// forgetFull drops every bucket that would be full by now: such a client
// is indistinguishable from a new one.
func (l *limiter) forgetFull(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.perSec >= l.capacity {
			delete(l.buckets, k)
		}
	}
}

// clientAddress is who a request is from, for the limits: the
// connection's address, or the one a trusted proxy put in header (the
// last entry of a list, the one that proxy added).
func clientAddress(r *http.Request, header string) string {
	if header != "" {
		if v := r.Header.Values(header); len(v) > 0 {
			parts := strings.Split(v[len(v)-1], ",")
			if a := strings.TrimSpace(parts[len(parts)-1]); a != "" {
				return a
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
