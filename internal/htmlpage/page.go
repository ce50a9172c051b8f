// Package htmlpage is what the service's HTML pages share: the NHS.UK base
// layout (header with the NHS logo, main, footer), form parts drawn the
// same way everywhere (radios and the date input: templates/fields.html),
// parsing a page with them, writing a page whole or not at all, and the
// template functions the shared parts use (dict, to pass named values to
// a part, and add). The staff web app and the public self-referral portal
// each keep their own header contents (staff navigation and account, or
// none) by defining the base's blocks.
package htmlpage

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
)

//go:embed templates/base.html templates/fields.html
var baseFiles embed.FS

// Parse is a page: root (the page's own layout, whose name the template
// carries and Execute runs) with the base layout, the shared form parts
// and files, all from fsys, parsed with funcs, Dict and add (the shared
// parts count with it). It panics on a template error, like
// template.Must: pages are parsed once at start-up.
func Parse(fsys fs.FS, funcs template.FuncMap, root string, files ...string) *template.Template {
	t := template.New(path.Base(root)).Funcs(template.FuncMap{"dict": Dict, "add": add}).Funcs(funcs)
	t = template.Must(t.ParseFS(baseFiles, "templates/base.html", "templates/fields.html"))
	return template.Must(t.ParseFS(fsys, append([]string{root}, files...)...))
}

// Render writes t's output whole or not at all: a template failing halfway
// must not send half a page with a success status. An error means nothing
// was written, so the caller can still send an error page. Pages can show
// personal data, so no cache keeps them.
func Render(w http.ResponseWriter, status int, t *template.Template, data any) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("rendering %s: %w", t.Name(), err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// A failed write is the browser gone: there is no one to tell.
	_, _ = buf.WriteTo(w)
	return nil
}

func add(a, b int) int { return a + b }

// Dict passes named values to a shared template (a form field):
// {{template "field" (dict "Name" "x" "Label" "y")}}.
func Dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
