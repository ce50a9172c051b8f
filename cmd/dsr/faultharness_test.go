package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/dsr-register/dsr/internal/devstack"
	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
	"github.com/dsr-register/dsr/internal/slack/slackfake"
	"github.com/dsr-register/dsr/workflows"
)

// The fault harness: the real dsr binary (`dsr serve` as a child process,
// so SIGKILL is a real kill), a Temporal dev server and a PostgreSQL
// cluster that can be stopped and started again at the same address, and
// slackfake, which can be made to refuse for a while. A client onboards a
// batch of people (referral, consent, rating), retrying each request with
// the same Idempotency-Key until it gets an answer, while one fault is
// played; then the record, Temporal and Slack are checked for anything
// lost, duplicated or hung.

// faultKind is the one fault a scenario plays during the batch.
type faultKind string

const (
	faultKill     faultKind = "dsr serve SIGKILLed"
	faultTemporal faultKind = "Temporal restarted"
	faultPostgres faultKind = "PostgreSQL stopped"
	faultSlack    faultKind = "Slack 429/5xx"
)

// faultSizes scales the scenarios: short in CI, full size in the benchmark.
type faultSizes struct {
	People  int           // people onboarded in the batch
	Clients int           // client goroutines sending at once
	Spacing time.Duration // between one person's referral and the next's
	// The faults.
	Kills        int
	TemporalDown time.Duration
	PostgresDown time.Duration
	SlackDown    time.Duration
	// RetryFor bounds one request's retries; SettleWithin, the wait after
	// the batch for everything to be told in Slack.
	RetryFor     time.Duration
	SettleWithin time.Duration
}

// What counts as hung: one HTTP attempt taking longer than the API's bound
// (DSR_API_TIMEOUT, 10 s by default: a write is answered, or told 503, by
// then) with 5 s of slack for a busy machine.
// The client gives up on an attempt a little later, so a hang is seen as
// one, not as a test stuck until go test's timeout.
const (
	hungAfter     = 15 * time.Second
	clientTimeout = 20 * time.Second
)

// faultFigures is what one scenario measured.
type faultFigures struct {
	Scenario string
	Fault    faultKind
	Faults   int // kills, restarts, stops or windows played

	Requests     int // actions the client set out to do (one per person and kind)
	Attempts     int // HTTP attempts, retries included
	Acked        int // requests answered 2xx
	Refused      int // requests answered 4xx (nothing retried after that)
	GaveUp       int // requests with no answer within RetryFor
	Hung         int // attempts that took longer than hungAfter
	Lost         int // acknowledged actions not in the record
	Duplicate    int // extra audit entries or referral rows for one action
	DupTasks     int // extra open tasks of one kind for one person, or task_key twice
	Workflows    struct{ Missing, Extra int }
	DupPosts     int // chat.postMessage beyond the first for one task, or untracked
	Unsettled    string
	SlackRefused int // calls slackfake answered with a fault

	Recovery    time.Duration // longest, from a part coming back to dsr answering /healthz 200 (Slack: to its next call)
	Drained     time.Duration // from the (last) fault's end to everything told in Slack
	HealthSaid  []string      // distinct /healthz answers while the part was down
	DBDownShown bool          // PostgreSQL scenario: /healthz said the database was down

	Problems []string
}

func (f *faultFigures) problem(format string, args ...any) {
	f.Problems = append(f.Problems, fmt.Sprintf(format, args...))
}

// buildDSR builds the real binary once for the calling test or benchmark.
func buildDSR(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "dsr")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/dsr: %v\n%s", err, out)
	}
	return bin
}

// faultSeed is DSR_FAULT_SEED if set (to replay a run), else the clock.
func faultSeed(tb testing.TB) uint64 {
	if s := os.Getenv("DSR_FAULT_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			tb.Fatalf("DSR_FAULT_SEED=%q: %v", s, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// faultScenario is one run of the batch with one fault, on its own stack.
type faultScenario struct {
	tb    testing.TB
	name  string
	fault faultKind
	sizes faultSizes
	rng   *rand.Rand

	temporal *devstacktest.RestartableTemporal
	pg       *devstacktest.RestartablePostgres
	slack    *slackfake.Server
	dsr      *dsrProcess
	client   *faultClient

	faultEnded time.Time // when the last fault ended
	fig        faultFigures
}

// runFaultScenario sets up a stack, plays the batch with the fault and
// checks what it left. It never calls FailNow (the benchmark runs
// scenarios side by side in goroutines): setup failures are returned,
// check failures are in the figures' Problems.
func runFaultScenario(tb testing.TB, bin string, fault faultKind, sizes faultSizes, seed uint64) (faultFigures, error) {
	name := strings.ToLower(strings.Fields(string(fault))[0])
	s := &faultScenario{tb: tb, name: name, fault: fault, sizes: sizes, rng: rand.New(rand.NewPCG(seed, uint64(len(fault))))}
	s.fig.Scenario, s.fig.Fault = name, fault
	if err := s.startStack(bin); err != nil {
		return s.fig, err
	}
	s.client = &faultClient{api: s.dsr.api, run: fmt.Sprintf("%s-%d", name, seed), retryFor: sizes.RetryFor,
		http: &http.Client{Timeout: clientTimeout}}

	batchDone := make(chan struct{})
	go func() { s.client.onboard(sizes); close(batchDone) }()
	s.playFault(batchDone)
	<-batchDone

	s.settle()
	if err := s.check(); err != nil {
		return s.fig, err
	}
	if exited := s.dsr.exitedByItself(); exited != "" {
		s.fig.problem("dsr serve exited by itself during the scenario: %s", exited)
	}
	if len(s.fig.Problems) > 0 {
		tb.Logf("%s: dsr serve's output ends:\n%s", name, s.dsr.output(32<<10))
	}
	return s.fig, nil
}

// startStack starts Temporal (state in a file), PostgreSQL, slackfake and
// `dsr serve`, each stopped when the test ends.
func (s *faultScenario) startStack(bin string) error {
	var attrs []devstack.SearchAttribute
	for _, sa := range workflows.SearchAttributeTypes {
		attrs = append(attrs, devstack.SearchAttribute{Name: sa[0], Type: sa[1]})
	}
	temporal, err := devstacktest.StartRestartableTemporal(devstacktest.TemporalConfig{
		SearchAttributes: attrs,
		DynamicConfig:    []string{"system.enableActivityEagerExecution=true"},
	})
	if err != nil {
		return err
	}
	s.tb.Cleanup(temporal.Close)
	s.temporal = temporal
	pg, err := devstacktest.StartRestartablePostgres()
	if err != nil {
		return err
	}
	s.tb.Cleanup(pg.Close)
	s.pg = pg
	s.slack = slackfake.New(s.tb)

	env := serveEnv(s.tb, temporal.Address(), pg.URL(), "dsr-fault")
	for k, v := range slackEnv(s.slack, map[string]string{"SLACK_CHANNEL_ALERTS": alertsChannel}) {
		env[k] = v
	}
	env["DSR_LOG_LEVEL"] = "info"
	logPath := filepath.Join(s.tb.TempDir(), "dsr.log")
	// The port is probed, then dsr binds it (and binds it again after each
	// kill, as under a supervisor): something else may take it in between,
	// so a failed first start tries another port.
	for attempt := 1; ; attempt++ {
		port, err := devstack.FreePort()
		if err != nil {
			return err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		env["DSR_HTTP_ADDR"] = addr
		s.dsr = &dsrProcess{bin: bin, env: env, addr: addr, api: "http://" + addr, logPath: logPath}
		s.tb.Cleanup(s.dsr.stop)
		if err = s.dsr.start(); err == nil || attempt == 3 {
			return err
		}
	}
}

// batchLength is how long the client takes to start everyone.
func (s *faultScenario) batchLength() time.Duration {
	return time.Duration(s.sizes.People) * s.sizes.Spacing
}

// playFault plays the scenario's fault during the batch.
func (s *faultScenario) playFault(batchDone <-chan struct{}) {
	start := time.Now()
	at := func(d time.Duration) { time.Sleep(time.Until(start.Add(d))) }
	switch s.fault {
	case faultKill:
		// Random moments across the batch, from the seeded RNG.
		var moments []time.Duration
		for range s.sizes.Kills {
			moments = append(moments, time.Duration(s.rng.Int64N(int64(s.batchLength()))))
		}
		slices.Sort(moments)
		for _, m := range moments {
			at(m)
			// A kill between two requests tests nothing: wait (while
			// the batch lasts) for one to be in flight.
			for s.client.inFlight.Load() == 0 && !closed(batchDone) {
				time.Sleep(2 * time.Millisecond)
			}
			if err := s.dsr.kill(); err != nil {
				s.fig.problem("kill: %v", err)
				return
			}
			restarted := time.Now()
			if err := s.dsr.start(); err != nil {
				s.fig.problem("restart after kill: %v", err)
				return
			}
			s.fig.Faults++
			s.recovered(restarted)
		}
	case faultTemporal:
		at(s.batchLength() / 4)
		s.stopFor("Temporal", s.sizes.TemporalDown, s.temporal.Stop, s.temporal.Start)
	case faultPostgres:
		at(s.batchLength() / 4)
		if !s.stopFor("PostgreSQL", s.sizes.PostgresDown, s.pg.Stop, s.pg.Start) {
			return
		}
		for _, said := range s.fig.HealthSaid {
			s.fig.DBDownShown = s.fig.DBDownShown || (!strings.HasPrefix(said, "200 ") && strings.Contains(said, "database"))
		}
		if !s.fig.DBDownShown {
			s.fig.problem("/healthz never said the database was down while PostgreSQL was stopped; it said %q", s.fig.HealthSaid)
		}
	case faultSlack:
		at(s.batchLength() / 6)
		s.slack.Fail(slackfake.RateLimited(time.Second), slackfake.ServerError(http.StatusServiceUnavailable),
			slackfake.RateLimited(2*time.Second), slackfake.ServerError(http.StatusInternalServerError))
		time.Sleep(s.sizes.SlackDown)
		s.slack.Recover()
		s.fig.Faults++
		back := time.Now()
		s.faultEnded = back
		for deadline := back.Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			calls := s.slack.Calls()
			if i := slices.IndexFunc(calls, func(c slackfake.Call) bool { return c.At.After(back) }); i >= 0 {
				s.fig.Recovery = calls[i].At.Sub(back)
				break
			}
		}
	}
}

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// recovered waits (up to a minute) for dsr to answer /healthz 200 again
// and records how long that took from back.
func (s *faultScenario) recovered(back time.Time) {
	s.faultEnded = back
	for deadline := back.Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if code, _ := s.health(); code == http.StatusOK {
			s.fig.Recovery = max(s.fig.Recovery, time.Since(back))
			return
		}
	}
	s.fig.problem("dsr did not answer /healthz 200 within a minute of the %s coming back", s.fault)
}

// health is one /healthz answer: its status and body.
func (s *faultScenario) health() (int, string) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(s.dsr.api + "/healthz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// stopFor stops a dependency of dsr's for down, watching /healthz, and
// starts it again; it reports whether the dependency came back.
func (s *faultScenario) stopFor(what string, down time.Duration, stop, start func() error) bool {
	watch := s.watchHealth()
	if err := stop(); err != nil {
		s.fig.problem("stopping %s: %v", what, err)
	}
	time.Sleep(down)
	err := start()
	watch()
	if err != nil {
		s.fig.problem("starting %s again: %v", what, err)
		return false
	}
	s.fig.Faults++
	s.recovered(time.Now())
	return true
}

// watchHealth polls /healthz until the returned stop is called, keeping
// each distinct answer (status and the body's keys that say what is wrong).
func (s *faultScenario) watchHealth() (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	seen := map[string]bool{}
	go func() {
		defer close(finished)
		for {
			code, body := s.health()
			said := fmt.Sprintf("%d %s", code, healthSummary(body))
			if code == 0 {
				said = "no answer"
			}
			if !seen[said] {
				seen[said] = true
				s.fig.HealthSaid = append(s.fig.HealthSaid, said)
			}
			select {
			case <-done:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-finished }
}

// healthSummary keeps what /healthz says about each part and drops the
// numbers that change from one poll to the next.
func healthSummary(body string) string {
	var m map[string]any
	if json.Unmarshal([]byte(body), &m) != nil {
		return body
	}
	delete(m, "notifications")
	b, _ := json.Marshal(m)
	return string(b)
}

// --- settling and checking --------------------------------------------------

// settle waits, up to SettleWithin, for dsr to have told Slack everything:
// no notification waiting, every task posted, every red rating's alert
// opened. Slack's pace (about a message a second per channel) makes this
// the longest part of a scenario.
func (s *faultScenario) settle() {
	ctx, cancel := context.WithTimeout(context.Background(), s.sizes.SettleWithin)
	defer cancel()
	reds := s.client.ackedRed()
	var last string
	for {
		state, err := s.unsettled(ctx, reds)
		if err == nil && state == "" {
			s.fig.Drained = time.Since(s.faultEnded)
			return
		}
		if err != nil {
			state = err.Error()
		}
		last = state
		select {
		case <-ctx.Done():
			s.fig.Unsettled = last
			s.fig.problem("not everything was told within %v: %s", s.sizes.SettleWithin, last)
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// unsettled says what is still to be told, or "" when nothing is.
func (s *faultScenario) unsettled(ctx context.Context, reds []int64) (string, error) {
	if code, body := s.health(); code != http.StatusOK {
		return fmt.Sprintf("/healthz answers %d %s", code, body), nil
	}
	conn, err := pgx.Connect(ctx, s.pg.URL())
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var waiting, unposted, alerts int
	if err := conn.QueryRow(ctx, `select
		(select count(*) from notification_outbox where sent_at is null),
		(select count(*) from tasks t where not exists (select 1 from slack_messages m where m.task_id = t.id)),
		(select count(distinct person_id) from tasks where kind = 'escalation_alert' and person_id = any($1))`, reds).
		Scan(&waiting, &unposted, &alerts); err != nil {
		return "", err
	}
	if waiting > 0 || unposted > 0 || alerts < len(reds) {
		return fmt.Sprintf("%d notifications waiting, %d tasks not posted, %d of %d red ratings without an alert task",
			waiting, unposted, len(reds)-alerts, len(reds)), nil
	}
	return "", nil
}

// check counts, for every person, the record against what the client was
// told; workflows in Temporal; open tasks; and posts in Slack.
func (s *faultScenario) check() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.pg.URL())
	if err != nil {
		return fmt.Errorf("connecting to check the record: %w", err)
	}
	defer conn.Close(context.Background())

	s.fig.SlackRefused = s.slack.Refused()
	s.tallyRequests()
	if err := s.checkRecord(ctx, conn); err != nil {
		return err
	}
	if err := s.checkTasks(ctx, conn); err != nil {
		return err
	}
	if err := s.checkWorkflows(ctx, conn); err != nil {
		return err
	}
	return s.checkPosts(ctx, conn)
}

func (s *faultScenario) tallyRequests() {
	for _, r := range s.client.results() {
		s.fig.Requests++
		s.fig.Attempts += r.attempts
		s.fig.Hung += r.hung
		switch {
		case r.acked:
			s.fig.Acked++
		case r.status >= 400 && r.status < 500:
			s.fig.Refused++
			s.fig.problem("person %d %s refused: %d %s", r.person, r.kind, r.status, r.answer)
		default:
			s.fig.GaveUp++
			s.fig.problem("person %d %s: no answer within %v (%d attempts, last: %s)", r.person, r.kind, s.sizes.RetryFor, r.attempts, r.answer)
		}
	}
	if s.fig.Hung > 0 {
		s.fig.problem("%d requests hung past %v", s.fig.Hung, hungAfter)
	}
}

// actionAudit is which audit actions record each of the client's actions
// (a consent recorded twice is a "renewal" the second time).
var actionAudit = map[string][]string{
	"referral": {"referral_accepted", "re_referred"},
	"consent":  {"consent_recorded", "consent_renewed"},
	"rating":   {"rated"},
}

// checkRecord: every acknowledged action is in the record exactly once,
// and no action is there twice.
func (s *faultScenario) checkRecord(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, `select p.id, p.nhs_number,
		(select count(*) from referrals r where r.person_id = p.id),
		(select count(*) from audit_log a where a.person_id = p.id and a.action = any($1)),
		(select count(*) from audit_log a where a.person_id = p.id and a.action = any($2)),
		(select count(*) from audit_log a where a.person_id = p.id and a.action = any($3))
		from people p`, actionAudit["referral"], actionAudit["consent"], actionAudit["rating"])
	if err != nil {
		return fmt.Errorf("reading the record: %w", err)
	}
	type counts struct {
		id                                   int64
		referrals, accepted, consents, rated int
	}
	byNHS := map[string]counts{}
	for rows.Next() {
		var c counts
		var nhs string
		if err := rows.Scan(&c.id, &nhs, &c.referrals, &c.accepted, &c.consents, &c.rated); err != nil {
			return err
		}
		byNHS[nhs] = c
	}
	if err := rows.Err(); err != nil {
		return err
	}
	acked := s.client.ackedByPerson()
	for i := range s.sizes.People {
		c := byNHS[faultNHSNumber(i)]
		for kind, n := range map[string]int{"referral": max(c.referrals, c.accepted), "consent": c.consents, "rating": c.rated} {
			switch {
			case acked[i][kind] && n == 0:
				s.fig.Lost++
				s.fig.problem("person %d (%d): %s acknowledged but not in the record", i, c.id, kind)
			case n > 1:
				s.fig.Duplicate += n - 1
				s.fig.problem("person %d (%d): %s recorded %d times", i, c.id, kind, n)
			}
		}
	}
	return nil
}

// checkTasks: no two open tasks of one kind for one person, no task_key
// twice.
func (s *faultScenario) checkTasks(ctx context.Context, conn *pgx.Conn) error {
	var openTwice, keyTwice int
	err := conn.QueryRow(ctx, `select
		coalesce((select sum(n - 1) from (select count(*) n from tasks where status = 'open' group by person_id, kind having count(*) > 1) o), 0),
		coalesce((select sum(n - 1) from (select count(*) n from tasks group by task_key having count(*) > 1) k), 0)`).
		Scan(&openTwice, &keyTwice)
	if err != nil {
		return fmt.Errorf("counting tasks: %w", err)
	}
	s.fig.DupTasks = openTwice + keyTwice
	if s.fig.DupTasks > 0 {
		s.fig.problem("%d open tasks duplicate another of the same kind for the same person, %d task keys twice", openTwice, keyTwice)
	}
	return nil
}

// checkWorkflows: exactly one PersonWorkflow run per person on the
// register, and none for anyone else. Visibility lags a little behind a
// restarted server, so this waits (up to 30 s) for the counts to agree.
func (s *faultScenario) checkWorkflows(ctx context.Context, conn *pgx.Conn) error {
	var people []int64
	rows, err := conn.Query(ctx, `select id from people`)
	if err != nil {
		return err
	}
	if people, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return err
	}
	tc, err := s.temporal.Dial()
	if err != nil {
		return err
	}
	defer tc.Close()
	var runs map[string]int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		runs, err = personWorkflowRuns(ctx, tc)
		total := 0
		for _, n := range runs {
			total += n
		}
		if err == nil && total >= len(people) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("listing workflows: %w", err)
	}
	for _, id := range people {
		wid := workflows.PersonWorkflowID(id)
		switch n := runs[wid]; {
		case n == 0:
			s.fig.Workflows.Missing++
			s.fig.problem("person %d has no workflow", id)
		case n > 1:
			s.fig.Workflows.Extra += n - 1
			s.fig.problem("person %d has %d workflow runs", id, n)
		}
		delete(runs, wid)
	}
	for wid, n := range runs {
		s.fig.Workflows.Extra += n
		s.fig.problem("workflow %s is for nobody on the register", wid)
	}
	return nil
}

// personWorkflowRuns counts PersonWorkflow executions by workflow ID.
func personWorkflowRuns(ctx context.Context, tc client.Client) (map[string]int, error) {
	runs := map[string]int{}
	var page []byte
	for {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: "WorkflowType = 'PersonWorkflow'", NextPageToken: page,
		})
		if err != nil {
			return nil, err
		}
		for _, e := range resp.GetExecutions() {
			runs[e.GetExecution().GetWorkflowId()]++
		}
		if page = resp.GetNextPageToken(); len(page) == 0 {
			return runs, nil
		}
	}
}

// taskButton finds a prompt's task ID in its buttons' values.
var taskButton = regexp.MustCompile(`"action_id":"dsr:[a-z_]+","value":"(\d+)"`)

// checkPosts: no task's message posted twice. A post is matched to its
// task by its buttons, or (a task closed before it was posted has none)
// by the ts dsr recorded for the task; a top-level post matching no task
// is one dsr lost track of, which a retry would post again: counted too.
func (s *faultScenario) checkPosts(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, `select ts, task_id from slack_messages`)
	if err != nil {
		return fmt.Errorf("reading where tasks were posted: %w", err)
	}
	taskAt := map[string]int64{}
	for rows.Next() {
		var ts string
		var task int64
		if err := rows.Scan(&ts, &task); err != nil {
			return err
		}
		taskAt[ts] = task
	}
	if err := rows.Err(); err != nil {
		return err
	}
	posts := map[int64][]string{} // task: where and when each post went
	untracked := 0
	for _, c := range s.slack.Calls() {
		if c.Method != "chat.postMessage" || c.ThreadTS != "" {
			continue // thread replies (chasers, re-alerts) are not prompts
		}
		task, tracked := taskAt[c.TS]
		if m := taskButton.FindStringSubmatch(c.Blocks); m != nil {
			task, _ = strconv.ParseInt(m[1], 10, 64)
			tracked = true
		}
		if !tracked {
			untracked++
			continue
		}
		posts[task] = append(posts[task], c.Channel+" at "+c.At.Format("15:04:05.000"))
	}
	for task, where := range posts {
		if len(where) > 1 {
			s.fig.DupPosts += len(where) - 1
			s.fig.problem("task %d posted %d times: %s (dsr started at %s)", task, len(where), strings.Join(where, ", "), strings.Join(s.dsr.startedAt(), ", "))
		}
	}
	if untracked > 0 {
		s.fig.DupPosts += untracked
		s.fig.problem("%d top-level posts match no task dsr recorded (posted, then forgotten)", untracked)
	}
	return nil
}

// --- the client ---------------------------------------------------------------

// faultClient onboards people over the API as an integration would: each
// action has its own Idempotency-Key, and a request with no answer (a
// connection refused or cut, a timeout, a 5xx or 503) is sent again with
// the same key until it is answered 2xx or 4xx, or RetryFor runs out.
type faultClient struct {
	api      string
	run      string
	retryFor time.Duration
	http     *http.Client

	inFlight atomic.Int32 // HTTP attempts under way

	mu   sync.Mutex
	done []requestResult
}

// requestResult is how one action's request went.
type requestResult struct {
	person   int
	kind     string // referral, consent, rating
	rating   string
	personID int64
	attempts int
	hung     int
	acked    bool
	status   int    // the last answer's status, 0 for none
	answer   string // the last answer's body or error, for the report
}

// onboard refers, consents and rates every person, Spacing apart, with
// Clients goroutines.
func (c *faultClient) onboard(sizes faultSizes) {
	people := make(chan int)
	var wg sync.WaitGroup
	for range sizes.Clients {
		wg.Go(func() {
			for i := range people {
				c.onboardPerson(i)
			}
		})
	}
	start := time.Now()
	for i := range sizes.People {
		time.Sleep(time.Until(start.Add(time.Duration(i) * sizes.Spacing)))
		people <- i
	}
	close(people)
	wg.Wait()
}

// faultRating is the rating person i is given: a mix, with some red so
// that alerts are posted (and checked) too.
func faultRating(i int) string {
	return [...]string{"red", "amber", "green", "green"}[i%4]
}

func (c *faultClient) onboardPerson(i int) {
	ref := c.send(i, "referral", "/api/v1/referrals", referral("Fault", faultFamilyName(i), "1990-03-01", faultNHSNumber(i)))
	if !ref.acked {
		return
	}
	pp := fmt.Sprintf("/api/v1/people/%d", ref.personID)
	// Two days ago: in the past in any time zone's calendar.
	decided := time.Now().UTC().Add(-48 * time.Hour).Format("2006-01-02")
	if r := c.send(i, "consent", pp+"/consent", map[string]any{"basis": "self", "decided_on": decided, "notes": "fault test"}); !r.acked {
		return
	}
	c.send(i, "rating", pp+"/rating", map[string]any{"rating": faultRating(i), "rationale": "fault test"})
}

// send posts body until it is answered 2xx or 4xx, retrying with the same
// key, and records how it went.
func (c *faultClient) send(person int, kind, path string, body any) requestResult {
	r := requestResult{person: person, kind: kind}
	if m, ok := body.(map[string]any); ok && kind == "rating" {
		r.rating, _ = m["rating"].(string)
	}
	raw, _ := json.Marshal(body)
	key := fmt.Sprintf("fault-%s-%d-%s", c.run, person, kind)
	start := time.Now()
	backoff := 100 * time.Millisecond
	for {
		r.attempts++
		began := time.Now()
		c.inFlight.Add(1)
		code, answer, retryAfter := c.attempt(path, key, raw)
		c.inFlight.Add(-1)
		if time.Since(began) > hungAfter {
			r.hung++
		}
		r.status, r.answer = code, answer
		if code >= 200 && code < 300 {
			r.acked = true
			if kind == "referral" {
				var res struct {
					PersonID int64 `json:"person_id"`
				}
				_ = json.Unmarshal([]byte(answer), &res)
				r.personID = res.PersonID
			}
			break
		}
		if code >= 400 && code < 500 && code != http.StatusTooManyRequests {
			break
		}
		wait := backoff
		if retryAfter > 0 {
			wait = min(retryAfter, 5*time.Second)
		}
		if time.Since(start)+wait > c.retryFor {
			break
		}
		time.Sleep(wait)
		backoff = min(2*backoff, 2*time.Second)
	}
	c.mu.Lock()
	c.done = append(c.done, r)
	c.mu.Unlock()
	return r
}

// attempt is one HTTP request: its status (0 when there was no answer),
// body or error, and the Retry-After it asked for.
func (c *faultClient) attempt(path, key string, body []byte) (int, string, time.Duration) {
	req, err := http.NewRequest(http.MethodPost, c.api+path, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error(), 0
	}
	req.Header.Set("Authorization", "Bearer "+coordToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err.Error(), 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var retryAfter time.Duration
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		retryAfter = time.Duration(secs) * time.Second
	}
	return resp.StatusCode, strings.TrimSpace(string(b)), retryAfter
}

func (c *faultClient) results() []requestResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.done)
}

// ackedByPerson is, per person, which actions were acknowledged.
func (c *faultClient) ackedByPerson() map[int]map[string]bool {
	out := map[int]map[string]bool{}
	for _, r := range c.results() {
		if out[r.person] == nil {
			out[r.person] = map[string]bool{}
		}
		out[r.person][r.kind] = out[r.person][r.kind] || r.acked
	}
	return out
}

// ackedRed is the register IDs of the people whose red rating was
// acknowledged: each must have its alert.
func (c *faultClient) ackedRed() []int64 {
	ids := map[int]int64{}
	var out []int64
	for _, r := range c.results() {
		if r.kind == "referral" && r.acked {
			ids[r.person] = r.personID
		}
	}
	for _, r := range c.results() {
		if r.kind == "rating" && r.acked && r.rating == "red" {
			out = append(out, ids[r.person])
		}
	}
	return out
}

// faultNHSNumber is the i-th valid NHS number (modulus 11 check digit)
// from 900 000 000 up.
func faultNHSNumber(i int) string {
	for n, found := 900000000, -1; ; n++ {
		digits := strconv.Itoa(n)
		sum := 0
		for k, d := range digits {
			sum += int(d-'0') * (10 - k)
		}
		check := 11 - sum%11
		if check == 11 {
			check = 0
		}
		if check == 10 {
			continue // no valid number has this stem
		}
		if found++; found == i {
			return digits + strconv.Itoa(check)
		}
	}
}

// faultFamilyName is a letters-only name unique to person i.
func faultFamilyName(i int) string {
	name := []byte("Tester")
	for {
		name = append(name, byte('a'+i%26))
		if i /= 26; i == 0 {
			return string(name)
		}
	}
}

// --- dsr serve as a child process -----------------------------------------

// dsrProcess is `dsr serve` run from the built binary, so that a kill is a
// real SIGKILL of a real process; start runs it again on the same port.
type dsrProcess struct {
	bin     string
	env     map[string]string
	addr    string
	api     string
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	killed  bool   // the harness killed or stopped it
	gone    string // how it ended when nobody stopped it
	starts  []time.Time
}

// startedAt is when each run of dsr started, for reports.
func (p *dsrProcess) startedAt() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, t := range p.starts {
		out = append(out, t.Format("15:04:05.000"))
	}
	return out
}

// start runs dsr serve and waits (up to a minute) until /healthz answers.
func (p *dsrProcess) start() error {
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	for k, v := range p.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	fmt.Fprintf(logFile, "--- fault harness: starting dsr serve at %s\n", time.Now().Format(time.RFC3339Nano))
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s serve: %w", p.bin, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited, p.killed = cmd, exited, false
	p.starts = append(p.starts, time.Now())
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		p.waitErr = err
		if !p.killed && p.cmd == cmd {
			p.gone = fmt.Sprint(err)
		}
		p.mu.Unlock()
		close(exited)
	}()

	c := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			return fmt.Errorf("dsr serve exited during start-up (%v); its output ends:\n%s", p.waitErr, p.output(8<<10))
		default:
		}
		if resp, err := c.Get(p.api + "/healthz"); err == nil {
			resp.Body.Close()
			return nil
		}
	}
	return fmt.Errorf("dsr serve did not answer on %s within a minute; its output ends:\n%s", p.addr, p.output(8<<10))
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *dsrProcess) kill() error { return p.signal(syscall.SIGKILL, 0) }

// stop ends the process for good at cleanup: SIGTERM, then SIGKILL after
// 30 s.
func (p *dsrProcess) stop() { _ = p.signal(syscall.SIGTERM, 30*time.Second) }

func (p *dsrProcess) signal(sig syscall.Signal, grace time.Duration) error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.killed = true
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	if grace > 0 {
		select {
		case <-exited:
			return nil
		case <-time.After(grace):
			_ = cmd.Process.Kill()
		}
	}
	<-exited
	return nil
}

// exitedByItself says how dsr ended if it did so without being killed.
func (p *dsrProcess) exitedByItself() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gone
}

// output is the end of dsr's log file (every run's, appended).
func (p *dsrProcess) output(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return tail(string(b), n)
}

// --- the report ---------------------------------------------------------------

// faultTable prints the figures, one scenario a row.
func faultTable(w io.Writer, seed uint64, sizes faultSizes, figs []faultFigures) {
	fmt.Fprintf(w, "fault scenarios (seed %d; %d people, %d clients, one person every %v):\n", seed, sizes.People, sizes.Clients, sizes.Spacing)
	fmt.Fprintf(w, "%-22s %6s %8s %5s %7s %4s %9s %9s %9s %9s %4s %9s %9s\n",
		"scenario", "faults", "requests", "acked", "retries", "lost", "dup.acts", "dup.tasks", "dup.wflws", "dup.posts", "hung", "recovery", "drained")
	for _, f := range figs {
		fmt.Fprintf(w, "%-22s %6d %8d %5d %7d %4d %9d %9d %9d %9d %4d %9s %9s\n",
			f.Fault, f.Faults, f.Requests, f.Acked, f.Attempts-f.Requests, f.Lost, f.Duplicate, f.DupTasks,
			f.Workflows.Extra+f.Workflows.Missing, f.DupPosts, f.Hung, f.Recovery.Round(10*time.Millisecond), f.Drained.Round(100*time.Millisecond))
	}
	fmt.Fprintln(w, "recovery: longest, from the part coming back to dsr answering /healthz 200 (Slack: to its next call reaching Slack);")
	fmt.Fprintln(w, "drained: from the (last) fault's end until nothing is waiting to be told and every task is posted.")
	for _, f := range figs {
		if len(f.HealthSaid) > 0 {
			fmt.Fprintf(w, "%s: /healthz said %q\n", f.Fault, f.HealthSaid)
		}
		if f.SlackRefused > 0 {
			fmt.Fprintf(w, "%s: slackfake refused %d calls\n", f.Fault, f.SlackRefused)
		}
		if f.Refused+f.GaveUp > 0 {
			fmt.Fprintf(w, "%s: %d requests refused (4xx), %d given up\n", f.Fault, f.Refused, f.GaveUp)
		}
	}
}
