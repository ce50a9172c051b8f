package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	commonpb "go.temporal.io/api/common/v1"
	"golang.org/x/oauth2"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dsr-register/dsr/internal/encryption"
	"github.com/dsr-register/dsr/internal/login/devprovider"
)

const uiOrigin = "http://127.0.0.1:8233"

// codecEnv is the real local OpenID provider (`dsr dev`'s) with the
// Temporal UI registered as its client, and `dsr codec-server` in-process.
type codecEnv struct {
	t        *testing.T
	codec    string
	provider *devprovider.Provider
	accounts devprovider.Accounts
	oauth    oauth2.Config
	callback string
}

var providerFormID = regexp.MustCompile(`name="id" value="([^"]+)"`)

func startCodecEnv(t *testing.T) *codecEnv {
	t.Helper()
	codes := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "code="+r.URL.Query().Get("code"))
	}))
	t.Cleanup(codes.Close)
	accounts, err := devprovider.LoadOrCreateAccounts(t.TempDir() + "/dev-signins.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := devprovider.Start(devprovider.Options{Accounts: accounts, ClientID: "temporal-ui", RedirectURI: codes.URL + "/callback",
		RolesClaim: "roles", CoordinatorRole: "DSR.Coordinator", ManagerRole: "DSR.Manager"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	op, err := oidc.NewProvider(t.Context(), p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"OIDC_ISSUER": p.Issuer(), "OIDC_CLIENT_ID": "temporal-ui", "DSR_PAYLOAD_KEYS": testPayloadKey,
		"DSR_CODEC_ADDR": "127.0.0.1:0", "DSR_CODEC_CORS_ORIGIN": uiOrigin, "DSR_LOG_LEVEL": "warn",
	}
	cfg, err := loadConfig(t.Context(), envLookup(env))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- codecServer(ctx, cfg, io.Discard, io.Discard, func(a string) { addr <- a }) }()
	t.Cleanup(func() { cancel(); <-done })
	var codecURL string
	select {
	case a := <-addr:
		codecURL = "http://" + a
	case err := <-done:
		t.Fatalf("codec-server did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("codec-server did not listen within 30 s")
	}
	return &codecEnv{t: t, codec: codecURL, provider: p, accounts: accounts, callback: codes.URL + "/callback",
		oauth: oauth2.Config{ClientID: "temporal-ui", ClientSecret: accounts.ClientSecret, Endpoint: op.Endpoint(),
			RedirectURL: codes.URL + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile"}}}
}

// signIn signs acct in at the provider as a browser would (authorization
// code with PKCE) and returns their access token and ID token.
func (e *codecEnv) signIn(acct devprovider.Account) (access, id string) {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	verifier := oauth2.GenerateVerifier()
	resp, err := browser.Get(e.oauth.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1")))
	if err != nil {
		e.t.Fatal(err)
	}
	form, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := providerFormID.FindSubmatch(form)
	if m == nil {
		e.t.Fatalf("no sign-in form at %s:\n%s", resp.Request.URL, form)
	}
	resp, err = browser.PostForm(e.provider.Issuer()+"/login/username",
		url.Values{"id": {string(m[1])}, "username": {acct.Username}, "password": {acct.Password}})
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	code, ok := strings.CutPrefix(string(body), "code=")
	if !ok || code == "" {
		e.t.Fatalf("signing in ended at %s: %s", resp.Request.URL, body)
	}
	tok, err := e.oauth.Exchange(e.t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatal(err)
	}
	id, _ = tok.Extra("id_token").(string)
	if id == "" {
		e.t.Fatal("no ID token")
	}
	return tok.AccessToken, id
}

// post sends a request to the codec server.
func (e *codecEnv) post(method, path string, headers map[string]string, body []byte) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.codec+path, bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// sealedPayloads is what the Temporal UI sends: payloads as sealed in
// Temporal, in the codec protocol's JSON.
func sealedPayloads(t *testing.T, text string) []byte {
	t.Helper()
	keys, _ := encryption.ParseKeys(testPayloadKey)
	codec, err := encryption.NewCodec(keys)
	if err != nil {
		t.Fatal(err)
	}
	plain := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(text)}
	sealed, err := codec.Encode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed[0].GetData(), []byte("Lovelace")) {
		t.Fatal("the payload is not sealed")
	}
	raw, err := protojson.Marshal(&commonpb.Payloads{Payloads: sealed})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// forgedIDToken is a well-formed ID token with the coordinator role,
// signed by a key the provider never had.
func forgedIDToken(t *testing.T, issuer string) string {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "forged"})
	claims, _ := json.Marshal(map[string]any{"iss": issuer, "aud": "temporal-ui", "sub": "x", "exp": time.Now().Add(time.Hour).Unix(),
		"iat": time.Now().Unix(), "roles": []string{"DSR.Coordinator"}})
	return enc.EncodeToString(header) + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString([]byte("not a signature"))
}

// TestCodecServerDecodesForCoordinatorsOnly: with real tokens from the
// local OpenID provider, a coordinator's decode is answered (the payload
// opened); no token, a forged one, or a manager's is refused; the Temporal
// UI's origin alone gets CORS answers; /encode is not served.
func TestCodecServerDecodesForCoordinatorsOnly(t *testing.T) {
	e := startCodecEnv(t)
	body := sealedPayloads(t, `{"given_name":"Ada","family_name":"Lovelace"}`)
	coordAccess, coordID := e.signIn(e.accounts.Coordinator)
	_, managerID := e.signIn(e.accounts.Manager)
	decodes := func(resp *http.Response, got string) bool {
		var out commonpb.Payloads
		return resp.StatusCode == 200 && protojson.Unmarshal([]byte(got), &out) == nil && len(out.Payloads) == 1 &&
			strings.Contains(string(out.Payloads[0].GetData()), "Lovelace")
	}

	// A coordinator, as the UI sends it: the ID token in Authorization, or
	// the access token there and the ID token in Authorization-Extras.
	for what, h := range map[string]map[string]string{
		"ID token":                  {"Authorization": "Bearer " + coordID, "Origin": uiOrigin, "Content-Type": "application/json"},
		"Authorization-Extras":      {"Authorization": "Bearer " + coordAccess, "Authorization-Extras": coordID, "Origin": uiOrigin},
		"no Origin (the CLI, tctl)": {"Authorization": "Bearer " + coordID},
	} {
		resp, got := e.post("POST", "/decode", h, body)
		if !decodes(resp, got) {
			t.Errorf("coordinator (%s): %s %s, want the payload opened", what, resp.Status, got)
		}
		if h["Origin"] != "" && resp.Header.Get("Access-Control-Allow-Origin") != uiOrigin {
			t.Errorf("coordinator (%s): Access-Control-Allow-Origin %q, want %q", what, resp.Header.Get("Access-Control-Allow-Origin"), uiOrigin)
		}
	}

	// Refused: nothing opened.
	for what, c := range map[string]struct {
		headers map[string]string
		status  int
	}{
		"no token":       {map[string]string{"Origin": uiOrigin}, 401},
		"a forged token": {map[string]string{"Authorization": "Bearer " + forgedIDToken(t, e.provider.Issuer())}, 401},
		"the access token alone (not an ID token for this audience)": {map[string]string{"Authorization": "Bearer " + coordAccess}, 401},
		"a manager":      {map[string]string{"Authorization": "Bearer " + managerID, "Origin": uiOrigin}, 403},
		"another origin": {map[string]string{"Authorization": "Bearer " + coordID, "Origin": "https://evil.example"}, 403},
	} {
		resp, got := e.post("POST", "/decode", c.headers, body)
		if resp.StatusCode != c.status || decodes(resp, got) {
			t.Errorf("%s: %s %q, want %d and nothing opened", what, resp.Status, got, c.status)
		}
	}

	// Preflight: answered for the UI's origin only.
	resp, _ := e.post("OPTIONS", "/decode", map[string]string{"Origin": uiOrigin, "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization,content-type,x-namespace"}, nil)
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != uiOrigin ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight from the UI: %s %v", resp.Status, resp.Header)
	}
	for _, origin := range []string{"https://evil.example", "http://127.0.0.1:8234", "http://localhost:8233"} {
		resp, _ := e.post("OPTIONS", "/decode", map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST"}, nil)
		if resp.StatusCode < 400 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %s: %s, Access-Control-Allow-Origin %q; want refused without CORS headers", origin, resp.Status, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}

	// Encoding is not offered, even to a coordinator.
	if resp, got := e.post("POST", "/encode", map[string]string{"Authorization": "Bearer " + coordID}, body); resp.StatusCode != 404 {
		t.Errorf("/encode: %s %s, want 404", resp.Status, got)
	}
}
