package dashboard

import (
	"html/template"
	"strings"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/web/staffpage"
)

// glanceTable is one table of "the register at a glance": a count of
// people a row, with the change since last week's and last month's counts
// where they were kept.
type glanceTable struct {
	ID, Caption string
	// Column heads the rows' headers ("Colour", "Stage").
	Column                string
	Rows                  []countRow
	WeekKnown, MonthKnown bool
}

// countRow is one line of "the register at a glance".
type countRow struct {
	// Heading is the row's header: a colour's tag, or a stage's name.
	Heading template.HTML
	Now     int
	// Week and Month are the change since then; Known* say whether a count
	// was kept then.
	Week, Month           int
	WeekKnown, MonthKnown bool
	// Link lists the people counted; LinkText says what they are, after
	// the count, to a screen reader.
	Link, LinkText string
}

var ratingsShown = []register.Rating{register.Red, register.Amber, register.Green, register.Blue, ""}

// onRegister is whether a stage counts towards "people by colour": everyone
// not removed.
func onRegister(s register.Stage) bool { return s != register.Removed }

// peopleRated counts the people on the register rated r.
func peopleRated(cs []store.RegisterCount, r register.Rating) (n int) {
	for _, c := range cs {
		if c.Rating == r && onRegister(c.Stage) {
			n += c.People
		}
	}
	return n
}

// peopleAt counts everyone at stage s.
func peopleAt(cs []store.RegisterCount, s register.Stage) (n int) {
	for _, c := range cs {
		if c.Stage == s {
			n += c.People
		}
	}
	return n
}

func glance(now []store.RegisterCount, week, month *store.RegisterSnapshot) []glanceTable {
	colours := glanceTable{ID: "people-by-colour", Caption: "People on the register by colour", Column: "Colour",
		WeekKnown: week != nil, MonthKnown: month != nil}
	for _, r := range ratingsShown {
		row := counted(func(cs []store.RegisterCount) int { return peopleRated(cs, r) }, now, week, month)
		row.Heading = staffpage.RatingTag(r)
		if r != "" {
			row.Link, row.LinkText = "/people?rating="+string(r), "people rated "+strings.ToLower(string(r))
		}
		colours.Rows = append(colours.Rows, row)
	}
	stages := glanceTable{ID: "people-by-stage", Caption: "Everyone by stage", Column: "Stage",
		WeekKnown: week != nil, MonthKnown: month != nil}
	for _, s := range staffpage.StagesShown {
		row := counted(func(cs []store.RegisterCount) int { return peopleAt(cs, s) }, now, week, month)
		label := staffpage.StageLabel(s)
		row.Heading = template.HTML(template.HTMLEscapeString(label))
		row.Link, row.LinkText = "/people?stage="+string(s), "people: "+label
		stages.Rows = append(stages.Rows, row)
	}
	return []glanceTable{colours, stages}
}

// counted is a row's count now, and its change since the counts of a week
// and a month ago where they were kept.
func counted(count func([]store.RegisterCount) int, now []store.RegisterCount, week, month *store.RegisterSnapshot) countRow {
	row := countRow{Now: count(now)}
	if week != nil {
		row.Week, row.WeekKnown = row.Now-count(week.Counts), true
	}
	if month != nil {
		row.Month, row.MonthKnown = row.Now-count(month.Counts), true
	}
	return row
}
