package devstacktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/dsr-register/dsr/internal/devstack/devstacktest"
)

// TestRestartableTemporalKeepsWorkflows: a workflow started before a stop
// is still there, running, after the server starts again on the same
// address; while stopped the address does not answer.
func TestRestartableTemporalKeepsWorkflows(t *testing.T) {
	srv := devstacktest.TemporalRestartable(t, devstacktest.TemporalConfig{})
	addr := srv.Address()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c, err := srv.Dial()
	if err != nil {
		t.Fatal(err)
	}
	// No worker is needed: the execution exists from the moment it starts.
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "kept-across-restart", TaskQueue: "nobody"}, "SomeWorkflow")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	if err := srv.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if c, err := srv.Dial(); err == nil {
		_, herr := c.CheckHealth(ctx, &client.CheckHealthRequest{})
		c.Close()
		if herr == nil {
			t.Fatal("the stopped server still answers")
		}
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("start again: %v", err)
	}
	if srv.Address() != addr {
		t.Fatalf("restarted on %s, want the same address %s", srv.Address(), addr)
	}
	c, err = srv.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	desc, err := c.DescribeWorkflowExecution(ctx, "kept-across-restart", "")
	if err != nil {
		t.Fatalf("the workflow started before the restart: %v", err)
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetExecution().GetRunId() != run.GetRunID() || info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("after restart: run %s status %v, want run %s running", info.GetExecution().GetRunId(), info.GetStatus(), run.GetRunID())
	}
}

// TestRestartablePostgresKeepsData: a row written before a stop is read
// after the cluster starts again at the same URL; while stopped the URL
// does not answer.
func TestRestartablePostgresKeepsData(t *testing.T) {
	pg := devstacktest.PostgresRestartable(t)
	url := pg.URL()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(`create table kept (n int); insert into kept values (42)`); err != nil {
		t.Fatal(err)
	}
	if err := pg.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := exec(`select 1`); err == nil {
		t.Fatal("the stopped cluster still answers")
	}
	if err := pg.Start(); err != nil {
		t.Fatalf("start again: %v", err)
	}
	if pg.URL() != url {
		t.Fatalf("restarted at %s, want the same URL %s", pg.URL(), url)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `select n from kept`).Scan(&n); err != nil || n != 42 {
		t.Fatalf("after restart: n = %d (%v), want 42", n, err)
	}
}
