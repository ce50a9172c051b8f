package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsr-register/dsr/internal/register/registertest"
)

// The fault harness's client (faultharness_test.go): people onboarded over
// the API, each request retried with its Idempotency-Key until answered.

// faultClient onboards people over the API as an integration would: each
// action has its own Idempotency-Key, and a request with no answer (a
// connection refused or cut, a timeout, a 5xx or 503) is sent again with
// the same key until it is answered 2xx or 4xx, or RetryFor runs out.
type faultClient struct {
	api      string
	run      string
	retryFor time.Duration
	http     *http.Client

	inFlight atomic.Int32 // HTTP attempts under way

	mu   sync.Mutex
	done []requestResult
}

// requestResult is how one action's request went.
type requestResult struct {
	person   int
	kind     string // referral, consent, rating
	rating   string
	personID int64
	attempts int
	hung     int
	acked    bool
	status   int    // the last answer's status, 0 for none
	answer   string // the last answer's body or error, for the report
}

// onboard refers, consents and rates every person, Spacing apart, with
// Clients goroutines.
func (c *faultClient) onboard(sizes faultSizes) {
	people := make(chan int)
	var wg sync.WaitGroup
	for range sizes.Clients {
		wg.Go(func() {
			for i := range people {
				c.onboardPerson(i)
			}
		})
	}
	start := time.Now()
	for i := range sizes.People {
		time.Sleep(time.Until(start.Add(time.Duration(i) * sizes.Spacing)))
		people <- i
	}
	close(people)
	wg.Wait()
}

// faultRating is the rating person i is given: a mix, with some red so
// that alerts are posted (and checked) too.
func faultRating(i int) string {
	return [...]string{"red", "amber", "green", "green"}[i%4]
}

func (c *faultClient) onboardPerson(i int) {
	ref := c.send(i, "referral", "/api/v1/referrals", referral("Fault", faultFamilyName(i), "1990-03-01", faultNHSNumber(i)))
	if !ref.acked {
		return
	}
	pp := fmt.Sprintf("/api/v1/people/%d", ref.personID)
	// Two days ago: in the past in any time zone's calendar.
	decided := time.Now().UTC().Add(-48 * time.Hour).Format("2006-01-02")
	if r := c.send(i, "consent", pp+"/consent", map[string]any{"basis": "self", "decided_on": decided, "notes": "fault test"}); !r.acked {
		return
	}
	c.send(i, "rating", pp+"/rating", map[string]any{"rating": faultRating(i), "rationale": "fault test"})
}

// send posts body until it is answered 2xx or 4xx, retrying with the same
// key, and records how it went.
func (c *faultClient) send(person int, kind, path string, body any) requestResult {
	r := requestResult{person: person, kind: kind}
	if m, ok := body.(map[string]any); ok && kind == "rating" {
		r.rating, _ = m["rating"].(string)
	}
	raw, _ := json.Marshal(body)
	key := fmt.Sprintf("fault-%s-%d-%s", c.run, person, kind)
	start := time.Now()
	backoff := 100 * time.Millisecond
	for {
		r.attempts++
		began := time.Now()
		c.inFlight.Add(1)
		code, answer, retryAfter := c.attempt(path, key, raw)
		c.inFlight.Add(-1)
		if time.Since(began) > hungAfter {
			r.hung++
		}
		r.status, r.answer = code, answer
		if code >= 200 && code < 300 {
			r.acked = true
			if kind == "referral" {
				var res struct {
					PersonID int64 `json:"person_id"`
				}
				_ = json.Unmarshal([]byte(answer), &res)
				r.personID = res.PersonID
			}
			break
		}
		if code >= 400 && code < 500 && code != http.StatusTooManyRequests {
			break
		}
		wait := backoff
		if retryAfter > 0 {
			wait = min(retryAfter, 5*time.Second)
		}
		if time.Since(start)+wait > c.retryFor {
			break
		}
		time.Sleep(wait)
		backoff = min(2*backoff, 2*time.Second)
	}
	c.mu.Lock()
	c.done = append(c.done, r)
	c.mu.Unlock()
	return r
}

// attempt is one HTTP request: its status (0 when there was no answer),
// body or error, and the Retry-After it asked for.
func (c *faultClient) attempt(path, key string, body []byte) (int, string, time.Duration) {
	req, err := http.NewRequest(http.MethodPost, c.api+path, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error(), 0
	}
	req.Header.Set("Authorization", "Bearer "+coordToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err.Error(), 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var retryAfter time.Duration
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		retryAfter = time.Duration(secs) * time.Second
	}
	return resp.StatusCode, strings.TrimSpace(string(b)), retryAfter
}

func (c *faultClient) results() []requestResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.done)
}

// ackedByPerson is, per person, which actions were acknowledged.
func (c *faultClient) ackedByPerson() map[int]map[string]bool {
	out := map[int]map[string]bool{}
	for _, r := range c.results() {
		if out[r.person] == nil {
			out[r.person] = map[string]bool{}
		}
		out[r.person][r.kind] = out[r.person][r.kind] || r.acked
	}
	return out
}

// ackedRed is the register IDs of the people whose red rating was
// acknowledged: each must have its alert.
func (c *faultClient) ackedRed() []int64 {
	ids := map[int]int64{}
	var out []int64
	for _, r := range c.results() {
		if r.kind == "referral" && r.acked {
			ids[r.person] = r.personID
		}
	}
	for _, r := range c.results() {
		if r.kind == "rating" && r.acked && r.rating == "red" {
			out = append(out, ids[r.person])
		}
	}
	return out
}

// faultNHSNumber is the i-th valid NHS number (modulus 11 check digit)
// from 900 000 000 up.
func faultNHSNumber(i int) string {
	for stem, found := 900000000, -1; ; stem++ {
		if n, ok := registertest.NHSNumber(stem); ok {
			if found++; found == i {
				return n
			}
		}
	}
}

// faultFamilyName is a letters-only name unique to person i.
func faultFamilyName(i int) string {
	name := []byte("Tester")
	for {
		name = append(name, byte('a'+i%26))
		if i /= 26; i == 0 {
			return string(name)
		}
	}
}
