// Package dashboard is the managers' dashboard (/): the register at a
// glance and its changes, what is late, each coordinator's workload, and
// the trends drawn as charts. It reads PostgreSQL's projections and the
// daily counts web.CountRegisterDaily keeps, never Temporal.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/dsr-register/dsr/internal/htmlpage"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/web/staffpage"
)

//go:embed templates
var templateFiles embed.FS

var page = staffpage.Parse(templateFiles, "templates/dashboard.html", nil)

// Handle is the dashboard's page. It keeps the monthly trends between
// views (trendsFresh).
func Handle(s *staffpage.Site) staffpage.Handler {
	h := &handlers{Site: s}
	return h.show
}

// handlers are the dashboard's reads, with the monthly trends kept.
type handlers struct {
	*staffpage.Site
	monthly monthlyCache
}

type dashboardPage struct {
	staffpage.Base
	// Glance is "the register at a glance": people by colour, and
	// everyone by stage.
	Glance []glanceTable
	// ChangesNote says, in a sentence, what the changes compare with, or
	// when they will show.
	ChangesNote string
	Late        lateView
	Workload    []store.Workload
	Trends      []trend
}

type lateView struct {
	ReviewsOverdue     int
	ConsentLapsingSoon int
	ConsentLapsed      int
	AwaitingConsent    int
	Actions            []kindCount
	Alerts             []alertRow
}

type kindCount struct {
	Kind  register.TaskKind
	Count int
	Link  string
}

// alertRow is a red alert nobody has acknowledged, with the working time
// left or by how much it is overdue.
type alertRow struct {
	PersonID int64
	Number   int
	Started  time.Time
	DueAt    *time.Time
	Overdue  bool
	Working  string
}

func (h *handlers) show(w http.ResponseWriter, r *http.Request, u login.User) error {
	now := h.Now()
	today := h.Policy.LocalDate(now)
	if err := h.Store.SnapshotRegister(r.Context(), today); err != nil {
		// The page still works from the live counts; the trend misses a day.
		h.Logger.Warn("web: counting the register for today failed", "error", err)
	}
	p := dashboardPage{Base: h.Base(r, u, "Dashboard", "dashboard")}
	// The reads are independent: run them side by side, each bounded by
	// the page's deadline.
	var (
		counts    []store.RegisterCount
		snapshots []store.RegisterSnapshot
		monthly   []trend
	)
	err := together(
		func() (err error) { counts, err = h.Store.RegisterCountsNow(r.Context()); return err },
		func() (err error) {
			snapshots, err = h.Store.RegisterSnapshots(r.Context(), today.AddDate(0, 0, -trendDays), today)
			return err
		},
		func() (err error) { p.Late, err = h.late(r.Context(), now); return err },
		func() (err error) { p.Workload, err = h.Store.WorkloadByCoordinator(r.Context(), now); return err },
		func() (err error) { monthly, err = h.monthlyTrends(r.Context(), now); return err },
	)
	if err != nil {
		return err
	}
	week, month := snapshotOn(snapshots, today.AddDate(0, 0, -7)), snapshotOn(snapshots, today.AddDate(0, 0, -30))
	// The days the changes are counted from; zero when no count of the
	// register was kept then.
	var weekAgo, monthAgo time.Time
	if week != nil {
		weekAgo = week.Day
	}
	if month != nil {
		monthAgo = month.Day
	}
	p.Glance = glance(counts, week, month)
	p.ChangesNote = changesNote(h.Zone, weekAgo, monthAgo)
	p.Trends = append([]trend{weeklyColours(snapshots)}, monthly...)
	if len(p.Late.Alerts) > 0 {
		// The unacknowledged alerts name people (by reference): a list read.
		if err := h.Store.RecordListing(r.Context(), store.Listing{Actor: u.AuditName(), Via: store.ViaWeb, List: "escalations",
			Count: len(p.Late.Alerts), Filters: map[string]string{"open": "true", "unacknowledged": "true"}}); err != nil {
			return err
		}
	}
	return htmlpage.Render(w, http.StatusOK, page, p)
}

// changesNote is the sentence under "the register at a glance": the days
// the changes are counted from, or, where the register was not counted
// then, when that column will appear. The register is counted every day
// from the first day the dashboard is used.
func changesNote(zone *time.Location, weekAgo, monthAgo time.Time) string {
	day := func(t time.Time) string { return staffpage.FormatTime(zone, t, "2 January 2006") }
	switch {
	case !weekAgo.IsZero() && !monthAgo.IsZero():
		return "Changes compare with the register as counted on " + day(weekAgo) + " and on " + day(monthAgo) + "."
	case !weekAgo.IsZero():
		return "Changes compare with the register as counted on " + day(weekAgo) +
			". The change since last month will show once the register has been counted for a month."
	case !monthAgo.IsZero():
		return "Changes compare with the register as counted on " + day(monthAgo) +
			". The change since last week will show once the register has been counted for a week."
	}
	return "The changes since last week and since last month will show once the register has been counted " +
		"for a week and for a month. It is counted every day."
}

// snapshotOn is the latest count of the register on or before day, no more
// than a week older.
func snapshotOn(snaps []store.RegisterSnapshot, day time.Time) *store.RegisterSnapshot {
	for i := len(snaps) - 1; i >= 0; i-- {
		if !snaps[i].Day.After(day) {
			if day.Sub(snaps[i].Day) > 7*24*time.Hour {
				return nil
			}
			return &snaps[i]
		}
	}
	return nil
}

func (h *handlers) late(ctx context.Context, now time.Time) (lateView, error) {
	counts, err := h.Store.Late(ctx, now, now.Add(staffpage.ConsentLapsingWithin))
	if err != nil {
		return lateView{}, err
	}
	v := lateView{ReviewsOverdue: counts.ReviewsOverdue, ConsentLapsingSoon: counts.ConsentLapsingSoon,
		ConsentLapsed: counts.ConsentLapsed, AwaitingConsent: counts.AwaitingConsent}
	for _, k := range register.RequiredActions {
		v.Actions = append(v.Actions, kindCount{Kind: k, Count: counts.ActionsOverdue[k],
			Link: "/tasks?" + url.Values{"kind": {string(k)}, "filter": {"overdue"}}.Encode()})
	}
	open, err := h.Store.ListEscalations(ctx, store.EscalationFilter{Open: true, Unacknowledged: true, Now: now})
	if err != nil {
		return lateView{}, err
	}
	for _, e := range open {
		row := alertRow{PersonID: e.PersonID, Number: e.Number, Started: e.StartedAt, DueAt: e.AckDueAt}
		if e.AckDueAt != nil {
			if now.After(*e.AckDueAt) {
				row.Overdue, row.Working = true, "overdue by "+staffpage.WorkingDuration(h.Calendar.Between(*e.AckDueAt, now))
			} else {
				row.Working = staffpage.WorkingDuration(h.Calendar.Between(now, *e.AckDueAt)) + " left"
			}
		}
		v.Alerts = append(v.Alerts, row)
	}
	// Most overdue first: the one to chase.
	sort.SliceStable(v.Alerts, func(i, j int) bool {
		return v.Alerts[i].DueAt != nil && (v.Alerts[j].DueAt == nil || v.Alerts[i].DueAt.Before(*v.Alerts[j].DueAt))
	})
	return v, nil
}

// trendDays is how far back the trends look: 12 months and a week, so the
// first week is whole.
const trendDays = 372

// together runs fns at once and returns the first error, after all have
// finished.
func together(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// trendsFresh is how long the monthly trends are kept before they are read
// again: they move by the day, and reading a year of the audit log and
// tasks on every view would cost the dashboard its speed.
const trendsFresh = 10 * time.Minute

// monthlyCache holds the monthly trends between reads.
type monthlyCache struct {
	mu     sync.Mutex
	at     time.Time
	trends []trend
}

// monthlyTrends are admissions, red alerts and C(E)TRs by month for the
// last 12 months, read at most every trendsFresh.
func (h *handlers) monthlyTrends(ctx context.Context, now time.Time) ([]trend, error) {
	h.monthly.mu.Lock()
	defer h.monthly.mu.Unlock()
	if h.monthly.trends != nil && now.Sub(h.monthly.at) < trendsFresh && now.Month() == h.monthly.at.Month() {
		return h.monthly.trends, nil
	}
	since := monthStart(now.In(h.Zone)).AddDate(0, -11, 0)
	zone := h.Zone.String()
	var (
		admissions, ctrs []store.MonthCount
		escalations      []store.EscalationRecord
	)
	err := together(
		func() (err error) { admissions, err = h.Store.AdmissionsByMonth(ctx, since, zone); return err },
		func() (err error) { ctrs, err = h.Store.CTRsByMonth(ctx, since, zone); return err },
		func() (err error) { escalations, err = h.Store.EscalationsSince(ctx, since); return err },
	)
	if err != nil {
		return nil, err
	}
	months := lastMonths(now.In(h.Zone), 12)
	h.monthly.trends = []trend{
		admissionsTrend(months, admissions),
		h.alertsTrend(months, escalations),
		ctrTrend(months, ctrs),
	}
	h.monthly.at = now
	return h.monthly.trends, nil
}

func monthStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, t.Location())
}

// lastMonths are the first days (as UTC dates) of the n months up to now's.
func lastMonths(now time.Time, n int) []time.Time {
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	out := make([]time.Time, n)
	for i := range n {
		out[i] = first.AddDate(0, i-n+1, 0)
	}
	return out
}

func monthIndex(months []time.Time, m time.Time) int {
	return slices.IndexFunc(months, func(x time.Time) bool { return x.Year() == m.Year() && x.Month() == m.Month() })
}
