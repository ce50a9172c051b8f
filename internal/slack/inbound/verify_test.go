package inbound

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// fakeClock is a concurrency-safe injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

// verifierAt is a Verifier on the test secret whose clock starts at start.
func verifierAt(start time.Time) (*Verifier, *fakeClock) {
	clock := newFakeClock(start)
	v := NewVerifier(testSecret)
	v.Now = clock.Now
	return v, clock
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sign computes the v0 signature header value the way Slack does.
func sign(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:", ts)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// signedReq describes one request to send.
type signedReq struct {
	body  []byte
	sig   string // X-Slack-Signature; "" omits the header
	ts    string // X-Slack-Request-Timestamp; "" omits the header
	ctype string
}

func formBody(payload string) []byte {
	return []byte(url.Values{"payload": {payload}}.Encode())
}

// validReq returns a correctly signed form request timestamped at t.
func validReq(t time.Time, payload string) signedReq {
	body := formBody(payload)
	ts := strconv.FormatInt(t.Unix(), 10)
	return signedReq{body: body, ts: ts, sig: sign(testSecret, ts, body)}
}

func (s signedReq) httpRequest(t *testing.T, target string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(string(s.body)))
	if err != nil {
		t.Fatal(err)
	}
	ct := s.ctype
	if ct == "" {
		ct = "application/x-www-form-urlencoded"
	}
	req.Header.Set("Content-Type", ct)
	if s.sig != "" {
		req.Header.Set(HeaderSignature, s.sig)
	}
	if s.ts != "" {
		req.Header.Set(HeaderTimestamp, s.ts)
	}
	return req
}

// testServer runs v.Middleware in front of a handler that parses the form
// and records the payload field it saw.
type testServer struct {
	*httptest.Server
	mu       sync.Mutex
	payloads []string
}

func newTestServer(t *testing.T, v *Verifier) *testServer {
	t.Helper()
	ts := &testServer{}
	ts.Server = httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "parse form: "+err.Error(), http.StatusBadRequest)
			return
		}
		p := r.PostForm.Get("payload")
		ts.mu.Lock()
		ts.payloads = append(ts.payloads, p)
		ts.mu.Unlock()
		_, _ = io.WriteString(w, "ok:"+p)
	})))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) seen() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.payloads...)
}

func send(t *testing.T, client *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp.StatusCode, string(b)
}

func TestVerifierMiddlewareHTTP(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	nowTS := strconv.FormatInt(now.Unix(), 10)
	const payload = `{"type":"block_actions","actions":[{"action_id":"accept","value":"dsr-42&x=1"}]}`
	body := formBody(payload)

	big := formBody(strings.Repeat("a", MaxBodyBytes))
	exactly := formBody(strings.Repeat("b", MaxBodyBytes-len("payload=")))
	if len(exactly) != MaxBodyBytes {
		t.Fatalf("test setup: exact body is %d bytes", len(exactly))
	}

	at := func(d time.Duration) signedReq {
		ts := strconv.FormatInt(now.Add(d).Unix(), 10)
		return signedReq{body: body, ts: ts, sig: sign(testSecret, ts, body)}
	}

	tests := []struct {
		name        string
		req         signedReq
		wantStatus  int
		wantMsg     string // substring of response body
		wantPayload string // payload the handler must have seen ("" = handler not reached)
	}{
		{
			name:        "valid request accepted with body intact",
			req:         at(0),
			wantStatus:  http.StatusOK,
			wantMsg:     "ok:",
			wantPayload: payload,
		},
		{
			name:        "exactly window old accepted",
			req:         at(-DefaultWindow),
			wantStatus:  http.StatusOK,
			wantPayload: payload,
		},
		{
			name:        "exactly window ahead accepted",
			req:         at(DefaultWindow),
			wantStatus:  http.StatusOK,
			wantPayload: payload,
		},
		{
			name:        "body of exactly 1 MiB accepted",
			req:         signedReq{body: exactly, ts: nowTS, sig: sign(testSecret, nowTS, exactly)},
			wantStatus:  http.StatusOK,
			wantPayload: strings.Repeat("b", MaxBodyBytes-len("payload=")),
		},
		{
			name:       "forged: wrong secret",
			req:        signedReq{body: body, ts: nowTS, sig: sign("not-the-secret", nowTS, body)},
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "invalid signature",
		},
		{
			name:       "forged: tampered body",
			req:        signedReq{body: formBody(strings.Replace(payload, "dsr-42", "dsr-43", 1)), ts: nowTS, sig: sign(testSecret, nowTS, body)},
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "invalid signature",
		},
		{
			name:       "forged: tampered timestamp",
			req:        signedReq{body: body, ts: strconv.FormatInt(now.Unix()+1, 10), sig: sign(testSecret, nowTS, body)},
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "invalid signature",
		},
		{
			name:       "forged: wrong version prefix",
			req:        signedReq{body: body, ts: nowTS, sig: "v1=" + strings.TrimPrefix(sign(testSecret, nowTS, body), "v0=")},
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "invalid signature",
		},
		{
			name:       "forged: non-hex signature",
			req:        signedReq{body: body, ts: nowTS, sig: "v0=zz" + strings.Repeat("0", 62)},
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "invalid signature",
		},
		{
			name:       "forged: truncated signature",
			req:        signedReq{body: body, ts: nowTS, sig: sign(testSecret, nowTS, body)[:40]},
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "invalid signature",
		},
		{
			name:       "expired: 6 minutes old",
			req:        at(-6 * time.Minute),
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "expired",
		},
		{
			name:       "expired: 6 minutes in the future",
			req:        at(6 * time.Minute),
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "expired",
		},
		{
			name:       "expired: one second past window",
			req:        at(-DefaultWindow - time.Second),
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "expired",
		},
		{
			name:       "missing signature header",
			req:        signedReq{body: body, ts: nowTS},
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "missing",
		},
		{
			name:       "missing timestamp header",
			req:        signedReq{body: body, sig: sign(testSecret, nowTS, body)},
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "missing",
		},
		{
			name:       "missing both headers",
			req:        signedReq{body: body},
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "missing",
		},
		{
			name:       "malformed timestamp",
			req:        signedReq{body: body, ts: "yesterday", sig: sign(testSecret, "yesterday", body)},
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "malformed",
		},
		{
			name:       "body over 1 MiB rejected",
			req:        signedReq{body: big, ts: nowTS, sig: sign(testSecret, nowTS, big)},
			wantStatus: http.StatusRequestEntityTooLarge,
			wantMsg:    "too large",
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := verifierAt(now)
			srv := newTestServer(t, v)

			status, respBody := send(t, srv.Client(), tc.req.httpRequest(t, srv.URL+"/slack/interactions"))
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", status, tc.wantStatus, respBody)
			}
			if tc.wantMsg != "" && !strings.Contains(respBody, tc.wantMsg) {
				t.Errorf("response %q does not contain %q", respBody, tc.wantMsg)
			}
			// Never leak the secret or the signature the server expected.
			expected := strings.TrimPrefix(sign(testSecret, tc.req.ts, tc.req.body), "v0=")
			if strings.Contains(respBody, expected) || strings.Contains(respBody, testSecret) {
				t.Errorf("response leaks secret material: %q", respBody)
			}
			if status != http.StatusOK && len(respBody) > 100 {
				t.Errorf("rejection message not short: %q", respBody)
			}

			seen := srv.seen()
			if tc.wantPayload == "" {
				if len(seen) != 0 {
					t.Errorf("handler reached for rejected request: %d calls", len(seen))
				}
				return
			}
			if len(seen) != 1 || seen[0] != tc.wantPayload {
				t.Errorf("handler saw payloads %.80q, want [%.80q]", seen, tc.wantPayload)
			}
		})
	}
}

func TestVerifierVerifyErrors(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	nowTS := strconv.FormatInt(now.Unix(), 10)
	body := formBody(`{"type":"view_submission"}`)
	good := sign(testSecret, nowTS, body)
	old := strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)
	future := strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10)

	tests := []struct {
		name    string
		secret  string
		req     signedReq
		wantErr error
	}{
		{"ok", testSecret, signedReq{body: body, ts: nowTS, sig: good}, nil},
		{"no secret configured", "", signedReq{body: body, ts: nowTS, sig: sign("", nowTS, body)}, ErrNoSecret},
		{"missing signature", testSecret, signedReq{body: body, ts: nowTS}, ErrMissingHeaders},
		{"missing timestamp", testSecret, signedReq{body: body, sig: good}, ErrMissingHeaders},
		{"malformed timestamp", testSecret, signedReq{body: body, ts: "12x", sig: good}, ErrMissingHeaders},
		{"too old", testSecret, signedReq{body: body, ts: old, sig: sign(testSecret, old, body)}, ErrExpired},
		{"too new", testSecret, signedReq{body: body, ts: future, sig: sign(testSecret, future, body)}, ErrExpired},
		{"wrong secret", testSecret, signedReq{body: body, ts: nowTS, sig: sign("other", nowTS, body)}, ErrBadSignature},
		{"tampered body", testSecret, signedReq{body: append(append([]byte{}, body...), '&', 'x', '=', '1'), ts: nowTS, sig: good}, ErrBadSignature},
		{"empty body signed", testSecret, signedReq{ts: nowTS, sig: sign(testSecret, nowTS, nil)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVerifier(tc.secret)
			v.Now = func() time.Time { return now }
			r := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(string(tc.req.body)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.req.sig != "" {
				r.Header.Set(HeaderSignature, tc.req.sig)
			}
			if tc.req.ts != "" {
				r.Header.Set(HeaderTimestamp, tc.req.ts)
			}
			got, err := v.Verify(r)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Verify error = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				msg := err.Error()
				expected := strings.TrimPrefix(sign(testSecret, tc.req.ts, tc.req.body), "v0=")
				if strings.Contains(msg, testSecret) || strings.Contains(msg, expected) {
					t.Errorf("error message leaks secret material: %q", msg)
				}
				return
			}
			if string(got) != string(tc.req.body) {
				t.Errorf("returned body %q, want %q", got, tc.req.body)
			}
			rest, _ := io.ReadAll(r.Body)
			if string(rest) != string(tc.req.body) {
				t.Errorf("r.Body not restored: %q", rest)
			}
		})
	}
}

func TestVerifierReplay(t *testing.T) {
	start := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	v, clock := verifierAt(start)
	srv := newTestServer(t, v)
	target := srv.URL + "/slack/interactions"

	req := validReq(start, `{"type":"block_actions","trigger_id":"1"}`)

	// The exact same signed request, sent twice.
	if status, body := send(t, srv.Client(), req.httpRequest(t, target)); status != http.StatusOK {
		t.Fatalf("first send: status %d (%q), want 200", status, body)
	}
	clock.Advance(30 * time.Second)
	status, body := send(t, srv.Client(), req.httpRequest(t, target))
	if status != http.StatusUnauthorized || !strings.Contains(body, "replayed") {
		t.Fatalf("second send: status %d (%q), want 401 replayed", status, body)
	}

	// Re-encoding the signature (upper-case hex) must not evade detection.
	upper := req
	upper.sig = "v0=" + strings.ToUpper(strings.TrimPrefix(req.sig, "v0="))
	status, body = send(t, srv.Client(), upper.httpRequest(t, target))
	if status != http.StatusUnauthorized || !strings.Contains(body, "replayed") {
		t.Fatalf("upper-case replay: status %d (%q), want 401 replayed", status, body)
	}

	// At the very edge of the window the entry is still held.
	clock.Set(start.Add(DefaultWindow))
	r := req.httpRequest(t, target)
	if _, err := v.Verify(r); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay at window edge: err = %v, want ErrReplayed", err)
	}

	// After the window the cached entry may be pruned, but the request is
	// then rejected as expired: it is never accepted again.
	clock.Set(start.Add(DefaultWindow + time.Second))
	fresh := validReq(clock.Now(), "other") // triggers pruning on insert
	if _, err := v.Verify(fresh.httpRequest(t, target)); err != nil {
		t.Fatalf("fresh request: %v", err)
	}
	if _, err := v.Verify(req.httpRequest(t, target)); !errors.Is(err, ErrExpired) {
		t.Fatalf("old replay after window: err = %v, want ErrExpired", err)
	}

	if got := srv.seen(); len(got) != 1 {
		t.Errorf("handler reached %d times, want 1", len(got))
	}

	// Different requests with the same timestamp are not replays.
	a := validReq(clock.Now(), "a")
	b := validReq(clock.Now(), "b")
	for _, s := range []signedReq{a, b} {
		if status, body := send(t, srv.Client(), s.httpRequest(t, target)); status != http.StatusOK {
			t.Fatalf("distinct request: status %d (%q)", status, body)
		}
	}
}

func TestVerifierReplayCachePruning(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	v, clock := verifierAt(t0)

	verify := func(s signedReq) error {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(string(s.body)))
		r.Header.Set(HeaderSignature, s.sig)
		r.Header.Set(HeaderTimestamp, s.ts)
		_, err := v.Verify(r)
		return err
	}
	mustAccept := func(s signedReq) {
		t.Helper()
		if err := verify(s); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	wantLen := func(n int) {
		t.Helper()
		if got := v.seen.len(); got != n {
			t.Fatalf("cache holds %d entries, want %d", got, n)
		}
	}

	a := validReq(t0, "a")
	mustAccept(a)
	wantLen(1)

	clock.Advance(3 * time.Minute)
	mustAccept(validReq(clock.Now(), "b"))
	wantLen(2)

	// Still inside a's window: nothing pruned.
	clock.Set(t0.Add(DefaultWindow))
	mustAccept(validReq(clock.Now(), "c"))
	wantLen(3)

	// Past a's window: a is dropped on the next insert, b and c stay.
	clock.Set(t0.Add(DefaultWindow + time.Second))
	mustAccept(validReq(clock.Now(), "d"))
	wantLen(3)
	v.seen.mu.Lock()
	_, stillThere := v.seen.entries[a.ts+":"+strings.TrimPrefix(a.sig, "v0=")]
	v.seen.mu.Unlock()
	if stillThere {
		t.Fatal("entry older than the window was not pruned")
	}

	// Long after everything: only the newest entry remains.
	clock.Advance(time.Hour)
	mustAccept(validReq(clock.Now(), "e"))
	wantLen(1)

	// Rejected requests never enter the cache.
	bad := validReq(clock.Now(), "f")
	bad.sig = sign("wrong", bad.ts, bad.body)
	if err := verify(bad); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged: err = %v", err)
	}
	wantLen(1)

	// A custom window is honoured for both expiry and pruning.
	v2, c2 := verifierAt(t0)
	v2.Window = time.Minute
	v = v2
	clock = c2
	mustAccept(validReq(t0, "x"))
	clock.Set(t0.Add(2 * time.Minute))
	if err := verify(validReq(t0, "y")); !errors.Is(err, ErrExpired) {
		t.Fatalf("custom window: err = %v, want ErrExpired", err)
	}
	mustAccept(validReq(clock.Now(), "z"))
	wantLen(1)
}

func TestVerifierConcurrent(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	v, clock := verifierAt(now)
	srv := newTestServer(t, v)
	target := srv.URL + "/slack/interactions"
	client := srv.Client()

	const distinct = 40
	const dupes = 20
	dup := validReq(now, "same")

	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[string][]int{}
	record := func(kind string, code int) {
		mu.Lock()
		statuses[kind] = append(statuses[kind], code)
		mu.Unlock()
	}
	do := func(kind string, s signedReq) {
		defer wg.Done()
		req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(string(s.body)))
		if err != nil {
			t.Error(err)
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(HeaderSignature, s.sig)
		req.Header.Set(HeaderTimestamp, s.ts)
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		record(kind, resp.StatusCode)
	}

	for i := range distinct {
		wg.Add(1)
		go do("distinct", validReq(now, fmt.Sprintf("p%d", i)))
	}
	for range dupes {
		wg.Add(1)
		go do("dup", dup)
	}
	// A clock writer running alongside, to exercise Now under -race.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 50 {
			clock.Advance(time.Millisecond)
		}
	}()
	wg.Wait()

	for _, code := range statuses["distinct"] {
		if code != http.StatusOK {
			t.Errorf("distinct request got %d, want 200", code)
		}
	}
	if n := len(statuses["distinct"]); n != distinct {
		t.Errorf("%d distinct responses, want %d", n, distinct)
	}
	ok, replayed := 0, 0
	for _, code := range statuses["dup"] {
		switch code {
		case http.StatusOK:
			ok++
		case http.StatusUnauthorized:
			replayed++
		default:
			t.Errorf("duplicate request got %d", code)
		}
	}
	if ok != 1 || replayed != dupes-1 {
		t.Errorf("duplicates: %d accepted, %d rejected; want 1 and %d", ok, replayed, dupes-1)
	}
	if got := len(srv.seen()); got != distinct+1 {
		t.Errorf("handler reached %d times, want %d", got, distinct+1)
	}
	if got := v.seen.len(); got != distinct+1 {
		t.Errorf("cache holds %d entries, want %d", got, distinct+1)
	}
}

func TestVerifierMiddlewareNoSecretFailsClosed(t *testing.T) {
	v := &Verifier{}
	srv := newTestServer(t, v)
	now := time.Now()
	s := validReq(now, "x")
	s.sig = sign("", s.ts, s.body)
	status, body := send(t, srv.Client(), s.httpRequest(t, srv.URL))
	if status != http.StatusInternalServerError {
		t.Fatalf("status = %d (%q), want 500", status, body)
	}
	if len(srv.seen()) != 0 {
		t.Fatal("handler reached without a configured secret")
	}
}
