package web

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// These tests need no database: they check what the dashboard's charts
// and a person's timeline say, from figures made here.

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

var svgText = regexp.MustCompile(`<text x="([0-9.]+)" y="([0-9.]+)"[^>]*>([^<]*)</text>`)

func TestWeeklyColourChartWithOneWeek(t *testing.T) {
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	tr := weeklyColours([]store.RegisterSnapshot{{Day: day, Counts: []store.RegisterCount{
		{Stage: register.Active, Rating: register.Red, People: 1}}}})
	svg := string(tr.SVG)
	texts := svgText.FindAllStringSubmatch(svg, -1)
	seen := map[string]string{}
	for _, m := range texts {
		at := m[1] + "," + m[2]
		if other, ok := seen[at]; ok {
			t.Errorf("%q and %q are drawn at the same place (%s)", other, m[3], at)
		}
		seen[at] = m[3]
	}
	if n := strings.Count(svg, ">23 Nov<"); n != 1 {
		t.Errorf("the week's label is on the x-axis %d times, want once:\n%s", n, svg)
	}
	for _, want := range []string{">Red 1<", ">Amber 0<", ">Green 0<", ">Blue 0<", "<circle "} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %s:\n%s", want, svg)
		}
	}
}

func TestEmptyChartsDoNotRepeatAxisLabels(t *testing.T) {
	months := lastMonths(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), 12)
	ctr := ctrTrend(months, []store.MonthCount{{Month: months[11], Count: 4, Within: 3}})
	svg := string(ctr.SVG)
	if n := strings.Count(svg, ">0%<"); n != 1 {
		t.Errorf("0%% is written %d times in the C(E)TR chart, want once (the axis): a month with none held is not 0%%:\n%s", n, svg)
	}
	if !strings.Contains(svg, ">100%<") || !strings.Contains(svg, ">75%<") {
		t.Errorf("C(E)TR chart: want a 0–100%% axis and November's 75%%:\n%s", svg)
	}
	if n := strings.Count(svg, ">none<"); n != 11 {
		t.Errorf("%d months say none, want the 11 with no C(E)TRs", n)
	}
	if got := ctr.Rows[0][3]; got != "no C(E)TRs" {
		t.Errorf("table for a month with none: %q", got)
	}
	if !strings.Contains(ctr.Desc, "Months with no C(E)TRs have no bar") {
		t.Errorf("description does not say which months had none: %q", ctr.Desc)
	}
	adm := string(admissionsTrend(months, nil).SVG)
	if strings.Count(adm, `text-anchor="end" font-size="12" fill="#212b32">0<`) != 1 {
		t.Errorf("an empty chart's y-axis says 0 at both ends:\n%s", adm)
	}
}

func TestChangesNoteReadsAsASentence(t *testing.T) {
	week, month := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		week, month time.Time
		want        string
	}{
		{week, month, "Changes compare with the register as counted on 22 November 2026 and on 30 October 2026."},
		{week, time.Time{}, "Changes compare with the register as counted on 22 November 2026. The change since last month will show once the register has been counted for a month."},
		{time.Time{}, time.Time{}, "The changes since last week and since last month will show once the register has been counted for a week and for a month. It is counted every day."},
	} {
		if got := changesNote(time.UTC, c.week, c.month); got != c.want {
			t.Errorf("changesNote(%v, %v) = %q, want %q", c.week, c.month, got, c.want)
		}
	}
}
