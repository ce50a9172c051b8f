package inbound

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Header names Slack uses to sign HTTP requests (v0 scheme).
const (
	HeaderSignature = "X-Slack-Signature"
	HeaderTimestamp = "X-Slack-Request-Timestamp"
)

const (
	// DefaultWindow is how far a request timestamp may be from the current
	// time (in either direction) before the request is rejected as expired.
	DefaultWindow = 5 * time.Minute

	// MaxBodyBytes is the largest request body Verify will read (1 MiB).
	MaxBodyBytes = 1 << 20

	signatureVersion = "v0"
)

// Sentinel errors returned (wrapped) by Verify. Use errors.Is to classify.
// Wrapped messages describe what is wrong with the request; they never
// contain the signing secret or the expected signature.
var (
	// ErrMissingHeaders: X-Slack-Signature or X-Slack-Request-Timestamp is
	// absent or malformed (e.g. a non-numeric timestamp).
	ErrMissingHeaders = errors.New("slack: missing or malformed signature headers")
	// ErrExpired: the request timestamp is outside the allowed window
	// (too old or too far in the future).
	ErrExpired = errors.New("slack: request timestamp outside allowed window")
	// ErrBadSignature: the signature does not match the body and timestamp.
	ErrBadSignature = errors.New("slack: invalid request signature")
	// ErrReplayed: an identical signed request was already accepted within
	// the window.
	ErrReplayed = errors.New("slack: replayed request")
	// ErrBodyTooLarge: the request body exceeds MaxBodyBytes.
	ErrBodyTooLarge = errors.New("slack: request body too large")
	// ErrNoSecret: the verifier has no signing secret configured. Verify
	// fails closed rather than accepting requests signed with an empty key.
	ErrNoSecret = errors.New("slack: no signing secret configured")
)

// Verifier checks Slack's v0 request signatures and rejects forged, expired
// and replayed requests. The zero value is not usable until Secret is set;
// NewVerifier is the usual constructor. A Verifier is safe for concurrent use;
// do not change its exported fields after it starts serving.
type Verifier struct {
	// Secret is the Slack app's signing secret.
	Secret string
	// Now returns the current time; nil means time.Now. Injectable for tests.
	Now func() time.Time
	// Window is the maximum allowed skew between the request timestamp and
	// Now, in either direction. Zero means DefaultWindow (5m).
	Window time.Duration
	// Logger, if non-nil, receives a Warn record for every request the
	// Middleware rejects. Records never include the secret or signatures.
	Logger *slog.Logger

	seen replayCache
}

// NewVerifier returns a Verifier for the given signing secret with the
// default 5 minute window and the real clock.
func NewVerifier(secret string) *Verifier {
	return &Verifier{Secret: secret}
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) window() time.Duration {
	if v.Window > 0 {
		return v.Window
	}
	return DefaultWindow
}

// Verify reads the request body (at most MaxBodyBytes), checks the Slack v0
// signature headers, the timestamp window, the HMAC (constant-time), and
// that the same (timestamp, signature) pair has not already been accepted
// within the window. On success it returns the body and restores r.Body with
// the same bytes, so r.ParseForm (or a JSON decoder) works afterwards.
//
// Errors wrap one of the sentinel errors above. When the body has been read
// r.Body is restored even on failure.
func (v *Verifier) Verify(r *http.Request) ([]byte, error) {
	if v.Secret == "" {
		return nil, ErrNoSecret
	}

	sigHeader := strings.TrimSpace(r.Header.Get(HeaderSignature))
	tsHeader := strings.TrimSpace(r.Header.Get(HeaderTimestamp))
	switch {
	case sigHeader == "" && tsHeader == "":
		return nil, fmt.Errorf("%w: %s and %s absent", ErrMissingHeaders, HeaderSignature, HeaderTimestamp)
	case sigHeader == "":
		return nil, fmt.Errorf("%w: %s absent", ErrMissingHeaders, HeaderSignature)
	case tsHeader == "":
		return nil, fmt.Errorf("%w: %s absent", ErrMissingHeaders, HeaderTimestamp)
	}

	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a unix timestamp", ErrMissingHeaders, HeaderTimestamp)
	}

	now := v.now()
	window := v.window()
	reqTime := time.Unix(ts, 0)
	if skew := now.Sub(reqTime); skew > window {
		return nil, fmt.Errorf("%w: timestamp is %s old (limit %s)", ErrExpired, skew.Truncate(time.Second), window)
	} else if skew < -window {
		return nil, fmt.Errorf("%w: timestamp is %s in the future (limit %s)", ErrExpired, (-skew).Truncate(time.Second), window)
	}

	gotMAC, err := parseSignature(sigHeader)
	if err != nil {
		return nil, err
	}

	body, err := readBody(r)
	if err != nil {
		return nil, err
	}

	mac := hmac.New(sha256.New, []byte(v.Secret))
	mac.Write([]byte(signatureVersion + ":" + tsHeader + ":"))
	mac.Write(body)
	if !hmac.Equal(gotMAC, mac.Sum(nil)) {
		return nil, fmt.Errorf("%w: signature does not match request", ErrBadSignature)
	}

	// Only authentic requests reach the replay cache, so forged traffic
	// cannot fill it. The key uses the decoded MAC so that re-encoding the
	// header (e.g. upper-case hex) does not evade detection. An entry is
	// kept until its timestamp leaves the window; after that the request
	// would be rejected as expired anyway.
	key := tsHeader + ":" + hex.EncodeToString(gotMAC)
	if !v.seen.add(key, reqTime.Add(window), now) {
		return nil, fmt.Errorf("%w: this signed request was already accepted", ErrReplayed)
	}
	return body, nil
}

// parseSignature decodes a "v0=<hex>" header value into MAC bytes.
func parseSignature(h string) ([]byte, error) {
	version, hexSig, ok := strings.Cut(h, "=")
	if !ok || version != signatureVersion {
		return nil, fmt.Errorf("%w: unsupported signature format (want %s=<hex>)", ErrBadSignature, signatureVersion)
	}
	sig, err := hex.DecodeString(hexSig)
	if err != nil || len(sig) != sha256.Size {
		return nil, fmt.Errorf("%w: signature is not %d hex-encoded bytes", ErrBadSignature, sha256.Size)
	}
	return sig, nil
}

// readBody reads at most MaxBodyBytes from r.Body and replaces r.Body with an
// in-memory copy of what was read.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		r.Body = http.NoBody
		return []byte{}, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("slack: reading request body: %w", err)
	}
	if len(body) > MaxBodyBytes {
		r.Body = http.NoBody
		return nil, fmt.Errorf("%w: limit is %d bytes", ErrBodyTooLarge, MaxBodyBytes)
	}
	return body, nil
}

// Middleware verifies each request before passing it to next with the body
// restored. Failures get a short plain-text response: 401 for missing
// headers, expired, forged or replayed requests; 413 for oversized bodies;
// 500 when no secret is configured. Responses never reveal the expected
// signature.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := v.Verify(r); err != nil {
			status, msg := rejection(err)
			if v.Logger != nil {
				v.Logger.WarnContext(r.Context(), "slack request rejected",
					slog.String("path", r.URL.Path),
					slog.String("remote", r.RemoteAddr),
					slog.Int("status", status),
					slog.String("reason", err.Error()))
			}
			http.Error(w, msg, status)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// rejections are the answers to a Verify error, by the error it wraps.
var rejections = []struct {
	err    error
	status int
	msg    string
}{
	{ErrMissingHeaders, http.StatusUnauthorized, "missing or malformed Slack signature headers"},
	{ErrExpired, http.StatusUnauthorized, "request timestamp expired"},
	{ErrBadSignature, http.StatusUnauthorized, "invalid signature"},
	{ErrReplayed, http.StatusUnauthorized, "replayed request"},
	{ErrBodyTooLarge, http.StatusRequestEntityTooLarge, "request body too large"},
	{ErrNoSecret, http.StatusInternalServerError, "signature verification not configured"},
}

// rejection maps a Verify error to an HTTP status and a short message.
func rejection(err error) (int, string) {
	for _, r := range rejections {
		if errors.Is(err, r.err) {
			return r.status, r.msg
		}
	}
	return http.StatusBadRequest, "could not read request"
}

// replayCache remembers accepted (timestamp, signature) keys until they
// expire. It is bounded by time: expired entries are pruned on insert, and
// no entry outlives its request's validity window. Safe for concurrent use.
type replayCache struct {
	mu      sync.Mutex
	entries map[string]time.Time // key -> expiry
	// nextExpiry is the earliest expiry among entries (zero if empty); a
	// full prune scan only runs once it has passed.
	nextExpiry time.Time
}

// add records key with the given expiry unless it is already present (after
// pruning, every present entry is unexpired). It reports whether the key was
// newly added.
func (c *replayCache) add(key string, expiry, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]time.Time)
	}
	c.pruneLocked(now)
	if _, ok := c.entries[key]; ok {
		return false
	}
	c.entries[key] = expiry
	if c.nextExpiry.IsZero() || expiry.Before(c.nextExpiry) {
		c.nextExpiry = expiry
	}
	return true
}

// pruneLocked drops entries whose expiry is before now. An entry whose
// expiry equals now is kept: Verify still accepts a timestamp exactly one
// window old, so its replay must still be caught.
func (c *replayCache) pruneLocked(now time.Time) {
	if c.nextExpiry.IsZero() || !now.After(c.nextExpiry) {
		return
	}
	var next time.Time
	for k, exp := range c.entries {
		if now.After(exp) {
			delete(c.entries, k)
			continue
		}
		if next.IsZero() || exp.Before(next) {
			next = exp
		}
	}
	c.nextExpiry = next
}

// len reports the number of entries currently held (for tests).
func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
