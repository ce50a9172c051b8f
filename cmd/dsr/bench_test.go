package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/internal/register/registertest"
	"github.com/dsr-register/dsr/internal/slack/slackfake"
	"github.com/dsr-register/dsr/workflows"
)

// BenchmarkEscalationLatency measures how long a red rating takes to reach
// Slack as an alert, on the local stack: the real Temporal dev server, real
// PostgreSQL, `dsr serve` in-process, and the recording Slack test server
// (slackfake) behind a proxy that timestamps each request on receipt
// (slackfake keeps no times).
//
//	go test ./cmd/dsr -run '^$' -bench EscalationLatency -benchtime 1x -timeout 30m
//
// Latency runs from just before the rating request (POST
// /api/v1/people/{id}/rating, red, coordinator token: a workflow Update) is
// sent to the moment the Slack API receives the alert's chat.postMessage
// (the message with the dsr:acknowledge button, to SLACK_CHANNEL_ALERTS).
// In one run, each person referred, consented and rated green beforehand
// (not measured):
//
//	floor: on the same Temporal server, a minimal workflow whose Update runs
//	    one no-op activity (own worker, own task queue), timed from just
//	    before UpdateWorkflow is sent to the activity body running; N
//	    samples, one every DSR_BENCH_FLOOR_PACE;
//	floor-child: the same, but the Update starts a child workflow that runs
//	    the no-op activity: the escalation path's shape with nothing in it;
//	(a) N escalations one after another, one every DSR_BENCH_PACE (1.05s:
//	    the alerts channel's pace, ~1 message/s): p50, p95, p99;
//	(b) N escalations at once: time until the last alert arrives, and
//	    exactly one alert per person (none lost, none duplicated).
//
// The target is p95(a) ≤ 1.5 × p95(floor). Where the time goes is printed
// per step, from the Temporal histories of every sample, with the full
// timeline of the median sample of (a).
//
// Setup: referrals and consents go through a first `dsr serve` with Slack
// off, so the 3×2N setup prompts do not queue for ~20 minutes behind
// Slack's 1 message/s per channel. It is stopped (its worker hands back its
// sticky queue) and a second `dsr serve`, on the same Temporal and
// PostgreSQL, with Slack on, rates everyone green: that loads every
// person's workflow into the new worker's cache, as a long-running service
// has them, and posts nothing (the first-rating prompts were never posted).
//
// The report (a table and the breakdown) goes to stdout: the testing
// package keeps only 10 lines of a benchmark's log. Environment:
// DSR_BENCH_N (default 200), DSR_BENCH_PACE (1.05s), DSR_BENCH_FLOOR_PACE
// (500ms), DSR_BENCH_ALERT_WAIT (how long to wait for alerts after the last
// request; default 3×N seconds + 60s).
func BenchmarkEscalationLatency(b *testing.B) {
	b.StopTimer()
	n := benchEnvInt(b, "DSR_BENCH_N", 200)
	pace := benchEnvDuration(b, "DSR_BENCH_PACE", 1050*time.Millisecond)
	floorPace := benchEnvDuration(b, "DSR_BENCH_FLOOR_PACE", 500*time.Millisecond)
	alertWait := benchEnvDuration(b, "DSR_BENCH_ALERT_WAIT", time.Duration(3*n)*time.Second+time.Minute)
	const alertsChannel = "C-DSR-ALERTS"
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

	// --- dependencies and setup (not measured) -----------------------------
	setupStart := time.Now()
	hostPort, dbURL := localStack(b)
	base := serveEnv(b, hostPort, dbURL, "dsr-bench")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 5 * time.Minute}}

	// Phase 1, Slack off: refer and consent 2N people.
	srv1 := serveInProcess(b, base)
	people := make([]int64, 2*n)
	today := time.Now().UTC().Format("2006-01-02")
	benchParallel(b, 2*n, 8, func(i int) error {
		ref := referral("Bench", benchName(i), "1980-01-01", benchNHS(i))
		code, raw, err := benchCall(hc, srv1.api, "POST", "/api/v1/referrals", coordToken, ref)
		if err != nil || code != 201 {
			return fmt.Errorf("referral %d: %d %s %v", i, code, raw, err)
		}
		var body struct {
			PersonID int64 `json:"person_id"`
		}
		if err := json.Unmarshal(raw, &body); err != nil || body.PersonID == 0 {
			return fmt.Errorf("referral %d: %s", i, raw)
		}
		people[i] = body.PersonID
		pp := fmt.Sprintf("/api/v1/people/%d", body.PersonID)
		if code, raw, err := benchCall(hc, srv1.api, "POST", pp+"/consent", coordToken, map[string]any{"basis": "self", "decided_on": today}); err != nil || code != 200 {
			return fmt.Errorf("consent %d: %d %s %v", i, code, raw, err)
		}
		// The workflow opens the first-rating task just after answering
		// the consent Update: let it, so nothing is left for phase 2.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			code, raw, err := benchCall(hc, srv1.api, "GET", fmt.Sprintf("/api/v1/tasks?status=open&person_id=%d", body.PersonID), coordToken, nil)
			if err == nil && code == 200 && bytes.Contains(raw, []byte(`"review_due"`)) {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("person %d: no review_due task after consent: %d %s %v", body.PersonID, code, raw, err)
			}
		}
	})
	srv1.stop()
	phase1 := time.Since(setupStart)

	// Phase 2, Slack on: the fake Slack behind the timestamping proxy;
	// alerts to their own channel.
	fake := slackfake.New(b)
	rec := newBenchSlackRecorder(b, fake)
	env := slackEnv(fake, map[string]string{"SLACK_API_URL": rec.URL(), "SLACK_CHANNEL_ALERTS": alertsChannel})
	for k, v := range base {
		env[k] = v
	}
	srv := serveInProcess(b, env)
	benchParallel(b, 2*n, 8, func(i int) error {
		pp := fmt.Sprintf("/api/v1/people/%d/rating", people[i])
		if code, raw, err := benchCall(hc, srv.api, "POST", pp, coordToken, map[string]any{"rating": "green", "rationale": "benchmark baseline"}); err != nil || code != 200 {
			return fmt.Errorf("rate green %d: %d %s %v", people[i], code, raw, err)
		}
		return nil
	})

	tc, err := client.Dial(client.Options{HostPort: hostPort, Namespace: "default",
		Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(tc.Close)
	hits := startBenchFloorWorker(b, tc)
	floor := startBenchFloor(b, tc, hits, benchFloorWorkflow, n)
	floorChild := startBenchFloor(b, tc, hits, benchFloorParent, n)
	time.Sleep(2 * time.Second)
	if c := len(fake.Calls()); c != 0 {
		b.Logf("warning: %d Slack calls during setup", c)
	}
	b.Logf("setup: %d people referred and consented (Slack off) in %s; rated green (Slack on), %d+%d floor workflows; %s in all",
		2*n, phase1.Round(time.Second), n, n, time.Since(setupStart).Round(time.Second))

	b.StartTimer()

	// --- floors ----------------------------------------------------------------
	floorLat := floor.run(b, tc, floorPace, 0)
	floorChildLat := floorChild.run(b, tc, floorPace, 0)

	// --- (a) one escalation every `pace` -----------------------------------
	aPeople := people[:n]
	aSent := make([]time.Time, n)
	aCodes := make([]int, n)
	aHTTP := make([]time.Duration, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(pace)
	for i := range n {
		if i > 0 {
			<-tick.C
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			aSent[i] = time.Now()
			code, _, _ := benchCall(hc, srv.api, "POST", fmt.Sprintf("/api/v1/people/%d/rating", aPeople[i]), coordToken,
				map[string]any{"rating": "red", "rationale": "benchmark escalation"})
			aHTTP[i] = time.Since(aSent[i])
			aCodes[i] = code
		}(i)
	}
	tick.Stop()
	wg.Wait()
	rec.waitFor(aPeople, time.Now().Add(alertWait))
	aLat, aMissing := rec.latencies(aPeople, aSent)

	// --- (b) N escalations at once -----------------------------------------
	bPeople := people[n:]
	bSent := make([]time.Time, n)
	bCodes := make([]int, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			bSent[i] = time.Now()
			code, _, _ := benchCall(hc, srv.api, "POST", fmt.Sprintf("/api/v1/people/%d/rating", bPeople[i]), coordToken,
				map[string]any{"rating": "red", "rationale": "benchmark escalation burst"})
			bCodes[i] = code
		}(i)
	}
	bStart := time.Now()
	close(start)
	wg.Wait()
	bAllSent := time.Now()
	rec.waitFor(bPeople, bAllSent.Add(alertWait))
	// A late duplicate (an activity retried after its post went out) would
	// show within seconds.
	time.Sleep(5 * time.Second)
	b.StopTimer()

	bLat, _ := rec.latencies(bPeople, bSent)
	var bLast time.Time
	for _, p := range bPeople {
		if ts := rec.first(p); !ts.IsZero() && ts.After(bLast) {
			bLast = ts
		}
	}

	// --- what the Slack server holds: exactly one alert per person ---------
	counts := map[int64]int{}
	alertChannels := map[string]int{}
	tasks := map[int64]int{}
	calls := map[string]int{}
	for _, c := range fake.Calls() {
		calls[c.Method+" "+c.Channel]++
		if c.Method != "chat.postMessage" {
			continue
		}
		a, ok := parseBenchAlert(c.Text, c.Blocks)
		if !ok {
			continue
		}
		counts[a.person]++
		alertChannels[c.Channel]++
		tasks[a.task]++
	}
	lostDup := func(ids []int64) (lost, dup int) {
		for _, id := range ids {
			switch c := counts[id]; {
			case c == 0:
				lost++
			case c > 1:
				dup += c - 1
			}
		}
		return lost, dup
	}
	aLost, aDup := lostDup(aPeople)
	bLost, bDup := lostDup(bPeople)
	badCodes := func(codes []int) int {
		bad := 0
		for _, c := range codes {
			if c != 200 {
				bad++
			}
		}
		return bad
	}
	// Alerts the pacer held back: sent within ~1s of the previous alert's.
	held := 0
	for i := 1; i < n; i++ {
		prev, cur := rec.first(aPeople[i-1]), rec.first(aPeople[i])
		if !prev.IsZero() && !cur.IsZero() && cur.Sub(prev) < time.Second+5*time.Millisecond {
			held++
		}
	}

	// (b): when the alerts channel's queue ran dry. Alerts go at most one a
	// second; a gap over that means no alert was waiting to be sent.
	var bTimes []time.Time
	for _, p := range bPeople {
		if ts := rec.first(p); !ts.IsZero() {
			bTimes = append(bTimes, ts)
		}
	}
	slices.SortFunc(bTimes, func(x, y time.Time) int { return x.Compare(y) })
	var bIdle time.Duration
	var bGaps []string
	for i := 1; i < len(bTimes); i++ {
		if g := bTimes[i].Sub(bTimes[i-1]); g > 1050*time.Millisecond {
			bIdle += g - time.Second
			bGaps = append(bGaps, fmt.Sprintf("%.1fs after %d alerts (at +%.0fs)", g.Seconds(), i, bTimes[i-1].Sub(bStart).Seconds()))
		}
	}
	rec.mu.Lock()
	proxyErrors := slices.Clone(rec.proxyErrors)
	rec.mu.Unlock()

	// --- report --------------------------------------------------------------
	ap, fp, fcp, bp := benchPercentiles(aLat), benchPercentiles(floorLat), benchPercentiles(floorChildLat), benchPercentiles(bLat)
	ratio := math.NaN()
	if fp.p95 > 0 {
		ratio = float64(ap.p95) / float64(fp.p95)
	}
	ratioChild := math.NaN()
	if fcp.p95 > 0 {
		ratioChild = float64(ap.p95) / float64(fcp.p95)
	}
	bLastS := math.NaN()
	if !bLast.IsZero() {
		bLastS = bLast.Sub(bStart).Seconds()
	}
	b.ReportMetric(ms(ap.p50), "a_p50_ms")
	b.ReportMetric(ms(ap.p95), "a_p95_ms")
	b.ReportMetric(ms(ap.p99), "a_p99_ms")
	b.ReportMetric(float64(aLost), "a_lost")
	b.ReportMetric(float64(aDup), "a_duplicated")
	b.ReportMetric(ms(fp.p50), "floor_p50_ms")
	b.ReportMetric(ms(fp.p95), "floor_p95_ms")
	b.ReportMetric(ms(fp.p99), "floor_p99_ms")
	b.ReportMetric(ms(fcp.p95), "floor_child_p95_ms")
	b.ReportMetric(ratio, "ratio_p95")
	b.ReportMetric(bLastS, "b_last_alert_s")
	b.ReportMetric(float64(bLost), "b_lost")
	b.ReportMetric(float64(bDup), "b_duplicated")

	var t strings.Builder
	fmt.Fprintf(&t, "\nBenchmarkEscalationLatency: red rating request sent → alert chat.postMessage received by the Slack API\n")
	fmt.Fprintf(&t, "N=%d; (a) one every %s; floors one every %s; GOMAXPROCS %d, %d CPUs; Temporal dev server, PostgreSQL, dsr and this benchmark on one machine\n\n",
		n, pace, floorPace, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(&t, "%-44s %7s %9s %9s %9s %9s %6s %6s\n", "", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms", "lost", "dup")
	row := func(name string, p benchPct, lost, dup string) {
		fmt.Fprintf(&t, "%-44s %7d %9.1f %9.1f %9.1f %9.1f %6s %6s\n", name, p.n, ms(p.p50), ms(p.p95), ms(p.p99), ms(p.max), lost, dup)
	}
	row("(a) escalations, one per "+pace.String(), ap, strconv.Itoa(aLost), strconv.Itoa(aDup))
	row("floor: Update → no-op activity", fp, "", "")
	row("floor-child: Update → child → no-op activity", fcp, "", "")
	row("(b) escalations all at once (each alert)", bp, strconv.Itoa(bLost), strconv.Itoa(bDup))
	fmt.Fprintf(&t, "\nratio p95(a)/p95(floor) = %.2f (target ≤ 1.5); p95(a)/p95(floor-child) = %.2f\n", ratio, ratioChild)
	fmt.Fprintf(&t, "(b) last alert %.1f s after the burst began; all %d rating requests answered in %.1f s\n",
		bLastS, n, bAllSent.Sub(bStart).Seconds())
	if len(bTimes) > 0 {
		fmt.Fprintf(&t, "(b) first alert at +%.1f s; the alerts channel sat idle %.1f s in all, in %d gaps over 1.05 s: %s\n",
			bTimes[0].Sub(bStart).Seconds(), bIdle.Seconds(), len(bGaps), strings.Join(bGaps, "; "))
	}
	fmt.Fprintf(&t, "rating requests not answered 200: (a) %d, (b) %d; (a) rating request answered in p50 %.1f ms, p95 %.1f ms\n",
		badCodes(aCodes), badCodes(bCodes), ms(benchPercentiles(aHTTP).p50), ms(benchPercentiles(aHTTP).p95))
	fmt.Fprintf(&t, "(a) alerts held by the pacer (≤1.005 s after the previous alert): %d; (a) alerts missing at the deadline: %d\n", held, aMissing)
	taskDup := 0
	for _, c := range tasks {
		taskDup += c - 1
	}
	fmt.Fprintf(&t, "alert posts (dsr:acknowledge button) by channel %v; for %d people, %d distinct alert tasks, %d posts repeating a task\n",
		alertChannels, len(counts), len(tasks), taskDup)
	fmt.Fprintf(&t, "Slack calls by method and channel: %v\n", calls)
	fmt.Fprintf(&t, "Slack requests cancelled in flight (or failed) at the proxy: %d %v\n", len(proxyErrors), proxyErrors[:min(len(proxyErrors), 5)])
	fmt.Fprintf(&t, "dsr log lines during the run: %d warn, %d error\n",
		strings.Count(srv.logs.String(), `"level":"WARN"`), strings.Count(srv.logs.String(), `"level":"ERROR"`))

	// --- where the time goes ----------------------------------------------------
	t1s := func(people []int64) []time.Time {
		out := make([]time.Time, len(people))
		for i, p := range people {
			out[i] = rec.first(p)
		}
		return out
	}
	ids := func(k int, f func(int) []string) [][]string {
		out := make([][]string, k)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	fmt.Fprint(&t, benchBreakdown(b, tc, "(a) escalations", benchRatingAlertPath, aSent, t1s(aPeople),
		ids(n, func(i int) []string { return []string{workflows.PersonWorkflowID(aPeople[i])} })))
	fmt.Fprint(&t, floorBreakdown(b, tc, "floor", benchFloorPath, floor, func(id string) []string { return []string{id} }))
	fmt.Fprint(&t, floorBreakdown(b, tc, "floor-child", benchFloorChildPath, floorChild, func(id string) []string { return []string{id, id + "-child"} }))
	if med := benchMedianIndex(aPeople, aSent, rec); med >= 0 {
		id := aPeople[med]
		fmt.Fprintf(&t, "\n(a) median sample, every event: person %d (DSR-%d), latency %.1f ms\n%s", id, id,
			ms(rec.first(id).Sub(aSent[med])),
			benchTimeline(b, tc, aSent[med], rec.first(id), "rating request sent (bench client)", "alert chat.postMessage received (Slack API)",
				workflows.PersonWorkflowID(id), workflows.EscalationWorkflowID(id, 1)))
	}
	benchPrint(t.String())
	b.Logf("(a) p50 %.1f / p95 %.1f / p99 %.1f ms; floor p95 %.1f ms; ratio %.2f (target ≤ 1.5); (b) last alert %.1f s, lost %d, duplicated %d. Full report on stdout.",
		ms(ap.p50), ms(ap.p95), ms(ap.p99), ms(fp.p95), ratio, bLastS, bLost, bDup)
}

// --- the stack --------------------------------------------------------------

// benchCall is stack.call without a *testing.T, safe from any goroutine.
func benchCall(hc *http.Client, api, method, path, token string, body any) (int, []byte, error) {
	code, _, raw, err := benchCallWithKey(hc, api, method, path, token, "", body)
	return code, raw, err
}

// benchCallWithKey is benchCall sending an Idempotency-Key (unless key is
// empty), and also giving the answer's headers.
func benchCallWithKey(hc *http.Client, api, method, path, token, key string, body any) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, api+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw, err
}

// benchParallel runs f(0..n-1) on `workers` goroutines and fails on the
// first error.
func benchParallel(tb testing.TB, n, workers int, f func(i int) error) {
	tb.Helper()
	next := make(chan int)
	errc := make(chan error, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					errc <- err
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		tb.Fatal(err)
	}
}

// benchNHS returns the i'th of a run of valid NHS numbers (modulus 11 check
// digit), away from the ones the other tests use.
func benchNHS(i int) string {
	for stem := 600000000 + 3*i; ; stem++ {
		if n, ok := registertest.NHSNumber(stem); ok {
			return n
		}
	}
}

// benchName is a family name from i, in letters only.
func benchName(i int) string {
	name := []byte("Bench")
	for {
		name = append(name, byte('a'+i%26))
		i /= 26
		if i == 0 {
			return string(name)
		}
	}
}

// --- the Slack side: receipt times ------------------------------------------

// benchSlackRecorder stands in front of slackfake (which keeps no times): it
// notes when each chat.postMessage that is a red alert arrives, then passes
// the request on to slackfake unchanged.
type benchSlackRecorder struct {
	srv   *httptest.Server
	proxy *httputil.ReverseProxy

	mu          sync.Mutex
	alerts      map[int64][]time.Time // person → receipt times
	proxyErrors []string
}

func newBenchSlackRecorder(tb testing.TB, fake *slackfake.Server) *benchSlackRecorder {
	target, err := url.Parse(fake.GetAPIURL())
	if err != nil {
		tb.Fatal(err)
	}
	r := &benchSlackRecorder{proxy: httputil.NewSingleHostReverseProxy(target), alerts: map[int64][]time.Time{}}
	// A request the caller cancels in flight (a pacer write cut short by
	// the service stopping) is counted, not logged.
	r.proxy.ErrorHandler = func(w http.ResponseWriter, req *http.Request, err error) {
		r.mu.Lock()
		r.proxyErrors = append(r.proxyErrors, req.URL.Path+": "+err.Error())
		r.mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
	}
	r.srv = httptest.NewServer(r)
	tb.Cleanup(r.srv.Close)
	return r
}

// URL is for SLACK_API_URL.
func (r *benchSlackRecorder) URL() string { return r.srv.URL + "/" }

func (r *benchSlackRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	if strings.HasSuffix(req.URL.Path, "/chat.postMessage") {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if a, ok := parseBenchAlert(form.Get("text"), form.Get("blocks")); ok {
			r.mu.Lock()
			r.alerts[a.person] = append(r.alerts[a.person], now)
			r.mu.Unlock()
		}
	}
	r.proxy.ServeHTTP(w, req)
}

// first is when the person's first alert arrived (zero if none has).
func (r *benchSlackRecorder) first(person int64) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ts := r.alerts[person]; len(ts) > 0 {
		return ts[0]
	}
	return time.Time{}
}

// waitFor polls (every 10ms; the times themselves are taken on receipt)
// until every person has an alert, or the deadline.
func (r *benchSlackRecorder) waitFor(people []int64, deadline time.Time) {
	for time.Now().Before(deadline) {
		all := true
		for _, p := range people {
			if r.first(p).IsZero() {
				all = false
				break
			}
		}
		if all {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// latencies gives each person's first alert's time less the time the rating
// was sent, for those that have one, and how many have none.
func (r *benchSlackRecorder) latencies(people []int64, sent []time.Time) (lat []time.Duration, missing int) {
	for i, p := range people {
		t1 := r.first(p)
		if t1.IsZero() || sent[i].IsZero() {
			missing++
			continue
		}
		lat = append(lat, t1.Sub(sent[i]))
	}
	return lat, missing
}

type benchAlert struct {
	person int64 // from the DSR-<id> reference
	task   int64 // the acknowledge button's value
}

var (
	benchAckRE = regexp.MustCompile(`"action_id":"dsr:acknowledge"[^}]*?"value":"(\d+)"`)
	benchRefRE = regexp.MustCompile(`DSR-(\d+)`)
)

// parseBenchAlert recognises a red alert by its acknowledge button
// (action_id dsr:acknowledge), whatever the channel.
func parseBenchAlert(text, blocks string) (benchAlert, bool) {
	var a benchAlert
	m := benchAckRE.FindStringSubmatch(blocks)
	if m == nil {
		return a, false
	}
	a.task, _ = strconv.ParseInt(m[1], 10, 64)
	if m = benchRefRE.FindStringSubmatch(text); m == nil {
		if m = benchRefRE.FindStringSubmatch(blocks); m == nil {
			return a, false
		}
	}
	a.person, _ = strconv.ParseInt(m[1], 10, 64)
	return a, true
}

// --- the floor: an Update that runs one no-op activity ----------------------

const (
	benchFloorQueue       = "dsr-bench-floor"
	benchFloorWorkflow    = "BenchFloorWorkflow"
	benchFloorParent      = "BenchFloorChildParentWorkflow"
	benchFloorChild       = "BenchFloorChildWorkflow"
	benchFloorActivity    = "BenchFloorNoop"
	benchFloorUpdate      = "poke"
	benchFloorActivityTTL = 30 * time.Second
)

// benchFloorWF answers one Update, whose handler runs the no-op activity:
// the floor. Like a person's workflow, it then carries on (waits for a
// signal that never comes): closing it would add work on the server that
// the escalation path does not have.
func benchFloorWF(ctx workflow.Context) error {
	if err := workflow.SetUpdateHandler(ctx, benchFloorUpdate, func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: benchFloorActivityTTL})
		return workflow.ExecuteActivity(ctx, benchFloorActivity, workflow.GetInfo(ctx).WorkflowExecution.ID).Get(ctx, nil)
	}); err != nil {
		return err
	}
	workflow.GetSignalChannel(ctx, "never").Receive(ctx, nil)
	return nil
}

// benchFloorParentWF answers one Update, whose handler starts a child that
// runs the no-op activity first thing: the shape of the escalation path
// (rating Update → EscalationWorkflow child → RecordChange activity) with
// nothing else in it. Reported beside the floor, not instead of it. Parent
// and child carry on afterwards, as the person's workflow and the
// escalation do.
func benchFloorParentWF(ctx workflow.Context) error {
	if err := workflow.SetUpdateHandler(ctx, benchFloorUpdate, func(ctx workflow.Context) error {
		id := workflow.GetInfo(ctx).WorkflowExecution.ID
		ctx = workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: id + "-child", ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		})
		return workflow.ExecuteChildWorkflow(ctx, benchFloorChild, id).GetChildWorkflowExecution().Get(ctx, nil)
	}); err != nil {
		return err
	}
	workflow.GetSignalChannel(ctx, "never").Receive(ctx, nil)
	return nil
}

func benchFloorChildWF(ctx workflow.Context, key string) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: benchFloorActivityTTL})
	if err := workflow.ExecuteActivity(ctx, benchFloorActivity, key).Get(ctx, nil); err != nil {
		return err
	}
	workflow.GetSignalChannel(ctx, "never").Receive(ctx, nil)
	return nil
}

// benchFloorHits is the no-op activity: it notes when its body first ran
// for each key (the workflow that was Updated).
type benchFloorHits struct {
	mu   sync.Mutex
	hits map[string]time.Time
}

func (h *benchFloorHits) noop(_ context.Context, key string) error {
	now := time.Now()
	h.mu.Lock()
	if _, ok := h.hits[key]; !ok {
		h.hits[key] = now
	}
	h.mu.Unlock()
	return nil
}

func (h *benchFloorHits) at(key string) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits[key]
}

// startBenchFloorWorker runs the floors' worker (default options, as dsr's)
// on its own task queue.
func startBenchFloorWorker(tb testing.TB, tc client.Client) *benchFloorHits {
	tb.Helper()
	h := &benchFloorHits{hits: map[string]time.Time{}}
	w := sdkworker.New(tc, benchFloorQueue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(benchFloorWF, workflow.RegisterOptions{Name: benchFloorWorkflow})
	w.RegisterWorkflowWithOptions(benchFloorParentWF, workflow.RegisterOptions{Name: benchFloorParent})
	w.RegisterWorkflowWithOptions(benchFloorChildWF, workflow.RegisterOptions{Name: benchFloorChild})
	w.RegisterActivityWithOptions(h.noop, activity.RegisterOptions{Name: benchFloorActivity})
	if err := w.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(w.Stop)
	return h
}

// benchFloor is n workflows of one type, each waiting for its Update.
type benchFloor struct {
	hits *benchFloorHits
	ids  []string
	sent []time.Time
	errs []error
}

// startBenchFloor starts n workflows of workflowType and waits until each
// has completed its first workflow task, so it is in the worker's cache as
// the people's workflows are in dsr's.
func startBenchFloor(tb testing.TB, tc client.Client, hits *benchFloorHits, workflowType string, n int) *benchFloor {
	tb.Helper()
	f := &benchFloor{hits: hits, sent: make([]time.Time, n), errs: make([]error, n)}
	for i := range n {
		id := fmt.Sprintf("dsr-bench-%s-%d", strings.ToLower(workflowType), i)
		f.ids = append(f.ids, id)
		if _, err := tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: benchFloorQueue}, workflowType); err != nil {
			tb.Fatal(err)
		}
	}
	for _, id := range f.ids {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			d, err := tc.DescribeWorkflowExecution(context.Background(), id, "")
			if err == nil && d.GetPendingWorkflowTask() == nil && d.GetWorkflowExecutionInfo().GetHistoryLength() >= 4 {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("floor workflow %s did not start: %v", id, err)
			}
		}
	}
	return f
}

func (f *benchFloor) hit(i int) time.Time { return f.hits.at(f.ids[i]) }

// sample sends the i'th Update and waits for it to complete, as the API
// does, for up to benchFloorWithin; its latency is to the activity body
// (run reads them).
func (f *benchFloor) sample(tc client.Client, i int) {
	ctx, cancel := context.WithTimeout(context.Background(), benchFloorWithin)
	defer cancel()
	f.sent[i] = time.Now()
	h, err := tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: f.ids[i], UpdateName: benchFloorUpdate, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	f.errs[i] = err
}

// benchFloorWithin bounds one floor sample: a floor Update that has not
// answered by then is reported as failed, not waited for until the
// benchmark's own timeout.
const benchFloorWithin = time.Minute

// run sends the samples from the from'th on, one every pace, and returns
// the latencies of every sample (those before from sent by the caller).
func (f *benchFloor) run(tb testing.TB, tc client.Client, pace time.Duration, from int) []time.Duration {
	tb.Helper()
	var wg sync.WaitGroup
	tick := time.NewTicker(pace)
	for i := from; i < len(f.ids); i++ {
		if i > from {
			<-tick.C
		}
		wg.Add(1)
		go func() { defer wg.Done(); f.sample(tc, i) }()
	}
	tick.Stop()
	wg.Wait()
	// The child's activity may run just after the parent's Update answers.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if f.hit(len(f.ids) - 1).IsZero() {
			continue
		}
		break
	}
	var lat []time.Duration
	for i := range f.ids {
		if f.errs[i] != nil {
			tb.Errorf("floor update %s: %v", f.ids[i], f.errs[i])
			continue
		}
		if h := f.hit(i); !h.IsZero() {
			lat = append(lat, h.Sub(f.sent[i]))
		}
	}
	return lat
}

// --- figures --------------------------------------------------------------

type benchPct struct {
	n                  int
	p50, p95, p99, max time.Duration
}

// benchPercentiles by nearest rank.
func benchPercentiles(d []time.Duration) benchPct {
	if len(d) == 0 {
		return benchPct{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) time.Duration {
		k := int(math.Ceil(p/100*float64(len(s)))) - 1
		return s[max(0, min(k, len(s)-1))]
	}
	return benchPct{n: len(s), p50: at(50), p95: at(95), p99: at(99), max: s[len(s)-1]}
}

func benchMedianIndex(people []int64, sent []time.Time, rec *benchSlackRecorder) int {
	var idx []int
	for i, p := range people {
		if !rec.first(p).IsZero() {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return -1
	}
	lat := func(i int) time.Duration { return rec.first(people[i]).Sub(sent[i]) }
	slices.SortFunc(idx, func(a, b int) int { return int(lat(a) - lat(b)) })
	return idx[(len(idx)-1)/2]
}

// benchMarks are the first instants at or after since, in one workflow's
// history, of: "started" (WorkflowExecutionStarted), "wft_sched",
// "wft_started", "wft_completed" (its first workflow task then),
// "act_started" and "act_completed" (its first activity then).
func benchMarks(tc client.Client, workflowID string, since time.Time) (map[string]time.Time, error) {
	m := map[string]time.Time{}
	it := tc.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, err
		}
		at := ev.GetEventTime().AsTime()
		if at.Before(since) {
			continue
		}
		var name string
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			name = "started"
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			name = "wft_sched"
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			name = "wft_started"
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			name = "wft_completed"
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			name = "act_started"
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			name = "act_completed"
		default:
			continue
		}
		if _, seen := m[name]; !seen {
			m[name] = at
		}
	}
	return m, nil
}

// benchStep is one leg of a path: from one instant to the next.
type benchStep struct {
	what     string
	workflow int    // index into the sample's workflow IDs; -1: t0 or t1
	mark     string // benchMarks name
}

// The rating-and-alert path: the rating Update on the person's workflow,
// whose handler schedules RecordChange; that one transaction records the
// red rating with the escalation's first step (its alert) and queues the
// alert in the outbox. The outbox dispatcher, woken by PostgreSQL's NOTIFY
// at the commit, hands it to the Slack notifier, which posts it through the
// pacer, often before the activity's completion reaches Temporal: so the
// last leg is timed from the activity's start. The EscalationWorkflow is
// started after, to take the escalation on; the alert does not wait for it.
var benchRatingAlertPath = []benchStep{
	{"API, UpdateWorkflow → person WFT scheduled", 0, "wft_sched"},
	{"person WFT dispatch (scheduled → started)", 0, "wft_started"},
	{"person WFT: rate handler → RecordChange command", 0, "wft_completed"},
	{"RecordChange started (eager)", 0, "act_started"},
	{"RecordChange → outbox → Slack (dispatcher, notifier, pacer, HTTP)", -1, ""},
}

var benchFloorPath = []benchStep{
	{"UpdateWorkflow → WFT scheduled", 0, "wft_sched"},
	{"WFT dispatch (scheduled → started)", 0, "wft_started"},
	{"WFT: update handler → activity command", 0, "wft_completed"},
	{"activity started (eager)", 0, "act_started"},
	{"activity started → no-op body runs", -1, ""},
}

var benchFloorChildPath = []benchStep{
	{"UpdateWorkflow → parent WFT scheduled", 0, "wft_sched"},
	{"parent WFT dispatch (scheduled → started)", 0, "wft_started"},
	{"parent WFT: update handler → child command", 0, "wft_completed"},
	{"child start (parent WFT done → child started)", 1, "started"},
	{"child first WFT scheduled", 1, "wft_sched"},
	{"child WFT dispatch (scheduled → started)", 1, "wft_started"},
	{"child WFT → activity command", 1, "wft_completed"},
	{"activity started (eager)", 1, "act_started"},
	{"activity started → no-op body runs", -1, ""},
}

// benchBreakdown times each step of path for every sample (t0, t1 and its
// workflows) from the Temporal histories, and tabulates p50 and p95 of each.
func benchBreakdown(tb testing.TB, tc client.Client, title string, path []benchStep, t0, t1 []time.Time, workflowIDs [][]string) string {
	steps := make([][]time.Duration, len(path))
	used := 0
	for i := range t0 {
		if t0[i].IsZero() || t1[i].IsZero() {
			continue
		}
		var marks []map[string]time.Time
		ok := true
		for _, id := range workflowIDs[i] {
			m, err := benchMarks(tc, id, t0[i])
			if err != nil {
				tb.Logf("history of %s: %v", id, err)
				ok = false
				break
			}
			marks = append(marks, m)
		}
		if !ok {
			continue
		}
		at := make([]time.Time, len(path))
		for k, st := range path {
			if st.workflow < 0 {
				at[k] = t1[i]
			} else if at[k], ok = marks[st.workflow][st.mark]; !ok {
				break
			}
		}
		if !ok {
			continue
		}
		prev := t0[i]
		for k := range path {
			steps[k] = append(steps[k], at[k].Sub(prev))
			prev = at[k]
		}
		used++
	}
	var s strings.Builder
	fmt.Fprintf(&s, "\n%s: per step, from the Temporal histories of %d samples (one clock: the dev server is on this machine)\n", title, used)
	fmt.Fprintf(&s, "%-66s %9s %9s %7s\n", "step", "p50 ms", "p95 ms", "share")
	var total float64
	p50s := make([]float64, len(path))
	for k := range path {
		p50s[k] = float64(benchPercentiles(steps[k]).p50) / 1e6
		total += p50s[k]
	}
	for k, st := range path {
		p := benchPercentiles(steps[k])
		fmt.Fprintf(&s, "%-66s %9.2f %9.2f %6.0f%%\n", st.what, float64(p.p50)/1e6, float64(p.p95)/1e6, 100*p50s[k]/max(total, 1e-9))
	}
	fmt.Fprintf(&s, "%-66s %9.2f\n", "sum of step medians", total)
	return s.String()
}

// benchTimeline lists the events of the given workflows' histories between
// just before t0 and t1 on one clock (the dev server runs on this machine),
// as milliseconds after t0 and after the previous line: where the time went.
func benchTimeline(tb testing.TB, tc client.Client, t0, t1 time.Time, start, end string, workflowIDs ...string) string {
	type line struct {
		at   time.Time
		what string
	}
	lines := []line{{t0, start}, {t1, end}}
	for _, id := range workflowIDs {
		short := id
		it := tc.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		scheduled := map[int64]string{}
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				tb.Logf("history of %s: %v", id, err)
				break
			}
			at := ev.GetEventTime().AsTime()
			if at.Before(t0.Add(-time.Second)) || at.After(t1.Add(10*time.Second)) {
				continue
			}
			what := strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")
			switch {
			case ev.GetActivityTaskScheduledEventAttributes() != nil:
				name := ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
				scheduled[ev.GetEventId()] = name
				what += " " + name
			case ev.GetActivityTaskStartedEventAttributes() != nil:
				what += " " + scheduled[ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId()]
			case ev.GetActivityTaskCompletedEventAttributes() != nil:
				what += " " + scheduled[ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]
			case ev.GetMarkerRecordedEventAttributes() != nil:
				what += " " + ev.GetMarkerRecordedEventAttributes().GetMarkerName()
			case ev.GetWorkflowExecutionUpdateAcceptedEventAttributes() != nil:
				what += " " + ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName()
			}
			lines = append(lines, line{at, short + " #" + strconv.FormatInt(ev.GetEventId(), 10) + " " + what})
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
	var s strings.Builder
	fmt.Fprintf(&s, "%10s %10s  %s\n", "+ms", "Δms", "event")
	prev := t0
	for _, l := range lines {
		fmt.Fprintf(&s, "%10.1f %10.1f  %s\n", float64(l.at.Sub(t0))/1e6, float64(l.at.Sub(prev))/1e6, l.what)
		prev = l.at
	}
	return s.String()
}

// --- small things -------------------------------------------------------------

func benchEnvInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}

func benchEnvDuration(tb testing.TB, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		tb.Fatalf("%s=%q: want a positive Go duration such as 1.05s", name, v)
	}
	return d
}

// benchPrint writes to stdout: the testing package keeps only the first 10
// lines a benchmark logs.
func benchPrint(s string) { fmt.Println(s) }
