package register

import "time"

// Retention. A removed person's identifying details are kept for the
// policy's RetentionAfterRemoval (8 years by default: the Records
// Management Code of Practice 2021's period for adult health records), but a
// child's are never erased before the Code's children's period ends: the
// 25th birthday, or the 26th for someone who was 17 when their time on the
// register ended.

// ChildRecordsKeptUntil is the earliest a person removed at removedAt as a
// child may be erased; zero for someone removed as an adult (or with no
// date of birth).
func ChildRecordsKeptUntil(dateOfBirth, removedAt time.Time) time.Time {
	if dateOfBirth.IsZero() || removedAt.IsZero() {
		return time.Time{}
	}
	switch age := AgeOn(dateOfBirth, removedAt); {
	case age >= Adulthood:
		return time.Time{}
	case age == Adulthood-1:
		return CalendarDate(dateOfBirth).AddDate(26, 0, 0)
	default:
		return CalendarDate(dateOfBirth).AddDate(25, 0, 0)
	}
}

// ErasureDue is when a person removed at removedAt is erased.
func ErasureDue(removedAt, childRecordsUntil time.Time, retention time.Duration) time.Time {
	due := removedAt.Add(retention)
	if childRecordsUntil.After(due) {
		return childRecordsUntil
	}
	return due
}
