package register

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Reference is the register reference people see for a person: DSR-1042.
func Reference(personID int64) string {
	return fmt.Sprintf("DSR-%d", personID)
}

// ParseReference accepts a person ID as a number (1042) or a reference
// (DSR-1042, any case).
func ParseReference(s string) (int64, error) {
	s = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "DSR-")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errors.New("must be a person id such as 1042 or DSR-1042")
	}
	return id, nil
}

// CalendarDate is the date a date value stands for (a date of birth, a
// decision's or a due date, as the register keeps them: midnight UTC), with
// any time of day dropped. It is for dates, not instants: the team's date
// of an instant ("today") is Policy.LocalDate.
func CalendarDate(date time.Time) time.Time {
	y, m, d := date.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ReviewOverdue reports whether the rating review is overdue at now. Only
// people active on the register are reviewed: reviews stop when consent
// lapses or the person is removed.
func (s Snapshot) ReviewOverdue(now time.Time) bool {
	return s.Stage == Active && !s.NextReviewDue.IsZero() && now.After(s.NextReviewDue)
}
