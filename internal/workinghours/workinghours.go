// Package workinghours answers "when is N working hours from now?" and "how
// much working time passed between these two instants?" for the Dynamic
// Support Register.
//
// When a person is rated red, a coordinator must acknowledge within a number
// of *working* hours (see DESIGN.md: timings, including working hours, are
// configuration with documented defaults, never constants buried in code).
// A red rating at 16:30 on a Friday is not due at 20:30 that evening; it is
// due at 12:30 on Monday, or later if Monday is a bank holiday. This package
// is the single place that knows that.
//
// # Model
//
// A [Calendar] is a set of working days (weekdays), a daily opening window
// given as wall-clock times in one location (default 09:00–17:00
// Europe/London), and a set of holidays (default: the bank holidays of
// England and Wales, from github.com/rickar/cal/v2/gb). Working time is the
// union of the half-open intervals [open, close) on every working day that
// is not a holiday.
//
// The holiday data is whatever the pinned rickar/cal/v2 version knows. Rule
// based holidays (Easter, "last Monday in May", weekend substitutes) are
// computed for any year, but one-off holidays appear only once the library
// lists them: v2.1.13 has the 2020 VE Day, 2022 Platinum Jubilee and 2023
// coronation holidays, but not the state funeral of 19 September 2022. A
// newly announced one-off bank holiday therefore needs a dependency update.
//
// Opening and closing are wall-clock times, so 09:00 means 09:00 GMT in
// winter and 09:00 BST in summer: a team does not start an hour early the
// week the clocks change. Every interval is turned into absolute instants
// with time.Date in the calendar's location before any arithmetic, so the
// clock changes are handled by the time package rather than by hand, and a
// window that itself spans a clock change (only possible with unusual hours
// such as 00:00–04:00) is one hour shorter or longer that day, as it is for
// the people working it.
//
// # Purity
//
// The package does no I/O and never reads the clock: every function takes
// the instants it works on as arguments, so deadlines are reproducible in
// tests and deterministic when called from a Temporal workflow. The time
// zone database is embedded (time/tzdata) so that the answer does not depend
// on whether the host or container image ships /usr/share/zoneinfo. A
// [Calendar] is immutable after [New] and safe for concurrent use.
package workinghours

import (
	"errors"
	"fmt"
	"time"
	_ "time/tzdata" // DST rules must not depend on the host image; see the package doc.

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/gb"
)

// Defaults used by [New] for zero-valued [Options] fields. They describe an
// office-hours team in England; areas with different hours override them in
// configuration.
const (
	DefaultLocation = "Europe/London"
	DefaultStart    = "09:00"
	DefaultEnd      = "17:00"
	DefaultHolidays = HolidaysEnglandWales
)

// Names of the holiday sets accepted in [Options.Holidays].
const (
	// HolidaysEnglandWales is the bank holidays of England and Wales,
	// including substitute days and one-off holidays (for example the 2023
	// coronation), as published by github.com/rickar/cal/v2/gb.
	HolidaysEnglandWales = "england-wales"
	// HolidaysNone disables holidays: every configured day is a working day.
	HolidaysNone = "none"
)

// MaxSearchDays bounds how far [Calendar.AddWorking] looks for the end of a
// duration, in local calendar days counted from the day of the starting
// instant (which is day 0). Working-time deadlines in the register are hours
// or a few days; anything that would land more than a year away is a
// configuration mistake, and the bound guarantees that every call finishes
// in a small, fixed amount of work instead of looping over centuries.
const MaxSearchDays = 400

var (
	// ErrNegativeDuration is returned by [Calendar.AddWorking] for d < 0.
	// Counting working time backwards is not something a deadline needs.
	ErrNegativeDuration = errors.New("workinghours: negative duration")
	// ErrBeyondHorizon is returned by [Calendar.AddWorking] when the result
	// would fall more than [MaxSearchDays] local days after the start.
	ErrBeyondHorizon = errors.New("workinghours: result beyond search horizon")
)

// Options configures a [Calendar]. The zero value is valid and means 09:00 to
// 17:00, Monday to Friday, Europe/London, England and Wales bank holidays.
type Options struct {
	// Location is an IANA time zone name; "" means [DefaultLocation].
	// "Local" is rejected, because it would make deadlines depend on the
	// machine that computes them.
	Location string
	// Start and End are the daily opening and closing times as "HH:MM"
	// wall-clock times in Location; "" means [DefaultStart] and
	// [DefaultEnd]. End must be after Start on the same day (no overnight
	// windows). The window is half open: End itself is not working time.
	Start, End string
	// Days are the working weekdays. nil means Monday to Friday; a non-nil
	// empty slice is an error, because a calendar without working days can
	// never meet a deadline.
	Days []time.Weekday
	// Holidays selects the holiday set: "" or [HolidaysEnglandWales], or
	// [HolidaysNone].
	Holidays string
}

// Calendar is a validated working-hours calendar. Build one with [New].
type Calendar struct {
	loc      *time.Location
	startMin int // minutes after local midnight
	endMin   int
	days     [7]bool
	holidays []*cal.Holiday // nil for HolidaysNone
}

// Holiday is one non-working date in a [Calendar].
type Holiday struct {
	// Date is local midnight of the holiday in the calendar's location.
	Date time.Time
	// Name is the holiday's name as given by the holiday source, for
	// example "Boxing Day".
	Name string
	// Substitute is true when Date is the substitute ("observed") day for
	// a holiday whose actual date falls on a weekend.
	Substitute bool
}

// New validates opts, fills in defaults and returns a Calendar. Errors name
// the offending Options field so that a configuration mistake can be traced
// to its setting.
func New(opts Options) (*Calendar, error) {
	c := &Calendar{}

	locName := opts.Location
	if locName == "" {
		locName = DefaultLocation
	}
	if locName == "Local" {
		return nil, fmt.Errorf("workinghours: Options.Location %q: name an IANA zone such as %q; the host's local zone would make deadlines machine-dependent", locName, DefaultLocation)
	}
	loc, err := time.LoadLocation(locName)
	if err != nil {
		return nil, fmt.Errorf("workinghours: Options.Location %q: unknown time zone: %w", locName, err)
	}
	c.loc = loc

	start, end := opts.Start, opts.End
	if start == "" {
		start = DefaultStart
	}
	if end == "" {
		end = DefaultEnd
	}
	if c.startMin, err = parseClock(start); err != nil {
		return nil, fmt.Errorf("workinghours: Options.Start: %w", err)
	}
	if c.endMin, err = parseClock(end); err != nil {
		return nil, fmt.Errorf("workinghours: Options.End: %w", err)
	}
	if c.endMin <= c.startMin {
		return nil, fmt.Errorf("workinghours: Options.End %q must be after Options.Start %q on the same day", end, start)
	}

	days := opts.Days
	if days == nil {
		days = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	}
	if len(days) == 0 {
		return nil, errors.New("workinghours: Options.Days: at least one working day is required")
	}
	for _, d := range days {
		if d < time.Sunday || d > time.Saturday {
			return nil, fmt.Errorf("workinghours: Options.Days: invalid weekday %d", int(d))
		}
		c.days[d] = true
	}

	switch opts.Holidays {
	case "", HolidaysEnglandWales:
		c.holidays = gb.Holidays
	case HolidaysNone:
		// c.holidays stays nil: every configured day is a working day.
	default:
		return nil, fmt.Errorf("workinghours: Options.Holidays %q: want %q or %q", opts.Holidays, HolidaysEnglandWales, HolidaysNone)
	}
	return c, nil
}

// parseClock parses "HH:MM" (24-hour clock, 00:00–23:59) into minutes after
// midnight. It is stricter than time.Parse so that "9:00" or "09:00:30" are
// rejected rather than silently accepted with a surprising meaning.
func parseClock(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' || !isDigit(s[0]) || !isDigit(s[1]) || !isDigit(s[3]) || !isDigit(s[4]) {
		return 0, fmt.Errorf("%q: want HH:MM", s)
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("%q: not a time of day", s)
	}
	return h*60 + m, nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// Location returns the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// civil is a local calendar date. Dates, not instants, decide whether a day
// is a working day, so they are kept apart from time.Time to avoid mixing
// up "midnight in London" with "midnight in UTC".
type civil struct {
	y int
	m time.Month
	d int
}

func dateOf(t time.Time) civil {
	y, m, d := t.Date()
	return civil{y, m, d}
}

// addDays returns the date n days after c, normalised (32 March is 1 April).
func (c civil) addDays(n int) civil {
	return dateOf(time.Date(c.y, c.m, c.d+n, 12, 0, 0, 0, time.UTC))
}

func (c civil) weekday() time.Weekday {
	return time.Date(c.y, c.m, c.d, 12, 0, 0, 0, time.UTC).Weekday()
}

// at returns the instant of minute-of-day min on date c in loc. If the wall
// clock time does not exist (it falls in a spring-forward gap), time.Date
// picks an instant next to the gap, which is as close as the clock allows.
func (c civil) at(min int, loc *time.Location) time.Time {
	return time.Date(c.y, c.m, c.d, min/60, min%60, 0, 0, loc)
}

// window returns the working interval [open, close) on date d, and false if
// d has no working time (not a working weekday, or a holiday).
func (c *Calendar) window(d civil, hy *holidayYears) (open, close time.Time, ok bool) {
	if !c.days[d.weekday()] || hy.isHoliday(d) {
		return time.Time{}, time.Time{}, false
	}
	open, close = d.at(c.startMin, c.loc), d.at(c.endMin, c.loc)
	// Around a spring-forward gap the two ends can come out inverted: with
	// hours 01:30–02:00 in London on the last Sunday of March, 01:30 does
	// not exist and time.Date gives 02:30 BST, after the 02:00 close. Such
	// a day has no working time, rather than a negative amount of it.
	return open, close, close.After(open)
}

// IsWorking reports whether t falls within working time: on a working day
// that is not a holiday, at or after opening and before closing, judged on
// the wall clock in the calendar's location (t's own location is ignored).
func (c *Calendar) IsWorking(t time.Time) bool {
	open, close, ok := c.window(dateOf(t.In(c.loc)), c.newHolidayYears())
	return ok && !t.Before(open) && t.Before(close)
}

// AddWorking returns the instant at which d of working time has elapsed,
// counting from `from`. If from is outside working time, counting starts at
// the next opening.
//
// For d == 0 it returns the next working instant at or after from: from
// itself when from is within working time, otherwise the next opening. So
// a zero-hour deadline set at 17:00 on Friday falls due at 09:00 on Monday,
// the first moment someone is there to act on it.
//
// For d > 0 the result may be a closing time: 30 minutes from 16:30 is
// 17:00 that day, not 09:00 the next working day, because the 30 minutes
// are used up at 17:00. This keeps Between(from, AddWorking(from, d)) == d.
//
// The result is in the calendar's location. AddWorking returns
// [ErrNegativeDuration] for d < 0 and [ErrBeyondHorizon] if the result
// would fall after local day [MaxSearchDays] counted from from's local date.
func (c *Calendar) AddWorking(from time.Time, d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, ErrNegativeDuration
	}
	from = from.In(c.loc)
	day0 := dateOf(from)
	hy := c.newHolidayYears()
	remaining := d
	for i := 0; i <= MaxSearchDays; i++ {
		open, close, ok := c.window(day0.addDays(i), hy)
		if !ok || !close.After(from) {
			continue
		}
		if open.Before(from) {
			open = from
		}
		avail := close.Sub(open) // > 0: close is after both from and the day's opening
		if remaining <= avail {
			return open.Add(remaining), nil
		}
		remaining -= avail
	}
	return time.Time{}, ErrBeyondHorizon
}

// Add is [Calendar.AddWorking] for callers that cannot act on an error,
// such as computing a deadline to display. It never panics. If AddWorking
// fails (d < 0, or a result beyond [MaxSearchDays]) Add returns from.Add(d),
// the plain elapsed-time reading. That is never later than any working-time
// answer for the same d, because working time is a subset of elapsed time,
// so a misconfigured deadline errs towards prompting a coordinator early
// rather than late or never.
func (c *Calendar) Add(from time.Time, d time.Duration) time.Time {
	t, err := c.AddWorking(from, d)
	if err != nil {
		return from.Add(d).In(c.loc)
	}
	return t
}

// Between returns the working time in the interval [a, b), for example how
// long, in working hours, a coordinator took to acknowledge a red rating.
// If b is before a the result is negative: Between(b, a) == -Between(a, b).
// It is the inverse of AddWorking: Between(a, AddWorking(a, d)) == d.
//
// Its cost is proportional to the number of calendar days from a to b.
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if b.Before(a) {
		return -c.Between(b, a)
	}
	a, b = a.In(c.loc), b.In(c.loc)
	last := dateOf(b)
	hy := c.newHolidayYears()
	var total time.Duration
	for day := dateOf(a); !after(day, last); day = day.addDays(1) {
		open, close, ok := c.window(day, hy)
		if !ok {
			continue
		}
		if open.Before(a) {
			open = a
		}
		if close.After(b) {
			close = b
		}
		if close.After(open) {
			total += close.Sub(open)
		}
	}
	return total
}

func after(x, y civil) bool {
	if x.y != y.y {
		return x.y > y.y
	}
	if x.m != y.m {
		return x.m > y.m
	}
	return x.d > y.d
}

// Holidays returns the calendar's holidays whose date falls in year, in date
// order. A holiday whose actual date is at a weekend appears twice: on its
// actual date and on its substitute day (Substitute true). Both dates are
// non-working days, so a team that works Saturdays still does not work on
// Christmas Day when it is a Saturday. With [HolidaysNone] the result is
// empty.
func (c *Calendar) Holidays(year int) []Holiday {
	list := c.holidaysIn(year)
	out := make([]Holiday, len(list))
	for i, h := range list {
		out[i] = Holiday{Date: h.date.at(0, c.loc), Name: h.name, Substitute: h.substitute}
	}
	return out
}

type holidayDate struct {
	date       civil
	name       string
	substitute bool
}

// holidaysIn computes the holidays dated in year. Substitute days can cross
// a year boundary in general (a 1 January on a Saturday is observed on 31
// December in some countries), so the neighbouring years' holidays are
// computed too and filtered by date.
//
// rickar/cal returns dates as midnight in its package-level DefaultLoc; only
// the year, month and day of those values are used, so that global setting
// cannot leak into the answer. cal.Calendar.IsHoliday is deliberately not
// used: its optional cache is an unsynchronised map.
func (c *Calendar) holidaysIn(year int) []holidayDate {
	var out []holidayDate
	seen := map[holidayDate]bool{}
	add := func(t time.Time, name string, sub bool) {
		if t.IsZero() {
			return
		}
		h := holidayDate{dateOf(t), name, sub}
		if h.date.y != year || seen[h] {
			return
		}
		seen[h] = true
		out = append(out, h)
	}
	for y := year - 1; y <= year+1; y++ {
		for _, h := range c.holidays {
			actual, observed := h.Calc(y)
			add(actual, h.Name, false)
			if dateOf(observed) != dateOf(actual) {
				add(observed, h.Name, true)
			}
		}
	}
	// Insertion sort by date: at most a few dozen entries.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && after(out[j-1].date, out[j].date); j-- {
			out[j-1], out[j] = out[j], out[j-1]
		}
	}
	return out
}

// holidayYears memoises holiday dates per year for the duration of one call,
// so a search over many days computes each year's holidays once without the
// Calendar holding mutable, lock-protected state.
type holidayYears struct {
	c     *Calendar
	years map[int]map[civil]bool
}

func (c *Calendar) newHolidayYears() *holidayYears {
	return &holidayYears{c: c}
}

func (hy *holidayYears) isHoliday(d civil) bool {
	if len(hy.c.holidays) == 0 {
		return false
	}
	set, ok := hy.years[d.y]
	if !ok {
		set = map[civil]bool{}
		for _, h := range hy.c.holidaysIn(d.y) {
			set[h.date] = true
		}
		if hy.years == nil {
			hy.years = map[int]map[civil]bool{}
		}
		hy.years[d.y] = set
	}
	return set[d]
}
