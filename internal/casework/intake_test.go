package casework

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
	"github.com/dsr-register/dsr/internal/logtest"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/store/storetest"
	"github.com/dsr-register/dsr/workflows"
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

// TestARedRatingGoesBeforeNewReferrals: while a red rating is being
// recorded, no new referral is taken in, for up to redFirstHold; other
// ratings hold nothing up. Over a real Temporal with no worker, so each
// rating waits (as when the workflow is slow to answer) for as long as
// its context allows.
func TestARedRatingGoesBeforeNewReferrals(t *testing.T) {
	ctx := context.Background()
	st := storetest.Migrated(t)
	receipt, err := st.CreateReferral(ctx, store.NewReferral{Referral: storetest.Referral("Lovelace", "9434765919"),
		Actor: "alice", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	temporalSrv := devstacktest.TemporalWith(t, devstacktest.TemporalConfig{})
	tc, err := client.Dial(client.Options{HostPort: temporalSrv.FrontendHostPort()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	// The person's workflow exists, but no worker ever runs it.
	if _, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.PersonWorkflowID(receipt.PersonID), TaskQueue: "dsr-test"},
		workflows.PersonWorkflow, workflows.PersonWorkflowInput{PersonID: receipt.PersonID}); err != nil {
		t.Fatal(err)
	}
	cw := &Casework{Store: st, Temporal: tc, TaskQueue: "dsr-test", Now: time.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	reds := cw.redFirst.Len
	rate := func(rating register.Rating, within time.Duration) chan error {
		done := make(chan error, 1)
		go func() {
			rctx, cancel := context.WithTimeout(ctx, within)
			defer cancel()
			_, err := cw.Rate(rctx, receipt.PersonID, RateRequest{Rating: rating, Rationale: "test"}, Action{By: "alice", ID: "rate-" + string(rating)})
			done <- err
		}()
		return done
	}
	takeIn := func() time.Duration {
		start := time.Now()
		release, err := cw.takeInReferral(ctx)
		if err != nil {
			t.Fatalf("a referral with room in the intake: %v", err)
		}
		release()
		return time.Since(start)
	}

	// An amber rating in flight holds nothing up.
	amber := rate(register.Amber, time.Second)
	time.Sleep(100 * time.Millisecond)
	if n := reds(); n != 0 {
		t.Errorf("an amber rating counted as a red one (%d)", n)
	}
	<-amber

	// A red one does, for the bound, however long it takes.
	red := rate(register.Red, 2*time.Second)
	for deadline := time.Now().Add(10 * time.Second); reds() != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a red rating in flight is not counted: the intake would not let it go first")
		}
	}
	if waited := takeIn(); waited < redFirstHold*9/10 {
		t.Errorf("a referral was taken in %s into a red rating's recording; want it held for %s", waited, redFirstHold)
	}
	if err := <-red; err == nil {
		t.Fatal("a rating that no worker took in was answered as done")
	}
	if n := reds(); n != 0 {
		t.Errorf("a red rating that has ended still holds the intake (%d counted)", n)
	}
}
