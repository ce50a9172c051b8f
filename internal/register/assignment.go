package register

import "strings"

// ValidateAssignment checks who a person is being assigned to: a
// coordinator must be named. Casework checks it before the assign Update is
// sent, and the person workflow's validator again.
func ValidateAssignment(coordinator string) FieldErrors {
	if strings.TrimSpace(coordinator) == "" {
		return FieldErrors{"coordinator": "is required: who the person is assigned to"}
	}
	return nil
}
