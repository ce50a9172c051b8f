package main

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/mail/devmail"
)

// startDevMail starts `dsr dev`'s local mail on DSR_DEV_IMAP_PORT and
// DSR_DEV_SMTP_PORT and points the intake and outgoing mail at it, unless
// both are configured elsewhere (nil then). The mail is kept in memory: a
// restart empties the mailboxes (what dsr took is in PostgreSQL).
func startDevMail(cfg *config.Config) (*devmail.Server, error) {
	if cfg.Mailbox.Enabled() && cfg.SMTP.Enabled() {
		return nil, nil
	}
	srv, err := devmail.Start(devmail.Options{
		IMAPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Mailbox.DevIMAPPort)),
		SMTPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Mailbox.DevSMTPPort)),
	})
	if err != nil {
		return nil, fmt.Errorf("dev mail (DSR_DEV_IMAP_PORT, DSR_DEV_SMTP_PORT): %w", err)
	}
	if !cfg.Mailbox.Enabled() {
		cfg.Mailbox.Host, cfg.Mailbox.Port, cfg.Mailbox.TLS, cfg.Mailbox.Auth = "127.0.0.1", srv.IMAPPort(), "none", "password"
		cfg.Mailbox.Username, cfg.Mailbox.Password = devmail.TeamUser, devmail.TeamPassword
		// A newcomer watching a request arrive should not wait a minute.
		cfg.Mailbox.Poll = config.Duration(5 * time.Second)
	}
	if !cfg.SMTP.Enabled() {
		cfg.SMTP.Host, cfg.SMTP.Port, cfg.SMTP.TLS = "127.0.0.1", srv.SMTPPort(), "none"
		if cfg.SMTP.From == "" {
			cfg.SMTP.From = "DSR team <" + devmail.TeamAddress + ">"
		}
	}
	return srv, nil
}

func printDevMail(w io.Writer, srv *devmail.Server) {
	fmt.Fprintf(w, "dsr: mail       team mailbox imap://%s  user %s  password %s\n", srv.IMAPAddr(), devmail.TeamUser, devmail.TeamPassword)
	fmt.Fprintf(w, "dsr: mail       send an MbE request: curl --url smtp://%s --mail-from you@example.org --mail-rcpt %s -T request.eml  (Subject: MbE request)\n",
		srv.SMTPAddr(), devmail.TeamAddress)
	fmt.Fprintf(w, "dsr: mail       what dsr sent: imap://%s  user %s  password %s  (INBOX)\n", srv.IMAPAddr(), devmail.ReaderUser, devmail.ReaderPassword)
}
