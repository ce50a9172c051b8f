package workinghours

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var london = mustLoad("Europe/London")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// lon is a wall-clock time in London.
func lon(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, london)
}

func mustNew(t testing.TB, o Options) *Calendar {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return c
}

const fmtT = "Mon 2006-01-02 15:04:05 MST"

type addCase struct {
	name string
	from time.Time
	d    time.Duration
	want time.Time
}

func runAddCases(t *testing.T, c *Calendar, cases []addCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.AddWorking(tc.from, tc.d)
			if err != nil {
				t.Fatalf("AddWorking(%s, %v): %v", tc.from.Format(fmtT), tc.d, err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("AddWorking(%s, %v) = %s, want %s", tc.from.Format(fmtT), tc.d, got.Format(fmtT), tc.want.Format(fmtT))
			}
			if got2 := c.Add(tc.from, tc.d); !got2.Equal(got) {
				t.Errorf("Add = %s, AddWorking = %s", got2.Format(fmtT), got.Format(fmtT))
			}
			if b := c.Between(tc.from, got); b != tc.d {
				t.Errorf("Between(from, Add(from, %v)) = %v", tc.d, b)
			}
		})
	}
}

func TestAddDefaultCalendar(t *testing.T) {
	c := mustNew(t, Options{})
	runAddCases(t, c, []addCase{
		// The brief's headline case: 30 minutes on Friday, 3h30 on Monday.
		{"red Friday 16:30 +4h", lon(2026, 1, 9, 16, 30), 4 * time.Hour, lon(2026, 1, 12, 12, 30)},

		// Easter 2026 is Sunday 5 April: Good Friday 3 April and Easter
		// Monday 6 April are bank holidays. 1h Thursday + 3h Tuesday.
		{"Easter 2026", lon(2026, 4, 2, 16, 0), 4 * time.Hour, lon(2026, 4, 7, 12, 0)},

		{"Christmas Eve fits in two days", lon(2026, 12, 23, 15, 0), 4 * time.Hour, lon(2026, 12, 24, 11, 0)},
		// rickar/cal/v2 gb (v2.1.13) for 2026: Christmas Day Fri 25 Dec;
		// Boxing Day Sat 26 Dec with its substitute on Mon 28 Dec (verified
		// in TestHolidays2026, and matching gov.uk/bank-holidays). So: 1h on
		// Thursday 24th, nothing until Tuesday 29th, then 3h.
		{"Christmas 2026 with Boxing Day substitute", lon(2026, 12, 24, 16, 0), 4 * time.Hour, lon(2026, 12, 29, 12, 0)},

		{"New Year's Day 2026 (Thu)", lon(2025, 12, 31, 16, 0), 2 * time.Hour, lon(2026, 1, 2, 10, 0)},
		{"Spring bank holiday Mon 25 May 2026", lon(2026, 5, 22, 16, 0), 2 * time.Hour, lon(2026, 5, 26, 10, 0)},
		{"Summer bank holiday Mon 31 Aug 2026", lon(2026, 8, 28, 16, 0), 2 * time.Hour, lon(2026, 9, 1, 10, 0)},
		{"Early May bank holiday Mon 4 May 2026", lon(2026, 5, 1, 16, 0), 2 * time.Hour, lon(2026, 5, 5, 10, 0)},

		// Weekends.
		{"from Saturday, d=0", lon(2026, 1, 10, 10, 0), 0, lon(2026, 1, 12, 9, 0)},
		{"from Saturday +1h", lon(2026, 1, 10, 10, 0), time.Hour, lon(2026, 1, 12, 10, 0)},
		{"from Sunday 23:59 +4h", lon(2026, 1, 11, 23, 59), 4 * time.Hour, lon(2026, 1, 12, 13, 0)},

		// Exact boundaries: the window is [09:00, 17:00).
		{"from Friday 17:00 +4h", lon(2026, 1, 9, 17, 0), 4 * time.Hour, lon(2026, 1, 12, 13, 0)},
		{"from Friday 17:00 d=0 is Monday opening", lon(2026, 1, 9, 17, 0), 0, lon(2026, 1, 12, 9, 0)},
		{"from Monday 09:00 +4h", lon(2026, 1, 12, 9, 0), 4 * time.Hour, lon(2026, 1, 12, 13, 0)},
		{"from Monday 09:00 d=0 is itself", lon(2026, 1, 12, 9, 0), 0, lon(2026, 1, 12, 9, 0)},
		{"from Monday 11:17 d=0 is itself", lon(2026, 1, 12, 11, 17), 0, lon(2026, 1, 12, 11, 17)},
		{"a full day ends at closing, not next opening", lon(2026, 1, 12, 9, 0), 8 * time.Hour, lon(2026, 1, 12, 17, 0)},
		{"Friday 16:30 +30m is Friday 17:00", lon(2026, 1, 9, 16, 30), 30 * time.Minute, lon(2026, 1, 9, 17, 0)},
		{"one second before closing", lon(2026, 1, 9, 16, 59).Add(59 * time.Second), time.Second, lon(2026, 1, 9, 17, 0)},
		{"before opening", lon(2026, 1, 12, 8, 59), time.Minute, lon(2026, 1, 12, 9, 1)},

		// Multi-day.
		{"a working week", lon(2026, 1, 12, 9, 0), 40 * time.Hour, lon(2026, 1, 16, 17, 0)},
		{"a working week and an hour", lon(2026, 1, 12, 9, 0), 41 * time.Hour, lon(2026, 1, 19, 10, 0)},
		{"three working days across Easter", lon(2026, 4, 1, 12, 0), 24 * time.Hour, lon(2026, 4, 8, 12, 0)},

		// from's own location is irrelevant: 08:00 UTC in July is 09:00 BST.
		{"from given in UTC", time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC), time.Hour, lon(2026, 7, 1, 10, 0)},
	})
}

// Working hours are wall-clock local: 09:00–17:00 GMT before the clocks go
// forward on Sunday 29 March 2026 and 09:00–17:00 BST after, and the other
// way round on Sunday 25 October 2026.
func TestDST(t *testing.T) {
	c := mustNew(t, Options{})
	runAddCases(t, c, []addCase{
		{"spring forward", lon(2026, 3, 27, 16, 0), 4 * time.Hour, lon(2026, 3, 30, 12, 0)},
		{"fall back", lon(2026, 10, 23, 16, 0), 4 * time.Hour, lon(2026, 10, 26, 12, 0)},
		{"spring forward, from Sunday in the gap", time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), 0, lon(2026, 3, 30, 9, 0)},
	})

	// Pin the absolute instants too, so the test cannot pass by comparing
	// two equally wrong London times.
	due := c.Add(lon(2026, 3, 27, 16, 0), 4*time.Hour)
	if want := time.Date(2026, 3, 30, 11, 0, 0, 0, time.UTC); !due.Equal(want) {
		t.Errorf("spring forward due %s, want %s", due.UTC(), want)
	}
	if _, off := due.Zone(); off != 3600 {
		t.Errorf("due %s: want BST offset", due)
	}
	due = c.Add(lon(2026, 10, 23, 16, 0), 4*time.Hour)
	if want := time.Date(2026, 10, 26, 12, 0, 0, 0, time.UTC); !due.Equal(want) {
		t.Errorf("fall back due %s, want %s", due.UTC(), want)
	}

	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 3, 27, 8, 30, 0, 0, time.UTC), false},  // 08:30 GMT
		{time.Date(2026, 3, 27, 16, 30, 0, 0, time.UTC), true},  // 16:30 GMT
		{time.Date(2026, 3, 30, 8, 30, 0, 0, time.UTC), true},   // 09:30 BST
		{time.Date(2026, 3, 30, 16, 30, 0, 0, time.UTC), false}, // 17:30 BST
		{time.Date(2026, 3, 30, 7, 59, 0, 0, time.UTC), false},  // 08:59 BST
		{time.Date(2026, 3, 30, 8, 0, 0, 0, time.UTC), true},    // 09:00 BST
	} {
		if got := c.IsWorking(tc.at); got != tc.want {
			t.Errorf("IsWorking(%s = %s) = %v, want %v", tc.at.Format(fmtT), tc.at.In(london).Format(fmtT), got, tc.want)
		}
	}

	// A week spanning the change still has 40 working hours, though it has
	// one hour less of elapsed time.
	a, b := lon(2026, 3, 23, 0, 0), lon(2026, 3, 30, 0, 0)
	if got := c.Between(a, b); got != 40*time.Hour {
		t.Errorf("Between over DST week = %v, want 40h", got)
	}
	if got := b.Sub(a); got != 167*time.Hour {
		t.Errorf("elapsed over DST week = %v, want 167h (sanity)", got)
	}
}

// A window that itself spans the clock change is an hour shorter or longer
// on that day, as it is for the people working it.
func TestDSTInsideWindow(t *testing.T) {
	all := []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}
	c := mustNew(t, Options{Start: "00:00", End: "04:00", Days: all, Holidays: HolidaysNone})
	if got := c.Between(lon(2026, 3, 29, 0, 0), lon(2026, 3, 29, 23, 0)); got != 3*time.Hour {
		t.Errorf("29 March 2026 window = %v, want 3h", got)
	}
	if got := c.Between(lon(2026, 10, 25, 0, 0), lon(2026, 10, 25, 23, 0)); got != 5*time.Hour {
		t.Errorf("25 October 2026 window = %v, want 5h", got)
	}
	runAddCases(t, c, []addCase{
		{"3h fills the short day", lon(2026, 3, 29, 0, 0), 3 * time.Hour, lon(2026, 3, 29, 4, 0)},
		{"4h spills into the next day", lon(2026, 3, 29, 0, 0), 4 * time.Hour, lon(2026, 3, 30, 1, 0)},
		{"5h fills the long day", lon(2026, 10, 25, 0, 0), 5 * time.Hour, lon(2026, 10, 25, 4, 0)},
	})

	// 01:30 does not exist on 29 March; time.Date turns it into 02:30 BST,
	// after the 02:00 close. That day must have no working time (not a
	// negative amount) and the search must carry on to the next day.
	g := mustNew(t, Options{Start: "01:30", End: "02:00", Days: all, Holidays: HolidaysNone})
	if got := g.Between(lon(2026, 3, 28, 0, 0), lon(2026, 3, 30, 0, 0)); got != 30*time.Minute {
		t.Errorf("Between across inverted gap window = %v, want 30m", got)
	}
	runAddCases(t, g, []addCase{
		{"skips the inverted window", lon(2026, 3, 28, 2, 0), time.Minute, lon(2026, 3, 30, 1, 31)},
	})
	for m := 0; m < 24*60; m++ {
		at := lon(2026, 3, 29, 0, 0).Add(time.Duration(m) * time.Minute)
		if g.IsWorking(at) {
			t.Fatalf("IsWorking(%s) = true on the day with no window", at.Format(fmtT))
		}
	}
}

func TestHolidaysNone(t *testing.T) {
	c := mustNew(t, Options{Holidays: HolidaysNone})
	runAddCases(t, c, []addCase{
		{"Good Friday is a working day", lon(2026, 4, 2, 16, 0), 4 * time.Hour, lon(2026, 4, 3, 12, 0)},
		{"Christmas Day is a working day", lon(2026, 12, 24, 16, 0), 4 * time.Hour, lon(2026, 12, 25, 12, 0)},
		{"weekends still are not", lon(2026, 1, 9, 16, 30), 4 * time.Hour, lon(2026, 1, 12, 12, 30)},
	})
	if h := c.Holidays(2026); len(h) != 0 {
		t.Errorf("Holidays(2026) with %q = %v, want none", HolidaysNone, h)
	}
	if !c.IsWorking(lon(2026, 12, 25, 10, 0)) {
		t.Error("IsWorking(Christmas Day 10:00) = false with no holidays")
	}
}

func TestCustomHoursAndDays(t *testing.T) {
	c := mustNew(t, Options{
		Start: "08:00",
		End:   "18:00",
		Days:  []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday},
	})
	runAddCases(t, c, []addCase{
		{"Friday evening into Saturday", lon(2026, 1, 9, 17, 30), 4 * time.Hour, lon(2026, 1, 10, 11, 30)},
		{"Saturday over Sunday", lon(2026, 1, 10, 17, 0), 2 * time.Hour, lon(2026, 1, 12, 9, 0)},
		{"from Sunday starts Monday 08:00", lon(2026, 1, 11, 12, 0), 0, lon(2026, 1, 12, 8, 0)},
		{"a ten-hour day", lon(2026, 1, 12, 8, 0), 10 * time.Hour, lon(2026, 1, 12, 18, 0)},
		// Boxing Day's actual date (Sat 26 Dec) is not worked either, even
		// by a Saturday team; nor is its substitute Monday.
		{"Christmas 2026 for a Saturday team", lon(2026, 12, 24, 17, 0), 2 * time.Hour, lon(2026, 12, 29, 9, 0)},
	})
	if !c.IsWorking(lon(2026, 1, 10, 8, 0)) || c.IsWorking(lon(2026, 1, 10, 18, 0)) || c.IsWorking(lon(2026, 1, 11, 12, 0)) {
		t.Error("IsWorking disagrees with 08:00–18:00 Mon–Sat")
	}
}

func TestOtherLocation(t *testing.T) {
	// A calendar in another zone uses that zone's wall clock; England and
	// Wales holidays still apply by local date, as configured.
	c := mustNew(t, Options{Location: "America/New_York", Holidays: HolidaysNone})
	ny := mustLoad("America/New_York")
	got := c.Add(time.Date(2026, 1, 9, 16, 30, 0, 0, ny), 4*time.Hour)
	if want := time.Date(2026, 1, 12, 12, 30, 0, 0, ny); !got.Equal(want) {
		t.Errorf("New York Add = %s, want %s", got, want)
	}
	if c.Location() != ny && c.Location().String() != "America/New_York" {
		t.Errorf("Location() = %v", c.Location())
	}
}

func TestIsWorking(t *testing.T) {
	c := mustNew(t, Options{})
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{lon(2026, 1, 12, 9, 0), true},
		{lon(2026, 1, 12, 8, 59), false},
		{lon(2026, 1, 12, 16, 59), true},
		{lon(2026, 1, 12, 17, 0), false},
		{lon(2026, 1, 10, 12, 0), false},  // Saturday
		{lon(2026, 1, 11, 12, 0), false},  // Sunday
		{lon(2026, 1, 1, 12, 0), false},   // New Year's Day
		{lon(2026, 4, 3, 12, 0), false},   // Good Friday
		{lon(2026, 4, 6, 12, 0), false},   // Easter Monday
		{lon(2026, 12, 28, 12, 0), false}, // Boxing Day substitute
		{lon(2026, 12, 29, 12, 0), true},
		{time.Date(2026, 6, 1, 16, 30, 0, 0, time.UTC), false}, // 17:30 BST
	} {
		if got := c.IsWorking(tc.at); got != tc.want {
			t.Errorf("IsWorking(%s) = %v, want %v", tc.at.Format(fmtT), got, tc.want)
		}
	}
}

func TestBetween(t *testing.T) {
	c := mustNew(t, Options{})
	for _, tc := range []struct {
		name string
		a, b time.Time
		want time.Duration
	}{
		{"Friday 16:30 to Monday 12:30", lon(2026, 1, 9, 16, 30), lon(2026, 1, 12, 12, 30), 4 * time.Hour},
		{"reversed is negative", lon(2026, 1, 12, 12, 30), lon(2026, 1, 9, 16, 30), -4 * time.Hour},
		{"empty", lon(2026, 1, 12, 12, 30), lon(2026, 1, 12, 12, 30), 0},
		{"within a weekend", lon(2026, 1, 10, 0, 0), lon(2026, 1, 12, 0, 0), 0},
		{"outside hours same day", lon(2026, 1, 12, 17, 30), lon(2026, 1, 12, 23, 0), 0},
		{"a calendar week", lon(2026, 1, 12, 0, 0), lon(2026, 1, 19, 0, 0), 40 * time.Hour},
		{"Easter week 2026", lon(2026, 3, 30, 0, 0), lon(2026, 4, 6, 23, 59), 32 * time.Hour},
		// 21–24 and 29–31 Dec; not 25 Dec, 28 Dec (substitute) or 1 Jan 2027.
		{"Christmas fortnight 2026", lon(2026, 12, 21, 0, 0), lon(2027, 1, 4, 0, 0), 7 * 8 * time.Hour},
		{"the whole of 2026", lon(2026, 1, 1, 0, 0), lon(2027, 1, 1, 0, 0), (261 - 8) * 8 * time.Hour},
	} {
		if got := c.Between(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: Between = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Between undoes Add for starting points inside working hours.
func TestBetweenInverse(t *testing.T) {
	c := mustNew(t, Options{})
	starts := []time.Time{
		lon(2026, 1, 12, 9, 0),
		lon(2026, 1, 9, 16, 30),
		lon(2026, 1, 9, 16, 59),
		lon(2026, 3, 27, 10, 15), // Friday before spring forward
		lon(2026, 4, 2, 16, 0),   // day before Good Friday
		lon(2026, 10, 23, 12, 0), // Friday before fall back
		lon(2026, 12, 24, 16, 0),
		lon(2026, 12, 31, 9, 30),
		lon(2027, 3, 25, 13, 45), // Thursday before Good Friday 2027
	}
	durations := []time.Duration{0, time.Nanosecond, time.Minute, 30 * time.Minute, time.Hour, 4 * time.Hour,
		8 * time.Hour, 8*time.Hour + time.Nanosecond, 24 * time.Hour, 72 * time.Hour, 500 * time.Hour}
	for _, a := range starts {
		if !c.IsWorking(a) {
			t.Fatalf("test setup: %s is not in working hours", a.Format(fmtT))
		}
		for _, d := range durations {
			end := c.Add(a, d)
			if got := c.Between(a, end); got != d {
				t.Errorf("Between(%s, Add(_, %v) = %s) = %v", a.Format(fmtT), d, end.Format(fmtT), got)
			}
		}
	}
}

func TestErrorsAndHorizon(t *testing.T) {
	c := mustNew(t, Options{})
	from := lon(2026, 1, 12, 9, 0)

	if _, err := c.AddWorking(from, -time.Minute); !errors.Is(err, ErrNegativeDuration) {
		t.Errorf("AddWorking(negative) err = %v, want ErrNegativeDuration", err)
	}
	if got := c.Add(from, -time.Minute); !got.Equal(from.Add(-time.Minute)) {
		t.Errorf("Add(negative) = %s, want elapsed-time fallback", got)
	}

	// About 2,000 working hours fit in 400 days (roughly 275 working days
	// of 8 hours); 10,000 do not.
	if _, err := c.AddWorking(from, 2000*time.Hour); err != nil {
		t.Errorf("AddWorking(2000h) err = %v", err)
	}
	huge := 10000 * time.Hour
	if _, err := c.AddWorking(from, huge); !errors.Is(err, ErrBeyondHorizon) {
		t.Errorf("AddWorking(10000h) err = %v, want ErrBeyondHorizon", err)
	}
	if got := c.Add(from, huge); !got.Equal(from.Add(huge)) {
		t.Errorf("Add(10000h) = %s, want elapsed-time fallback", got)
	}
	// Extreme durations return promptly rather than looping.
	if _, err := c.AddWorking(from, time.Duration(1<<63-1)); !errors.Is(err, ErrBeyondHorizon) {
		t.Errorf("AddWorking(max) err = %v", err)
	}

	// A Sunday-only calendar still makes progress; results stay inside the
	// horizon exactly when they should.
	sun := mustNew(t, Options{Days: []time.Weekday{time.Sunday}})
	got, err := sun.AddWorking(from, 8*time.Hour)
	if err != nil || !got.Equal(lon(2026, 1, 18, 17, 0)) {
		t.Errorf("Sunday-only AddWorking = %s, %v", got, err)
	}
}

func TestNewValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  Options
		field string
	}{
		{"end before start", Options{Start: "17:00", End: "09:00"}, "Options.End"},
		{"end equals start", Options{Start: "09:00", End: "09:00"}, "Options.End"},
		{"end before default start", Options{End: "08:00"}, "Options.End"},
		{"bad start", Options{Start: "9:00"}, "Options.Start"},
		{"start out of range", Options{Start: "24:00"}, "Options.Start"},
		{"bad end", Options{End: "17:00:00"}, "Options.End"},
		{"end minutes out of range", Options{End: "17:60"}, "Options.End"},
		{"unknown location", Options{Location: "Mars/Olympus_Mons"}, "Options.Location"},
		{"host-local location", Options{Location: "Local"}, "Options.Location"},
		{"no days", Options{Days: []time.Weekday{}}, "Options.Days"},
		{"invalid weekday", Options{Days: []time.Weekday{7}}, "Options.Days"},
		{"negative weekday", Options{Days: []time.Weekday{-1}}, "Options.Days"},
		{"unknown holidays", Options{Holidays: "scotland"}, "Options.Holidays"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.opts)
			if err == nil {
				t.Fatalf("New(%+v) = %v, want error", tc.opts, c)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
		})
	}

	for _, o := range []Options{
		{},
		{Location: "UTC", Start: "00:00", End: "23:59", Holidays: HolidaysEnglandWales},
		{Location: "Europe/London", Start: "09:00", End: "17:00", Days: []time.Weekday{time.Monday, time.Monday}, Holidays: HolidaysNone},
	} {
		if _, err := New(o); err != nil {
			t.Errorf("New(%+v): %v", o, err)
		}
	}
}

// The expectations in the tests above depend on the holiday dates that
// rickar/cal/v2/gb computes, so pin them for 2026 (checked against
// gov.uk/bank-holidays for England and Wales).
func TestHolidays2026(t *testing.T) {
	c := mustNew(t, Options{})
	type hol struct {
		date string
		name string
		sub  bool
	}
	want := []hol{
		{"2026-01-01", "New Year's Day", false},
		{"2026-04-03", "Good Friday", false},
		{"2026-04-06", "Easter Monday", false},
		{"2026-05-04", "Early May", false},
		{"2026-05-25", "Spring Bank Holiday", false},
		{"2026-08-31", "Summer Bank Holiday", false},
		{"2026-12-25", "Christmas Day", false},
		{"2026-12-26", "Boxing Day", false}, // Saturday: the actual date
		{"2026-12-28", "Boxing Day", true},  // Monday: the substitute day
	}
	got := c.Holidays(2026)
	if len(got) != len(want) {
		t.Fatalf("Holidays(2026) = %v, want %d entries", got, len(want))
	}
	for i, h := range got {
		g := hol{h.Date.Format("2006-01-02"), h.Name, h.Substitute}
		if g != want[i] {
			t.Errorf("Holidays(2026)[%d] = %+v, want %+v", i, g, want[i])
		}
		if h.Date.Location() != c.Location() || h.Date.Hour() != 0 {
			t.Errorf("Holidays(2026)[%d].Date = %s, want local midnight", i, h.Date)
		}
	}
}

// Spot-check other years' special cases so that a change in the upstream
// holiday data shows up here rather than as a wrong deadline.
func TestHolidaysOtherYears(t *testing.T) {
	c := mustNew(t, Options{})
	for _, tc := range []struct {
		date time.Time
		name string
	}{
		{lon(2022, 1, 3, 12, 0), "New Year's Day substitute"},
		{lon(2022, 6, 2, 12, 0), "Spring Bank Holiday moved"},
		{lon(2022, 6, 3, 12, 0), "Platinum Jubilee"},
		{lon(2022, 12, 27, 12, 0), "Christmas Day substitute (Tue)"},
		{lon(2023, 5, 8, 12, 0), "Coronation"},
		{lon(2027, 3, 26, 12, 0), "Good Friday 2027"},
		{lon(2027, 12, 27, 12, 0), "Christmas Day substitute 2027"},
		{lon(2027, 12, 28, 12, 0), "Boxing Day substitute 2027"},
	} {
		if c.IsWorking(tc.date) {
			t.Errorf("%s: %s is a working day", tc.name, tc.date.Format("Mon 2006-01-02"))
		}
	}
	if !c.IsWorking(lon(2022, 5, 30, 12, 0)) {
		t.Error("30 May 2022 (usual Spring holiday date, moved that year) should be a working day")
	}
}
