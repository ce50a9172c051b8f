package casework

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The referral intake takes in ReferralsAtOnce at a time; one more waits,
// and if its deadline passes first it is told the register is busy, with
// nothing recorded (Unavailable: retrying is safe).
func TestReferralIntakeIsBounded(t *testing.T) {
	c := &Casework{ReferralsAtOnce: 2}
	ctx := context.Background()
	var releases []func()
	for range 2 {
		release, err := c.takeInReferral(ctx)
		if err != nil {
			t.Fatalf("a place in an intake with room: %v", err)
		}
		releases = append(releases, release)
	}

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := c.takeInReferral(short)
	var ce *Error
	if !errors.As(err, &ce) || ce.Kind != Unavailable {
		t.Fatalf("a third referral while two are taken in: got %v, want Unavailable", err)
	}

	got := make(chan error, 1)
	go func() {
		release, err := c.takeInReferral(ctx)
		if err == nil {
			release()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a third referral was taken in while two were (err %v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	releases[0]()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("once a place was free: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a freed place was not taken")
	}
	releases[1]()
}
