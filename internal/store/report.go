package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/dsr-register/dsr/internal/register"
)

// MonthlyReport is the monthly return to commissioners for one calendar
// month in the team's time zone. Every figure is rebuilt from the audit
// log, the referrals and the escalation and task rows, each cut off at the
// month's end, so a month already reported gives the same figures whenever
// it is asked for again. README "Monthly return" names each CSV column.
type MonthlyReport struct {
	Month string    `json:"month"`
	From  time.Time `json:"from"`
	// To is the start of the next month: the figures are as at just before.
	To time.Time `json:"to"`

	// OnRegister counts people not removed at the month's end (referred,
	// active, consent lapsed), by rating, age band and stage.
	OnRegister OnRegisterCounts `json:"on_register"`
	// Referrals received in the month, by who referred.
	Referrals KindCounts `json:"referrals"`
	// Removals in the month, by reason.
	Removals KindCounts `json:"removals"`
	// Admissions is people rated blue (admitted) in the month.
	Admissions int `json:"admissions"`
	// RedAlerts started in the month and how fast they were acknowledged.
	RedAlerts RedAlertFigures `json:"red_alerts"`
	// CTRs due in the month (community, post-admission and inpatient) and
	// held by their due date.
	CTRs CTRFigures `json:"ctrs"`
}

// OnRegisterCounts breaks the register at a month's end down three ways.
type OnRegisterCounts struct {
	Total int `json:"total"`
	// ByRating is keyed red, amber, green, blue and unrated.
	ByRating map[string]int `json:"by_rating"`
	// ByAgeBand is keyed 0-17, 18-25 and 26+ (age on the month's last day).
	ByAgeBand map[string]int `json:"by_age_band"`
	// ByStage is keyed referred, active and consent_lapsed.
	ByStage map[string]int `json:"by_stage"`
}

// KindCounts is a total and its breakdown.
type KindCounts struct {
	Total int            `json:"total"`
	By    map[string]int `json:"by"`
}

// RedAlertFigures are the month's red alerts.
type RedAlertFigures struct {
	Started int `json:"started"`
	// Acknowledged counts those acknowledged by the month's end.
	Acknowledged int `json:"acknowledged"`
	// MedianAckMinutes is the median clock time, in minutes, from alert to
	// acknowledgement over those; null when none was.
	MedianAckMinutes *float64 `json:"median_ack_minutes"`
}

// CTRFigures are the month's C(E)TRs.
type CTRFigures struct {
	// Due counts C(E)TR tasks falling due in the month, less those closed
	// as no longer needed before their due date (the person removed).
	Due int `json:"due"`
	// HeldInTime counts those recorded held, by the month's end, on or
	// before the due date (the date held, as recorded, in the team's zone).
	HeldInTime int `json:"held_in_time"`
}

// ReportRatings, ReportAgeBands and ReportStages are the report's keys in
// column order.
var (
	ReportRatings        = []string{"red", "amber", "green", "blue", "unrated"}
	ReportAgeBands       = []string{"0-17", "18-25", "26+"}
	ReportStages         = []string{string(register.Referred), string(register.Active), string(register.ConsentLapsed)}
	ReportReferrers      = []string{string(register.ReferrerProfessional), string(register.ReferrerSelf), string(register.ReferrerFamily)}
	ReportRemovalReasons = []string{
		string(register.RemovedRiskReduced), string(register.RemovedMovedOutOfArea), string(register.RemovedAgedOut),
		string(register.RemovedDeceased), string(register.RemovedOther), string(register.RemovedConsentWithdrawn),
		string(register.RemovedConsentLapsed),
	}
)

// stageActions are the audited actions that move a person's stage, and
// the stage each leaves them at.
const stageOfAction = `case a.action
	when 'referral_accepted' then 'referred'
	when 'consent_recorded' then 'active'
	when 'consent_renewed' then 'active'
	when 'consent_lapsed' then 'consent_lapsed'
	when 'removed' then 'removed' end`

var ctrKinds = []string{string(register.TaskCommunityCTR), string(register.TaskPostAdmissionCTR), string(register.TaskInpatientCTR)}

// ParseReportMonth reads "YYYY-MM" as that month in loc: its first instant
// and the next month's.
func ParseReportMonth(month string, loc *time.Location) (from, to time.Time, err error) {
	t, err := time.ParseInLocation("2006-01", month, loc)
	if err != nil || len(month) != 7 {
		return time.Time{}, time.Time{}, fmt.Errorf("%q must be a month as YYYY-MM", month)
	}
	return t, t.AddDate(0, 1, 0), nil
}

// MonthlyReport builds the return for month ("YYYY-MM") in loc. A month
// not yet over is reported as it stands (its end is in the future).
func (s *Store) MonthlyReport(ctx context.Context, month string, loc *time.Location) (MonthlyReport, error) {
	from, to, err := ParseReportMonth(month, loc)
	if err != nil {
		return MonthlyReport{}, err
	}
	r := MonthlyReport{Month: month, From: from.UTC(), To: to.UTC(),
		OnRegister: OnRegisterCounts{ByRating: zeroes(ReportRatings), ByAgeBand: zeroes(ReportAgeBands), ByStage: zeroes(ReportStages)},
		Referrals:  KindCounts{By: zeroes(ReportReferrers)},
		Removals:   KindCounts{By: zeroes(ReportRemovalReasons)},
	}
	fail := func(what string, err error) (MonthlyReport, error) {
		return MonthlyReport{}, fmt.Errorf("store: monthly report %s: %s: %w", month, what, err)
	}
	if err := s.onRegisterAt(ctx, to, loc, &r.OnRegister); err != nil {
		return fail("register at month end", err)
	}
	if err := s.countBy(ctx, `select referrer_kind, count(*) from referrals where received_at >= $1 and received_at < $2 group by 1`,
		from, to, &r.Referrals); err != nil {
		return fail("referrals", err)
	}
	if err := s.countBy(ctx, `select coalesce(detail->>'reason', ''), count(*) from audit_log
			where action = 'removed' and at >= $1 and at < $2 group by 1`, from, to, &r.Removals); err != nil {
		return fail("removals", err)
	}
	if err := s.pool.QueryRow(ctx, `select count(*) from audit_log where action = 'rated' and detail->>'to' = 'blue'
			and coalesce(detail->>'from', '') <> 'blue' and at >= $1 and at < $2`, from, to).Scan(&r.Admissions); err != nil {
		return fail("admissions", err)
	}
	if err := s.pool.QueryRow(ctx, `select count(*),
			count(*) filter (where acknowledged_at < $2),
			percentile_cont(0.5) within group (order by extract(epoch from acknowledged_at - started_at) / 60)
				filter (where acknowledged_at < $2)
		from escalations where started_at >= $1 and started_at < $2`, from, to).
		Scan(&r.RedAlerts.Started, &r.RedAlerts.Acknowledged, &r.RedAlerts.MedianAckMinutes); err != nil {
		return fail("red alerts", err)
	}
	if err := s.pool.QueryRow(ctx, `select
			count(*) filter (where not (t.status = 'cancelled' and t.closed_at <= t.due_at)),
			count(*) filter (where t.status = 'done' and t.closed_at < $2 and coalesce(
				(select (a.detail->>'on')::date from audit_log a
				 where a.person_id = t.person_id and a.at = t.closed_at and a.detail->>'kind' = t.kind
				   and a.action in ('action_done', 'escalation_action_done') limit 1),
				(t.closed_at at time zone $4)::date) <= (t.due_at at time zone $4)::date)
		from tasks t where t.kind = any($3) and t.due_at >= $1 and t.due_at < $2`,
		from, to, ctrKinds, loc.String()).Scan(&r.CTRs.Due, &r.CTRs.HeldInTime); err != nil {
		return fail("C(E)TRs", err)
	}
	return r, nil
}

// onRegisterAt rebuilds who was on the register just before end from the
// audit log: each person's stage is what their last stage-moving entry
// left, and their rating is their last rating in the spell that entry
// belongs to (a new referral after removal starts unrated).
func (s *Store) onRegisterAt(ctx context.Context, end time.Time, loc *time.Location, c *OnRegisterCounts) error {
	rows, err := s.pool.Query(ctx, `with stage as (
			select distinct on (a.person_id) a.person_id, `+stageOfAction+` as stage
			from audit_log a
			where a.action in ('referral_accepted', 'consent_recorded', 'consent_renewed', 'consent_lapsed', 'removed')
			  and a.at < $1 and a.person_id is not null
			order by a.person_id, a.at desc, a.id desc),
		spell as (
			select person_id, max(at) as began from audit_log
			where action = 'referral_accepted' and at < $1 group by person_id),
		rating as (
			select distinct on (a.person_id) a.person_id, a.detail->>'to' as rating
			from audit_log a join spell s on s.person_id = a.person_id
			where a.action = 'rated' and a.at < $1 and a.at >= s.began
			order by a.person_id, a.at desc, a.id desc)
		select st.stage, coalesce(r.rating, ''), p.date_of_birth
		from stage st
		left join rating r on r.person_id = st.person_id
		left join people p on p.id = st.person_id
		where st.stage <> 'removed'`, end)
	if err != nil {
		return err
	}
	defer rows.Close()
	lastDay := end.In(loc).AddDate(0, 0, -1)
	for rows.Next() {
		var stage, rating string
		var dob *time.Time
		if err := rows.Scan(&stage, &rating, &dob); err != nil {
			return err
		}
		if rating == "" {
			rating = "unrated"
		}
		c.Total++
		c.ByStage[stage]++
		c.ByRating[rating]++
		if dob != nil {
			c.ByAgeBand[ageBand(register.AgeOn(*dob, lastDay))]++
		} else {
			c.ByAgeBand["unknown"]++
		}
	}
	return rows.Err()
}

func ageBand(age int) string {
	switch {
	case age <= 17:
		return "0-17"
	case age <= 25:
		return "18-25"
	}
	return "26+"
}

// countBy fills k from a query answering (key, count) rows for [from, to).
func (s *Store) countBy(ctx context.Context, query string, from, to time.Time, k *KindCounts) error {
	rows, err := s.pool.Query(ctx, query, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var n int
		if err := rows.Scan(&key, &n); err != nil {
			return err
		}
		k.Total += n
		k.By[key] += n
	}
	return rows.Err()
}

func zeroes(keys []string) map[string]int {
	m := make(map[string]int, len(keys))
	for _, k := range keys {
		m[k] = 0
	}
	return m
}

// MonthlyReportColumns are the CSV's columns, in order (README "Monthly
// return" documents each).
func MonthlyReportColumns() []string {
	cols := []string{"month", "on_register"}
	for _, k := range ReportRatings {
		cols = append(cols, "rating_"+k)
	}
	cols = append(cols, "age_0_17", "age_18_25", "age_26_plus")
	for _, k := range ReportStages {
		cols = append(cols, "stage_"+k)
	}
	cols = append(cols, "referrals")
	for _, k := range ReportReferrers {
		cols = append(cols, "referrals_"+k)
	}
	cols = append(cols, "removals")
	for _, k := range ReportRemovalReasons {
		cols = append(cols, "removals_"+k)
	}
	return append(cols, "admissions", "red_alerts", "red_alerts_acknowledged", "median_ack_minutes", "ctrs_due", "ctrs_held_in_time")
}

// CSVRow is the report as one row under MonthlyReportColumns.
func (r MonthlyReport) CSVRow() []string {
	n := strconv.Itoa
	row := []string{r.Month, n(r.OnRegister.Total)}
	for _, k := range ReportRatings {
		row = append(row, n(r.OnRegister.ByRating[k]))
	}
	for _, k := range ReportAgeBands {
		row = append(row, n(r.OnRegister.ByAgeBand[k]))
	}
	for _, k := range ReportStages {
		row = append(row, n(r.OnRegister.ByStage[k]))
	}
	row = append(row, n(r.Referrals.Total))
	for _, k := range ReportReferrers {
		row = append(row, n(r.Referrals.By[k]))
	}
	row = append(row, n(r.Removals.Total))
	for _, k := range ReportRemovalReasons {
		row = append(row, n(r.Removals.By[k]))
	}
	median := ""
	if r.RedAlerts.MedianAckMinutes != nil {
		median = strconv.FormatFloat(*r.RedAlerts.MedianAckMinutes, 'f', 1, 64)
	}
	return append(row, n(r.Admissions), n(r.RedAlerts.Started), n(r.RedAlerts.Acknowledged), median,
		n(r.CTRs.Due), n(r.CTRs.HeldInTime))
}
