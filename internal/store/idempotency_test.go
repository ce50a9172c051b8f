package store_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/store"
)

// TestIdempotencyKeyLifecycle: a new key is claimed (go ahead); while its
// outcome is unknown a retry may go ahead again; once answered every retry
// gets the first answer byte for byte; the same key with another request is
// refused; a released key can be used afresh; old keys are pruned.
func TestIdempotencyKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	s, db := newStore(t)
	t0 := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	claim := store.IdempotencyClaim{Key: "api-k1", Actor: "alice", Fingerprint: "fp-rate-red", At: t0}

	for i := range 2 {
		ans, err := s.ClaimIdempotencyKey(ctx, claim)
		if err != nil || ans != nil {
			t.Fatalf("claim %d of a key with no answer: %+v, %v; want go ahead", i+1, ans, err)
		}
	}
	if n := count(t, db, `select count(*) from idempotency_keys where key = 'api-k1' and status = 'in_flight'`); n != 1 {
		t.Fatalf("%d in-flight rows for the key, want 1", n)
	}

	first := store.IdempotencyAnswer{Status: 200, Body: []byte(`{"rating":"red"}` + "\n")}
	if err := s.AnswerIdempotencyKey(ctx, "api-k1", first, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// A concurrent retry that finished second does not replace it.
	if err := s.AnswerIdempotencyKey(ctx, "api-k1", store.IdempotencyAnswer{Status: 409, Body: []byte(`{}`)}, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	ans, err := s.ClaimIdempotencyKey(ctx, claim)
	if err != nil || ans == nil || ans.Status != 200 || !bytes.Equal(ans.Body, first.Body) {
		t.Fatalf("claim of an answered key: %+v, %v; want the first answer %s", ans, err, first.Body)
	}
	// Released only while in flight: an answered key stays.
	if err := s.ReleaseIdempotencyKey(ctx, "api-k1"); err != nil {
		t.Fatal(err)
	}
	if ans, _ := s.ClaimIdempotencyKey(ctx, claim); ans == nil {
		t.Fatal("releasing an answered key forgot its answer")
	}

	other := claim
	other.Fingerprint = "fp-rate-green"
	if _, err := s.ClaimIdempotencyKey(ctx, other); !errors.Is(err, store.ErrIdempotencyKeyMismatch) {
		t.Fatalf("same key, different request: %v, want ErrIdempotencyKeyMismatch", err)
	}

	// A key refused before anything was attempted is released: the
	// corrected request may use it.
	bad := store.IdempotencyClaim{Key: "api-k2", Actor: "alice", Fingerprint: "fp-typo", At: t0}
	if _, err := s.ClaimIdempotencyKey(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseIdempotencyKey(ctx, "api-k2"); err != nil {
		t.Fatal(err)
	}
	bad.Fingerprint = "fp-fixed"
	if ans, err := s.ClaimIdempotencyKey(ctx, bad); err != nil || ans != nil {
		t.Fatalf("claim of a released key with a corrected request: %+v, %v", ans, err)
	}

	// Pruning goes by age, answered or not.
	newer := store.IdempotencyClaim{Key: "api-k3", Actor: "bob", Fingerprint: "fp", At: t0.Add(8 * 24 * time.Hour)}
	if _, err := s.ClaimIdempotencyKey(ctx, newer); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneIdempotencyKeys(ctx, t0.Add(store.IdempotencyKeyRetention))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want the 2 keys from t0", n, err)
	}
	if left := count(t, db, `select count(*) from idempotency_keys`); left != 1 {
		t.Fatalf("%d keys left, want only the newer one", left)
	}

	if _, err := s.ClaimIdempotencyKey(ctx, store.IdempotencyClaim{Key: "k", Actor: "", Fingerprint: "f"}); err == nil {
		t.Error("a claim without an actor was accepted")
	}
}

// TestIdempotencyKeyConcurrentFirstUse: many first uses of one key at once
// make one row, and all are told to go ahead with it.
func TestIdempotencyKeyConcurrentFirstUse(t *testing.T) {
	ctx := context.Background()
	s, db := newStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ans, err := s.ClaimIdempotencyKey(ctx, store.IdempotencyClaim{Key: "api-same", Actor: "alice", Fingerprint: "fp"})
			if err == nil && ans != nil {
				err = errors.New("an answer for a key nobody answered")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := count(t, db, `select count(*) from idempotency_keys`); n != 1 {
		t.Errorf("%d rows for one key", n)
	}
}

// TestIdempotencyKeyClaimWaitsForAConcurrentFirstUse: a claim that arrives
// while another request's first use of the key is still uncommitted waits
// for it, and then answers from that row (here: a different request, so
// refused), not as if the key were unknown.
func TestIdempotencyKeyClaimWaitsForAConcurrentFirstUse(t *testing.T) {
	ctx := context.Background()
	s, db := newStore(t)
	first, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(ctx)
	if _, err := first.Exec(ctx, `insert into idempotency_keys (key, actor, fingerprint, created_at) values ('api-race', 'alice', 'fp-first', now())`); err != nil {
		t.Fatal(err)
	}
	claimed := make(chan error, 1)
	go func() {
		_, err := s.ClaimIdempotencyKey(ctx, store.IdempotencyClaim{Key: "api-race", Actor: "alice", Fingerprint: "fp-second"})
		claimed <- err
	}()
	// Commit only once the claim is waiting on the first use's row lock.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if n := count(t, db, `select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the claim never waited for the uncommitted first use")
		}
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-claimed:
		if !errors.Is(err, store.ErrIdempotencyKeyMismatch) {
			t.Fatalf("claim after a concurrent first use for another request: %v; want ErrIdempotencyKeyMismatch", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the claim did not answer within 10s of the first use committing")
	}
}
