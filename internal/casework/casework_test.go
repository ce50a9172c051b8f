package casework

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/dsr-register/dsr/internal/devstack"
	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/store/storetest"
	"github.com/dsr-register/dsr/internal/workinghours"
	"github.com/dsr-register/dsr/workflows"
)

// TestConsentDecidedTodayIsTheTeamsToday: at 23:30 UTC on 1 July it is
// already 2 July in London, so a decision made "today" there is dated 2 July
// and must be accepted; 3 July is still in the future. A team in New York
// (still 1 July, 19:30) has 2 July in the future.
func TestConsentDecidedTodayIsTheTeamsToday(t *testing.T) {
	now := time.Date(2026, 7, 1, 23, 30, 0, 0, time.UTC)
	adult := store.PersonRecord{DateOfBirth: time.Date(1990, 3, 1, 0, 0, 0, 0, time.UTC)}
	day := func(d int) time.Time { return time.Date(2026, 7, d, 0, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		zone     string
		decided  time.Time
		accepted bool
	}{
		{"Europe/London", day(2), true},
		{"Europe/London", day(1), true},
		{"Europe/London", day(3), false},
		{"America/New_York", day(1), true},
		{"America/New_York", day(2), false},
	} {
		cw := &Casework{Now: func() time.Time { return now },
			Policy: register.Policy{WorkingHours: workinghours.Options{Location: c.zone}}}
		err := cw.checkConsent(adult, ConsentRequest{Basis: register.ConsentSelf, DecidedOn: c.decided})
		if (err == nil) != c.accepted {
			t.Errorf("%s, decided on %s at %s: %v; accepted want %v", c.zone, c.decided.Format("2006-01-02"), now.Format(time.RFC3339), err, c.accepted)
		}
		if err != nil && !strings.Contains(err.Error(), "decided_on") {
			t.Errorf("refusal should name decided_on: %v", err)
		}
	}
}

// TestActionIDNamespaced: the same key from two actors or two surfaces is
// two actions; the ID has a fixed length and carries neither the key nor
// the actor's name.
func TestActionIDNamespaced(t *testing.T) {
	a := ActionID("api", "alice", "retry-1")
	for _, other := range []string{ActionID("api", "bob", "retry-1"), ActionID("slack", "alice", "retry-1"), ActionID("api", "alice", "retry-2")} {
		if other == a {
			t.Errorf("two different actions share the ID %s", a)
		}
	}
	if a != ActionID("api", "alice", "retry-1") {
		t.Error("the same key from the same actor must give the same ID")
	}
	long := ActionID("api", "alice", strings.Repeat("x", 500))
	if len(long) != len(a) || strings.Contains(a, "alice") || strings.Contains(a, "retry") {
		t.Errorf("IDs %q and %q: want a fixed length with nothing of the actor or key in clear", a, long)
	}
}

// TestRedeliveryBoundsEachPerson: with no worker to answer, each pending
// referral's delivery gives up at its own bound and the loop goes on to the
// next, logging opaque IDs only.
func TestRedeliveryBoundsEachPerson(t *testing.T) {
	ctx := context.Background()
	st := storetest.Migrated(t)
	for _, p := range []struct{ nhs, family string }{{"9434765919", "Lovelace"}, {"4010232137", "Hopper"}} {
		if _, err := st.CreateReferral(ctx, store.NewReferral{Referral: storetest.Referral(p.family, p.nhs),
			Actor: "alice", ReceivedAt: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}

	// A real Temporal with no worker on the task queue: each delivery is
	// taken in and never answered, as when the worker is down.
	var attrs []devstack.SearchAttribute
	for _, sa := range workflows.SearchAttributeTypes {
		attrs = append(attrs, devstack.SearchAttribute{Name: sa[0], Type: sa[1]})
	}
	temporalSrv := devstacktest.TemporalWith(t, devstacktest.TemporalConfig{SearchAttributes: attrs})
	tc, err := client.Dial(client.Options{HostPort: temporalSrv.FrontendHostPort()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	var logs strings.Builder
	var mu sync.Mutex
	cw := &Casework{Store: st, Temporal: tc, TaskQueue: "dsr-test", Now: time.Now,
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))}

	done := make(chan error, 1)
	go func() {
		n, err := cw.RedeliverPending(ctx, time.Minute, 300*time.Millisecond)
		if err == nil && n != 0 {
			err = fmt.Errorf("%d delivered with no worker to take them in", n)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("redelivery hung with no worker answering: each person must have a bound")
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "redeliver referral failed"); n != 2 {
		t.Errorf("%d failures logged, want one per person (2):\n%s", n, logs.String())
	}
	for _, secret := range []string{"Lovelace", "Hopper", "9434765919", "1990-03-01"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log names %q:\n%s", secret, logs.String())
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
