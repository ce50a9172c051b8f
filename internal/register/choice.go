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

// Choice is one answer a form offers a coordinator: the value the form
// sends back and the words it shows. The staff pages and the Slack modals
// offer the same lists, so a choice reads the same wherever it is made.
type Choice struct{ Value, Label string }

// The choices of the consent, rating and removal forms, in the order the
// forms offer them.
var (
	ConsentBasisChoices = []Choice{
		{string(ConsentSelf), "The person consents (has capacity)"},
		{string(ConsentBestInterest), "Best-interest decision (Mental Capacity Act 2005), from 16"},
		{string(ConsentParental), "Parent or guardian (under 16)"},
		{string(ConsentGillick), "Gillick competent (under 16)"},
	}
	RatingChoices = []Choice{
		{string(Red), "Red: immediate risk of admission"},
		{string(Amber), "Amber: at risk without community services"},
		{string(Green), "Green: at risk, team in place"},
		{string(Blue), "Blue: in a mental health hospital"},
	}
	// RemovalChoices are the reasons a coordinator may choose (see
	// ParseRemovalReason); the register sets the others itself.
	RemovalChoices = []Choice{
		{string(RemovedRiskReduced), "Risk reduced"},
		{string(RemovedMovedOutOfArea), "Moved out of area"},
		{string(RemovedAgedOut), "Aged out"},
		{string(RemovedDeceased), "Deceased"},
		{string(RemovedOther), "Other (say why in notes)"},
	}
)
