package login

import (
	"context"
	"fmt"
	"net/url"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// provider is what discovery learnt.
type provider struct {
	oidc       *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	oauth      oauth2.Config
	endSession string
	userinfo   bool
}

// discover asks the provider for its endpoints and keys, once. Requests
// arriving while it is being asked wait for that one answer (each no
// longer than its own context allows) rather than queueing one attempt
// each; a failure is not kept, so the next sign-in tries again.
func (s *Service) discover(ctx context.Context) (*provider, error) {
	s.mu.Lock()
	if s.discovered != nil {
		s.mu.Unlock()
		return s.discovered, nil
	}
	if s.inflight == nil {
		s.inflight = &discovery{done: make(chan struct{})}
		go s.runDiscovery(s.inflight)
	}
	d := s.inflight
	s.mu.Unlock()
	select {
	case <-d.done:
		return d.provider, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// discovery is one attempt at asking the provider, shared by everyone
// waiting for it.
type discovery struct {
	done     chan struct{}
	provider *provider
	err      error
}

// runDiscovery is bounded by the service's timeout, not by the request
// that started it, so one visitor closing their tab fails no one else.
func (s *Service) runDiscovery(d *discovery) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	d.provider, d.err = s.fetchProvider(ctx)
	s.mu.Lock()
	if d.err == nil {
		s.discovered = d.provider
	}
	s.inflight = nil
	s.mu.Unlock()
	close(d.done)
}

func (s *Service) fetchProvider(ctx context.Context) (*provider, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, s.httpClient), s.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("OIDC_ISSUER %s: discovery: %w", s.cfg.Issuer, err)
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
		UserInfo   string `json:"userinfo_endpoint"`
	}
	_ = p.Claims(&extra)
	return &provider{
		oidc:     p,
		verifier: p.Verifier(&oidc.Config{ClientID: s.cfg.ClientID}),
		oauth: oauth2.Config{
			ClientID: s.cfg.ClientID, ClientSecret: s.cfg.ClientSecret,
			Endpoint: p.Endpoint(), RedirectURL: s.redirectURL,
			// profile: Entra sends the display name only with it.
			Scopes: []string{oidc.ScopeOpenID, "profile"},
		},
		endSession: extra.EndSession,
		userinfo:   extra.UserInfo != "",
	}, nil
}

// formActionOrigins are the provider's origins a sign-out form ends up at.
func (s *Service) formActionOrigins() []string {
	var out []string
	add := func(raw string) {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return
		}
		o := u.Scheme + "://" + u.Host
		for _, have := range out {
			if have == o {
				return
			}
		}
		out = append(out, o)
	}
	add(s.cfg.Issuer)
	s.mu.Lock()
	if s.discovered != nil {
		add(s.discovered.endSession)
	}
	s.mu.Unlock()
	return out
}
