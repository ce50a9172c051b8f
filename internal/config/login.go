package config

import (
	"fmt"
	"net/url"
	"strings"
)

// LoginConfig signs staff in to the web app with OpenID Connect (Microsoft
// Entra ID in production; `dsr dev` runs a local provider). Without an
// issuer the web app is off and only the JSON API is served.
type LoginConfig struct {
	Issuer       string `env:"OIDC_ISSUER"`
	ClientID     string `env:"OIDC_CLIENT_ID"`
	ClientSecret string `env:"OIDC_CLIENT_SECRET" mask:"true"`
	// RolesClaim is the ID token claim listing the user's roles: Entra's
	// app roles ("roles"), or "groups".
	RolesClaim string `env:"OIDC_ROLES_CLAIM, default=roles"`
	// CoordinatorRole and ManagerRole are the claim values that make a
	// user a coordinator or a manager; a user with neither is refused.
	CoordinatorRole string `env:"OIDC_COORDINATOR_ROLE, default=DSR.Coordinator"`
	ManagerRole     string `env:"OIDC_MANAGER_ROLE, default=DSR.Manager"`
	// NameClaim is the claim the audit trail names the user by.
	NameClaim string `env:"OIDC_NAME_CLAIM, default=name"`
	// SessionKey seals the session cookie: base64 of 32 random bytes.
	// Changing it signs everyone out. `dsr dev` keeps one in its state dir.
	SessionKey string `env:"DSR_SESSION_KEY" mask:"true"`
	// DevOIDCPort is where `dsr dev`'s local OpenID provider listens.
	DevOIDCPort int `env:"DSR_DEV_OIDC_PORT, default=9998"`
}

// Enabled reports whether the web app's sign-in is configured.
func (l LoginConfig) Enabled() bool { return l.Issuer != "" }

// check reports the first sign-in setting that cannot work, naming it.
func (l LoginConfig) check() error {
	if err := checkKey("DSR_SESSION_KEY", l.SessionKey); err != nil {
		return err
	}
	if err := checkPort("DSR_DEV_OIDC_PORT", l.DevOIDCPort); err != nil {
		return err
	}
	if !l.Enabled() {
		return nil
	}
	if u, err := url.Parse(l.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("configuration: OIDC_ISSUER: %q must be the provider's https URL (Entra: https://login.microsoftonline.com/<tenant id>/v2.0)", l.Issuer)
	}
	for _, v := range []struct{ variable, value string }{
		{"OIDC_CLIENT_ID", l.ClientID},
		{"OIDC_ROLES_CLAIM", l.RolesClaim},
		{"OIDC_COORDINATOR_ROLE", l.CoordinatorRole},
		{"OIDC_MANAGER_ROLE", l.ManagerRole},
		{"OIDC_NAME_CLAIM", l.NameClaim},
	} {
		if strings.TrimSpace(v.value) == "" {
			return fmt.Errorf("configuration: %s is required when OIDC_ISSUER is set", v.variable)
		}
	}
	if l.CoordinatorRole == l.ManagerRole {
		return fmt.Errorf("configuration: OIDC_COORDINATOR_ROLE and OIDC_MANAGER_ROLE are both %q; they must differ", l.CoordinatorRole)
	}
	return nil
}
