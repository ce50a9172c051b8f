package mailbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dsr-register/dsr/internal/mail/devmail"
	"github.com/dsr-register/dsr/internal/mail/devmail/devmailtest"
)

// entraTokens stands in for Entra's token endpoint (which does not run
// here): the client-credentials grant for one app, asked for Exchange
// Online's scope, answered with token. It counts the tokens it gave.
func entraTokens(t *testing.T, clientID, secret, token string) (url string, given *atomic.Int32) {
	t.Helper()
	given = &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id, pass, ok := r.BasicAuth()
		if !ok {
			id, pass = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || r.PostForm.Get("grant_type") != "client_credentials" ||
			r.PostForm.Get("scope") != microsoftScope || id != clientID || pass != secret {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		given.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 3600})
	}))
	t.Cleanup(srv.Close)
	return srv.URL, given
}

// TestIntakeSignsInWithXOAUTH2: with DSR_MAILBOX_AUTH=xoauth2, as for a
// Microsoft 365 shared mailbox, the intake asks the token endpoint for a
// client-credentials token (the app's ID and secret, Exchange Online's
// scope) and signs in to the mailbox with it over SASL XOAUTH2: no
// password. The token serves later passes until it nears expiry. A token
// the mailbox refuses, or no token, is an error saying what to check.
func TestIntakeSignsInWithXOAUTH2(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	srv := devmailtest.StartWith(t, devmail.Options{BearerToken: "token-for-the-shared-mailbox"})
	devmailtest.SendToTeam(t, srv, fmt.Sprintf(completeRequest, "req-xoauth2@nhs.example"))

	tokenURL, given := entraTokens(t, "dsr-app", "app-secret", "token-for-the-shared-mailbox")
	in := newIntake(srv, st)
	in.Config.Auth, in.Config.Password = "xoauth2", ""
	in.Config.TenantID, in.Config.ClientID, in.Config.ClientSecret = "tenant", "dsr-app", "app-secret"
	in.TokenURL = tokenURL
	if n, err := in.Pass(ctx); err != nil || n != 1 {
		t.Fatalf("first pass with XOAUTH2: %d recorded, %v; want the request", n, err)
	}
	if n, err := in.Pass(ctx); err != nil || n != 0 {
		t.Fatalf("second pass: %d recorded, %v; want nothing new", n, err)
	}
	if got := given.Load(); got != 1 {
		t.Errorf("tokens asked for over two passes: %d, want 1 (kept until it nears expiry)", got)
	}

	// A token the mailbox does not take (the app lacks its permission).
	otherURL, _ := entraTokens(t, "dsr-app", "app-secret", "a-token-for-something-else")
	refused := newIntake(srv, st)
	refused.Config.Auth, refused.Config.Password = "xoauth2", ""
	refused.Config.TenantID, refused.Config.ClientID, refused.Config.ClientSecret = "tenant", "dsr-app", "app-secret"
	refused.TokenURL = otherURL
	if _, err := refused.Pass(ctx); err == nil || !strings.Contains(err.Error(), "XOAUTH2 sign-in to the mailbox") ||
		!strings.Contains(err.Error(), "IMAP.AccessAsApp") {
		t.Errorf("a refused token: %v, want the sign-in refused, naming the permission to check", err)
	}

	// No token: the app's secret is wrong.
	noToken := newIntake(srv, st)
	noToken.Config.Auth, noToken.Config.Password = "xoauth2", ""
	noToken.Config.TenantID, noToken.Config.ClientID, noToken.Config.ClientSecret = "tenant", "dsr-app", "an-old-secret"
	noToken.TokenURL = tokenURL
	if _, err := noToken.Pass(ctx); err == nil || !strings.Contains(err.Error(), "DSR_MAILBOX_TENANT_ID, _CLIENT_ID, _CLIENT_SECRET") {
		t.Errorf("a wrong client secret: %v, want an error naming the settings", err)
	}
}
