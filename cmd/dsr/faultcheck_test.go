package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/dsr-register/dsr/workflows"
)

// The fault harness (faultharness_test.go), after the batch: waiting for
// the stack to settle, then checking the record, Temporal and Slack against
// what the client was told.

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
