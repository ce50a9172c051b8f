package workflows

import (
	"slices"
	"testing"
)

// TestSearchAttributeTypesAsRegistered: the names and types registered on a
// Temporal server (the dev server's flags, the operator API) are the ones
// the namespaces already have; a change here would need registering again.
func TestSearchAttributeTypesAsRegistered(t *testing.T) {
	want := [][2]string{
		{"DsrStage", "Keyword"},
		{"DsrRating", "Keyword"},
		{"DsrNextReview", "Datetime"},
		{"DsrConsentExpires", "Datetime"},
	}
	if !slices.Equal(SearchAttributeTypes, want) {
		t.Errorf("SearchAttributeTypes = %v, want %v", SearchAttributeTypes, want)
	}
}
