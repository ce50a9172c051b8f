// Package logtest collects what a server writes to its log (or a child
// process to its output) for a test to read, while it is still writing.
package logtest

import (
	"strings"
	"sync"
)

// Buffer is an io.Writer safe to write from any goroutine and read from
// the test at the same time.
type Buffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count is how many times s has been written so far (as strings.Count).
func (b *Buffer) Count(s string) int { return strings.Count(b.String(), s) }
