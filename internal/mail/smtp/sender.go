// Package smtp sends dsr's email over SMTP from the team's address, once
// per key: a retry after a lost acknowledgement sends nothing twice, and a
// server's refusal keeps its codes but not its text, which may name the
// recipient.
package smtp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/notify"
)

// DefaultSendTimeout bounds one message's whole SMTP conversation.
const DefaultSendTimeout = 30 * time.Second

// Attachment is a file sent with a message (an invitation's .ics).
type Attachment struct {
	Filename string
	// ContentType is the full type, parameters included
	// ("text/calendar; method=REQUEST; charset=utf-8").
	ContentType string
	Data        []byte
	// Inline puts the part in the message body (a calendar invitation
	// shown as one) rather than as a file to download.
	Inline bool
}

// Outgoing is one message to send.
type Outgoing struct {
	// Key names the message across retries: its Message-ID is derived
	// from it and, once sent, a retry with the same key sends nothing.
	Key string
	To  []string
	// Subject and Text are the message; Text is plain text.
	Subject string
	Text    string
	// InReplyTo and References thread it (Message-IDs, without angle
	// brackets).
	InReplyTo  string
	References []string
	// HTML, if set, is sent beside Text as an alternative.
	HTML        string
	Attachments []Attachment
	// MbERequest, if set, threads replies to this message to that request.
	MbERequest int64
}

// SentKeys remembers which keys have gone; the store is one.
type SentKeys interface {
	MailSent(ctx context.Context, key string) (bool, error)
	RecordMailSent(ctx context.Context, key, messageID string, mbeRequestID int64) error
}

// Sender sends over SMTP from the team's address, once per key.
type Sender struct {
	Config config.SMTPConfig
	Keys   SentKeys
	// Timeout bounds one message's SMTP conversation; zero is
	// DefaultSendTimeout.
	Timeout time.Duration
	// TLSConfig, if set, is used for tls and starttls (tests trust their
	// own certificate with it).
	TLSConfig *tls.Config
	Now       func() time.Time
}

// MessageID is the Message-ID a key's message goes out with, without angle
// brackets: derived from the key, so a copy sent again is the same message
// to every mail client.
func (s *Sender) MessageID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "dsr-" + hex.EncodeToString(sum[:16]) + "@" + s.domain()
}

func (s *Sender) domain() string {
	if a, err := netmail.ParseAddress(s.Config.From); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok && d != "" {
			return d
		}
	}
	return "dsr.invalid"
}

// Send sends m once: a key already sent sends nothing. It returns the
// message's Message-ID. A recipient the server refuses for good (5xx) is
// notify.Refused, so the outbox sets it aside rather than trying for ever.
func (s *Sender) Send(ctx context.Context, m Outgoing) (string, error) {
	if m.Key == "" || len(m.To) == 0 {
		return "", errors.New("mail: a message needs a key and a recipient")
	}
	id := s.MessageID(m.Key)
	if sent, err := s.Keys.MailSent(ctx, m.Key); err != nil {
		return "", err
	} else if sent {
		return id, nil
	}
	raw, err := s.compose(m, id)
	if err != nil {
		return "", err
	}
	if err := s.deliver(ctx, m.To, raw); err != nil {
		return "", err
	}
	// Recorded after the server accepted it: if dsr stops in between, the
	// retry sends the same Message-ID again, which clients show once.
	return id, s.Keys.RecordMailSent(context.WithoutCancel(ctx), m.Key, id, m.MbERequest)
}

// compose writes the message: plain text (quoted-printable), an HTML
// alternative and attachments when given.
func (s *Sender) compose(m Outgoing, id string) ([]byte, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", s.Config.From)
	var to []string
	for _, addr := range m.To {
		a, err := netmail.ParseAddress(addr)
		if err != nil {
			// Not the parser's error: it quotes the bad address.
			return nil, errors.New("mail: a recipient is not an email address")
		}
		to = append(to, a.String())
	}
	h("To", strings.Join(to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", now().Format(time.RFC1123Z))
	h("Message-ID", "<"+id+">")
	if m.InReplyTo != "" {
		h("In-Reply-To", "<"+m.InReplyTo+">")
	}
	if len(m.References) > 0 {
		refs := make([]string, len(m.References))
		for i, r := range m.References {
			refs[i] = "<" + r + ">"
		}
		h("References", strings.Join(refs, " "))
	}
	h("Auto-Submitted", "auto-generated")
	h("MIME-Version", "1.0")
	textPart := func(ct, body string) []byte {
		var p bytes.Buffer
		fmt.Fprintf(&p, "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", ct)
		w := quotedprintable.NewWriter(&p)
		_, _ = w.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
		_ = w.Close()
		p.WriteString("\r\n")
		return p.Bytes()
	}
	if m.HTML == "" && len(m.Attachments) == 0 {
		b.Write(textPart("text/plain", m.Text))
		return b.Bytes(), nil
	}
	boundary := "dsr-" + hex.EncodeToString(sha256.New().Sum([]byte(id)))[:24]
	h("Content-Type", fmt.Sprintf("multipart/mixed; boundary=%q", boundary))
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "--%s\r\n", boundary)
	b.Write(textPart("text/plain", m.Text))
	if m.HTML != "" {
		fmt.Fprintf(&b, "--%s\r\n", boundary)
		b.Write(textPart("text/html", m.HTML))
	}
	for _, a := range m.Attachments {
		fmt.Fprintf(&b, "--%s\r\n", boundary)
		disposition := "attachment"
		if a.Inline {
			disposition = "inline"
		}
		fmt.Fprintf(&b, "Content-Type: %s\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: %s; filename=%q\r\n\r\n",
			a.ContentType, disposition, a.Filename)
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes(), nil
}

func (s *Sender) deliver(ctx context.Context, to []string, raw []byte) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultSendTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(s.Config.Host, fmt.Sprint(s.Config.Port))
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("mail: connecting to DSR_SMTP_HOST %s: %w", addr, err)
	}
	// The whole conversation within the bound, whatever the server does.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	tlsCfg := s.TLSConfig
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: s.Config.Host, MinVersion: tls.VersionTLS12}
	}
	var c *gosmtp.Client
	switch s.Config.TLS {
	case "tls":
		c = gosmtp.NewClient(tls.Client(conn, tlsCfg))
	case "starttls":
		if c, err = gosmtp.NewClientStartTLS(conn, tlsCfg); err != nil {
			conn.Close()
			return fmt.Errorf("mail: STARTTLS with %s: %w", addr, err)
		}
	default:
		c = gosmtp.NewClient(conn)
	}
	defer c.Close()
	if s.Config.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.Config.Username, s.Config.Password)); err != nil {
			return refusedIfPermanent(fmt.Errorf("mail: signing in to %s: %w", addr, withoutServerText(err)))
		}
	}
	from := s.Config.From
	if a, err := netmail.ParseAddress(from); err == nil {
		from = a.Address
	}
	var rcpts []string
	for _, t := range to {
		if a, err := netmail.ParseAddress(t); err == nil {
			rcpts = append(rcpts, a.Address)
		}
	}
	if err := c.SendMail(from, rcpts, bytes.NewReader(raw)); err != nil {
		return refusedIfPermanent(fmt.Errorf("mail: sending through %s: %w", addr, withoutServerText(err)))
	}
	_ = c.Quit()
	return nil
}

// withoutServerText keeps an SMTP answer's codes and drops its text: a
// server's "550 <jo.bloggs@…>: recipient rejected" would otherwise carry a
// requester's address into the outbox's last_error and the logs.
func withoutServerText(err error) error {
	var se *gosmtp.SMTPError
	if !errors.As(err, &se) {
		return err
	}
	return &gosmtp.SMTPError{Code: se.Code, EnhancedCode: se.EnhancedCode, Message: "(server text withheld: it may name a recipient)"}
}

// refusedIfPermanent marks an SMTP 5xx answer as refused: sending the same
// again will not mend it until someone changes something.
func refusedIfPermanent(err error) error {
	var se *gosmtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 {
		return notify.RefusedBecause(fmt.Sprintf("smtp_%d", se.Code), err)
	}
	return err
}
