package login

import (
	"strings"

	"github.com/dsr-register/dsr/internal/config"
)

// RoleMapping turns what the provider says about a user into who they are
// in dsr. Entra ID puts app roles in "roles" and group IDs in "groups";
// other providers nest them ("realm_access.roles"), which a dotted claim
// name reaches.
type RoleMapping struct {
	Claim           string // OIDC_ROLES_CLAIM
	CoordinatorRole string // OIDC_COORDINATOR_ROLE
	ManagerRole     string // OIDC_MANAGER_ROLE
	NameClaim       string // OIDC_NAME_CLAIM
}

// MappingFrom is the mapping the configuration describes.
func MappingFrom(c config.LoginConfig) RoleMapping {
	return RoleMapping{Claim: c.RolesClaim, CoordinatorRole: c.CoordinatorRole, ManagerRole: c.ManagerRole, NameClaim: c.NameClaim}
}

// Role is the user's dsr role: coordinator if the claim holds the
// coordinator value (a coordinator sees everything a manager does, and may
// act), else manager if it holds the manager value. ok is false for a user
// with neither, who is refused.
func (m RoleMapping) Role(claims map[string]any) (role config.Role, ok bool) {
	values := claimStrings(lookupClaim(claims, m.Claim))
	has := func(want string) bool {
		for _, v := range values {
			if want != "" && v == want {
				return true
			}
		}
		return false
	}
	switch {
	case has(m.CoordinatorRole):
		return config.RoleCoordinator, true
	case has(m.ManagerRole):
		return config.RoleManager, true
	}
	return "", false
}

// Name is how the audit trail names the user: the configured claim, else
// the usual places a provider puts a display name, else their subject.
func (m RoleMapping) Name(claims map[string]any) string {
	for _, c := range []string{m.NameClaim, "name", "preferred_username", "email"} {
		if s, ok := lookupClaim(claims, c).(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	s, _ := claims["sub"].(string)
	return s
}

// complete reports whether claims already hold the role claim and a name,
// so the userinfo endpoint need not be asked.
func (m RoleMapping) complete(claims map[string]any) bool {
	if lookupClaim(claims, m.Claim) == nil {
		return false
	}
	s, ok := lookupClaim(claims, m.NameClaim).(string)
	return ok && s != ""
}

// lookupClaim finds name in claims: as given first (Entra's claim names
// may contain dots), then as a path through nested objects.
func lookupClaim(claims map[string]any, name string) any {
	if name == "" {
		return nil
	}
	if v, ok := claims[name]; ok {
		return v
	}
	var cur any = claims
	for _, part := range strings.Split(name, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = obj[part]; !ok {
			return nil
		}
	}
	return cur
}

// claimStrings reads a claim that is a list of strings, or one string
// (which some providers send space-separated).
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []string:
		return v
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
