// Package mailbox is the intake of MbE requests from the team's shared
// mailbox over IMAP: bounded passes that take each request exactly once.
package mailbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/mail"
	"github.com/dsr-register/dsr/internal/mail/mbe"
	"github.com/dsr-register/dsr/internal/store"
)

// Defaults for the intake's bounds.
const (
	// DefaultPassTimeout bounds one read of the mailbox: connecting,
	// signing in, listing, and taking every MbE request found. Past it the
	// connection is closed and the next pass carries on.
	DefaultPassTimeout = 2 * time.Minute
	// ProcessedFolder is where taken requests are moved, made if missing.
	ProcessedFolder = "Processed"
	// maxMessagesPerPass bounds one pass; the rest wait for the next.
	maxMessagesPerPass = 200
	// microsoftScope is what an app's client-credentials token for
	// Exchange Online's IMAP must be asked for.
	microsoftScope = "https://outlook.office365.com/.default"
)

// IntakeStore is what the intake records in.
type IntakeStore interface {
	RecordMbEEmail(ctx context.Context, e store.MbEEmail) (store.MbEEmailOutcome, error)
}

// Intake watches the team's shared mailbox and takes each MbE request
// exactly once: recorded in PostgreSQL by its Message-ID first, then moved
// to the Processed folder. A restart between the two finds it recorded and
// only moves it; two dsr instances reading the same mailbox are decided by
// the table's key, and the loser moves nothing twice. Other mail is left
// where it is, unread: only envelopes and BODY.PEEK are fetched.
type Intake struct {
	Config config.MailboxConfig
	Store  IntakeStore
	Logger *slog.Logger
	// PassTimeout bounds one pass; zero is DefaultPassTimeout.
	PassTimeout time.Duration
	// TLSConfig, if set, is used for tls and starttls.
	TLSConfig *tls.Config
	// TokenURL overrides Entra's token endpoint for xoauth2 (tests).
	TokenURL string
	Now      func() time.Time

	// afterRecord, in tests, runs after an email is recorded and before it
	// is moved; an error stops the pass there, as a crash would.
	afterRecord func(messageID string) error

	tokensOnce sync.Once
	tokens     oauth2.TokenSource
}

// Run reads the mailbox every DSR_MAILBOX_POLL until ctx ends.
func (in *Intake) Run(ctx context.Context) {
	every := time.Duration(in.Config.Poll)
	if every <= 0 {
		every = time.Minute
	}
	for {
		n, err := in.Pass(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			// The error names the server and the step, never a message's
			// content.
			in.Logger.Warn("mailbox: reading MbE requests failed; trying again", "error", err, "taken", n)
		case n > 0:
			in.Logger.Info("mailbox: MbE request emails taken", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// Pass reads the mailbox once and takes every MbE request in it. It
// returns how many emails it recorded.
func (in *Intake) Pass(ctx context.Context) (int, error) {
	timeout := in.PassTimeout
	if timeout <= 0 {
		timeout = DefaultPassTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := in.connect(ctx)
	if err != nil {
		return 0, err
	}
	// Every wait on the server ends when the pass's bound does: closing
	// the connection makes each command return.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	taken, err := in.take(ctx, c)
	if err == nil {
		_ = c.Logout().Wait()
	}
	if ctx.Err() != nil && err != nil {
		err = fmt.Errorf("mail: reading the mailbox took longer than %s: %w", timeout, err)
	}
	return taken, err
}

func (in *Intake) connect(ctx context.Context) (*imapclient.Client, error) {
	cfg := in.Config
	addr := net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
	tlsCfg := in.TLSConfig
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	}
	deadline, _ := ctx.Deadline()
	opts := &imapclient.Options{TLSConfig: tlsCfg, Dialer: &net.Dialer{Deadline: deadline}, WordDecoder: mail.WordDecoder}
	var c *imapclient.Client
	var err error
	switch cfg.TLS {
	case "tls":
		c, err = imapclient.DialTLS(addr, opts)
	case "starttls":
		c, err = imapclient.DialStartTLS(addr, opts)
	default:
		c, err = imapclient.DialInsecure(addr, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("mail: connecting to DSR_MAILBOX_HOST %s: %w", addr, err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if cfg.Auth == "xoauth2" {
		token, err := in.token(ctx)
		if err != nil {
			c.Close()
			return nil, err
		}
		err = c.Authenticate(&xoauth2Client{user: cfg.Username, token: token})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("mail: XOAUTH2 sign-in to the mailbox %s refused (check the app's IMAP.AccessAsApp permission and Add-MailboxPermission): %w", cfg.Username, err)
		}
		return c, nil
	}
	if err := c.Login(cfg.Username, cfg.Password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("mail: signing in to the mailbox as DSR_MAILBOX_USERNAME: %w", err)
	}
	return c, nil
}

// token is a client-credentials access token from Entra, cached until it
// nears expiry.
func (in *Intake) token(ctx context.Context) (string, error) {
	in.tokensOnce.Do(func() {
		url := in.TokenURL
		if url == "" {
			url = "https://login.microsoftonline.com/" + in.Config.TenantID + "/oauth2/v2.0/token"
		}
		cc := &clientcredentials.Config{ClientID: in.Config.ClientID, ClientSecret: in.Config.ClientSecret, TokenURL: url,
			Scopes: []string{microsoftScope}}
		// The token source outlives this pass; each fetch is bounded by
		// the HTTP client's timeout.
		bg := context.WithValue(context.Background(), oauth2.HTTPClient, &httpClientWithTimeout)
		in.tokens = cc.TokenSource(bg)
	})
	type result struct {
		t   *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	go func() { t, err := in.tokens.Token(); done <- result{t, err} }()
	select {
	case <-ctx.Done():
		return "", fmt.Errorf("mail: no token from Entra in time: %w", ctx.Err())
	case r := <-done:
		if r.err != nil {
			return "", fmt.Errorf("mail: getting a token for the mailbox from Entra (DSR_MAILBOX_TENANT_ID, _CLIENT_ID, _CLIENT_SECRET): %w", r.err)
		}
		return r.t.AccessToken, nil
	}
}

func (in *Intake) take(ctx context.Context, c *imapclient.Client) (int, error) {
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: false}).Wait(); err != nil {
		return 0, fmt.Errorf("mail: opening INBOX: %w", err)
	}
	found, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("mail: listing INBOX: %w", err)
	}
	uids := found.AllUIDs()
	if len(uids) == 0 {
		return 0, nil
	}
	if len(uids) > maxMessagesPerPass {
		uids = uids[:maxMessagesPerPass]
	}
	// Envelopes only: fetching them does not mark anything read.
	envs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil {
		return 0, fmt.Errorf("mail: reading INBOX's envelopes: %w", err)
	}
	var requests []imap.UID
	for _, m := range envs {
		if m.Envelope != nil && mbe.IsRequest(m.Envelope.Subject) {
			requests = append(requests, m.UID)
		}
	}
	if len(requests) == 0 {
		return 0, nil
	}
	if err := ensureFolder(c, ProcessedFolder); err != nil {
		return 0, err
	}
	taken := 0
	for _, uid := range requests {
		recorded, err := in.takeOne(ctx, c, uid)
		if recorded {
			taken++
		}
		if err != nil {
			return taken, err
		}
	}
	return taken, nil
}

// takeOne records one message (if it is not already) and then moves it.
func (in *Intake) takeOne(ctx context.Context, c *imapclient.Client, uid imap.UID) (bool, error) {
	whole := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{whole}}).Collect()
	if err != nil {
		return false, fmt.Errorf("mail: fetching message UID %d: %w", uid, err)
	}
	if len(msgs) == 0 {
		return false, nil // moved by another instance meanwhile
	}
	raw := msgs[0].FindBodySection(whole)
	m, err := mail.ParseMessage(raw)
	if err != nil {
		in.Logger.Warn("mailbox: an MbE email could not be read; left in INBOX", "uid", uint32(uid), "error", err)
		return false, nil
	}
	if m.From == "" {
		in.Logger.Warn("mailbox: an MbE email without a sender; left in INBOX", "uid", uint32(uid))
		return false, nil
	}
	f := mbe.Parse(m.Text)
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	out, err := in.Store.RecordMbEEmail(ctx, store.MbEEmail{
		MessageID: m.MessageID, Subject: m.Subject, From: m.From, Thread: m.Thread(),
		Details:    store.MbEDetails{Name: f.Name, Purpose: f.Purpose, Invitees: f.Invitees, WhyNotMDT: f.WhyNotMDT},
		ReceivedAt: now(),
	})
	if err != nil {
		return false, err
	}
	if out.Recorded {
		in.Logger.Info("mailbox: MbE email recorded", "mbe_request_id", out.RequestID, "status", out.Status, "reply", out.Reply)
	}
	if in.afterRecord != nil {
		if err := in.afterRecord(m.MessageID); err != nil {
			return out.Recorded, err
		}
	}
	if _, err := c.Move(imap.UIDSetNum(uid), ProcessedFolder).Wait(); err != nil {
		return out.Recorded, fmt.Errorf("mail: moving message UID %d to %s: %w", uid, ProcessedFolder, err)
	}
	return out.Recorded, nil
}

func ensureFolder(c *imapclient.Client, name string) error {
	list, err := c.List("", name, nil).Collect()
	if err != nil {
		return fmt.Errorf("mail: looking for the %s folder: %w", name, err)
	}
	if len(list) > 0 {
		return nil
	}
	err = c.Create(name, nil).Wait()
	var ie *imap.Error
	if err != nil && errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
		return nil // another instance made it meanwhile
	}
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "exist") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mail: making the %s folder: %w", name, err)
	}
	return nil
}

// xoauth2Client is SASL XOAUTH2, as Exchange Online takes an app's token:
// the mailbox's address and the bearer token in the initial response.
type xoauth2Client struct{ user, token string }

var _ sasl.Client = (*xoauth2Client)(nil)

func (x *xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next answers the server's error challenge (a JSON status) with an empty
// response, after which the server refuses the sign-in with its reason.
func (x *xoauth2Client) Next([]byte) ([]byte, error) { return []byte{}, nil }

// httpClientWithTimeout bounds each token request to Entra.
var httpClientWithTimeout = http.Client{Timeout: 30 * time.Second}
