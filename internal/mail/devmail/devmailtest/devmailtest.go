// Package devmailtest starts package devmail's local mail servers for a
// test.
package devmailtest

import (
	"testing"

	"github.com/dsr-register/dsr/internal/mail/devmail"
)

// Start runs devmail's IMAP and SMTP servers, with the default mailboxes,
// on free loopback ports until the test ends.
func Start(tb testing.TB) *devmail.Server {
	tb.Helper()
	return StartWith(tb, devmail.Options{})
}

// StartWith is Start with options (a bearer token for XOAUTH2, say); the
// servers still listen on free loopback ports unless the options say.
func StartWith(tb testing.TB, o devmail.Options) *devmail.Server {
	tb.Helper()
	srv, err := devmail.Start(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Close)
	return srv
}

// SendToTeam sends raw to the team's address from a requester, Sam Nurse
// (made-up), as their mail client would.
func SendToTeam(tb testing.TB, srv *devmail.Server, raw string) {
	tb.Helper()
	if err := srv.SendToTeam("sam.nurse@nhs.example", raw); err != nil {
		tb.Fatal(err)
	}
}
