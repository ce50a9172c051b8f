package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// scrape reads /metrics as Prometheus would and parses it with its text
// parser.
func (s *stack) scrape() map[string]*dto.MetricFamily {
	s.t.Helper()
	resp, err := apiClient.Get(s.api + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		s.t.Fatalf("/metrics: %s", resp.Status)
	}
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		s.t.Fatalf("/metrics does not parse: %v", err)
	}
	return families
}

// gauge is the value of the family's series with exactly these labels.
func gauge(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	for _, m := range families[name].GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if match {
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// TestEndToEndMetricsAndMonthlyReport: /metrics (no login) shows the
// register by rating and stage, unacknowledged alerts, requests by route
// pattern and the Temporal SDK's own series, on one registry, with no
// person's ID in any label; the monthly return answers managers and
// coordinators in JSON and CSV, and refuses referrers.
func TestEndToEndMetricsAndMonthlyReport(t *testing.T) {
	s := startStack(t, nil)
	id, pp := s.referWithConsent("Ada", "Lovelace", "1990-03-01", "9434765919")
	s.call("POST", pp+"/rating", coordToken, map[string]any{"rating": "red", "rationale": "crisis"}).expect(t, 200, "red")
	s.call("GET", pp, managerToken, nil).expect(t, 200, "person")

	var families map[string]*dto.MetricFamily
	// The figures are cached up to 15 s; wait for the red rating to show.
	s.waitFor("dsr_people{rating=red,stage=active} 1", 30*time.Second, func() bool {
		families = s.scrape()
		v, ok := gauge(families, "dsr_people", map[string]string{"rating": "red", "stage": "active"})
		return ok && v == 1
	})
	var excerpt []string
	for _, name := range []string{"dsr_people", "dsr_tasks_open", "dsr_tasks_overdue", "dsr_alerts_unacknowledged", "dsr_notifications_waiting"} {
		for _, m := range families[name].GetMetric() {
			excerpt = append(excerpt, fmt.Sprintf("%s%v %v", name, m.GetLabel(), m.GetGauge().GetValue()+m.GetCounter().GetValue()))
		}
	}
	for name := range families {
		if strings.HasPrefix(name, "temporal_") {
			excerpt = append(excerpt, name+" …")
		}
	}
	t.Logf("a scrape of /metrics (excerpt):\n%s", strings.Join(excerpt, "\n"))
	if v, ok := gauge(families, "dsr_alerts_unacknowledged", nil); !ok || v != 1 {
		t.Errorf("dsr_alerts_unacknowledged = %v (%v), want 1", v, ok)
	}
	if _, ok := families["dsr_alert_acknowledgement_seconds"]; !ok {
		t.Error("no dsr_alert_acknowledgement_seconds histogram")
	}
	if v, ok := gauge(families, "dsr_tasks_open", map[string]string{"kind": "escalation_alert"}); !ok || v != 1 {
		t.Errorf("dsr_tasks_open{kind=escalation_alert} = %v (%v), want 1", v, ok)
	}
	temporal := 0
	for name := range families {
		if strings.HasPrefix(name, "temporal_") {
			temporal++
		}
	}
	if temporal == 0 {
		t.Errorf("no temporal_ series: the SDK's metrics are not on the registry")
	}
	routes := map[string]bool{}
	for name, fam := range families {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), fmt.Sprint(id)) || strings.Contains(l.GetValue(), "Lovelace") {
					t.Errorf("%s has label %s=%q: a person's ID or name in a label", name, l.GetName(), l.GetValue())
				}
				if name == "dsr_http_requests_total" && l.GetName() == "route" {
					routes[l.GetValue()] = true
				}
			}
		}
	}
	for _, want := range []string{"/api/v1/people/{id}/rating", "/api/v1/people/{id}", "/api/v1/referrals"} {
		if !routes[want] {
			t.Errorf("dsr_http_requests_total has no route %q (routes: %v)", want, routes)
		}
	}

	// The monthly return for this month (the team's calendar).
	london, _ := time.LoadLocation("Europe/London")
	month := time.Now().In(london).Format("2006-01")
	report := s.call("GET", "/api/v1/reports/monthly?month="+month, managerToken, nil).expect(t, 200, "report")
	onRegister := report.Body["on_register"].(map[string]any)
	if onRegister["total"] != 1.0 || onRegister["by_rating"].(map[string]any)["red"] != 1.0 ||
		report.Body["red_alerts"].(map[string]any)["started"] != 1.0 || report.Body["referrals"].(map[string]any)["total"] != 1.0 {
		t.Errorf("report: %s", report.Raw)
	}
	t.Logf("report (JSON): %s", report.Raw)
	s.call("GET", "/api/v1/reports/monthly?month="+month, coordToken, nil).expect(t, 200, "report for a coordinator")
	s.call("GET", "/api/v1/reports/monthly?month="+month, referToken, nil).expect(t, 403, "report for a referrer")
	bad := s.call("GET", "/api/v1/reports/monthly?month=March", managerToken, nil).expect(t, 400, "bad month")
	if !strings.Contains(bad.Raw, `"month"`) {
		t.Errorf("a bad month should be answered against the field: %s", bad.Raw)
	}

	for _, how := range []func(*http.Request){
		func(r *http.Request) { r.Header.Set("Accept", "text/csv") },
		func(r *http.Request) { q := r.URL.Query(); q.Set("format", "csv"); r.URL.RawQuery = q.Encode() },
	} {
		req, _ := http.NewRequest("GET", s.api+"/api/v1/reports/monthly?month="+month, nil)
		req.Header.Set("Authorization", "Bearer "+managerToken)
		how(req)
		resp, err := apiClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || len(rows) != 2 {
			t.Fatalf("CSV: %s %q, %v: %s", resp.Status, resp.Header.Get("Content-Type"), err, body)
		}
		got := map[string]string{}
		for i, col := range rows[0] {
			got[col] = rows[1][i]
		}
		if got["month"] != month || got["on_register"] != "1" || got["rating_red"] != "1" || got["red_alerts"] != "1" {
			t.Errorf("CSV row: %v", got)
		}
	}
}
