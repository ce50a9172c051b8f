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
	srv, err := devmail.Start(devmail.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Close)
	return srv
}
