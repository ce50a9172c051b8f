package casework

import (
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/workinghours"
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
