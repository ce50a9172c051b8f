package slack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/slack/slackfake"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/store/storetest"
)

// hostile is a name a referrer could type: a channel-wide mention, a
// disguised link and a bare ampersand.
const hostile = "<!channel> <http://evil.example|x> & Co"

// postedText is every text string in a posted message (its fallback text
// and each block's), as Slack will read it.
func postedText(t *testing.T, c slackfake.Call) string {
	t.Helper()
	var blocks any
	if c.Blocks != "" {
		if err := json.Unmarshal([]byte(c.Blocks), &blocks); err != nil {
			t.Fatalf("blocks %s: %v", c.Blocks, err)
		}
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "text" {
					out = append(out, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(blocks)
	return c.Text + "\n" + strings.Join(out, "\n")
}

// assertInert fails if any of Slack's markup from the hostile values got
// through unescaped, and checks it is there, escaped, to read.
func assertInert(t *testing.T, what, text string) {
	t.Helper()
	for _, raw := range []string{"<!channel>", "<!here>", "<http://evil.example", "<@U0BOSS>", "& Co", "<!everyone>"} {
		if strings.Contains(text, raw) {
			t.Errorf("%s carries %q unescaped:\n%s", what, raw, text)
		}
	}
}

func TestSlackTextFromPeopleIsEscaped(t *testing.T) {
	ctx := context.Background()
	st := storetest.Migrated(t)
	rc, err := st.CreateReferral(ctx, store.NewReferral{
		Referral: register.Referral{
			Person: register.Person{GivenName: hostile, FamilyName: "<!everyone>", DateOfBirth: time.Date(1990, 3, 1, 0, 0, 0, 0, time.UTC),
				NHSNumber: "9434765919", Diagnoses: []register.Diagnosis{register.Autism}},
			Referrer: register.Referrer{Kind: register.ReferrerSelf}, Channel: register.ChannelPhone, Reason: "crisis",
		},
		Actor: "alice", ReceivedAt: t0,
	})
	if err != nil {
		t.Fatal(err)
	}
	key := "escape-consent_needed"
	ids, err := st.RecordChange(ctx, register.Change{
		PersonID: rc.PersonID, Seq: 1, At: t0, Actor: "<!here> alice", Action: "referral_accepted",
		Snapshot:         register.Snapshot{Stage: register.Referred, AssignedTo: "<@U0BOSS> & <!here>"},
		AcceptReferralID: rc.ReferralID,
		Open: []register.TaskOpen{{Key: key, Kind: register.TaskConsentNeeded, DueAt: t0.Add(28 * 24 * time.Hour),
			Actions: []register.Action{register.ActionRecordConsent}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	taskID := ids[key]

	srv, _, paced := fakeSlack(t)
	n := &Notifier{Records: st, Poster: paced, Channel: "C-COORD", PublicURL: "https://dsr.example.nhs.uk", ShowNames: true,
		Now: func() time.Time { return t0.Add(time.Hour) }}
	if err := n.Notify(ctx, notify.Notification{Key: key + ":opened", Event: notify.TaskOpened, PersonID: rc.PersonID, TaskID: taskID}); err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls()
	if len(calls) != 1 {
		t.Fatalf("want one post, got %+v", calls)
	}
	opened := postedText(t, calls[0])
	assertInert(t, "the opened prompt", opened)
	for _, want := range []string{"&lt;!channel&gt; &lt;http://evil.example|x&gt; &amp; Co &lt;!everyone&gt;",
		"Assigned to &lt;@U0BOSS&gt; &amp; &lt;!here&gt;.", "<https://dsr.example.nhs.uk/api/v1/people/"} {
		if !strings.Contains(opened, want) {
			t.Errorf("the opened prompt lacks %q:\n%s", want, opened)
		}
	}

	// Closed with an outcome carrying what someone typed: the edit is
	// escaped too, and so is who closed it.
	if _, err := st.RecordChange(ctx, register.Change{
		PersonID: rc.PersonID, Seq: 2, At: t0.Add(time.Hour), Actor: "<!here> alice", Action: "referral_closed",
		Snapshot: register.Snapshot{Stage: register.Referred},
		Close:    []register.TaskClose{{Key: key, Status: register.TaskStatusDone, Outcome: "closed: <!channel> <http://evil.example|x> & Co"}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(ctx, notify.Notification{Key: key + ":closed", Event: notify.TaskClosed, PersonID: rc.PersonID, TaskID: taskID}); err != nil {
		t.Fatal(err)
	}
	calls = srv.Calls()
	if len(calls) != 2 || calls[1].Method != "chat.update" {
		t.Fatalf("want the message edited, got %+v", calls)
	}
	closed := postedText(t, calls[1])
	assertInert(t, "the closed prompt", closed)
	if !strings.Contains(closed, "Closed: &lt;!channel&gt;") || !strings.Contains(closed, "by &lt;!here&gt; alice") {
		t.Errorf("the closed prompt does not show the outcome and who, escaped:\n%s", closed)
	}

	// The other texts built from a prompt.
	p, err := n.prompt(ctx, taskID)
	if err != nil {
		t.Fatal(err)
	}
	assertInert(t, "the managers' text", ManagersText(p, "https://x.slack.com/archives/C1/p1?thread_ts=1&cid=C1"))
	assertInert(t, "the re-alert", AlertReminderText(p))
	assertInert(t, "a duplicate click's answer", AlreadyDoneText(p.Task, nil))
}

func TestLinksOnlyWhenTheURLIsPlain(t *testing.T) {
	for _, c := range []struct{ url, text, want string }{
		{"https://dsr.example.nhs.uk/api/v1/people/1001", "DSR-1001", "<https://dsr.example.nhs.uk/api/v1/people/1001|DSR-1001>"},
		{"https://dsr.example.nhs.uk/x|<!channel>", "DSR-1001", "DSR-1001"},
		{"javascript:alert(1)", "DSR-1001", "DSR-1001"},
		{"https://a.example/ b", "x", "x"},
		{"", "<b>", "&lt;b&gt;"},
		{"https://x.slack.com/archives/C1/p1?thread_ts=1&cid=C1", "See", "<https://x.slack.com/archives/C1/p1?thread_ts=1&cid=C1|See>"},
	} {
		if got := link(c.url, c.text); got != c.want {
			t.Errorf("link(%q, %q) = %q, want %q", c.url, c.text, got, c.want)
		}
	}
}
