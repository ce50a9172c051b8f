package config

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
)

func TestLoginDefaults(t *testing.T) {
	c := load(t, nil)
	l := c.Login
	if l.Enabled() || l.RolesClaim != "roles" || l.CoordinatorRole != "DSR.Coordinator" || l.ManagerRole != "DSR.Manager" ||
		l.NameClaim != "name" || l.DevOIDCPort != 9998 {
		t.Errorf("sign-in defaults: %+v", l)
	}
}

// Each sign-in mistake stops start-up naming the variable to fix.
func TestLoginSettingsNameTheVariable(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	good := map[string]string{"OIDC_ISSUER": "https://login.microsoftonline.com/tenant/v2.0", "OIDC_CLIENT_ID": "app", "DSR_SESSION_KEY": key}
	if c, err := Load(context.Background(), envconfig.MapLookuper(good)); err != nil || !c.Login.Enabled() {
		t.Fatalf("a good sign-in configuration: %v", err)
	}
	for _, tc := range []struct {
		set      map[string]string
		variable string
	}{
		{map[string]string{"OIDC_CLIENT_ID": ""}, "OIDC_CLIENT_ID"},
		{map[string]string{"OIDC_ISSUER": "login.microsoftonline.com/tenant"}, "OIDC_ISSUER"},
		{map[string]string{"DSR_SESSION_KEY": "c2hvcnQ="}, "DSR_SESSION_KEY"},
		{map[string]string{"DSR_SESSION_KEY": "not base64!"}, "DSR_SESSION_KEY"},
		{map[string]string{"OIDC_MANAGER_ROLE": "DSR.Coordinator"}, "OIDC_MANAGER_ROLE"},
		{map[string]string{"OIDC_ROLES_CLAIM": " "}, "OIDC_ROLES_CLAIM"},
		{map[string]string{"DSR_DEV_OIDC_PORT": "70000"}, "DSR_DEV_OIDC_PORT"},
	} {
		env := map[string]string{}
		for k, v := range good {
			env[k] = v
		}
		for k, v := range tc.set {
			env[k] = v
		}
		err := loadError(env)
		if err == nil || !strings.Contains(err.Error(), tc.variable) {
			t.Errorf("%v: error %v, want one naming %s", tc.set, err, tc.variable)
		}
	}
}

// Secrets are masked when the configuration is printed.
func TestLoginSecretsAreMasked(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	c := load(t, map[string]string{
		"OIDC_ISSUER": "https://login.example.test", "OIDC_CLIENT_ID": "app", "OIDC_CLIENT_SECRET": "very-secret-value", "DSR_SESSION_KEY": key})
	var out bytes.Buffer
	c.Print(&out)
	if strings.Contains(out.String(), "very-secret-value") || strings.Contains(out.String(), key) {
		t.Errorf("a sign-in secret is printed:\n%s", out.String())
	}
}
