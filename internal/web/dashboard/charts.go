package dashboard

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
)

// The charts are SVG drawn on the server, so they need no script; each has
// a title and description for screen readers, and lines are told apart by
// dash and legend, never by colour alone.

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
			top = max(top, v)
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
			top = max(top, v)
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
	legendStep := plotW / float64(max(len(lines), 1))
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
