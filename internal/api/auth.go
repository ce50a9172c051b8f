package api

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/dsr-register/dsr/internal/config"
)

// Every route but /healthz needs a bearer token from DSR_API_TOKENS; its
// role decides what the caller may do, its name is who the audit trail
// records.

type actorKey struct{}

type roleKey struct{}

// role is the caller's token's role.
func role(r *http.Request) config.Role {
	v, _ := r.Context().Value(roleKey{}).(config.Role)
	return v
}

// actor is the name of the caller's token: who the audit trail records.
func actor(r *http.Request) string {
	s, _ := r.Context().Value(actorKey{}).(string)
	return s
}

func requireRole(tokens config.Tokens, roles []config.Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || raw == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dsr"`)
			writeError(w, http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer <token>)", nil)
			return
		}
		var found *config.Token
		for i := range tokens {
			if subtle.ConstantTimeCompare([]byte(tokens[i].Token), []byte(raw)) == 1 {
				found = &tokens[i]
			}
		}
		if found == nil {
			writeError(w, http.StatusUnauthorized, "the bearer token is not recognised", nil)
			return
		}
		allowed := false
		for _, role := range roles {
			allowed = allowed || found.Role == role
		}
		if !allowed {
			writeError(w, http.StatusForbidden, fmt.Sprintf("the %s role cannot do this", found.Role), nil)
			return
		}
		ctx := context.WithValue(r.Context(), actorKey{}, found.Name)
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, roleKey{}, found.Role)))
	})
}
