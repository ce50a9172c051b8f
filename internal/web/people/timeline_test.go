package people

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// This test needs no database: it checks what a person's timeline says,
// from an audit entry's detail made here.

func TestTimelineDetailIsPlainEnglishInTheTeamsZone(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		action string
		detail map[string]string
		want   []string
	}{
		{"rated", map[string]string{"from": "", "to": "red", "rationale": "crisis at home"}, []string{"Rated red: crisis at home"}},
		{"rated", map[string]string{"from": "amber", "to": "red", "rationale": ""}, []string{"Rated red (was amber)"}},
		// 13:00 UTC in summer is 14:00 in London: the team's clock, not UTC.
		{"escalation_started", map[string]string{"ack_due_at": "2026-07-30T13:00:00Z", "escalation": "1"},
			[]string{"Acknowledgement due by Thu 30 Jul 2026 14:00", "Red alert number 1"}},
		{"referral_accepted", map[string]string{"referral_id": "7", "stage_from": "none"},
			[]string{"New to the register", "Referral number 7"}},
		{"consent_recorded", map[string]string{"basis": "best_interest", "given_by": "Dr Who", "decided_on": "2026-11-02", "notes": ""},
			[]string{"Consent: best-interest decision, given by Dr Who, decided on Mon 2 Nov 2026"}},
		{"removed", map[string]string{"reason": "risk_reduced", "stage_from": "active"},
			[]string{"Until then: on the register", "Reason: risk reduced"}},
		{"escalation_action_done", map[string]string{"kind": "community_ctr", "on": "2026-11-30"},
			[]string{"Community C(E)TR done on Mon 30 Nov 2026"}},
		{"something_new", map[string]string{"odd_key": "a value", "when_it_was": "2026-12-01T09:30:00Z", "keyworker_referral": "false"},
			[]string{"Keyworker referral: no", "Odd key: a value", "When it was: Tue 1 Dec 2026 09:30"}},
	} {
		got := auditDetail(london, c.action, c.detail)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s %v:\n got %q\nwant %q", c.action, c.detail, got, c.want)
		}
		for _, s := range got {
			if strings.Contains(s, "_") {
				t.Errorf("%s: %q shows a raw key or code", c.action, s)
			}
		}
	}
}
