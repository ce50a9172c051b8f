package register

import (
	"fmt"
	"slices"
	"strings"
)

// parseOneOf accepts s when it is one of values; otherwise its error lists
// the values, in their order, for the person who typed s.
func parseOneOf[T ~string](s string, values []T) (T, error) {
	if v := T(s); slices.Contains(values, v) {
		return v, nil
	}
	return "", fmt.Errorf("must be one of %s", joinValues(values))
}

// joinValues lists values for an error message: "a, b, c".
func joinValues[T ~string](values []T) string {
	names := make([]string, len(values))
	for i, v := range values {
		names[i] = string(v)
	}
	return strings.Join(names, ", ")
}
