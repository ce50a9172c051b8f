package login

import (
	"html/template"
	"net/http"
)

// Page is one of the few pages sign-in shows itself: refused, signed out,
// the provider not answering. Each says in plain English what happened
// and offers the one thing to do next.
type Page struct {
	Status   int
	Title    string
	Message  string
	LinkHref string // optional
	LinkText string
}

// PageRenderer draws a Page. The web app may pass one that uses its own
// layout (the NHS.UK header and footer); the default is plain HTML that
// needs no script and no inline style.
type PageRenderer func(w http.ResponseWriter, r *http.Request, p Page)

var plainPage = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} – Dynamic Support Register</title></head>
<body>
<main id="maincontent">
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{if .LinkHref}}<p><a href="{{.LinkHref}}">{{.LinkText}}</a></p>{{end}}
</main>
</body>
</html>
`))

// PlainPage is the default PageRenderer.
func PlainPage(w http.ResponseWriter, r *http.Request, p Page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = plainPage.Execute(w, p)
}

// The messages users see, one place so tests and pages agree.
const (
	msgNoRole        = "You are signed in but not allowed to use the register. Ask your DSR team manager."
	msgBadForm       = "This form could not be accepted because it did not come from this page. Go back, reload the page and try again."
	msgSignedOutPost = "You are not signed in, so this could not be done. Your sign-in may have ended: sign in and try again."
)
