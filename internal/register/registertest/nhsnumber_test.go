package registertest

import (
	"testing"

	"github.com/dsr-register/dsr/internal/register"
)

func TestNHSNumbersAreValid(t *testing.T) {
	t.Parallel()
	numbers := NHSNumbersAfter(400_000_000)
	for i := 0; i < 50; i++ {
		n := numbers.Next()
		if got, err := register.NormaliseNHSNumber(n); err != nil || got != n {
			t.Fatalf("helper made invalid NHS number %s: %v", n, err)
		}
	}
}
