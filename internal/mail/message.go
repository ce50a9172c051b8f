// Package mail reads an email: a raw RFC 5322 message as dsr needs it
// (who sent it, what it answers, its text), whatever shape a mail client
// gave it. Its subpackages each have one job:
//
//   - mailbox takes MbE requests from the team's shared mailbox over IMAP,
//     exactly once;
//   - mbe finds the four things an MbE request must say in its text;
//   - smtp sends over SMTP, keyed so that a retry never sends twice;
//   - mbereply answers a requester (what is missing, the decision) through
//     the notification outbox;
//   - devmail is the IMAP and SMTP server for development and tests.
package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
)

// maxPartDepth bounds how deep multipart nesting is followed.
const maxPartDepth = 8

// Message is what dsr reads from an email.
type Message struct {
	// MessageID is the Message-ID without angle brackets; for a message
	// without one, "hash-" and a hash of its headers and body.
	MessageID string
	Subject   string
	// From is the sender's address, where replies go (Reply-To if given).
	From string
	// InReplyTo and References are the message IDs it answers, without
	// angle brackets.
	InReplyTo  []string
	References []string
	// Text is the body as plain text: the text/plain part, or the HTML
	// part converted when there is no plain one.
	Text string
}

// Thread is every message this one says it answers.
func (m Message) Thread() []string {
	out := append([]string{}, m.InReplyTo...)
	return append(out, m.References...)
}

// WordDecoder decodes a header's encoded words (=?utf-8?q?…?=) in any
// charset mail clients use; the intake reads envelopes' subjects with it.
var WordDecoder = &mime.WordDecoder{CharsetReader: charset.NewReaderLabel}

// ParseMessage reads a raw RFC 5322 message.
func ParseMessage(raw []byte) (Message, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, fmt.Errorf("mail: reading the message: %w", err)
	}
	h := msg.Header
	m := Message{
		MessageID:  firstID(h.Get("Message-Id")),
		InReplyTo:  messageIDs(h.Get("In-Reply-To")),
		References: messageIDs(h.Get("References")),
	}
	if m.MessageID == "" {
		sum := sha256.Sum256(raw)
		m.MessageID = "hash-" + hex.EncodeToString(sum[:16])
	}
	if s, err := WordDecoder.DecodeHeader(h.Get("Subject")); err == nil {
		m.Subject = s
	} else {
		m.Subject = h.Get("Subject")
	}
	for _, field := range []string{"Reply-To", "From"} {
		if list, err := (&netmail.AddressParser{WordDecoder: WordDecoder}).ParseList(h.Get(field)); err == nil && len(list) > 0 {
			m.From = list[0].Address
			break
		}
	}
	body, err := io.ReadAll(io.LimitReader(msg.Body, 10<<20))
	if err != nil {
		return Message{}, fmt.Errorf("mail: reading the body: %w", err)
	}
	plain, htmlText := textParts(h.Get("Content-Type"), h.Get("Content-Transfer-Encoding"), body, 0)
	m.Text = plain
	if strings.TrimSpace(plain) == "" {
		m.Text = htmlText
	}
	return m, nil
}

var idPattern = regexp.MustCompile(`<([^<>\s]+)>`)

func messageIDs(v string) []string {
	var out []string
	for _, m := range idPattern.FindAllStringSubmatch(v, -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		for _, f := range strings.Fields(v) {
			out = append(out, strings.Trim(f, "<>"))
		}
	}
	return out
}

func firstID(v string) string {
	if ids := messageIDs(v); len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// textParts returns the first text/plain and text/html of a body, decoded
// to UTF-8, the HTML converted to text.
func textParts(contentType, encoding string, body []byte, depth int) (plain, htmlText string) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || contentType == "" {
		mediaType, params = "text/plain", map[string]string{"charset": "us-ascii"}
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		if depth >= maxPartDepth || params["boundary"] == "" {
			return "", ""
		}
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := r.NextRawPart()
			if err != nil {
				break
			}
			if strings.HasPrefix(strings.ToLower(p.Header.Get("Content-Disposition")), "attachment") {
				continue
			}
			b, err := io.ReadAll(io.LimitReader(p, 10<<20))
			if err != nil {
				break
			}
			pl, ht := textParts(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), b, depth+1)
			if plain == "" {
				plain = pl
			}
			if htmlText == "" {
				htmlText = ht
			}
		}
		return plain, htmlText
	case mediaType == "text/plain", mediaType == "text/html":
		text := decodeText(body, encoding, params["charset"])
		if mediaType == "text/html" {
			return "", HTMLText(text)
		}
		return text, ""
	}
	return "", ""
}

func decodeText(body []byte, encoding, cs string) string {
	var r io.Reader = bytes.NewReader(body)
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, newlineStripper{r})
	}
	decoded, err := io.ReadAll(r)
	if err != nil && len(decoded) == 0 {
		decoded = body
	}
	if cs == "" || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "us-ascii") {
		return string(decoded)
	}
	cr, err := charset.NewReaderLabel(cs, bytes.NewReader(decoded))
	if err != nil {
		return string(decoded)
	}
	out, err := io.ReadAll(cr)
	if err != nil {
		return string(decoded)
	}
	return string(out)
}

type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	j := 0
	for _, b := range p[:k] {
		if b != '\r' && b != '\n' && b != ' ' && b != '\t' {
			p[j] = b
			j++
		}
	}
	if j == 0 && k > 0 && err == nil {
		return n.Read(p)
	}
	return j, err
}

// HTMLText converts an HTML email body to text: blocks and rows become
// lines, table cells are separated by tabs (so a table pasted from Word
// reads as labelled rows), an ordered list's items are numbered, and quoted
// replies (blockquote, Gmail's and Outlook's reply blocks) are left out.
func HTMLText(s string) string {
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		return ""
	}
	var b strings.Builder
	// Outlook puts the message replied to after its reply header, not
	// inside it: everything from there on is the thread.
	stopped := false
	var walk func(n *html.Node, listNo *int)
	walk = func(n *html.Node, listNo *int) {
		if stopped {
			return
		}
		if n.Type == html.TextNode {
			b.WriteString(strings.Join(strings.Fields(n.Data), " "))
			if strings.HasSuffix(n.Data, " ") || strings.HasSuffix(n.Data, "\n") {
				b.WriteString(" ")
			}
			return
		}
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "style", "head", "title", "blockquote":
				return
			}
			if skip, stop := quotedReply(n); skip || stop {
				stopped = stop
				return
			}
		}
		var counter *int
		switch n.Data {
		case "ol":
			c := 0
			counter = &c
		case "br":
			b.WriteString("\n")
		case "p", "div", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul":
			b.WriteString("\n")
		case "li":
			b.WriteString("\n")
			if listNo != nil {
				*listNo++
				fmt.Fprintf(&b, "%d. ", *listNo)
			} else {
				b.WriteString("- ")
			}
		case "td", "th":
			if prev := prevElement(n); prev != nil {
				b.WriteString("\t")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if n.Data == "ol" || n.Data == "ul" {
				walk(c, counter)
			} else {
				walk(c, listNo)
			}
		}
		switch n.Data {
		case "p", "div", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6":
			b.WriteString("\n")
		}
	}
	walk(doc, nil)
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.Trim(l, " \u00a0")
	}
	return strings.TrimSpace(regexp.MustCompile(`\n{3,}`).ReplaceAllString(strings.Join(lines, "\n"), "\n\n"))
}

func prevElement(n *html.Node) *html.Node {
	for p := n.PrevSibling; p != nil; p = p.PrevSibling {
		if p.Type == html.ElementNode {
			return p
		}
	}
	return nil
}

// quotedReply: Gmail's and Outlook's blocks holding the message replied to.
// skip is a block to leave out; stop, Outlook's reply header, ends the
// sender's own text.
func quotedReply(n *html.Node) (skip, stop bool) {
	for _, a := range n.Attr {
		v := strings.ToLower(a.Val)
		switch a.Key {
		case "class":
			if strings.Contains(v, "gmail_quote") || strings.Contains(v, "moz-cite-prefix") || strings.Contains(v, "gmail_signature") {
				return true, false
			}
		case "id":
			if v == "divrplyfwdmsg" || v == "appendonsend" || strings.HasPrefix(v, "mail-editor-reference-message") {
				return false, true
			}
		}
	}
	return false, false
}
