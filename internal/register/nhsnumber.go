package register

import (
	"fmt"
	"strings"
)

// NormaliseNHSNumber strips spaces and dashes ("943 476 5919" → "9434765919")
// and checks the number: ten digits with a valid modulus 11 check digit.
func NormaliseNHSNumber(s string) (string, error) {
	n := strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(s))
	if n == "" {
		return "", fmt.Errorf("is required: the 10-digit NHS number")
	}
	if len(n) != 10 {
		return "", fmt.Errorf("must be 10 digits, got %d characters", len(n))
	}
	sum := 0
	for i := 0; i < 10; i++ {
		c := n[i]
		if c < '0' || c > '9' {
			return "", fmt.Errorf("must contain digits only")
		}
		if i < 9 {
			sum += int(c-'0') * (10 - i)
		}
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	if check == 10 || check != int(n[9]-'0') {
		return "", fmt.Errorf("check digit does not match: re-check the number against the person's NHS record")
	}
	return n, nil
}
