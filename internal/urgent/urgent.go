// Package urgent lets urgent work go first: routine work waits, for a
// bounded time, while urgent work is in flight. The outbox dispatcher holds
// routine deliveries back while an alert read with them has not been tried
// (internal/outbox), the referral intake holds new referrals back while
// a red rating is being recorded (internal/casework), and a change that
// queued an alert answers once the alert has been tried (internal/store).
package urgent

import (
	"context"
	"sync"
	"time"
)

// InFlight counts urgent work in flight. The zero value is ready to use.
type InFlight struct {
	mu    sync.Mutex
	n     int
	clear chan struct{} // closed when n falls back to 0; nil while n is 0
}

// Add counts one piece of urgent work in.
func (f *InFlight) Add() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.clear = make(chan struct{})
	}
	f.n++
}

// Done counts one out. Extra calls, with nothing in flight, do nothing.
func (f *InFlight) Done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		return
	}
	f.n--
	if f.n == 0 {
		close(f.clear)
		f.clear = nil
	}
}

// Len is how much urgent work is in flight.
func (f *InFlight) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// Wait returns once nothing urgent is in flight, or after limit; false if
// ctx ended first.
func (f *InFlight) Wait(ctx context.Context, limit time.Duration) bool {
	f.mu.Lock()
	clear := f.clear
	f.mu.Unlock()
	if clear == nil {
		return true
	}
	return WaitFor(ctx, clear, limit)
}

// WaitFor returns once done is closed, or after limit; false if ctx ended
// first. A nil done is never closed: it waits out the limit.
func WaitFor(ctx context.Context, done <-chan struct{}, limit time.Duration) bool {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
		return false
	}
	return true
}
