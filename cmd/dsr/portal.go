package main

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/casework"
	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/metrics"
	"github.com/dsr-register/dsr/internal/portal"
)

// mountPortal serves the public self-referral portal on /refer (no
// sign-in) when DSR_PORTAL_ENABLED, its counters on /metrics.
func mountPortal(mux *http.ServeMux, cfg config.Config, cw *casework.Casework, reg *metrics.Registry, logger *slog.Logger, timeout time.Duration) error {
	if !cfg.Portal.Enabled {
		logger.Info("the self-referral portal is off (DSR_PORTAL_ENABLED=false)")
		return nil
	}
	key, err := portalKey(cfg, logger)
	if err != nil {
		return err
	}
	p, err := portal.New(portal.Deps{
		Casework: cw, Logger: logger, Now: time.Now, Today: cw.Today, Timeout: timeout,
		Key: key, SecureCookies: portal.SecureCookiesFor(cfg.PublicURL), ReplyDays: cfg.Portal.ReplyDays,
		SubmissionsPerHour: cfg.Portal.SubmissionsPerHour, PagesPerMinute: cfg.Portal.PagesPerMinute,
		ClientIPHeader: cfg.Portal.ClientIPHeader, Councils: cfg.Portal.LocalAuthorities,
	})
	if err != nil {
		return fmt.Errorf("self-referral portal: %w", err)
	}
	mux.Handle("/refer", p)
	mux.Handle("/refer/", p)
	reg.Prometheus().MustRegister(p.Collector())
	logger.Info("the self-referral portal is on", "url", strings.TrimSuffix(cfg.PublicURL, "/")+"/refer")
	return nil
}

// portalKey is DSR_PORTAL_KEY, else one derived from DSR_SESSION_KEY, else
// a new one for this process (forms half-filled are lost on a restart).
func portalKey(cfg config.Config, logger *slog.Logger) ([]byte, error) {
	if k := strings.TrimSpace(cfg.Portal.Key); k != "" {
		return config.ParseKey("DSR_PORTAL_KEY", k) // checked at load
	}
	if k := strings.TrimSpace(cfg.Login.SessionKey); k != "" {
		secret, err := login.ParseSessionKey(k)
		if err != nil {
			return nil, err
		}
		return portal.DeriveKey(secret), nil
	}
	logger.Warn("neither DSR_PORTAL_KEY nor DSR_SESSION_KEY is set: the portal seals its answers with a key made at start, so forms half-filled are lost on a restart and replicas cannot share them")
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return key, nil
}
