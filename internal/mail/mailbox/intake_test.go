package mailbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/mail/devmail"
	"github.com/dsr-register/dsr/internal/mail/devmail/devmailtest"
	"github.com/dsr-register/dsr/internal/polltest"
	"github.com/dsr-register/dsr/internal/store"
	"github.com/dsr-register/dsr/internal/store/storetest"
)

var cluster = storetest.NewCluster("mailbox_test")

func TestMain(m *testing.M) { os.Exit(cluster.Run(m)) }

// newStore is a fresh, migrated database of the package's cluster.
func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, _ := cluster.Migrated(t)
	return st
}

func mailboxConfig(srv *devmail.Server) config.MailboxConfig {
	return config.MailboxConfig{Host: "127.0.0.1", Port: srv.IMAPPort(), Username: devmail.TeamUser,
		Password: devmail.TeamPassword, TLS: "none", Auth: "password", Poll: config.Duration(time.Second)}
}

func newIntake(srv *devmail.Server, st *store.Store) *Intake {
	return &Intake{Config: mailboxConfig(srv), Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PassTimeout: 30 * time.Second}
}

// folder reads every message in one of a user's folders, without marking
// anything read.
func folder(t *testing.T, srv *devmail.Server, user, password, name string) []devmail.Stored {
	t.Helper()
	msgs, err := srv.ReadFolder(user, password, name)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// waitFor polls until check passes or the deadline comes.
func waitFor(t *testing.T, what string, check func() bool) {
	t.Helper()
	polltest.Until(t, what, 20*time.Second, 50*time.Millisecond, check)
}

const completeRequest = `From: Sam Nurse <sam.nurse@nhs.example>
To: dsr-team@localhost
Subject: MbE request
Message-ID: <%s>

Hello,

Name: Jo Bloggs
Purpose: To agree a discharge plan
Who to invite: Jo, her mum, the CTLD nurse
Why not an MDT: the MDT could not agree who leads

Kind regards
Sam
`

const otherMail = `From: someone@nhs.example
To: dsr-team@localhost
Subject: Team lunch on Friday
Message-ID: <lunch@nhs.example>

Pizza?
`

var errCrash = errors.New("stopped after recording, before moving")

func TestIntakeExactlyOnceAcrossRestart(t *testing.T) {
	ctx := context.Background()
	st, srv := newStore(t), devmailtest.Start(t)
	devmailtest.SendToTeam(t, srv, otherMail)
	devmailtest.SendToTeam(t, srv, fmt.Sprintf(completeRequest, "req-1@nhs.example"))

	first := newIntake(srv, st)
	first.afterRecord = func(string) error { return errCrash }
	if n, err := first.Pass(ctx); !errors.Is(err, errCrash) || n != 1 {
		t.Fatalf("first pass: %d, %v; want 1 recorded then stopped", n, err)
	}
	if got := len(folder(t, srv, devmail.TeamUser, devmail.TeamPassword, "INBOX")); got != 2 {
		t.Fatalf("after a stop before moving, INBOX holds %d messages, want both still there", got)
	}

	// dsr starts again: the request is found recorded and only moved.
	second := newIntake(srv, st)
	if n, err := second.Pass(ctx); err != nil || n != 0 {
		t.Fatalf("second pass: %d recorded, %v; want 0 (already recorded)", n, err)
	}
	reqs, err := st.MbERequests(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].Status != store.MbEAwaitingDecision || reqs[0].Details.Name != "Jo Bloggs" ||
		reqs[0].MessageID != "req-1@nhs.example" || reqs[0].Requester != "sam.nurse@nhs.example" {
		t.Fatalf("requests after a restart: %+v", reqs)
	}
	processed := folder(t, srv, devmail.TeamUser, devmail.TeamPassword, ProcessedFolder)
	if len(processed) != 1 || !bytes.Contains(processed[0].Raw, []byte("req-1@nhs.example")) {
		t.Fatalf("Processed holds %d messages, want the request once", len(processed))
	}
	inbox := folder(t, srv, devmail.TeamUser, devmail.TeamPassword, "INBOX")
	if len(inbox) != 1 || !bytes.Contains(inbox[0].Raw, []byte("Team lunch")) {
		t.Fatalf("INBOX holds %d messages, want only the other mail", len(inbox))
	}
	for _, f := range inbox[0].Flags {
		if f == imap.FlagSeen {
			t.Errorf("other mail was marked read: %v", inbox[0].Flags)
		}
	}
	// And again: nothing more.
	if n, err := second.Pass(ctx); err != nil || n != 0 {
		t.Fatalf("third pass: %d, %v", n, err)
	}
	if len(folder(t, srv, devmail.TeamUser, devmail.TeamPassword, ProcessedFolder)) != 1 {
		t.Fatal("moved twice")
	}
}

func TestTwoIntakesAtOnce(t *testing.T) {
	ctx := context.Background()
	st, srv := newStore(t), devmailtest.Start(t)
	const n = 8
	for i := range n {
		devmailtest.SendToTeam(t, srv, fmt.Sprintf(completeRequest, fmt.Sprintf("req-%d@nhs.example", i)))
	}
	devmailtest.SendToTeam(t, srv, otherMail)
	a, b := newIntake(srv, st), newIntake(srv, st)
	var wg sync.WaitGroup
	var recorded atomic.Int64
	for _, in := range []*Intake{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := in.Pass(ctx)
			recorded.Add(int64(got))
			if err != nil {
				t.Logf("a pass beside another: %v (the next pass carries on)", err)
			}
		}()
	}
	wg.Wait()
	// Whatever the race left, one more pass each finishes the moves.
	_, _ = a.Pass(ctx)
	_, _ = b.Pass(ctx)
	if recorded.Load() != n {
		t.Errorf("%d emails recorded across both intakes, want %d", recorded.Load(), n)
	}
	reqs, err := st.MbERequests(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != n {
		t.Errorf("%d requests, want %d", len(reqs), n)
	}
	if got := len(folder(t, srv, devmail.TeamUser, devmail.TeamPassword, ProcessedFolder)); got != n {
		t.Errorf("Processed holds %d, want %d", got, n)
	}
	if got := len(folder(t, srv, devmail.TeamUser, devmail.TeamPassword, "INBOX")); got != 1 {
		t.Errorf("INBOX holds %d, want the other mail only", got)
	}
}
