// Package htmltest reads the service's HTML pages in tests: an element by
// its id, an attribute, and the text a reader sees, on pages parsed with
// golang.org/x/net/html.
package htmltest

import (
	"strings"

	"golang.org/x/net/html"
)

// ByID is the element under n with the id, or nil.
func ByID(n *html.Node, id string) *html.Node {
	if n.Type == html.ElementNode && Attr(n, "id") == id {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := ByID(c, id); f != nil {
			return f
		}
	}
	return nil
}

// Attr is n's attribute key, or "".
func Attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// Text is the text under n, its white space folded.
func Text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}
