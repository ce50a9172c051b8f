// Package logintest helps tests sign in to the web app as a person would:
// through a browser that keeps cookies and follows redirects.
package logintest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Browser is an http.Client with a cookie jar that follows redirects, as a
// browser does, and records where it went.
type Browser struct {
	t testing.TB
	// Client is the browser itself, for a test that must change how it
	// follows redirects or send a request as it is.
	Client *http.Client
	// Visits are the redirects the last request followed, in order.
	Visits []string
}

// NewBrowser is a browser with no cookies whose requests give up after
// timeout.
func NewBrowser(t testing.TB, timeout time.Duration) *Browser {
	jar, _ := cookiejar.New(nil)
	b := &Browser{t: t}
	b.Client = &http.Client{Jar: jar, Timeout: timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			b.Visits = append(b.Visits, req.URL.String())
			if len(via) >= 20 {
				return fmt.Errorf("stopped after %d redirects", len(via))
			}
			return nil
		}}
	return b
}

// Page is where a request ended: its status, the URL after redirects, and
// the body.
type Page struct {
	Code int
	URL  string
	Body string
}

// do sends req, failing the test if there is no answer.
func (b *Browser) do(req *http.Request) Page {
	b.t.Helper()
	b.Visits = nil
	resp, err := b.Client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return Page{Code: resp.StatusCode, URL: resp.Request.URL.String(), Body: string(body)}
}

// Get opens u.
func (b *Browser) Get(u string) Page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// Post submits form to u as a page from origin would ("" sends no Origin).
func (b *Browser) Post(u string, form url.Values, origin string) Page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return b.do(req)
}
