package workinghours

import (
	"math/rand/v2"
	"testing"
	"time"
)

// propertyCalendars are the calendars the property and fuzz tests range
// over: the default, no holidays, a long week, a window spanning the small
// hours (so it contains the DST changes), a window inside the spring-forward
// gap, and a single working day a week.
func propertyCalendars(t testing.TB) []*Calendar {
	all := []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}
	return []*Calendar{
		mustNew(t, Options{}),
		mustNew(t, Options{Holidays: HolidaysNone}),
		mustNew(t, Options{Start: "08:00", End: "18:00", Days: all[1:]}),
		mustNew(t, Options{Start: "00:00", End: "04:00", Days: all}),
		mustNew(t, Options{Start: "01:30", End: "02:00", Days: all, Holidays: HolidaysNone}),
		mustNew(t, Options{Start: "01:15", End: "01:45", Days: all}),
		mustNew(t, Options{Days: []time.Weekday{time.Sunday}, Location: "America/New_York"}),
	}
}

var (
	propLo = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	propHi = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	// propMaxD stays inside MaxSearchDays for the thinnest calendars: the
	// half-hour windows give about 195h in 400 days, the Sunday-only one
	// about 450h.
	propMaxD = 150 * time.Hour
)

// checkProperties asserts the laws that make Add and Between safe to use for
// deadlines, for one calendar, start instant and pair of durations.
func checkProperties(t *testing.T, c *Calendar, a time.Time, d1, d2 time.Duration) {
	t.Helper()
	if d1 > d2 {
		d1, d2 = d2, d1
	}
	r1, err1 := c.AddWorking(a, d1)
	r2, err2 := c.AddWorking(a, d2)
	if err1 != nil || err2 != nil {
		t.Fatalf("AddWorking(%s, %v / %v): %v / %v", a.Format(fmtT), d1, d2, err1, err2)
	}
	// Monotonic in d.
	if r2.Before(r1) {
		t.Fatalf("not monotonic: Add(%s, %v) = %s after Add(_, %v) = %s", a.Format(fmtT), d1, r1.Format(fmtT), d2, r2.Format(fmtT))
	}
	// Between inverts Add.
	for _, p := range []struct {
		d time.Duration
		r time.Time
	}{{d1, r1}, {d2, r2}} {
		if got := c.Between(a, p.r); got != p.d {
			t.Fatalf("Between(%s, Add(_, %v) = %s) = %v", a.Format(fmtT), p.d, p.r.Format(fmtT), got)
		}
		// Working time never exceeds elapsed time.
		if p.r.Sub(a) < p.d {
			t.Fatalf("Add(%s, %v) = %s: less elapsed time than working time", a.Format(fmtT), p.d, p.r.Format(fmtT))
		}
		// The last nanosecond counted was working time.
		if p.d > 0 && !c.IsWorking(p.r.Add(-time.Nanosecond)) {
			t.Fatalf("Add(%s, %v) = %s, but the instant before it is not working time", a.Format(fmtT), p.d, p.r.Format(fmtT))
		}
	}
	// Additivity: working time between the two results is the difference.
	if got := c.Between(r1, r2); got != d2-d1 {
		t.Fatalf("Between(Add(a,%v), Add(a,%v)) = %v, want %v", d1, d2, got, d2-d1)
	}
	// d == 0 gives the next working instant at or after a, with nothing
	// working in between.
	z, _ := c.AddWorking(a, 0)
	if z.Before(a) || !c.IsWorking(z) || c.Between(a, z) != 0 {
		t.Fatalf("AddWorking(%s, 0) = %s is not the next working instant", a.Format(fmtT), z.Format(fmtT))
	}
	if c.IsWorking(a) && !z.Equal(a) {
		t.Fatalf("AddWorking(%s, 0) = %s, want a itself (a is working)", a.Format(fmtT), z.Format(fmtT))
	}
}

// TestProperties samples random instants and durations with a fixed seed so
// that it is reproducible and runs on every `go test`.
func TestProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(20260402, 16))
	cals := propertyCalendars(t)
	span := propHi.Sub(propLo)
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		c := cals[rng.IntN(len(cals))]
		a := propLo.Add(time.Duration(rng.Int64N(int64(span))))
		// Half the durations are whole minutes, to land on the boundaries
		// that real configurations use; half are arbitrary nanoseconds.
		dur := func() time.Duration {
			if rng.IntN(2) == 0 {
				return time.Duration(rng.Int64N(int64(propMaxD/time.Minute))) * time.Minute
			}
			return time.Duration(rng.Int64N(int64(propMaxD)))
		}
		checkProperties(t, c, a, dur(), dur())
	}
}

// TestPropertiesAtBoundaries starts exactly at openings, closings and local
// midnights around the 2026 clock changes and Christmas.
func TestPropertiesAtBoundaries(t *testing.T) {
	days := []time.Time{
		lon(2026, 3, 27, 0, 0), lon(2026, 3, 28, 0, 0), lon(2026, 3, 29, 0, 0), lon(2026, 3, 30, 0, 0),
		lon(2026, 10, 24, 0, 0), lon(2026, 10, 25, 0, 0), lon(2026, 10, 26, 0, 0),
		lon(2026, 12, 24, 0, 0), lon(2026, 12, 28, 0, 0), lon(2026, 12, 31, 0, 0),
	}
	durs := []time.Duration{0, time.Nanosecond, 30 * time.Minute, time.Hour, 4 * time.Hour, 8 * time.Hour, 10 * time.Hour, 100 * time.Hour}
	for _, c := range propertyCalendars(t) {
		for _, day := range days {
			for _, hm := range [][2]int{{0, 0}, {1, 0}, {1, 30}, {2, 0}, {4, 0}, {8, 0}, {9, 0}, {17, 0}, {18, 0}, {23, 59}} {
				a := time.Date(day.Year(), day.Month(), day.Day(), hm[0], hm[1], 0, 0, c.Location())
				for i := range durs {
					for j := i; j < len(durs); j++ {
						checkProperties(t, c, a, durs[i], durs[j])
					}
				}
			}
		}
	}
}

// FuzzAddBetween checks the same properties on fuzzer-chosen inputs, folded
// into the bounded ranges. `go test` runs the seed corpus; run
// `go test -fuzz=FuzzAddBetween ./internal/workinghours/` to explore.
func FuzzAddBetween(f *testing.F) {
	f.Add(int64(0), int64(0), int64(0), uint8(0))
	f.Add(lon(2026, 1, 9, 16, 30).Unix(), int64(4*time.Hour), int64(30*time.Minute), uint8(0))
	f.Add(lon(2026, 3, 29, 1, 0).Unix(), int64(3*time.Hour), int64(time.Hour), uint8(3))
	f.Add(lon(2026, 10, 25, 1, 30).Unix(), int64(5*time.Hour), int64(time.Nanosecond), uint8(3))
	f.Add(lon(2026, 12, 24, 16, 0).Unix(), int64(4*time.Hour), int64(0), uint8(2))
	f.Add(lon(2026, 3, 29, 1, 45).Unix(), int64(time.Minute), int64(time.Hour), uint8(4))
	cals := propertyCalendars(f)
	span := int64(propHi.Sub(propLo) / time.Second)
	f.Fuzz(func(t *testing.T, sec, d1, d2 int64, ci uint8) {
		a := propLo.Add(time.Duration(mod(sec, span)) * time.Second)
		c := cals[int(ci)%len(cals)]
		checkProperties(t, c, a, time.Duration(mod(d1, int64(propMaxD))), time.Duration(mod(d2, int64(propMaxD))))
	})
}

// mod returns x mod m in [0, m), for any x including math.MinInt64.
func mod(x, m int64) int64 {
	r := x % m
	if r < 0 {
		r += m
	}
	return r
}
