package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dsr-register/dsr/internal/config"
	"github.com/dsr-register/dsr/internal/login"
	"github.com/dsr-register/dsr/internal/login/devprovider"
)

// devClientID is the client dsr is registered as with the local provider.
const devClientID = "dsr-dev"

// devLogin is `dsr dev`'s local OpenID provider and its two sign-ins.
type devLogin struct {
	provider *devprovider.Provider
	accounts devprovider.Accounts
}

// startDevLogin gives dev its sign-in: a session key kept in the state
// directory (unless DSR_SESSION_KEY is set) and, unless OIDC_ISSUER points
// at a real provider, the local provider on 127.0.0.1:port with the
// development coordinator and manager kept in the state directory. It sets
// cfg's sign-in settings to match. The tests start it the same way, with
// port 0. The caller closes the provider (nil when OIDC_ISSUER is set).
func startDevLogin(cfg *config.Config, stateDir string, port int) (*devLogin, error) {
	if cfg.Login.SessionKey == "" {
		key, err := loadOrCreateSessionKey(filepath.Join(stateDir, "session.key"))
		if err != nil {
			return nil, err
		}
		cfg.Login.SessionKey = key
	}
	if cfg.Login.Enabled() {
		return &devLogin{}, nil
	}
	accounts, err := devprovider.LoadOrCreateAccounts(filepath.Join(stateDir, "dev-signins.json"))
	if err != nil {
		return nil, err
	}
	public := strings.TrimSuffix(cfg.PublicURL, "/")
	p, err := devprovider.Start(devprovider.Options{
		Port: port, Accounts: accounts, ClientID: devClientID,
		RedirectURI: public + "/auth/callback", PostLogoutRedirectURI: public + "/signed-out",
		RolesClaim: cfg.Login.RolesClaim, CoordinatorRole: cfg.Login.CoordinatorRole, ManagerRole: cfg.Login.ManagerRole,
	})
	if err != nil {
		return nil, fmt.Errorf("start the local OpenID provider: %w", err)
	}
	cfg.Login.Issuer = p.Issuer()
	cfg.Login.ClientID = devClientID
	cfg.Login.ClientSecret = accounts.ClientSecret
	return &devLogin{provider: p, accounts: accounts}, nil
}

// Close stops the local provider, if there is one.
func (d *devLogin) Close() {
	if d.provider != nil {
		d.provider.Close()
	}
}

// banner is the line dev prints: where the web app is and who to sign in as.
func (d *devLogin) banner(publicURL string) string {
	web := strings.TrimSuffix(publicURL, "/") + "/"
	if d.provider == nil {
		return fmt.Sprintf("Web: %s  (sign in through OIDC_ISSUER)", web)
	}
	return fmt.Sprintf("Web: %s  sign in as coordinator: %s / %s, manager: %s / %s   (local provider %s)",
		web, d.accounts.Coordinator.Username, d.accounts.Coordinator.Password,
		d.accounts.Manager.Username, d.accounts.Manager.Password, d.provider.Issuer())
}

// loadOrCreateSessionKey reads a DSR_SESSION_KEY value from path, making a
// random one first if the file does not exist.
func loadOrCreateSessionKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key := strings.TrimSpace(string(b))
		if _, err := login.ParseSessionKey(key); err != nil {
			return "", fmt.Errorf("%s: %w (delete it to make a new one)", path, err)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	key := base64.StdEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return key, nil
}
