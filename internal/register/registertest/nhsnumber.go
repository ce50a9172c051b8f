// Package registertest makes register data for tests: made-up NHS numbers
// that pass the register's modulus 11 check.
package registertest

import (
	"fmt"
	"sync/atomic"
)

// NHSNumber completes a nine-digit stem with its modulus 11 check digit
// (digits weighted 10..2; check = 11 - sum mod 11, 11 → 0). ok is false for
// a stem whose check would be 10: no valid NHS number has it.
func NHSNumber(stem int) (number string, ok bool) {
	digits := fmt.Sprintf("%09d", stem)
	sum := 0
	for i, d := range digits {
		sum += int(d-'0') * (10 - i)
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	if check == 10 {
		return "", false
	}
	return fmt.Sprintf("%s%d", digits, check), true
}

// NHSNumbers hands out distinct valid NHS numbers, each from the next stem
// up that has one; safe for parallel tests.
type NHSNumbers struct{ stem atomic.Int64 }

// NHSNumbersAfter starts handing out numbers from the stem after stem, so
// a package's tests keep to a run of numbers other packages do not use.
func NHSNumbersAfter(stem int) *NHSNumbers {
	n := &NHSNumbers{}
	n.stem.Store(int64(stem))
	return n
}

// Next is a valid NHS number not handed out before.
func (n *NHSNumbers) Next() string {
	for {
		if number, ok := NHSNumber(int(n.stem.Add(1))); ok {
			return number
		}
	}
}
