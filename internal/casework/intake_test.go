package casework

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/logtest"
	"github.com/dsr-register/dsr/internal/store"
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

// A background delivery that finds no place in the intake is logged as
// waiting for redelivery: the referral is recorded, so the log must not
// say "nothing was recorded", and it names the referral by its IDs only.
func TestBackgroundDeliveryWithoutAPlaceSaysItWillBeRedelivered(t *testing.T) {
	var log logtest.Buffer
	c := &Casework{ReferralsAtOnce: 1, DeliverWithin: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&log, nil))}
	release, err := c.takeInReferral(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	c.deliverInBackground(store.PendingReferral{PersonID: 1042, ReferralID: 7})
	c.WaitForDeliveries()
	got := log.String()
	if !strings.Contains(got, "no place in the referral intake") || !strings.Contains(got, "referral_id=7") {
		t.Errorf("want the missed place logged with the referral's ID, got %q", got)
	}
	if strings.Contains(got, "nothing was recorded") {
		t.Errorf("the referral is recorded; the log says otherwise: %q", got)
	}
}
