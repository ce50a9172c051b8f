package config

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// MailboxConfig is the team's shared mailbox, read over IMAP for MbE
// requests (issue 13). Without a host the intake is off (`dsr dev` points it
// at its local mailbox).
type MailboxConfig struct {
	Host     string `env:"DSR_MAILBOX_HOST"`
	Port     int    `env:"DSR_MAILBOX_PORT, default=993"`
	Username string `env:"DSR_MAILBOX_USERNAME"`
	Password string `env:"DSR_MAILBOX_PASSWORD" mask:"true"`
	// TLS is tls (implicit, port 993), starttls, or none (loopback test
	// servers only: the password would cross the network in clear).
	TLS string `env:"DSR_MAILBOX_TLS, default=tls"`
	// Auth is password (LOGIN) or xoauth2: a Microsoft 365 shared mailbox
	// with an app registration's client-credentials token.
	Auth         string `env:"DSR_MAILBOX_AUTH, default=password"`
	TenantID     string `env:"DSR_MAILBOX_TENANT_ID"`
	ClientID     string `env:"DSR_MAILBOX_CLIENT_ID"`
	ClientSecret string `env:"DSR_MAILBOX_CLIENT_SECRET" mask:"true"`
	// Poll is how often the mailbox is read.
	Poll Duration `env:"DSR_MAILBOX_POLL, default=1m"`
	// DevIMAPPort and DevSMTPPort are `dsr dev`'s local mail servers, on
	// 127.0.0.1.
	DevIMAPPort int `env:"DSR_DEV_IMAP_PORT, default=1143"`
	DevSMTPPort int `env:"DSR_DEV_SMTP_PORT, default=1025"`
}

// Enabled reports whether the mailbox is configured.
func (m MailboxConfig) Enabled() bool { return m.Host != "" }

// SMTPConfig is where every email dsr sends goes (replies to MbE requests,
// and later meeting invitations). Without a host no email is sent; the
// notifications stay in the log.
type SMTPConfig struct {
	Host     string `env:"DSR_SMTP_HOST"`
	Port     int    `env:"DSR_SMTP_PORT, default=587"`
	Username string `env:"DSR_SMTP_USERNAME"`
	Password string `env:"DSR_SMTP_PASSWORD" mask:"true"`
	// TLS is starttls (port 587), tls (implicit, port 465) or none
	// (loopback test servers only).
	TLS string `env:"DSR_SMTP_TLS, default=starttls"`
	// From is the team's address, the sender of every email.
	From string `env:"DSR_MAIL_FROM"`
}

// Enabled reports whether outgoing mail is configured.
func (s SMTPConfig) Enabled() bool { return s.Host != "" }

func checkTLSMode(variable, v string) error {
	switch v {
	case "tls", "starttls", "none":
		return nil
	}
	return fmt.Errorf("configuration: %s: %q must be tls, starttls or none", variable, v)
}

// check reports a mailbox setting that cannot work, naming it.
func (m MailboxConfig) check() error {
	for _, p := range []struct {
		variable string
		port     int
	}{{"DSR_MAILBOX_PORT", m.Port}, {"DSR_DEV_IMAP_PORT", m.DevIMAPPort}, {"DSR_DEV_SMTP_PORT", m.DevSMTPPort}} {
		if err := checkPort(p.variable, p.port); err != nil {
			return err
		}
	}
	if time.Duration(m.Poll) < time.Second || time.Duration(m.Poll) > time.Hour {
		return fmt.Errorf("configuration: DSR_MAILBOX_POLL: %s must be between 1s and 1h", m.Poll)
	}
	if err := checkTLSMode("DSR_MAILBOX_TLS", m.TLS); err != nil {
		return err
	}
	if !m.Enabled() {
		return nil
	}
	if strings.TrimSpace(m.Username) == "" {
		return fmt.Errorf("configuration: DSR_MAILBOX_USERNAME is required when DSR_MAILBOX_HOST is set (the shared mailbox's address)")
	}
	switch m.Auth {
	case "password":
		if m.Password == "" {
			return fmt.Errorf("configuration: DSR_MAILBOX_PASSWORD is required with DSR_MAILBOX_AUTH=password")
		}
	case "xoauth2":
		for _, v := range []struct{ variable, value string }{
			{"DSR_MAILBOX_TENANT_ID", m.TenantID}, {"DSR_MAILBOX_CLIENT_ID", m.ClientID}, {"DSR_MAILBOX_CLIENT_SECRET", m.ClientSecret},
		} {
			if strings.TrimSpace(v.value) == "" {
				return fmt.Errorf("configuration: %s is required with DSR_MAILBOX_AUTH=xoauth2", v.variable)
			}
		}
	default:
		return fmt.Errorf("configuration: DSR_MAILBOX_AUTH: %q must be password or xoauth2", m.Auth)
	}
	return nil
}

// check reports an SMTP setting that cannot work, naming it.
func (s SMTPConfig) check() error {
	if err := checkPort("DSR_SMTP_PORT", s.Port); err != nil {
		return err
	}
	if err := checkTLSMode("DSR_SMTP_TLS", s.TLS); err != nil {
		return err
	}
	if s.From != "" {
		if a, err := mail.ParseAddress(s.From); err != nil || a.Address == "" {
			return fmt.Errorf("configuration: DSR_MAIL_FROM: %q is not an email address", s.From)
		}
	}
	if s.Enabled() && s.From == "" {
		return fmt.Errorf("configuration: DSR_MAIL_FROM is required when DSR_SMTP_HOST is set (the team's address)")
	}
	return nil
}
