package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
