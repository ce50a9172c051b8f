package devmail

import (
	"bytes"
	"crypto/subtle"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
)

// user is one of the server's mailboxes and its password.
type user struct {
	mailbox  *imapmemserver.User
	password string
}

// imapSession is the in-memory server's session (its mailboxes' commands
// come from the embedded UserSession once signed in), with sign-in by
// password (LOGIN, AUTHENTICATE PLAIN) and, when the server has a bearer
// token, by SASL XOAUTH2.
type imapSession struct {
	*imapmemserver.UserSession // nil until signed in
	users                      map[string]user
	bearer                     string
}

var _ imapserver.SessionSASL = (*imapSession)(nil)

func (s *imapSession) Login(username, password string) error {
	u, ok := s.users[username]
	if !ok {
		return imapserver.ErrAuthFailed
	}
	if err := u.mailbox.Login(username, password); err != nil {
		return err
	}
	s.UserSession = imapmemserver.NewUserSession(u.mailbox)
	return nil
}

func (s *imapSession) AuthenticateMechanisms() []string {
	if s.bearer == "" {
		return []string{sasl.Plain}
	}
	return []string{sasl.Plain, "XOAUTH2"}
}

func (s *imapSession) Authenticate(mech string) (sasl.Server, error) {
	switch {
	case mech == sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return imapserver.ErrAuthFailed
			}
			return s.Login(username, password)
		}), nil
	case mech == "XOAUTH2" && s.bearer != "":
		return xoauth2Server(func(username, token string) error {
			u, ok := s.users[username]
			if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.bearer)) != 1 {
				return imapserver.ErrAuthFailed
			}
			s.UserSession = imapmemserver.NewUserSession(u.mailbox)
			return nil
		}), nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "SASL mechanism not supported"}
}

// xoauth2Server reads SASL XOAUTH2's one message,
// "user=<address>\x01auth=Bearer <token>\x01\x01", and signs in with it.
type xoauth2Server func(username, token string) error

func (signIn xoauth2Server) Next(response []byte) (challenge []byte, done bool, err error) {
	var username, token string
	for _, field := range bytes.Split(response, []byte{1}) {
		switch {
		case bytes.HasPrefix(field, []byte("user=")):
			username = string(field[len("user="):])
		case bytes.HasPrefix(field, []byte("auth=Bearer ")):
			token = string(field[len("auth=Bearer "):])
		}
	}
	if username == "" || token == "" {
		return nil, true, imapserver.ErrAuthFailed
	}
	return nil, true, signIn(username, token)
}
