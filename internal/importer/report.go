package importer

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Write prints the report for a person at a terminal: what was (or would
// be) created, then every row not imported with its line, column and fix.
// Line numbers and column names only: no value from a row is repeated
// except in the message about that value.
func (r Report) Write(w io.Writer) {
	fmt.Fprintf(w, "%d rows read (%s).\n", r.Rows, r.Encoding)
	if len(r.Ignored) > 0 {
		fmt.Fprintf(w, "Columns not read (not ones the import knows): %s.\n", quoteAll(r.Ignored))
	}
	c := r.Counts
	switch {
	case r.DryRun:
		fmt.Fprintf(w, "Dry run, nothing written: would create %d people", r.Created)
		if r.AlreadyImported > 0 {
			fmt.Fprintf(w, " (%d more already imported by an earlier run)", r.AlreadyImported)
		}
		fmt.Fprintln(w, ".")
	default:
		fmt.Fprintf(w, "Created %d people; %d already imported by an earlier run.\n", r.Created, r.AlreadyImported)
	}
	if c.People > 0 {
		fmt.Fprintf(w, "  by stage:  active %d, referred (awaiting consent) %d, consent lapsed %d\n", c.Active, c.Referred, c.ConsentLapsed)
		fmt.Fprintf(w, "  by colour: red %d, amber %d, green %d, blue %d, not rated %d\n", c.Red, c.Amber, c.Green, c.Blue,
			c.People-c.Red-c.Amber-c.Green-c.Blue)
		fmt.Fprintf(w, "  reviews overdue %d, due within the notice %d; consents lapsing %d\n", c.ReviewsOverdue, c.ReviewsDue, c.ConsentsLapsing)
	}
	if r.Interrupted {
		fmt.Fprintln(w, "Stopped before the end: run the same command again to carry on (nobody is created twice).")
	}
	if r.Failed() == 0 {
		return
	}
	verb := "were not imported"
	if r.DryRun {
		verb = "would not be imported"
	}
	fmt.Fprintf(w, "%d rows %s. Fix them and run the import again: rows already imported are left as they are.\n", r.Failed(), verb)
	for _, line := range r.problemLines() {
		fmt.Fprintln(w, "  "+line)
	}
}

// problemLines lists every error and duplicate in line order.
func (r Report) problemLines() []string {
	type item struct {
		line int
		text string
	}
	var items []item
	for _, e := range r.Errors {
		items = append(items, item{e.Line, e.String()})
	}
	for _, d := range r.Duplicates {
		var text string
		switch {
		case d.OtherLine != 0:
			text = fmt.Sprintf("line %d: may be the same person as line %d (%s): neither is imported until you remove or correct one", d.Line, d.OtherLine, d.By)
		case d.By == "nhs_number":
			text = fmt.Sprintf("line %d: the NHS number is already on the register as %s: not imported; check it is the same person and update their record there", d.Line, d.Reference)
		default:
			text = fmt.Sprintf("line %d: may be %s, already on the register (name, date of birth or postcode alike): not imported; if they are different people, refer this one through the API or web so a coordinator can confirm", d.Line, d.Reference)
		}
		items = append(items, item{d.Line, text})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].line < items[j].line })
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.text
	}
	return out
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
