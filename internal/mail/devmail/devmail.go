// Package devmail is the local mail of `dsr dev` and the tests: a real IMAP
// server (go-imap's, with its in-memory store) and a real SMTP server
// (go-smtp) that delivers into it, both on loopback TCP ports, in process.
//
// Two mailboxes:
//
//   - the team's shared mailbox (TeamUser), which dsr's intake reads: mail to
//     TeamAddress lands in its INBOX, as an MbE request sent with any mail
//     client or `curl --mail-rcpt` would;
//   - the outbox reader (ReaderUser): every message to any other address
//     lands in its INBOX, so what dsr sent (its replies to requesters) can be
//     read with any IMAP client.
//
// Nothing is kept across a restart: the mail is in memory. What dsr took
// from the mailbox is recorded in PostgreSQL, so a restart loses only mail
// not yet read, and the messages dsr sent.
package devmail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"
)

// Defaults for the local mailboxes. They guard nothing real: the servers
// listen on loopback only.
const (
	TeamAddress    = "dsr-team@localhost"
	TeamUser       = "dsr-team"
	TeamPassword   = "dsr-team-dev"
	ReaderUser     = "outbox-reader"
	ReaderPassword = "outbox-reader-dev"
	// maxMessageBytes bounds one message, as a real server would.
	maxMessageBytes = 25 << 20
)

// Options says where the servers listen; "127.0.0.1:0" picks a free port.
type Options struct {
	IMAPAddr string
	SMTPAddr string
	// BearerToken, when set, is an access token the IMAP server also takes
	// for any of its users through SASL XOAUTH2, as Exchange Online takes
	// an app's client-credentials token for a shared mailbox.
	BearerToken string
}

// Server is the running pair.
type Server struct {
	imapLn, smtpLn net.Listener
	imapSrv        *imapserver.Server
	smtpSrv        *smtp.Server
	team, reader   *imapmemserver.User
	wg             sync.WaitGroup
	closeOnce      sync.Once
}

// Start listens on both addresses and serves until Close.
func Start(o Options) (*Server, error) {
	if o.IMAPAddr == "" {
		o.IMAPAddr = "127.0.0.1:0"
	}
	if o.SMTPAddr == "" {
		o.SMTPAddr = "127.0.0.1:0"
	}
	s := &Server{team: imapmemserver.NewUser(TeamUser, TeamPassword), reader: imapmemserver.NewUser(ReaderUser, ReaderPassword)}
	users := map[string]user{TeamUser: {s.team, TeamPassword}, ReaderUser: {s.reader, ReaderPassword}}
	for _, u := range users {
		if err := u.mailbox.Create("INBOX", nil); err != nil {
			return nil, fmt.Errorf("devmail: %w", err)
		}
	}
	quiet := log.New(io.Discard, "", 0)
	s.imapSrv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &imapSession{users: users, bearer: o.BearerToken}, nil, nil
		},
		// MOVE and UIDPLUS, as Exchange Online and Dovecot offer.
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true, // loopback only
		Logger:       quiet,
	})
	s.smtpSrv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{server: s}, nil }))
	s.smtpSrv.Domain = "localhost"
	s.smtpSrv.MaxMessageBytes = maxMessageBytes
	s.smtpSrv.MaxRecipients = 50
	s.smtpSrv.ReadTimeout, s.smtpSrv.WriteTimeout = time.Minute, time.Minute
	s.smtpSrv.ErrorLog = quiet

	var err error
	if s.imapLn, err = net.Listen("tcp", o.IMAPAddr); err != nil {
		return nil, fmt.Errorf("devmail: IMAP on %s: %w", o.IMAPAddr, err)
	}
	if s.smtpLn, err = net.Listen("tcp", o.SMTPAddr); err != nil {
		s.imapLn.Close()
		return nil, fmt.Errorf("devmail: SMTP on %s: %w", o.SMTPAddr, err)
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); _ = s.imapSrv.Serve(s.imapLn) }()
	go func() { defer s.wg.Done(); _ = s.smtpSrv.Serve(s.smtpLn) }()
	return s, nil
}

// IMAPAddr and SMTPAddr are host:port.
func (s *Server) IMAPAddr() string { return s.imapLn.Addr().String() }
func (s *Server) SMTPAddr() string { return s.smtpLn.Addr().String() }

// IMAPPort and SMTPPort are the ports.
func (s *Server) IMAPPort() int { return s.imapLn.Addr().(*net.TCPAddr).Port }
func (s *Server) SMTPPort() int { return s.smtpLn.Addr().(*net.TCPAddr).Port }

// Close stops both servers.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		_ = s.smtpSrv.Close()
		_ = s.imapSrv.Close()
		s.wg.Wait()
	})
}

// Deliver puts a message in the mailbox its recipient reads: the team's
// INBOX for TeamAddress, the outbox reader's for anyone else.
func (s *Server) Deliver(rcpt string, msg []byte) error {
	u := s.reader
	if strings.EqualFold(strings.TrimSpace(rcpt), TeamAddress) {
		u = s.team
	}
	_, err := u.Append("INBOX", literal{bytes.NewReader(msg)}, &imap.AppendOptions{Time: time.Now()})
	return err
}

type literal struct{ *bytes.Reader }

type smtpSession struct {
	server *Server
	rcpts  []string
}

func (s *smtpSession) Reset()        { s.rcpts = nil }
func (s *smtpSession) Logout() error { return nil }
func (s *smtpSession) Mail(string, *smtp.MailOptions) error {
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !strings.Contains(to, "@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "a recipient must be an address"}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	msg, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(s.rcpts) == 0 {
		return errors.New("no recipients")
	}
	// One copy per mailbox, however many of its addresses were named.
	seen := map[string]bool{}
	for _, rcpt := range s.rcpts {
		box := "reader"
		if strings.EqualFold(rcpt, TeamAddress) {
			box = "team"
		}
		if seen[box] {
			continue
		}
		seen[box] = true
		if err := s.server.Deliver(rcpt, msg); err != nil {
			return err
		}
	}
	return nil
}
