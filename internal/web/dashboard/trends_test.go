package dashboard

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// These tests need no database: they check what the dashboard's charts
// say, from figures made here.

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
