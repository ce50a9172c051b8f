package web

import (
	"fmt"
	"html/template"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
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
			n := 0
			for _, rc := range w.Counts {
				if rc.Rating == c.rating && onRegister(rc.Stage) {
					n += rc.People
				}
			}
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

func (a *app) alertsTrend(months []time.Time, escs []store.EscalationRecord) trend {
	t := trend{ID: "trend-alerts", Title: "Red alerts each month and how long acknowledgement took",
		Columns: []string{"Month", "Red alerts", "Acknowledged", "Median working time to acknowledge"}}
	alerts := make([]int, len(months))
	toAck := make([][]time.Duration, len(months))
	for _, e := range escs {
		i := monthIndex(months, e.StartedAt.In(a.zone))
		if i < 0 {
			continue
		}
		alerts[i]++
		if e.AcknowledgedAt != nil {
			toAck[i] = append(toAck[i], a.calendar.Between(e.StartedAt, *e.AcknowledgedAt))
		}
	}
	total := 0
	for i, m := range months {
		median := "none acknowledged"
		if len(toAck[i]) > 0 {
			median = workingDuration(medianOf(toAck[i]))
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

// Chart geometry, in SVG user units: the charts scale to their container.
// The top holds a line chart's legend (bar charts' value labels use it too).
const (
	chartW, chartH                       = 640.0, 260.0
	padLeft, padRight, padTop, padBottom = 48.0, 16.0, 40.0, 36.0
)

func svgOpen(b *strings.Builder, id, title, desc string) {
	fmt.Fprintf(b, `<svg class="dsr-chart" id="%s-chart" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="%s-title %s-desc" xmlns="http://www.w3.org/2000/svg">`,
		id, chartW, chartH, id, id)
	fmt.Fprintf(b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, template.HTMLEscapeString(title), id, template.HTMLEscapeString(desc))
}

// axes draws the axes and the y-axis's ends. An empty chart (top 0) has
// one label, not "0" twice.
func axes(b *strings.Builder, top int, format func(int) string) {
	x0, y0, y1 := padLeft, chartH-padBottom, padTop
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#4c6272"/>`, x0, y0, chartW-padRight, y0)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#4c6272"/>`, x0, y0, x0, y1)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" font-size="12" fill="#212b32">%s</text>`, x0-6, y0+4, format(0))
	if format(top) != format(0) {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" font-size="12" fill="#212b32">%s</text>`, x0-6, y1+4, format(top))
	}
}

func scale(v, top int) float64 {
	if top == 0 {
		return chartH - padBottom
	}
	return chartH - padBottom - float64(v)/float64(top)*(chartH-padTop-padBottom)
}

// bars is a bar chart's figures. Missing marks a bar with no figure (a
// month with nothing to measure): drawn as a gap saying "none", never as 0.
// Top is the y-axis's top (0: the largest value).
type bars struct {
	Labels  []string
	Values  []int
	Missing []bool
	Top     int
	Format  func(int) string
	Colour  string
}

func barChart(id, title, desc string, d bars) template.HTML {
	var b strings.Builder
	svgOpen(&b, id, title, desc)
	top := d.Top
	if top == 0 {
		for _, v := range d.Values {
			top = maxInt(top, v)
		}
	}
	axes(&b, top, d.Format)
	step := (chartW - padLeft - padRight) / float64(len(d.Values))
	for i, v := range d.Values {
		x := padLeft + float64(i)*step + step*0.15
		mid := x + step*0.35
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="12" fill="#212b32">%s</text>`, mid, chartH-padBottom+16, template.HTMLEscapeString(d.Labels[i]))
		if i < len(d.Missing) && d.Missing[i] {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11" fill="#4c6272">none</text>`, mid, chartH-padBottom-4)
			continue
		}
		y := scale(v, top)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x, y, step*0.7, chartH-padBottom-y, d.Colour)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11" fill="#212b32">%s</text>`, mid, y-3, d.Format(v))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// lineChart draws lines told apart by a legend above the plot (name, dash
// and latest value, at fixed places so they cannot overlap), not by colour
// alone. The x-axis names the first and last points, once each; a single
// point is drawn as a marker in the middle.
func lineChart(id, title, desc string, labels []string, lines []series) template.HTML {
	var b strings.Builder
	svgOpen(&b, id, title, desc)
	top := 0
	for _, l := range lines {
		for _, v := range l.Values {
			top = maxInt(top, v)
		}
	}
	axes(&b, top, strconv.Itoa)
	n := len(labels)
	plotW := chartW - padLeft - padRight
	x := func(i int) float64 {
		if n <= 1 {
			return padLeft + plotW/2
		}
		return padLeft + float64(i)/float64(n-1)*plotW
	}
	legendStep := plotW / float64(maxInt(len(lines), 1))
	for li, l := range lines {
		dash := ""
		if l.Dash != "" {
			dash = ` stroke-dasharray="` + l.Dash + `"`
		}
		lx := padLeft + float64(li)*legendStep
		name := l.Name
		if len(l.Values) > 0 {
			name += " " + strconv.Itoa(l.Values[len(l.Values)-1])
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="14" x2="%.1f" y2="14" stroke="%s" stroke-width="2.5"%s/>`, lx, lx+28, l.Colour, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="18" font-size="12" fill="#212b32">%s</text>`, lx+34, name)
		if n == 0 {
			continue
		}
		if n == 1 {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`, x(0), scale(l.Values[0], top), l.Colour)
			continue
		}
		var pts []string
		for i, v := range l.Values {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), scale(v, top)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2.5"%s points="%s"/>`, l.Colour, dash, strings.Join(pts, " "))
	}
	switch {
	case n == 1:
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="12" fill="#212b32">%s</text>`, x(0), chartH-padBottom+16, template.HTMLEscapeString(labels[0]))
	case n > 1:
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="12" fill="#212b32">%s</text>`, padLeft, chartH-padBottom+16, template.HTMLEscapeString(labels[0]))
		if labels[n-1] != labels[0] {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" font-size="12" fill="#212b32">%s</text>`, x(n-1), chartH-padBottom+16, template.HTMLEscapeString(labels[n-1]))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
