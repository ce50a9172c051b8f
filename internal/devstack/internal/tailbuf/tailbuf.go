// Package tailbuf keeps the end of a child process's output.
package tailbuf

import (
	"strings"
	"sync"
)

// Buffer keeps the last Max bytes written to it; it is safe for concurrent
// use. Child processes can log for hours (`dsr dev`), but when one fails we
// only want the end of its output in the error message, so keeping
// everything would just grow memory.
type Buffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// New returns a Buffer that keeps the last max bytes.
func New(max int) *Buffer { return &Buffer{max: max} }

func (t *Buffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		// Copy down rather than reslice so the backing array does not grow
		// without bound.
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept output, trimmed, or "(no output)" so that error
// messages never end in a dangling colon.
func (t *Buffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if s == "" {
		return "(no output)"
	}
	return s
}
