// Package codecserver serves the Temporal UI's remote codec endpoint, so
// that someone entitled to read the register's sealed payloads can read a
// workflow's history in the UI.
//
// Only POST /decode is served. Encoding is refused: the UI needs it only to
// start or signal workflows by hand, which nobody should do to a person's
// workflow outside the API, and a codec that encodes would let anyone
// holding a token forge payloads under the team's key.
//
// Every request needs a bearer token the OpenID provider signed (verified
// with go-oidc against OIDC_ISSUER, for the codec's audience), held by a
// COORDINATOR under the web login's role mapping. Managers are refused:
// payloads hold names, NHS numbers, dates of birth and clinical reasons,
// and a manager's work (the dashboard, the digest, the monthly return)
// needs none of them. Browsers are answered only from the Temporal UI's
// exact origin.
package codecserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.temporal.io/sdk/converter"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/login"
)

// maxBody bounds a decode request: a history page's payloads, not more.
const maxBody = 8 << 20

// Options configures the codec server.
type Options struct {
	// Codec opens the register's sealed payloads (internal/encryption).
	Codec converter.PayloadCodec
	// Issuer is OIDC_ISSUER; Audience the client ID the tokens are issued
	// to (the Temporal UI's sign-in).
	Issuer   string
	Audience string
	// Roles is the web login's claim mapping (OIDC_ROLES_CLAIM, …).
	Roles login.RoleMapping
	// Origin is the Temporal UI's origin (DSR_CODEC_CORS_ORIGIN).
	Origin string
	Logger *slog.Logger
	// Timeout bounds the provider's discovery and key fetches.
	Timeout time.Duration
}

// Server is the codec endpoint.
type Server struct {
	o        Options
	verifier *oidc.IDTokenVerifier
	decode   http.Handler
}

// New discovers the provider (bounded by Timeout) and returns the server.
func New(ctx context.Context, o Options) (*Server, error) {
	if o.Codec == nil || o.Issuer == "" || o.Audience == "" || o.Origin == "" {
		return nil, errors.New("codecserver: Codec, Issuer, Audience and Origin are required")
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	client := &http.Client{Timeout: o.Timeout}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, client), o.Timeout)
	defer cancel()
	provider, err := oidc.NewProvider(dctx, o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("OIDC_ISSUER %s: discovery: %w", o.Issuer, err)
	}
	// The key set is fetched later, on a request's context; it must use
	// the bounded client too, whatever that context carries.
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), client), jwksURL(provider))
	verifier := oidc.NewVerifier(o.Issuer, keys, &oidc.Config{ClientID: o.Audience})
	return &Server{o: o, verifier: verifier, decode: converter.NewPayloadCodecHTTPHandler(o.Codec)}, nil
}

func jwksURL(p *oidc.Provider) string {
	var claims struct {
		JWKS string `json:"jwks_uri"`
	}
	_ = p.Claims(&claims)
	return claims.JWKS
}

// ServeHTTP answers POST /decode (and its CORS preflight) for a
// coordinator; everything else is refused.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin != "" && origin != s.o.Origin {
		// Another site's page: no CORS headers, so its browser sees nothing.
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	if origin != "" {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", s.o.Origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	}
	if !strings.HasSuffix(r.URL.Path, "/decode") {
		http.Error(w, "this codec server only decodes (POST /decode)", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodOptions:
		if origin == "" {
			http.Error(w, "a preflight needs an Origin", http.StatusBadRequest)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", "POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Authorization-Extras, Content-Type, X-Namespace")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "POST /decode", http.StatusMethodNotAllowed)
		return
	}
	user, status, why := s.authorise(r)
	if status != http.StatusOK {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dsr codec"`)
		}
		s.o.Logger.Warn("codec: decode refused", "status", status, "reason", why, "namespace", r.Header.Get("X-Namespace"))
		http.Error(w, why, status)
		return
	}
	s.o.Logger.Info("codec: payloads decoded", "user", user, "namespace", r.Header.Get("X-Namespace"))
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	s.decode.ServeHTTP(w, r)
}

// authorise checks the request's token: the Temporal UI sends the user's
// access token in Authorization and, when it has one, their ID token in
// Authorization-Extras. Whichever the provider signed for our audience
// counts. It answers the user's name and 200, or a status and why.
func (s *Server) authorise(r *http.Request) (name string, status int, why string) {
	var candidates []string
	if extra := strings.TrimSpace(r.Header.Get("Authorization-Extras")); extra != "" {
		candidates = append(candidates, strings.TrimPrefix(extra, "Bearer "))
	}
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
		candidates = append(candidates, strings.TrimSpace(strings.TrimPrefix(auth, "Bearer ")))
	}
	if len(candidates) == 0 {
		return "", http.StatusUnauthorized, "sign in: a bearer token from the team's OpenID provider is required"
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.o.Timeout)
	defer cancel()
	for _, raw := range candidates {
		tok, err := s.verifier.Verify(ctx, raw)
		if err != nil {
			continue
		}
		var claims map[string]any
		if err := tok.Claims(&claims); err != nil {
			continue
		}
		role, ok := s.o.Roles.Role(claims)
		name := s.o.Roles.Name(claims)
		switch {
		case ok && role == config.RoleCoordinator:
			return name, http.StatusOK, ""
		case ok && role == config.RoleManager:
			return name, http.StatusForbidden, "managers may not read workflow payloads: they hold personal and health data; the dashboard and reports have what a manager needs"
		default:
			return name, http.StatusForbidden, "only DSR coordinators may read workflow payloads"
		}
	}
	return "", http.StatusUnauthorized, "the token is not one the team's OpenID provider signed for this service (expired, or for another audience)"
}
