package urgent_test

import (
	"context"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/urgent"
)

// Routine work waits while urgent work is in flight, until the last of it
// is done, for no longer than its limit, and not past its context.
func TestRoutineWaitsForUrgentWork(t *testing.T) {
	ctx := context.Background()
	var f urgent.InFlight
	if !f.Wait(ctx, time.Hour) {
		t.Fatal("nothing in flight: Wait should return at once, true")
	}

	f.Add()
	f.Add()
	waited := make(chan bool, 1)
	go func() { waited <- f.Wait(ctx, time.Hour) }()
	f.Done()
	select {
	case <-waited:
		t.Fatal("Wait returned with urgent work still in flight")
	case <-time.After(50 * time.Millisecond):
	}
	f.Done()
	select {
	case ok := <-waited:
		if !ok {
			t.Error("Wait said its context ended; it had not")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return once the urgent work was done")
	}
	f.Done() // one too many: nothing happens
	if n := f.Len(); n != 0 {
		t.Errorf("Len = %d after everything was done", n)
	}

	f.Add()
	defer f.Done()
	start := time.Now()
	if !f.Wait(ctx, 100*time.Millisecond) {
		t.Error("Wait past its limit said its context ended")
	}
	if waited := time.Since(start); waited < 90*time.Millisecond {
		t.Errorf("Wait returned after %s, before its limit of 100ms", waited)
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if f.Wait(ended, time.Hour) {
		t.Error("Wait with an ended context said true")
	}
}
