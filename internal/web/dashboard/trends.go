package dashboard

import (
	"fmt"
	"html/template"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/web/staffpage"
)

// trend is one chart on the dashboard: an SVG drawn on the server (so it
// needs no script) with a title and description for screen readers, and the
// same figures as a table.
type trend struct {
	ID      string
	Title   string
	Desc    string
	SVG     template.HTML
	Columns []string
	Rows    [][]string
}

// series is one line of a line chart; Dash tells lines apart without colour.
type series struct {
	Name   string
	Colour string
	Dash   string
	Values []int
}

var colourSeries = []struct {
	rating register.Rating
	name   string
	colour string
	dash   string
}{
	{register.Red, "Red", "#d5281b", ""},
	{register.Amber, "Amber", "#ed8b00", "8 4"},
	{register.Green, "Green", "#007f3b", "2 3"},
	{register.Blue, "Blue", "#005eb8", "12 3 2 3"},
}

// weeklyColours is people on the register by colour, from the last count
// kept in each week (weeks starting Monday).
func weeklyColours(snaps []store.RegisterSnapshot) trend {
	t := trend{ID: "trend-colours", Title: "People by colour each week",
		Columns: []string{"Week starting", "Red", "Amber", "Green", "Blue"}}
	var weeks []store.RegisterSnapshot
	for _, s := range snaps {
		if n := len(weeks); n > 0 && weekStart(weeks[n-1].Day).Equal(weekStart(s.Day)) {
			weeks[n-1] = s
			continue
		}
		weeks = append(weeks, s)
	}
	lines := make([]series, len(colourSeries))
	for i, c := range colourSeries {
		lines[i] = series{Name: c.name, Colour: c.colour, Dash: c.dash}
	}
	var labels []string
	for _, w := range weeks {
		row := []string{weekStart(w.Day).Format("2 Jan 2006")}
		labels = append(labels, weekStart(w.Day).Format("2 Jan"))
		for i, c := range colourSeries {
			n := peopleRated(w.Counts, c.rating)
			lines[i].Values = append(lines[i].Values, n)
			row = append(row, strconv.Itoa(n))
		}
		t.Rows = append(t.Rows, row)
	}
	if len(weeks) == 0 {
		t.Desc = "No weekly counts of the register have been kept yet: they start from the first day the dashboard is used."
	} else {
		last := t.Rows[len(t.Rows)-1]
		t.Desc = fmt.Sprintf("Line chart of people on the register by colour for %d weeks from %s. In the latest week: red %s, amber %s, green %s, blue %s.",
			len(weeks), t.Rows[0][0], last[1], last[2], last[3], last[4])
	}
	t.SVG = lineChart(t.ID, t.Title, t.Desc, labels, lines)
	return t
}

func weekStart(d time.Time) time.Time {
	back := (int(d.Weekday()) + 6) % 7
	return d.AddDate(0, 0, -back)
}

func admissionsTrend(months []time.Time, counts []store.MonthCount) trend {
	t := trend{ID: "trend-admissions", Title: "Admissions (rated blue) each month", Columns: []string{"Month", "Admissions"}}
	values := make([]int, len(months))
	for _, c := range counts {
		if i := monthIndex(months, c.Month); i >= 0 {
			values[i] = c.Count
		}
	}
	total := 0
	for i, m := range months {
		t.Rows = append(t.Rows, []string{m.Format("January 2006"), strconv.Itoa(values[i])})
		total += values[i]
	}
	t.Desc = fmt.Sprintf("Bar chart of admissions to a mental health hospital each month, %s to %s: %d in all.",
		months[0].Format("January 2006"), months[len(months)-1].Format("January 2006"), total)
	t.SVG = barChart(t.ID, t.Title, t.Desc, bars{Labels: monthLabels(months), Values: values, Format: strconv.Itoa, Colour: "#005eb8"})
	return t
}

func (h *handlers) alertsTrend(months []time.Time, escs []store.EscalationRecord) trend {
	t := trend{ID: "trend-alerts", Title: "Red alerts each month and how long acknowledgement took",
		Columns: []string{"Month", "Red alerts", "Acknowledged", "Median working time to acknowledge"}}
	alerts := make([]int, len(months))
	toAck := make([][]time.Duration, len(months))
	for _, e := range escs {
		i := monthIndex(months, e.StartedAt.In(h.Zone))
		if i < 0 {
			continue
		}
		alerts[i]++
		if e.AcknowledgedAt != nil {
			toAck[i] = append(toAck[i], h.Calendar.Between(e.StartedAt, *e.AcknowledgedAt))
		}
	}
	total := 0
	for i, m := range months {
		median := "none acknowledged"
		if len(toAck[i]) > 0 {
			median = staffpage.WorkingDuration(medianOf(toAck[i]))
		}
		t.Rows = append(t.Rows, []string{m.Format("January 2006"), strconv.Itoa(alerts[i]), strconv.Itoa(len(toAck[i])), median})
		total += alerts[i]
	}
	t.Desc = fmt.Sprintf("Bar chart of red alerts raised each month, %s to %s: %d in all. The table gives the median working time each month's alerts took to acknowledge.",
		months[0].Format("January 2006"), months[len(months)-1].Format("January 2006"), total)
	t.SVG = barChart(t.ID, t.Title, t.Desc, bars{Labels: monthLabels(months), Values: alerts, Format: strconv.Itoa, Colour: "#d5281b"})
	return t
}

func medianOf(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	if n := len(ds); n%2 == 1 {
		return ds[n/2]
	} else {
		return (ds[n/2-1] + ds[n/2]) / 2
	}
}

func ctrTrend(months []time.Time, counts []store.MonthCount) trend {
	t := trend{ID: "trend-ctrs", Title: "C(E)TRs held within their policy window each month",
		Columns: []string{"Month", "C(E)TRs held", "Within their window", "Per cent within"}}
	held, within := make([]int, len(months)), make([]int, len(months))
	for _, c := range counts {
		if i := monthIndex(months, c.Month); i >= 0 {
			held[i], within[i] = c.Count, c.Within
		}
	}
	percent, none := make([]int, len(months)), make([]bool, len(months))
	var empty []string
	for i, m := range months {
		pc := "no C(E)TRs"
		if held[i] > 0 {
			percent[i] = within[i] * 100 / held[i]
			pc = strconv.Itoa(percent[i]) + "%"
		} else {
			none[i] = true
			empty = append(empty, m.Format("January 2006"))
		}
		t.Rows = append(t.Rows, []string{m.Format("January 2006"), strconv.Itoa(held[i]), strconv.Itoa(within[i]), pc})
	}
	t.Desc = fmt.Sprintf("Bar chart of the percentage of C(E)TRs recorded as held by their due date each month, %s to %s.",
		months[0].Format("January 2006"), months[len(months)-1].Format("January 2006"))
	switch {
	case len(empty) == len(months):
		t.Desc += " No C(E)TRs were held in any of these months."
	case len(empty) > 0:
		t.Desc += " Months with no C(E)TRs have no bar: " + strings.Join(empty, ", ") + "."
	}
	// A percentage's axis is always 0% to 100%; a month with none held is a
	// gap, not 0%.
	t.SVG = barChart(t.ID, t.Title, t.Desc, bars{Labels: monthLabels(months), Values: percent, Missing: none, Top: 100,
		Format: func(n int) string { return strconv.Itoa(n) + "%" }, Colour: "#007f3b"})
	return t
}

func monthLabels(months []time.Time) []string {
	out := make([]string, len(months))
	for i, m := range months {
		out[i] = m.Format("Jan")
	}
	return out
}
