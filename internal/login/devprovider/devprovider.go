// Package devprovider runs a real OpenID Connect provider in process for
// `dsr dev` and the tests: zitadel/oidc's example OP (authorization code
// flow, PKCE, signed ID tokens, discovery, userinfo, end session), with a
// development coordinator and a development manager whose roles arrive in
// the ID token and userinfo under the configured claim, as Entra's app
// roles do. It is for this machine only: it listens on loopback, keeps its
// users' passwords in clear in the state directory, and forgets every
// sign-in when it stops.
package devprovider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Account is one development sign-in.
type Account struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
}

// Name is how the provider names them ("Dev Coordinator"), so how the
// audit trail does.
func (a Account) Name() string { return a.GivenName + " " + a.FamilyName }

// Accounts is what is kept in the state directory, made once: the two
// development users and the client secret dsr uses with this provider.
type Accounts struct {
	Coordinator  Account `json:"coordinator"`
	Manager      Account `json:"manager"`
	ClientSecret string  `json:"client_secret"`
}

// LoadOrCreateAccounts reads path, or makes new accounts with random
// usernames and passwords and writes them there (mode 0600) first.
func LoadOrCreateAccounts(path string) (Accounts, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		var a Accounts
		if err := json.Unmarshal(b, &a); err != nil || a.Coordinator.Password == "" || a.Manager.Password == "" || a.ClientSecret == "" {
			return Accounts{}, fmt.Errorf("%s is not a development sign-in file; delete it to make new ones", path)
		}
		return a, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return Accounts{}, fmt.Errorf("read %s: %w", path, err)
	}
	a := Accounts{
		Coordinator:  Account{Username: "coordinator-" + randomHex(3), Password: randomHex(12), GivenName: "Dev", FamilyName: "Coordinator"},
		Manager:      Account{Username: "manager-" + randomHex(3), Password: randomHex(12), GivenName: "Dev", FamilyName: "Manager"},
		ClientSecret: randomHex(24),
	}
	b, err = json.MarshalIndent(a, "", "  ")
	if err != nil {
		return Accounts{}, err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return Accounts{}, fmt.Errorf("write %s: %w", path, err)
	}
	return a, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// Options starts a provider.
type Options struct {
	// Port on 127.0.0.1; 0 picks a free one (tests).
	Port     int
	Accounts Accounts
	// ClientID is the one client registered, with RedirectURI and
	// PostLogoutRedirectURI (dsr's /auth/callback and /signed-out).
	ClientID              string
	RedirectURI           string
	PostLogoutRedirectURI string
	// RolesClaim, CoordinatorRole and ManagerRole are dsr's OIDC_* settings:
	// the claim the roles are put under and the values.
	RolesClaim      string
	CoordinatorRole string
	ManagerRole     string
}

// Provider is a running development provider.
type Provider struct {
	issuer string
	srv    *http.Server
	done   chan struct{}
}

// Issuer is OIDC_ISSUER for dsr: http://127.0.0.1:<port>.
func (p *Provider) Issuer() string { return p.issuer }

// Close stops it, waiting a bounded time for requests in flight.
func (p *Provider) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
	<-p.done
}

// Start listens on 127.0.0.1:Port and serves the provider until Close.
func Start(o Options) (*Provider, error) {
	if o.ClientID == "" || o.RedirectURI == "" || o.RolesClaim == "" {
		return nil, errors.New("devprovider: ClientID, RedirectURI and RolesClaim are required")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Port)))
	if err != nil {
		return nil, fmt.Errorf("DSR_DEV_OIDC_PORT %d: %w", o.Port, err)
	}
	issuer := "http://" + ln.Addr().String()

	users := userStore{
		"dev-coordinator": {account: o.Accounts.Coordinator, role: o.CoordinatorRole},
		"dev-manager":     {account: o.Accounts.Manager, role: o.ManagerRole},
	}
	client := storage.WebClient(o.ClientID, o.Accounts.ClientSecret, o.RedirectURI)
	inner := storage.NewStorageWithClients(users, map[string]*storage.Client{o.ClientID: client})
	store := &rolesStorage{Storage: inner, users: users, claim: o.RolesClaim, postLogout: o.PostLogoutRedirectURI}

	// The example keeps its token-encryption key fixed ("test"); a random
	// one per start means nothing it issued outlives it.
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		ln.Close()
		return nil, err
	}
	router := exampleop.SetupServer(issuer, store, nil, false, op.WithCrypto(op.NewAES256GCMCrypto(key, "dev")))
	p := &Provider{
		issuer: issuer,
		srv:    &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second},
		done:   make(chan struct{}),
	}
	go func() {
		defer close(p.done)
		_ = p.srv.Serve(ln)
	}()
	return p, nil
}

// devUser is a development account and the role value it holds.
type devUser struct {
	account Account
	role    string
}

// userStore is the example storage's user store over the two accounts.
type userStore map[string]devUser

func (u userStore) user(id string, d devUser) *storage.User {
	return &storage.User{
		ID: id, Username: d.account.Username, Password: d.account.Password,
		FirstName: d.account.GivenName, LastName: d.account.FamilyName,
		Email: d.account.Username + "@dsr.invalid", EmailVerified: true,
		PreferredLanguage: language.BritishEnglish,
	}
}

func (u userStore) GetUserByID(id string) *storage.User {
	d, ok := u[id]
	if !ok {
		return nil
	}
	return u.user(id, d)
}

func (u userStore) GetUserByUsername(name string) *storage.User {
	for id, d := range u {
		if d.account.Username == name {
			return u.user(id, d)
		}
	}
	return nil
}

// ExampleClientID names the example's JWT-profile service account; dsr
// does not use it.
func (u userStore) ExampleClientID() string { return "dsr-dev-service" }

// rolesStorage is the example's storage with each user's role added to
// the ID token and userinfo under the roles claim, as a list (Entra's
// shape), and the one client allowed dsr's sign-out return address.
type rolesStorage struct {
	*storage.Storage
	users      userStore
	claim      string
	postLogout string
}

func (s *rolesStorage) addRole(info *oidc.UserInfo, userID string) {
	if d, ok := s.users[userID]; ok && d.role != "" {
		info.AppendClaims(s.claim, []string{d.role})
	}
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *rolesStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	s.addRole(info, req.GetSubject())
	return nil
}

// SetUserinfoFromToken fills the userinfo endpoint's answer.
func (s *rolesStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	s.addRole(info, subject)
	return nil
}

// GetClientByClientID returns the client with the profile claims (the
// name) asserted into the ID token, as Entra does, and dsr's sign-out
// return address allowed.
func (s *rolesStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return dsrClient{Client: c, postLogout: s.postLogout}, nil
}

type dsrClient struct {
	op.Client
	postLogout string
}

func (c dsrClient) PostLogoutRedirectURIs() []string {
	if c.postLogout == "" {
		return nil
	}
	return []string{c.postLogout}
}

func (c dsrClient) IDTokenUserinfoClaimsAssertion() bool { return true }
