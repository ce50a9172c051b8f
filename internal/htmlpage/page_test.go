package htmlpage

import (
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

var layouts = fstest.MapFS{
	"layout.html": {Data: []byte(`{{template "base" .}}
{{define "title"}}{{.}} – test{{end}}
{{define "header-id"}}test-header{{end}}
{{define "home"}}/{{end}}
{{define "home-label"}}Home{{end}}
{{define "footer-id"}}test-footer{{end}}
{{define "footer-heading"}}About{{end}}
{{define "footer-content"}}<p>footer</p>{{end}}`)},
	"ok.html":     {Data: []byte(`{{define "content"}}<h1>{{.}}</h1>{{end}}`)},
	"broken.html": {Data: []byte(`{{define "content"}}<h1>{{.}}</h1>{{template "missing" .}}{{end}}`)},
}

func TestRenderWritesTheWholePageInTheBase(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := Render(rec, 201, Parse(layouts, nil, "layout.html", "ok.html"), "Hello"); err != nil {
		t.Fatal(err)
	}
	body := rec.Body.String()
	for _, want := range []string{"<!DOCTYPE html>", "<title>Hello – test</title>", `id="test-header"`, "<h1>Hello</h1>", "<p>footer</p>", "</html>"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if rec.Code != 201 || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("status %d, Cache-Control %q; want 201, no-store", rec.Code, rec.Header().Get("Cache-Control"))
	}
}

// A template failing halfway sends nothing, so the caller can still send
// an error page instead of half a page with a success status.
func TestRenderWritesNothingWhenTheTemplateFails(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := Render(rec, 202, Parse(layouts, nil, "layout.html", "broken.html"), "Hello"); err == nil {
		t.Fatal("a failing template rendered without error")
	}
	// The recorder's Code stays at its default unless WriteHeader was called.
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" || rec.Code == 202 {
		t.Errorf("wrote %q (headers %v) for a failed page; want nothing", rec.Body.String(), rec.Header())
	}
}

func TestDictNamesEachValue(t *testing.T) {
	m, err := Dict("Name", "basis", "Count", 2)
	if err != nil || m["Name"] != "basis" || m["Count"] != 2 {
		t.Fatalf("Dict: %v, %v", m, err)
	}
	if _, err := Dict("Name"); err == nil {
		t.Error("an odd number of arguments was accepted")
	}
	if _, err := Dict(1, "x"); err == nil {
		t.Error("a key that is not a string was accepted")
	}
}

// The shared form parts keep the ids the error summary links to and the
// names the handlers read, whichever page draws them.
func TestSharedFormParts(t *testing.T) {
	type option struct{ Value, Label, Hint string }
	parts := fstest.MapFS{
		"layout.html": layouts["layout.html"],
		"form.html": {Data: []byte(`{{define "content"}}
{{template "date-input" (dict "ID" "rate-done_on" "Name" "done_on" "Day" "27" "Month" "3" "Year" "2026" "Error" "Enter a date" "Birthday" true)}}
{{template "radio-items" (dict "ID" "who" "Name" "who" "Value" "other" "Options" .)}}
{{end}}`)},
	}
	rec := httptest.NewRecorder()
	opts := []option{{"self", "Me", ""}, {"other", "Someone else", "A parent or carer"}}
	if err := Render(rec, 200, Parse(parts, nil, "layout.html", "form.html"), opts); err != nil {
		t.Fatal(err)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`id="rate-done_on" name="done_on-day"`, `id="rate-done_on-month" name="done_on-month"`, `id="rate-done_on-year" name="done_on-year"`,
		`value="2026" autocomplete="bday-year"`, `nhsuk-input--width-4 nhsuk-date-input__input nhsuk-input--error`,
		`id="who" name="who" type="radio" value="self">`,
		`id="who-2" name="who" type="radio" value="other" checked aria-describedby="who-2-item-hint"`,
		`<div class="nhsuk-hint nhsuk-radios__hint" id="who-2-item-hint">A parent or carer</div>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the shared parts lack %s:\n%s", want, body)
		}
	}
}
