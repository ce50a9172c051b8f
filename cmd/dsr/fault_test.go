package main

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fault scenarios of issue 9: dsr serve killed, Temporal restarted,
// PostgreSQL stopped, Slack refusing, each while people are referred,
// consented and rated by a client that retries with the same keys; then
// nothing acknowledged may be lost, nothing recorded, opened, started or
// posted twice, and no request may hang. faultharness_test.go is the
// harness (its client in faultclient_test.go, dsr serve as a child process
// in faultprocess_test.go, the checks after the batch in
// faultcheck_test.go); here are the two sizes it runs at.

// ciFaultSizes keep TestFaults to a couple of minutes.
var ciFaultSizes = faultSizes{
	People: 12, Clients: 4, Spacing: time.Second,
	Kills: 3, TemporalDown: 10 * time.Second, PostgresDown: 10 * time.Second, SlackDown: 15 * time.Second,
	RetryFor: 2 * time.Minute, SettleWithin: 3 * time.Minute,
}

// benchFaultSizes are issue 9's: 60 people, 10 kills, PostgreSQL down for a
// minute, Slack refusing for a minute.
var benchFaultSizes = faultSizes{
	People: 60, Clients: 6, Spacing: time.Second,
	Kills: 10, TemporalDown: 15 * time.Second, PostgresDown: time.Minute, SlackDown: time.Minute,
	RetryFor: 5 * time.Minute, SettleWithin: 12 * time.Minute,
}

var faultKinds = []faultKind{faultKill, faultTemporal, faultPostgres, faultSlack}

// TestFaults runs the four scenarios side by side, each on its own stack,
// and fails on anything lost, duplicated or hung.
func TestFaults(t *testing.T) {
	bin := buildDSR(t)
	seed := faultSeed(t)
	t.Logf("seed %d (DSR_FAULT_SEED=%d replays the kill moments)", seed, seed)
	var mu sync.Mutex
	var figs []faultFigures
	t.Cleanup(func() {
		var table strings.Builder
		faultTable(&table, seed, ciFaultSizes, figs)
		t.Log("\n" + table.String())
	})
	for _, kind := range faultKinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			fig, err := runFaultScenario(t, bin, kind, ciFaultSizes, seed)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			figs = append(figs, fig)
			mu.Unlock()
			for _, p := range fig.Problems {
				t.Error(p)
			}
		})
	}
}

// BenchmarkFaults runs the scenarios at full size, side by side (one stack
// each; sequentially they take over 20 minutes, mostly Slack's pace), and
// prints the table.
//
//	go test ./cmd/dsr -run '^$' -bench Faults -benchtime 1x -timeout 30m
func BenchmarkFaults(b *testing.B) {
	bin := buildDSR(b)
	seed := faultSeed(b)
	for range b.N {
		figs := make([]faultFigures, len(faultKinds))
		errs := make([]error, len(faultKinds))
		var wg sync.WaitGroup
		for i, kind := range faultKinds {
			wg.Go(func() { figs[i], errs[i] = runFaultScenario(b, bin, kind, benchFaultSizes, seed) })
		}
		wg.Wait()
		faultTable(os.Stdout, seed, benchFaultSizes, figs)
		for i, err := range errs {
			if err != nil {
				b.Errorf("%s: %v", faultKinds[i], err)
			}
		}
		for _, f := range figs {
			for _, p := range f.Problems {
				b.Logf("%s: %s", f.Fault, p)
			}
		}
	}
}
