package activities

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Retention: past the retention period after removal, a removed person's
// identifying details are erased (the store says what that means).

// RetentionStanding is where a person stands for retention.
type RetentionStanding struct {
	Removed   bool
	RemovedAt time.Time
	Erased    bool
	// ChildRecordsUntil is the earliest a person removed as a child may be
	// erased; zero for an adult.
	ChildRecordsUntil time.Time
}

// RetentionKeeper is the part of the store retention works through. The
// store that records changes implements it too.
type RetentionKeeper interface {
	RetentionOf(ctx context.Context, personID int64) (RetentionStanding, error)
	// EraseAfterRetention erases the person if they are still removed by
	// the removal at removedAt; erased is false (and err nil) when that no
	// longer holds: referred again, or erased already.
	EraseAfterRetention(ctx context.Context, personID int64, removedAt time.Time) (erased bool, err error)
}

func (a *Activities) retention() (RetentionKeeper, error) {
	if r, ok := a.Store.(RetentionKeeper); ok {
		return r, nil
	}
	return nil, errors.New("the store does not keep retention")
}

// RetentionOfInput asks where a person stands for retention.
type RetentionOfInput struct {
	PersonID int64
}

// RetentionOf reads where a person stands for retention. The retention
// workflow runs it as a local activity (by name).
func (a *Activities) RetentionOf(ctx context.Context, in RetentionOfInput) (RetentionStanding, error) {
	r, err := a.retention()
	if err != nil {
		return RetentionStanding{}, err
	}
	st, err := r.RetentionOf(ctx, in.PersonID)
	if err != nil {
		return RetentionStanding{}, fmt.Errorf("retention of person %d: %w", in.PersonID, err)
	}
	return st, nil
}

// EraseAfterRetentionInput names the person and the removal whose
// retention period has passed.
type EraseAfterRetentionInput struct {
	PersonID  int64
	RemovedAt time.Time
}

// EraseAfterRetentionResult says whether the person was erased.
type EraseAfterRetentionResult struct {
	Erased bool
}

// EraseAfterRetention erases a removed person's identifying details once
// the retention period has passed. Idempotent: erasing again does nothing.
func (a *Activities) EraseAfterRetention(ctx context.Context, in EraseAfterRetentionInput) (EraseAfterRetentionResult, error) {
	r, err := a.retention()
	if err != nil {
		return EraseAfterRetentionResult{}, err
	}
	erased, err := r.EraseAfterRetention(ctx, in.PersonID, in.RemovedAt)
	if err != nil {
		return EraseAfterRetentionResult{}, fmt.Errorf("erase person %d: %w", in.PersonID, err)
	}
	return EraseAfterRetentionResult{Erased: erased}, nil
}
