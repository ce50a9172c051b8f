package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/dsr-register/dsr/internal/slack/slackfake"
	"github.com/dsr-register/dsr/workflows"
)

// BenchmarkAlertsBusyMorning measures how long a red rating takes to reach
// Slack as an alert on a busy morning, beside a quiet one and beside
// Temporal's floor, all in one run on the local stack: the real Temporal dev
// server, real PostgreSQL, `dsr serve` in-process with Slack on
// (coordinators', alerts and managers' channels) and the recording Slack
// test server (slackfake), which stamps each call on receipt.
//
//	go test ./cmd/dsr -run '^$' -bench BusyMorning -benchtime 1x -timeout 40m
//
// Unlike BenchmarkEscalationLatency, everyone is onboarded through the API
// with Slack on, as a team would: referred, consented, rated green, each
// prompt posted and edited. Latency runs from just before the red rating
// request is sent to the Slack server's receipt of the alert's chat.postMessage
// (the message with the dsr:acknowledge button) in the alerts channel.
//
//	floor, floor-child: as in BenchmarkEscalationLatency (an Update running
//	    one no-op activity; one whose Update starts a child that runs it),
//	    DSR_BENCH_FLOOR_N samples each, taken in the quiet case's gaps (a
//	    floor, then a floor-child, a third of a gap apart after each red
//	    rating), so that whatever the machine does meanwhile reaches both;
//	    any beyond DSR_BENCH_N after it, one every DSR_BENCH_FLOOR_PACE;
//	quiet: DSR_BENCH_N people already on the register (their prompts
//	    delivered: /healthz shows nothing waiting) rated red one every
//	    DSR_BENCH_RED_GAP, nothing queued;
//	busy: DSR_BENCH_BURST new referrals POSTed as fast as the API takes them
//	    (DSR_BENCH_BURST_CLIENTS at a time), each opening a consent prompt in
//	    the coordinators' channel, DSR_BENCH_BURST_CONSENTS of them consented
//	    as they come (their prompts edited, first-rating prompts opened); and
//	    during it DSR_BENCH_BUSY_N red ratings, one every DSR_BENCH_BUSY_PACE,
//	    taking turns: a person already on the register, then a person
//	    referred in the burst (referred, consented, rated red at once). No
//	    two red ratings are sent less than DSR_BENCH_RED_GAP apart.
//
// Reported (stdout: the testing package keeps only 10 lines of a
// benchmark's log): alert p50/p95/max, count, lost and duplicated for quiet
// and busy; the floors' p50/p95; busy p95 / quiet p95 (target ≤ 1.5) and
// quiet p95 / floor p95 (target ≤ 2); how fast the routine burst drained,
// in posts a second per channel from the Slack server's receipt times
// (target ≥ 0.9), and when the last routine prompt landed. Nothing is
// asserted about time: this is a benchmark, it reports.
//
// Sizes (a quick look, about 3 minutes: DSR_BENCH_N=6 DSR_BENCH_BUSY_N=6
// DSR_BENCH_BURST=40 DSR_BENCH_FLOOR_N=10): DSR_BENCH_N (30),
// DSR_BENCH_BUSY_N (DSR_BENCH_N), DSR_BENCH_BURST (300),
// DSR_BENCH_BURST_CONSENTS (a fifth of the burst), DSR_BENCH_BURST_CLIENTS
// (16), DSR_BENCH_RED_GAP (1.2s), DSR_BENCH_BUSY_PACE (the burst's expected
// drain at one post a second, three quarters of it, shared among the busy
// ratings, so they fall across the whole burst; at least DSR_BENCH_RED_GAP),
// DSR_BENCH_FLOOR_N (DSR_BENCH_N), DSR_BENCH_FLOOR_PACE (500ms),
// DSR_BENCH_ALERT_WAIT (how long to wait for the alerts, and for the burst to
// drain, after the last request; default 1.5 s per routine post queued plus
// 2 minutes).
func BenchmarkAlertsBusyMorning(b *testing.B) {
	b.StopTimer()
	sz := busyMorningSizesFromEnv(b)
	setupStart := time.Now()
	m := startBusyMorning(b)

	// --- setup (not measured): the register as the team left it -----------
	existing := sz.quiet + (sz.busy+1)/2 + yesterdaysReds
	onboarded := m.onboard(b, 0, existing)
	quietPeople, busyExisting := onboarded[:sz.quiet], onboarded[sz.quiet:existing-yesterdaysReds]
	if err := m.settle(time.Now().Add(sz.alertWait)); err != nil {
		b.Fatalf("after onboarding %d people: %v", existing, err)
	}
	// A register in use has seen red ratings before this morning's: its
	// connections and statements have carried alerts already.
	yesterday := m.quietReds(onboarded[existing-yesterdaysReds:], sz.redGap, nil)
	m.waitForAlerts(sentPeople(yesterday), time.Now().Add(sz.alertWait))
	posted := firstAlerts(requestsOf(m.fake.Calls()))
	for _, s := range yesterday {
		if s.err != nil || s.code != 200 || posted[s.person].IsZero() {
			b.Fatalf("yesterday's red rating of person %d: %d, %v, alert posted at %v", s.person, s.code, s.err, posted[s.person])
		}
	}
	if err := m.settle(time.Now().Add(sz.alertWait)); err != nil {
		b.Fatalf("after yesterday's %d red ratings: %v", yesterdaysReds, err)
	}
	tc, err := client.Dial(client.Options{HostPort: m.hostPort, Namespace: "default",
		Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(tc.Close)
	hits := startBenchFloorWorker(b, tc)
	floor := startBenchFloor(b, tc, hits, benchFloorWorkflow, sz.floorN)
	floorChild := startBenchFloor(b, tc, hits, benchFloorParent, sz.floorN)
	setupTook := time.Since(setupStart)
	setupRequests := len(m.fake.Calls())

	b.StartTimer()

	// --- quiet: nothing queued; the floors in its gaps -----------------------
	// Each gap between two quiet red ratings holds a floor sample and then
	// a floor-child sample, so whatever the machine does meanwhile reaches
	// the floors and the alerts alike.
	interleaved := min(sz.quiet, sz.floorN)
	quiet := m.quietReds(quietPeople, sz.redGap, func(i int) {
		for _, f := range []*benchFloor{floor, floorChild} {
			time.Sleep(sz.redGap / 3)
			if i < interleaved {
				f.sample(tc, i)
			}
		}
	})
	floorLat := floor.run(b, tc, sz.floorPace, interleaved)
	floorChildLat := floorChild.run(b, tc, sz.floorPace, interleaved)
	m.waitForAlerts(sentPeople(quiet), time.Now().Add(sz.alertWait))
	if err := m.settle(time.Now().Add(sz.alertWait)); err != nil {
		b.Logf("after the quiet case: %v", err)
	}

	// --- busy: a burst of routine prompts in flight ------------------------
	busy := m.burstWithReds(b, sz, busyExisting, existing)
	m.waitForAlerts(sentPeople(busy.reds), time.Now().Add(sz.alertWait))
	m.waitForPrompts(busy.burstPeople, time.Now().Add(sz.alertWait))
	if err := m.settle(time.Now().Add(sz.alertWait)); err != nil {
		b.Logf("after the busy case: %v", err)
	}
	b.StopTimer()

	// --- figures ------------------------------------------------------------
	r := busyMorningReport{sizes: sz, setupTook: setupTook, setupPeople: existing, setupRequests: setupRequests,
		floor: benchPercentiles(floorLat), floorChild: benchPercentiles(floorChildLat)}
	calls := m.fake.Calls()
	r.quiet = m.alertFigures(quiet, calls)
	r.busy = m.alertFigures(busy.reds, calls)
	r.busyExisting = m.alertFigures(filterReds(busy.reds, redExisting), calls)
	r.busyReferred = m.alertFigures(filterReds(busy.reds, redReferredInBurst), calls)
	r.burst = m.burstFigures(busy, calls)
	r.logs = m.srv.logs.String()
	firsts := firstAlerts(requestsOf(calls))
	r.busySamples = sampleLines(busy, firsts)
	r.quietSamples = quietLines(quiet, firsts)
	for _, s := range append(slices.Clone(quiet), busy.reds...) {
		if s.err != nil {
			b.Logf("%s, person %d: %v", s.kind, s.person, s.err)
		}
	}
	r.retries = m.retries.Load()
	for _, c := range []struct {
		title string
		reds  []redSample
	}{{"quiet", quiet}, {"busy, already on the register", filterReds(busy.reds, redExisting)},
		{"busy, referred in the burst", filterReds(busy.reds, redReferredInBurst)}} {
		r.breakdowns += ratingAlertBreakdown(b, tc, c.title, c.reds, firsts)
	}
	r.breakdowns += floorBreakdown(b, tc, "floor", benchFloorPath, floor, func(id string) []string { return []string{id} })
	r.breakdowns += floorBreakdown(b, tc, "floor-child", benchFloorChildPath, floorChild, func(id string) []string { return []string{id, id + "-child"} })
	benchPrint(r.table() + r.breakdowns)
	r.reportMetrics(b)
	// Times are reported, not asserted; what was lost or sent twice is a
	// broken promise whatever the timing.
	if n := r.quiet.lost + r.busy.lost; n > 0 {
		b.Errorf("%d red alerts never reached the alerts channel (within DSR_BENCH_ALERT_WAIT=%s)", n, sz.alertWait)
	}
	if n := r.quiet.duplicated + r.busy.duplicated + r.burst.duplicatedPosts; n > 0 {
		b.Errorf("%d Slack posts repeated one already made (alerts %d, prompts %d)", n, r.quiet.duplicated+r.busy.duplicated, r.burst.duplicatedPosts)
	}
	if r.burst.promptsLost > 0 {
		b.Errorf("%d referrals of the burst never had their consent prompt posted", r.burst.promptsLost)
	}
	if n := r.quiet.refused + r.busy.refused + r.burst.failed; n > 0 {
		b.Errorf("%d requests of the team's were not answered as they should be (see the log above)", n)
	}
	b.Logf("quiet p95 %.0f ms, busy p95 %.0f ms (×%.2f, target ≤ 1.5); floor p95 %.0f ms (quiet ×%.2f, target ≤ 2); burst drained at %.2f posts/s; lost %d, duplicated %d. Full report on stdout.",
		millis(r.quiet.pct.p95), millis(r.busy.pct.p95), r.busyOverQuiet(), millis(r.floor.p95), r.quietOverFloor(),
		r.burst.drainRate, r.quiet.lost+r.busy.lost, r.quiet.duplicated+r.busy.duplicated)
}

const (
	busyCoordinatorsChannel = "C-DSR" // slackEnv's
	busyAlertsChannel       = "C-DSR-ALERTS"
	busyManagersChannel     = "C-DSR-MANAGERS"
)

type busyMorningSizes struct {
	quiet, busy, burst, burstConsents, burstClients, floorN int
	redGap, busyPace, floorPace, alertWait                  time.Duration
}

// yesterdaysReds is how many people the setup rates red before the
// morning begins (not measured).
const yesterdaysReds = 3

func busyMorningSizesFromEnv(tb testing.TB) busyMorningSizes {
	var sz busyMorningSizes
	sz.quiet = benchEnvInt(tb, "DSR_BENCH_N", 30)
	sz.busy = benchEnvInt(tb, "DSR_BENCH_BUSY_N", sz.quiet)
	sz.burst = benchEnvInt(tb, "DSR_BENCH_BURST", 300)
	sz.burstConsents = min(sz.burst, benchEnvCount(tb, "DSR_BENCH_BURST_CONSENTS", sz.burst/5))
	sz.burstClients = benchEnvInt(tb, "DSR_BENCH_BURST_CLIENTS", 16)
	sz.floorN = benchEnvInt(tb, "DSR_BENCH_FLOOR_N", sz.quiet)
	sz.redGap = benchEnvDuration(tb, "DSR_BENCH_RED_GAP", 1200*time.Millisecond)
	// The burst's routine posts go one a second to the coordinators'
	// channel: spread the busy ratings over the first three quarters of it,
	// so they meet the backlog deep and shallow.
	drain := time.Duration(sz.burst+sz.burstConsents) * time.Second
	sz.busyPace = benchEnvDuration(tb, "DSR_BENCH_BUSY_PACE", max(sz.redGap, drain*3/4/time.Duration(sz.busy)))
	sz.floorPace = benchEnvDuration(tb, "DSR_BENCH_FLOOR_PACE", 500*time.Millisecond)
	queued := sz.burst + sz.burstConsents + 3*(sz.quiet+sz.busy)
	sz.alertWait = benchEnvDuration(tb, "DSR_BENCH_ALERT_WAIT", time.Duration(queued)*1500*time.Millisecond+2*time.Minute)
	return sz
}

// benchEnvCount is benchEnvInt that also allows 0.
func benchEnvCount(tb testing.TB, name string, def int) int {
	if os.Getenv(name) == "0" {
		return 0
	}
	return benchEnvInt(tb, name, def)
}

// busyMorning is the stack under test and the client side of the team.
type busyMorning struct {
	hostPort string
	srv      *served
	fake     *slackfake.Server
	hc       *http.Client
	today    string
	gate     redGate
	run      string       // in every Idempotency-Key
	retries  atomic.Int64 // requests sent again after a 503 or no answer
}

func startBusyMorning(tb testing.TB) *busyMorning {
	tb.Helper()
	hostPort, dbURL := localStack(tb)
	fake := slackfake.New(tb)
	env := slackEnv(fake, map[string]string{
		"SLACK_CHANNEL_ALERTS":   busyAlertsChannel,
		"SLACK_CHANNEL_MANAGERS": busyManagersChannel,
		"SLACK_MANAGERS":         "U-MARIA:maria",
	})
	for k, v := range serveEnv(tb, hostPort, dbURL, "dsr-bench-busy") {
		env[k] = v
	}
	return &busyMorning{
		hostPort: hostPort,
		srv:      serveInProcess(tb, env),
		fake:     fake,
		hc:       &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 5 * time.Minute}},
		today:    time.Now().UTC().Format("2006-01-02"),
		run:      strconv.FormatInt(time.Now().UnixNano(), 36),
	}
}

// send is one of the team's requests, as a careful client makes it: with an
// Idempotency-Key, sent again with the same key when the service says it is
// busy (503, after its Retry-After) or does not answer, for up to a minute.
func (m *busyMorning) send(method, path, key string, body any) (int, []byte, error) {
	key = "bench-busy-" + m.run + "-" + key
	for deadline := time.Now().Add(time.Minute); ; {
		code, hdr, raw, err := benchCallWithKey(m.hc, m.srv.api, method, path, coordToken, key, body)
		if (err == nil && code != http.StatusServiceUnavailable) || time.Now().After(deadline) {
			return code, raw, err
		}
		m.retries.Add(1)
		wait := time.Second
		if s, perr := strconv.Atoi(hdr.Get("Retry-After")); perr == nil && s > 0 {
			wait = min(time.Duration(s)*time.Second, 5*time.Second)
		}
		time.Sleep(wait)
	}
}

// --- the team's side: the API --------------------------------------------

// refer refers the i'th benchmark person and returns their ID.
func (m *busyMorning) refer(i int) (int64, error) {
	code, raw, err := m.send("POST", "/api/v1/referrals", fmt.Sprintf("refer-%d", i), referral("Bench", benchName(i), "1980-01-01", benchNHS(i)))
	if err != nil || code != 201 {
		return 0, fmt.Errorf("referral %d: %d %s %v", i, code, raw, err)
	}
	var body struct {
		PersonID int64 `json:"person_id"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.PersonID == 0 {
		return 0, fmt.Errorf("referral %d: %s", i, raw)
	}
	return body.PersonID, nil
}

func (m *busyMorning) consent(id int64) error {
	code, raw, err := m.send("POST", fmt.Sprintf("/api/v1/people/%d/consent", id), fmt.Sprintf("consent-%d", id),
		map[string]any{"basis": "self", "decided_on": m.today})
	if err != nil || code != 200 {
		return fmt.Errorf("consent %d: %d %s %v", id, code, raw, err)
	}
	return nil
}

func (m *busyMorning) rate(id int64, rating, why string) (int, error) {
	code, raw, err := m.send("POST", fmt.Sprintf("/api/v1/people/%d/rating", id), fmt.Sprintf("rate-%d-%s", id, rating),
		map[string]any{"rating": rating, "rationale": why})
	if err == nil && code != 200 {
		err = fmt.Errorf("rate %d %s: %d %s", id, rating, code, raw)
	}
	return code, err
}

// waitForTask polls until the person has an open task of kind: the
// workflow opens the first-rating task just after answering consent.
func (m *busyMorning) waitForTask(id int64, kind string, deadline time.Time) error {
	for {
		code, raw, err := benchCall(m.hc, m.srv.api, "GET", fmt.Sprintf("/api/v1/tasks?status=open&person_id=%d", id), coordToken, nil)
		if err == nil && code == 200 && strings.Contains(string(raw), `"`+kind+`"`) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("person %d: no open %s task: %d %s %v", id, kind, code, raw, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// onboard brings count people onto the register as a team would, with
// Slack on: referred, consented, rated green once their first-rating prompt
// is open. first numbers their NHS numbers and names.
func (m *busyMorning) onboard(tb testing.TB, first, count int) []int64 {
	tb.Helper()
	people := make([]int64, count)
	benchParallel(tb, count, 8, func(i int) error {
		id, err := m.refer(first + i)
		if err != nil {
			return err
		}
		people[i] = id
		if err := m.consent(id); err != nil {
			return err
		}
		if err := m.waitForTask(id, "review_due", time.Now().Add(time.Minute)); err != nil {
			return err
		}
		_, err = m.rate(id, "green", "benchmark baseline")
		return err
	})
	return people
}

// backlog is what /healthz says is waiting to be delivered.
func (m *busyMorning) backlog() (int, error) {
	code, raw, err := benchCall(m.hc, m.srv.api, "GET", "/healthz", "", nil)
	if err != nil {
		return 0, err
	}
	var h struct {
		Notifications *struct {
			Waiting *int `json:"waiting"`
		} `json:"notifications"`
	}
	if err := json.Unmarshal(raw, &h); err != nil || h.Notifications == nil || h.Notifications.Waiting == nil {
		return 0, fmt.Errorf("/healthz: %d %s: no notifications.waiting", code, raw)
	}
	return *h.Notifications.Waiting, nil
}

// settle waits until the outbox is empty and Slack has heard nothing for a
// second (an edit or a permalink look-up may follow the last delivery).
func (m *busyMorning) settle(deadline time.Time) error {
	for {
		waiting, err := m.backlog()
		if err == nil && waiting == 0 && time.Since(m.lastCall()) > time.Second {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("notifications still waiting at the deadline: %d (%v)", waiting, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitForPrompts waits until every person has had a consent prompt posted.
func (m *busyMorning) waitForPrompts(people []int64, deadline time.Time) {
	for time.Now().Before(deadline) {
		if len(firstPromptTimes(m.requests(), people)) == len(people) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitForAlerts waits until every person's alert has reached the alerts
// channel.
func (m *busyMorning) waitForAlerts(people []int64, deadline time.Time) {
	for time.Now().Before(deadline) {
		firsts := firstAlerts(m.requests())
		if !slices.ContainsFunc(people, func(p int64) bool { return firsts[p].IsZero() }) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lastCall is when Slack last heard from dsr (zero if never).
func (m *busyMorning) lastCall() time.Time {
	calls := m.fake.Calls()
	if len(calls) == 0 {
		return time.Time{}
	}
	return calls[len(calls)-1].At
}

func (m *busyMorning) requests() []benchSlackRequest { return requestsOf(m.fake.Calls()) }

// benchSlackRequest is one Slack API call as the Slack server received it,
// with what the benchmark reads from it.
type benchSlackRequest struct {
	at      time.Time // slackfake's stamp on receipt
	method  string    // chat.postMessage, chat.update, chat.getPermalink, …
	channel string
	reply   bool  // a reply in a thread (a chaser or re-alert)
	person  int64 // from the register reference in the text; 0 if none
	task    int64 // the first button's task ID; 0 for a message without buttons
	alert   bool  // a red alert: it has the dsr:acknowledge button
	ts      string
}

var benchButtonRE = regexp.MustCompile(`"action_id":"dsr:[a-z_]+"[^}]*?"value":"(\d+)"`)

func requestsOf(calls []slackfake.Call) []benchSlackRequest {
	out := make([]benchSlackRequest, len(calls))
	for i, c := range calls {
		r := benchSlackRequest{at: c.At, method: c.Method, channel: c.Channel, reply: c.ThreadTS != "", ts: c.TS}
		if m := benchRefRE.FindStringSubmatch(c.Text + " " + c.Blocks); m != nil {
			r.person, _ = strconv.ParseInt(m[1], 10, 64)
		}
		if m := benchButtonRE.FindStringSubmatch(c.Blocks); m != nil {
			r.task, _ = strconv.ParseInt(m[1], 10, 64)
		}
		_, r.alert = parseBenchAlert(c.Text, c.Blocks)
		out[i] = r
	}
	return out
}

// firstAlerts is when each person's first red alert reached the alerts
// channel.
func firstAlerts(log []benchSlackRequest) map[int64]time.Time {
	out := map[int64]time.Time{}
	for _, r := range log {
		if r.method != "chat.postMessage" || r.reply || !r.alert || r.channel != busyAlertsChannel {
			continue
		}
		if _, seen := out[r.person]; !seen {
			out[r.person] = r.at
		}
	}
	return out
}

// --- red ratings ------------------------------------------------------------

type redKind string

const (
	redQuiet           redKind = "quiet"
	redExisting        redKind = "already on the register"
	redReferredInBurst redKind = "referred in the burst"
)

// redSample is one red rating: whose, when it was sent, how it was answered.
type redSample struct {
	kind     redKind
	person   int64
	sent     time.Time
	code     int
	answered time.Duration
	err      error
}

// redGate keeps red ratings at least gap apart, whoever sends them.
type redGate struct {
	mu   sync.Mutex
	last time.Time
	gap  time.Duration
}

// pass blocks until gap has passed since the last rating let through.
func (g *redGate) pass() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if wait := time.Until(g.last.Add(g.gap)); wait > 0 {
		time.Sleep(wait)
	}
	g.last = time.Now()
}

// rateRed sends the red rating and notes it in s. The caller has passed
// the gate.
func (m *busyMorning) rateRed(s *redSample) {
	s.sent = time.Now()
	s.code, s.err = m.rate(s.person, "red", "benchmark escalation")
	s.answered = time.Since(s.sent)
}

// quietReds rates each person red, one every gap, with nothing queued;
// between, if set, runs after the i'th is sent (within the gap that
// follows it).
func (m *busyMorning) quietReds(people []int64, gap time.Duration, between func(i int)) []redSample {
	m.gate.gap = gap
	out := make([]redSample, len(people))
	var wg sync.WaitGroup
	for i, p := range people {
		out[i] = redSample{kind: redQuiet, person: p}
		m.gate.pass()
		wg.Add(1)
		go func() { defer wg.Done(); m.rateRed(&out[i]) }()
		if between != nil {
			between(i)
		}
	}
	wg.Wait()
	return out
}

// busyRun is what the busy case did.
type busyRun struct {
	start       time.Time
	burstPeople []int64 // the routine burst's referrals
	burstSent   time.Duration
	burstErrors []error
	consented   int
	reds        []redSample
}

// burstWithReds runs the burst and, during it, the busy red ratings.
func (m *busyMorning) burstWithReds(tb testing.TB, sz busyMorningSizes, existing []int64, firstNew int) *busyRun {
	run := &busyRun{start: time.Now(), burstPeople: make([]int64, sz.burst)}
	var errMu sync.Mutex
	fail := func(err error) {
		errMu.Lock()
		run.burstErrors = append(run.burstErrors, err)
		errMu.Unlock()
	}

	// The burst: referrals as fast as the API takes them; every so often
	// one consented as soon as it is referred.
	var burstWG sync.WaitGroup
	next := make(chan int)
	var consented sync.Map
	for range sz.burstClients {
		burstWG.Add(1)
		go func() {
			defer burstWG.Done()
			for i := range next {
				id, err := m.refer(firstNew + i)
				if err != nil {
					fail(err)
					continue
				}
				run.burstPeople[i] = id
				if i*sz.burstConsents/sz.burst != (i+1)*sz.burstConsents/sz.burst {
					if err := m.consent(id); err != nil {
						fail(err)
						continue
					}
					consented.Store(i, true)
				}
			}
		}()
	}
	go func() {
		for i := range sz.burst {
			next <- i
		}
		close(next)
	}()
	burstDone := make(chan struct{})
	go func() {
		burstWG.Wait()
		run.burstSent = time.Since(run.start)
		close(burstDone)
	}()

	// The red ratings, taking turns, one every busyPace.
	m.gate.gap = sz.redGap
	run.reds = make([]redSample, sz.busy)
	var redWG sync.WaitGroup
	newIndex := firstNew + sz.burst
	for i := range sz.busy {
		time.Sleep(time.Until(run.start.Add(time.Duration(i) * sz.busyPace)))
		s := &run.reds[i]
		redWG.Add(1)
		if i%2 == 0 {
			s.kind, s.person = redExisting, existing[i/2]
			m.gate.pass()
			go func() { defer redWG.Done(); m.rateRed(s) }()
			continue
		}
		s.kind = redReferredInBurst
		idx := newIndex
		newIndex++
		go func() {
			defer redWG.Done()
			id, err := m.refer(idx)
			if err == nil {
				s.person = id
				err = m.consent(id)
			}
			if err != nil {
				s.err = err
				return
			}
			m.gate.pass()
			m.rateRed(s)
		}()
	}
	<-burstDone
	redWG.Wait()
	consented.Range(func(_, _ any) bool { run.consented++; return true })
	if len(run.burstErrors) > 0 {
		tb.Logf("burst: %d requests failed, the first: %v", len(run.burstErrors), run.burstErrors[0])
	}
	return run
}

func sentPeople(reds []redSample) []int64 {
	var out []int64
	for _, s := range reds {
		if !s.sent.IsZero() {
			out = append(out, s.person)
		}
	}
	return out
}

func filterReds(reds []redSample, kind redKind) []redSample {
	var out []redSample
	for _, s := range reds {
		if s.kind == kind {
			out = append(out, s)
		}
	}
	return out
}

// --- figures ------------------------------------------------------------------

// alertFigures are one case's alerts as the Slack server received them.
type alertFigures struct {
	count      int // red ratings sent
	refused    int // not answered 200 (or not sent: the referral or consent before it failed)
	pct        benchPct
	lost       int // answered 200, no alert in the alerts channel by the deadline
	duplicated int // alert posts beyond one per person
	elsewhere  int // alerts posted to another channel
	answered   benchPct
}

func (m *busyMorning) alertFigures(reds []redSample, calls []slackfake.Call) alertFigures {
	firsts := firstAlerts(requestsOf(calls))
	posts := map[int64]int{}
	elsewhere := map[int64]int{}
	for _, c := range calls {
		if c.Method != "chat.postMessage" || c.ThreadTS != "" {
			continue
		}
		a, ok := parseBenchAlert(c.Text, c.Blocks)
		if !ok {
			continue
		}
		if c.Channel == busyAlertsChannel {
			posts[a.person]++
		} else {
			elsewhere[a.person]++
		}
	}
	var f alertFigures
	var lat, answered []time.Duration
	for _, s := range reds {
		f.count++
		if s.sent.IsZero() || s.code != 200 {
			f.refused++
			continue
		}
		answered = append(answered, s.answered)
		f.elsewhere += elsewhere[s.person]
		switch n := posts[s.person]; {
		case n == 0:
			f.lost++
			continue
		case n > 1:
			f.duplicated += n - 1
		}
		if t1 := firsts[s.person]; !t1.IsZero() {
			lat = append(lat, t1.Sub(s.sent))
		}
	}
	f.pct, f.answered = benchPercentiles(lat), benchPercentiles(answered)
	return f
}

// burstFigures is how the routine burst drained.
type burstFigures struct {
	referred, consented, failed int
	sentIn                      time.Duration // all burst requests answered
	prompts, promptsLost        int
	firstPrompt, lastPrompt     time.Duration // consent prompts, after the burst began
	lastPost, lastRequest       time.Duration // any post, any request (an edit) for the burst's people
	drainRate                   float64       // coordinators' channel, posts a second while the burst drained
	channels                    []channelFigures
	duplicatedPosts             int      // routine prompts posted again (buttons carry the task ID), in the whole run
	edits                       int      // chat.update in the coordinators' channel while the burst drained
	editLag                     benchPct // the burst's people's messages: posted → edited
}

// channelFigures are one channel's Slack requests while the burst drained.
type channelFigures struct {
	channel        string
	posts, updates int
	span           time.Duration // first post to last post
	rate           float64       // posts a second over span
}

func (m *busyMorning) burstFigures(run *busyRun, calls []slackfake.Call) burstFigures {
	log := requestsOf(calls)
	f := burstFigures{consented: run.consented, failed: len(run.burstErrors), sentIn: run.burstSent}
	var people []int64
	for _, p := range run.burstPeople {
		if p != 0 {
			people = append(people, p)
		}
	}
	f.referred = len(people)
	prompts := firstPromptTimes(log, people)
	f.prompts, f.promptsLost = len(prompts), len(people)-len(prompts)
	var firstPrompt, lastPrompt time.Time
	for _, at := range prompts {
		if firstPrompt.IsZero() || at.Before(firstPrompt) {
			firstPrompt = at
		}
		if at.After(lastPrompt) {
			lastPrompt = at
		}
	}
	if !firstPrompt.IsZero() {
		f.firstPrompt, f.lastPrompt = firstPrompt.Sub(run.start), lastPrompt.Sub(run.start)
	}
	// The burst drains from its first prompt to the last thing told about
	// its people: their consent prompts, and for those consented the edits
	// closing them and their first-rating prompts.
	first, last := burstWindow(log, people)
	for _, r := range log {
		if r.person != 0 && slices.Contains(people, r.person) && r.method == "chat.postMessage" && r.at.After(run.start) {
			f.lastPost = max(f.lastPost, r.at.Sub(run.start))
		}
	}
	if !last.IsZero() {
		f.lastRequest = last.Sub(run.start)
	}

	byChannel := map[string]*channelFigures{}
	var firstPost, lastPost = map[string]time.Time{}, map[string]time.Time{}
	for _, r := range log {
		if r.at.Before(first) || r.at.After(last) || r.channel == "" {
			continue
		}
		c := byChannel[r.channel]
		if c == nil {
			c = &channelFigures{channel: r.channel}
			byChannel[r.channel] = c
		}
		switch r.method {
		case "chat.postMessage":
			c.posts++
			if firstPost[r.channel].IsZero() {
				firstPost[r.channel] = r.at
			}
			lastPost[r.channel] = r.at
		case "chat.update":
			c.updates++
		}
	}
	for ch, c := range byChannel {
		c.span = lastPost[ch].Sub(firstPost[ch])
		if c.posts > 1 && c.span > 0 {
			c.rate = float64(c.posts-1) / c.span.Seconds()
		}
		f.channels = append(f.channels, *c)
	}
	slices.SortFunc(f.channels, func(a, b channelFigures) int { return strings.Compare(a.channel, b.channel) })
	if c := byChannel[busyCoordinatorsChannel]; c != nil {
		f.drainRate, f.edits = c.rate, c.updates
	} else {
		f.drainRate = math.NaN()
	}

	// An edit can go as soon as its message is posted (the task closed
	// before that, or at once after): how long after did it?
	posted := map[string]time.Time{}
	var lags []time.Duration
	for _, r := range log {
		if r.person == 0 || !slices.Contains(people, r.person) {
			continue
		}
		switch r.method {
		case "chat.postMessage":
			posted[r.ts] = r.at
		case "chat.update":
			if at, ok := posted[r.ts]; ok {
				lags = append(lags, r.at.Sub(at))
			}
		}
	}
	f.editLag = benchPercentiles(lags)

	// Duplicates as the Slack server holds them: two posts of one task.
	perTask := map[int64]int{}
	for _, r := range log {
		// Alerts are counted with the alerts.
		if r.method == "chat.postMessage" && !r.reply && !r.alert && r.task != 0 {
			perTask[r.task]++
		}
	}
	for _, n := range perTask {
		f.duplicatedPosts += n - 1
	}
	return f
}

// sampleLines lists each busy red rating: which kind, when it was sent in
// the burst, and how long its alert took.
func sampleLines(run *busyRun, firsts map[int64]time.Time) []string {
	var out []string
	for _, s := range run.reds {
		kind := "E"
		if s.kind == redReferredInBurst {
			kind = "R"
		}
		out = append(out, fmt.Sprintf("%s+%.0f→%s", kind, s.sent.Sub(run.start).Seconds(), alertMillis(s, firsts)))
	}
	return out
}

// quietLines lists each quiet red rating's alert latency in the order
// sent, so a slow one can be told from a slow run.
func quietLines(reds []redSample, firsts map[int64]time.Time) []string {
	var out []string
	for _, s := range reds {
		out = append(out, alertMillis(s, firsts))
	}
	return out
}

// alertMillis is how long a red rating's alert took, in whole ms, or "lost".
func alertMillis(s redSample, firsts map[int64]time.Time) string {
	if t1 := firsts[s.person]; !t1.IsZero() && !s.sent.IsZero() {
		return strconv.FormatInt(t1.Sub(s.sent).Milliseconds(), 10)
	}
	return "lost"
}

// burstWindow is from the first to the last Slack request about any of
// people (zero times if there was none).
func burstWindow(log []benchSlackRequest, people []int64) (first, last time.Time) {
	for _, r := range log {
		if r.person == 0 || !slices.Contains(people, r.person) {
			continue
		}
		if first.IsZero() {
			first = r.at
		}
		last = r.at
	}
	return first, last
}

// firstPromptTimes is when each person's first message in the
// coordinators' channel was posted, for those who have one. For someone
// referred, that is their consent prompt: it is the first thing they are
// told, and has buttons unless consent was recorded before it went out.
func firstPromptTimes(log []benchSlackRequest, people []int64) map[int64]time.Time {
	want := map[int64]bool{}
	for _, p := range people {
		want[p] = true
	}
	out := map[int64]time.Time{}
	for _, r := range log {
		if r.method != "chat.postMessage" || r.reply || r.channel != busyCoordinatorsChannel || !want[r.person] {
			continue
		}
		if _, seen := out[r.person]; !seen {
			out[r.person] = r.at
		}
	}
	return out
}

// --- the report -----------------------------------------------------------------

type busyMorningReport struct {
	sizes                                   busyMorningSizes
	setupTook                               time.Duration
	setupPeople, setupRequests              int
	floor, floorChild                       benchPct
	quiet, busy, busyExisting, busyReferred alertFigures
	burst                                   burstFigures
	logs                                    string
	busySamples                             []string
	quietSamples                            []string
	breakdowns                              string
	retries                                 int64
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratioOf(a, b time.Duration) float64 {
	if a <= 0 || b <= 0 { // no samples
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func (r busyMorningReport) busyOverQuiet() float64  { return ratioOf(r.busy.pct.p95, r.quiet.pct.p95) }
func (r busyMorningReport) quietOverFloor() float64 { return ratioOf(r.quiet.pct.p95, r.floor.p95) }

func (r busyMorningReport) table() string {
	sz := r.sizes
	var t strings.Builder
	fmt.Fprintf(&t, "\nBenchmarkAlertsBusyMorning: red rating request sent → alert chat.postMessage received by the Slack server (slackfake's stamp; alerts channel)\n")
	fmt.Fprintf(&t, "setup: %d people onboarded with Slack on, %d of them rated red as yesterday's work (%d Slack requests) in %s; GOMAXPROCS %d, %d CPUs; Temporal dev server, PostgreSQL, dsr, Slack fake and this benchmark on one machine\n",
		r.setupPeople, yesterdaysReds, r.setupRequests, r.setupTook.Round(time.Second), runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(&t, "quiet: %d red, ≥ %s apart, nothing queued; busy: %d referrals (%d consented) from %d clients, and %d red one every %s (taking turns: already on the register / referred in the burst)\n\n",
		sz.quiet, sz.redGap, sz.burst, sz.burstConsents, sz.burstClients, sz.busy, sz.busyPace)

	fmt.Fprintf(&t, "| %-46s | %5s | %8s | %8s | %8s | %4s | %4s | %7s |\n", "alerts", "count", "p50 ms", "p95 ms", "max ms", "lost", "dup", "refused")
	fmt.Fprintf(&t, "|%s|%s|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 48), strings.Repeat("-", 7), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 6), strings.Repeat("-", 6), strings.Repeat("-", 9))
	row := func(name string, f alertFigures) {
		if f.pct.n == 0 {
			fmt.Fprintf(&t, "| %-46s | %5d | %8s | %8s | %8s | %4d | %4d | %7d |\n", name, f.count, "-", "-", "-", f.lost, f.duplicated, f.refused)
			return
		}
		fmt.Fprintf(&t, "| %-46s | %5d | %8.0f | %8.0f | %8.0f | %4d | %4d | %7d |\n", name, f.count, millis(f.pct.p50), millis(f.pct.p95), millis(f.pct.max), f.lost, f.duplicated, f.refused)
	}
	row("quiet: on the register, nothing queued", r.quiet)
	row("busy: all", r.busy)
	row("busy: already on the register", r.busyExisting)
	row("busy: referred in the burst, consented, red", r.busyReferred)
	frow := func(name string, p benchPct) {
		fmt.Fprintf(&t, "| %-46s | %5d | %8.1f | %8.1f | %8.1f | %4s | %4s | %7s |\n", name, p.n, millis(p.p50), millis(p.p95), millis(p.max), "", "", "")
	}
	frow("floor: Update → no-op activity", r.floor)
	frow("floor-child: Update → child → no-op activity", r.floorChild)

	fmt.Fprintf(&t, "\nbusy p95 / quiet p95 = %.2f (target ≤ 1.5); quiet p95 / floor p95 = %.2f (target ≤ 2); quiet p95 / floor-child p95 = %.2f\n",
		r.busyOverQuiet(), r.quietOverFloor(), ratioOf(r.quiet.pct.p95, r.floorChild.p95))
	fmt.Fprintf(&t, "red rating requests answered in: quiet p50 %.0f / p95 %.0f ms; busy p50 %.0f / p95 %.0f ms\n",
		millis(r.quiet.answered.p50), millis(r.quiet.answered.p95), millis(r.busy.answered.p50), millis(r.busy.answered.p95))
	if n := r.quiet.elsewhere + r.busy.elsewhere; n > 0 {
		fmt.Fprintf(&t, "alerts posted outside the alerts channel: %d\n", n)
	}

	b := r.burst
	fmt.Fprintf(&t, "\nroutine burst: %d referred (%d consented, %d requests failed), all answered in %.1f s; %d consent prompts posted, %d lost\n",
		b.referred, b.consented, b.failed, b.sentIn.Seconds(), b.prompts, b.promptsLost)
	fmt.Fprintf(&t, "after the burst began: first consent prompt landed at +%.1f s, the last at +%.1f s; the last post for the burst's people at +%.1f s, the last edit or post at +%.1f s\n",
		b.firstPrompt.Seconds(), b.lastPrompt.Seconds(), b.lastPost.Seconds(), b.lastRequest.Seconds())
	fmt.Fprintf(&t, "\n| %-16s | %6s | %7s | %8s | %8s | %-7s |\n", "while it drained", "posts", "updates", "span s", "posts/s", "target")
	fmt.Fprintf(&t, "|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 18), strings.Repeat("-", 8), strings.Repeat("-", 9), strings.Repeat("-", 10), strings.Repeat("-", 10), strings.Repeat("-", 9))
	for _, c := range b.channels {
		target := ""
		if c.channel == busyCoordinatorsChannel {
			target = "≥ 0.9"
		}
		fmt.Fprintf(&t, "| %-16s | %6d | %7d | %8.1f | %8.2f | %-7s |\n", c.channel, c.posts, c.updates, c.span.Seconds(), c.rate, target)
	}
	fmt.Fprintf(&t, "\nthe burst's edits, message posted → edited: %d, p50 %.1f s, p95 %.1f s, max %.1f s\n",
		b.editLag.n, b.editLag.p50.Seconds(), b.editLag.p95.Seconds(), b.editLag.max.Seconds())
	if len(r.quietSamples) > 0 {
		fmt.Fprintf(&t, "quiet samples in the order sent → alert ms: %s\n", strings.Join(r.quietSamples, ", "))
	}
	if len(r.busySamples) > 0 {
		fmt.Fprintf(&t, "busy samples (E: on the register, R: referred in the burst), sent at +s after the burst began → alert ms: %s\n", strings.Join(r.busySamples, ", "))
	}
	fmt.Fprintf(&t, "\nroutine prompts posted twice (whole run): %d; alerts lost %d, duplicated %d (targets 0)\n",
		b.duplicatedPosts, r.quiet.lost+r.busy.lost, r.quiet.duplicated+r.busy.duplicated)
	fmt.Fprintf(&t, "the team's requests sent again (same Idempotency-Key) after a 503 or no answer: %d\n", r.retries)
	fmt.Fprintf(&t, "dsr log lines during the run: %d warn, %d error\n",
		strings.Count(r.logs, `"level":"WARN"`), strings.Count(r.logs, `"level":"ERROR"`))
	return t.String()
}

// ratingAlertBreakdown is where each red rating's time went, from the
// person workflow's history: the rating Update, its workflow task, the
// RecordChange activity that records the rating with its alert and queues
// the alert, and the rest (the outbox dispatcher woken at the commit, the
// notifier, the pacer, the HTTP request to Slack).
func ratingAlertBreakdown(tb testing.TB, tc client.Client, title string, reds []redSample, firsts map[int64]time.Time) string {
	t0, t1 := make([]time.Time, len(reds)), make([]time.Time, len(reds))
	ids := make([][]string, len(reds))
	for i, s := range reds {
		if s.code == 200 {
			t0[i], t1[i] = s.sent, firsts[s.person]
		}
		ids[i] = []string{workflows.PersonWorkflowID(s.person)}
	}
	return benchBreakdown(tb, tc, title, benchRatingAlertPath, t0, t1, ids)
}

// floorBreakdown is the same for the floor's samples, to set beside it.
func floorBreakdown(tb testing.TB, tc client.Client, title string, path []benchStep, f *benchFloor, workflowIDs func(string) []string) string {
	hits := make([]time.Time, len(f.ids))
	ids := make([][]string, len(f.ids))
	for i, id := range f.ids {
		hits[i], ids[i] = f.hit(i), workflowIDs(id)
	}
	return benchBreakdown(tb, tc, title, path, f.sent, hits, ids)
}

func (r busyMorningReport) reportMetrics(b *testing.B) {
	b.ReportMetric(millis(r.quiet.pct.p50), "quiet_p50_ms")
	b.ReportMetric(millis(r.quiet.pct.p95), "quiet_p95_ms")
	b.ReportMetric(millis(r.busy.pct.p50), "busy_p50_ms")
	b.ReportMetric(millis(r.busy.pct.p95), "busy_p95_ms")
	b.ReportMetric(millis(r.floor.p95), "floor_p95_ms")
	b.ReportMetric(r.busyOverQuiet(), "busy/quiet_p95")
	b.ReportMetric(r.quietOverFloor(), "quiet/floor_p95")
	b.ReportMetric(r.burst.drainRate, "drain_posts/s")
	b.ReportMetric(r.burst.lastPost.Seconds(), "last_routine_post_s")
	b.ReportMetric(float64(r.quiet.lost+r.busy.lost), "alerts_lost")
	b.ReportMetric(float64(r.quiet.duplicated+r.busy.duplicated+r.burst.duplicatedPosts), "posts_duplicated")
}
