package api

import (
	"encoding/csv"
	"net/http"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/store"
)

// handleMonthlyReport answers GET /api/v1/reports/monthly?month=YYYY-MM:
// the monthly return, as JSON, or as CSV (one header row, one row) with
// Accept: text/csv or format=csv. Figures are counts only.
func handleMonthlyReport(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		month := r.URL.Query().Get("month")
		loc := teamZone(d)
		if _, _, err := store.ParseReportMonth(month, loc); err != nil {
			writeError(w, http.StatusBadRequest, "month: "+err.Error(), register.FieldErrors{"month": "must be a month as YYYY-MM, such as 2026-03"})
			return
		}
		format := r.URL.Query().Get("format")
		switch format {
		case "", "json", "csv":
		default:
			writeError(w, http.StatusBadRequest, "format: must be json or csv", register.FieldErrors{"format": "must be json or csv"})
			return
		}
		report, err := d.Store.MonthlyReport(r.Context(), month, loc)
		if err != nil {
			writeStoreError(w, d, err)
			return
		}
		if format == "csv" || (format == "" && strings.Contains(r.Header.Get("Accept"), "text/csv")) {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="dsr-monthly-`+month+`.csv"`)
			cw := csv.NewWriter(w)
			_ = cw.Write(store.MonthlyReportColumns())
			_ = cw.Write(report.CSVRow())
			cw.Flush()
			return
		}
		writeJSON(w, http.StatusOK, report)
	}
}

// teamZone is the team's time zone (DSR_WORKING_TIMEZONE): months begin
// and end at its midnight.
func teamZone(d Deps) *time.Location {
	if d.Casework == nil {
		return register.DefaultPolicy().Zone()
	}
	return d.Casework.Policy.Zone()
}

// handleMbEReport is the managers' MbE counts: ?from=YYYY-MM-DD&to=YYYY-MM-DD
// (to exclusive; default the last 365 days). Counts only.
func handleMbEReport(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		errs := register.FieldErrors{}
		to := parseDate(q.Get("to"), "to", errs)
		from := parseDate(q.Get("from"), "from", errs)
		if to.IsZero() {
			// Up to the end of the team's today.
			y, m, day := d.Now().In(teamZone(d)).Date()
			to = time.Date(y, m, day, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
		}
		if from.IsZero() {
			from = to.AddDate(-1, 0, 0)
		}
		if len(errs) == 0 && !from.Before(to) {
			errs.Add("from", "must be before to")
		}
		if len(errs) > 0 {
			writeError(w, http.StatusBadRequest, "invalid period", errs)
			return
		}
		rep, err := d.Store.MbEReport(r.Context(), from, to)
		if err != nil {
			writeStoreError(w, d, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
}
