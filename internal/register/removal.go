package register

import "fmt"

// RemovalReason says why a person left the register.
type RemovalReason string

const (
	RemovedRiskReduced    RemovalReason = "risk_reduced"
	RemovedMovedOutOfArea RemovalReason = "moved_out_of_area"
	RemovedAgedOut        RemovalReason = "aged_out"
	RemovedDeceased       RemovalReason = "deceased"
	RemovedOther          RemovalReason = "other"
	// The two below are set by the register itself, never chosen by a
	// coordinator: withdrawal has its own action, lapse is a timer.
	RemovedConsentWithdrawn RemovalReason = "consent_withdrawn"
	RemovedConsentLapsed    RemovalReason = "consent_lapsed"
)

// ParseRemovalReason accepts the reasons a coordinator may choose.
func ParseRemovalReason(s string) (RemovalReason, error) {
	switch r := RemovalReason(s); r {
	case RemovedRiskReduced, RemovedMovedOutOfArea, RemovedAgedOut, RemovedDeceased, RemovedOther:
		return r, nil
	case RemovedConsentWithdrawn:
		return "", fmt.Errorf("use the consent withdrawal action to record a withdrawal")
	case RemovedConsentLapsed:
		return "", fmt.Errorf("consent_lapsed is set by the register when consent is not renewed")
	case RemovedMerged:
		return "", fmt.Errorf("merged is set by merging two records: POST /people/{id}/merge")
	}
	return "", fmt.Errorf("must be one of risk_reduced, moved_out_of_area, aged_out, deceased, other")
}
