package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/dsr-register/dsr/internal/devstack"
	"github.com/dsr-register/dsr/internal/importer"
	"github.com/dsr-register/dsr/internal/logtest"
)

// BenchmarkImport imports a generated register of DSR_BENCH_IMPORT_N rows
// (10,000 by default) on the local stack — the real dev server, real
// PostgreSQL, and `dsr serve` as its own process running the people's
// workflows — and reports rows per second beside the same server's bare
// rate in the same run: Update-with-Start of a minimal workflow whose
// Update runs one no-op activity, at the same concurrency
// (DSR_BENCH_FLOOR_N of them, 2,000 by default). The importer runs in this
// process, so its heap (runtime.MemStats.HeapInuse, sampled) is the
// import's alone: its peak in each quarter of the file shows whether memory
// stays flat as the file grows. It reports figures; it does not pass or
// fail on them.
//
//	go test ./cmd/dsr -run '^$' -bench BenchmarkImport -benchtime 1x -timeout 60m
func BenchmarkImport(b *testing.B) {
	n := benchEnvInt(b, "DSR_BENCH_IMPORT_N", 10000)
	floorN := benchEnvInt(b, "DSR_BENCH_FLOOR_N", 2000)
	const concurrency = 16
	hostPort, dbURL := localStack(b)
	env := serveEnv(b, hostPort, dbURL, "dsr-bench-import")
	startServeProcess(b, buildDSR(b), env)

	deps := importDeps(b, env)

	path := writeBenchRegister(b, n)
	b.ResetTimer()
	for range b.N {
		// The import first, so the floor's worker (in this process) is not
		// in the heap measured.
		runtime.GC()
		sampler := startHeapSampler()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		begin := time.Now()
		rep, err := importer.Run(context.Background(), f, deps,
			importer.Options{Concurrency: concurrency, Progress: sampler.progress})
		took := time.Since(begin)
		f.Close()
		quarters := sampler.stop()
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() || rep.Created != n {
			var sb strings.Builder
			rep.Write(&sb)
			b.Fatalf("import of %d rows: created %d\n%s", n, rep.Created, sb.String())
		}
		importRate := float64(n) / took.Seconds()

		startBenchFloorWorker(b, deps.Temporal)
		floorTook := benchUpdateWithStartFloor(b, deps.Temporal, floorN, concurrency)
		floorRate := float64(floorN) / floorTook.Seconds()

		var sb strings.Builder
		fmt.Fprintf(&sb, "\nBenchmarkImport: %d rows, concurrency %d, on the local stack (dev server, PostgreSQL, dsr serve)\n", n, concurrency)
		fmt.Fprintf(&sb, "| what | count | took | per second |\n|---|---|---|---|\n")
		fmt.Fprintf(&sb, "| import (check pass + record + Update-with-Start import + standing) | %d | %s | %.1f |\n", n, took.Round(time.Millisecond), importRate)
		fmt.Fprintf(&sb, "| floor: Update-with-Start, one no-op activity | %d | %s | %.1f |\n", floorN, floorTook.Round(time.Millisecond), floorRate)
		fmt.Fprintf(&sb, "| import / floor | | | %.0f%% |\n", 100*importRate/floorRate)
		fmt.Fprintf(&sb, "\n| rows done | peak HeapInuse |\n|---|---|\n")
		for i, q := range quarters {
			fmt.Fprintf(&sb, "| %d%%–%d%% | %.1f MiB |\n", 25*i, 25*(i+1), float64(q)/(1<<20))
		}
		benchPrint(sb.String())
		b.ReportMetric(importRate, "rows/s")
		b.ReportMetric(floorRate, "floor/s")
	}
}

// writeBenchRegister writes n valid, distinct rows in a mix of states.
func writeBenchRegister(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "bench-register.csv")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "Given name,Family name,Date of birth,NHS number,Postcode,Local authority,Diagnoses,Current rating,Last reviewed,Consent basis,Consent given by,Consent date,Assigned coordinator,Notes")
	today := time.Now().UTC()
	ratings := []string{"amber", "green", "green", "amber", "blue", ""}
	for i := range n {
		rating := ratings[i%len(ratings)]
		reviewed, basis, consent := "", "", ""
		if rating != "" {
			reviewed = today.AddDate(0, 0, -(i % 120)).Format("2006-01-02")
			basis, consent = "self", today.AddDate(0, 0, -(i%360)).Format("02/01/2006")
		}
		fmt.Fprintf(w, "Bench,%s,1980-01-%02d,%s,ST%d 1AA,Stoke-on-Trent,autism,%s,%s,%s,,%s,,\n",
			benchName(i), 1+i%28, benchNHS(i), i%10, rating, reviewed, basis, consent)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// benchUpdateWithStartFloor starts n minimal workflows, each with
// Update-with-Start of its Update (one no-op activity), concurrency at a
// time, and returns how long all took.
func benchUpdateWithStartFloor(tb testing.TB, tc client.Client, n, concurrency int) time.Duration {
	tb.Helper()
	begin := time.Now()
	benchParallel(tb, n, concurrency, func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := tc.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
			ID: fmt.Sprintf("dsr-bench-import-floor-%d", i), TaskQueue: benchFloorQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		}, benchFloorWorkflow)
		h, err := tc.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: start,
			UpdateOptions: client.UpdateWorkflowOptions{
				UpdateName: benchFloorUpdate, UpdateID: "poke", WaitForStage: client.WorkflowUpdateStageCompleted,
			},
		})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	})
	return time.Since(begin)
}

// heapSampler notes the peak HeapInuse in each quarter of an import.
type heapSampler struct {
	mu       sync.Mutex
	quarter  int
	peaks    [4]uint64
	done     chan struct{}
	finished chan struct{}
}

func startHeapSampler() *heapSampler {
	s := &heapSampler{done: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(s.finished)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			s.mu.Lock()
			s.peaks[s.quarter] = max(s.peaks[s.quarter], ms.HeapInuse)
			s.mu.Unlock()
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *heapSampler) progress(p importer.Progress) {
	if p.Total == 0 {
		return
	}
	s.mu.Lock()
	s.quarter = min(3, 4*p.Done/p.Total)
	s.mu.Unlock()
}

func (s *heapSampler) stop() [4]uint64 {
	close(s.done)
	<-s.finished
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peaks
}

// startServeProcess runs the real `dsr serve` binary with env (on a free
// port) until the benchmark ends, and waits for /healthz.
func startServeProcess(tb testing.TB, bin string, env map[string]string) {
	tb.Helper()
	port, err := devstack.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir(), "DSR_HTTP_ADDR=" + addr}
	for k, v := range env {
		if k != "DSR_HTTP_ADDR" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	logs := &logtest.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	c := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := c.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-exited:
			tb.Fatalf("dsr serve exited during start-up:\n%s", tail(logs.String(), 8<<10))
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("dsr serve did not answer /healthz within a minute:\n%s", tail(logs.String(), 8<<10))
		}
	}
}
