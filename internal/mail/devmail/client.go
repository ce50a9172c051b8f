package devmail

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"
)

// What the tests (and a developer) do with the servers from outside, as a
// mail client would: over TCP, so what dsr reads and sends crosses the same
// wire it does in production.

// SendToTeam sends raw, a whole message, over SMTP from the given address
// to the team's shared mailbox, as a requester's mail client would. Line
// endings become CRLF, so a message can be written in Go with "\n".
func (s *Server) SendToTeam(from, raw string) error {
	raw = strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\n", "\r\n")
	c, err := smtp.Dial(s.SMTPAddr())
	if err != nil {
		return fmt.Errorf("devmail: connecting to SMTP: %w", err)
	}
	defer c.Close()
	if err := c.SendMail(from, []string{TeamAddress}, strings.NewReader(raw)); err != nil {
		return fmt.Errorf("devmail: sending over SMTP: %w", err)
	}
	return nil
}

// Stored is a message as a folder holds it.
type Stored struct {
	Raw   []byte
	Flags []imap.Flag
}

// ReadFolder reads every message in one of a user's folders over IMAP,
// without marking anything read. A folder that does not exist yet is empty.
func (s *Server) ReadFolder(user, password, folder string) ([]Stored, error) {
	c, err := imapclient.DialInsecure(s.IMAPAddr(), nil)
	if err != nil {
		return nil, fmt.Errorf("devmail: connecting to IMAP: %w", err)
	}
	defer c.Close()
	if err := c.Login(user, password).Wait(); err != nil {
		return nil, fmt.Errorf("devmail: signing in as %s: %w", user, err)
	}
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Code == imap.ResponseCodeNonExistent {
			return nil, nil
		}
		return nil, fmt.Errorf("devmail: selecting %s: %w", folder, err)
	}
	found, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("devmail: listing %s: %w", folder, err)
	}
	uids := found.AllUIDs()
	if len(uids) == 0 {
		return nil, nil
	}
	whole := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{whole}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("devmail: reading %s: %w", folder, err)
	}
	var out []Stored
	for _, m := range msgs {
		out = append(out, Stored{Raw: m.FindBodySection(whole), Flags: m.Flags})
	}
	return out, nil
}
