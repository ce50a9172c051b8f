package mail

import (
	"strings"
	"testing"
)

func TestParseMessageHeaders(t *testing.T) {
	raw := "From: =?utf-8?q?Si=C3=A2n?= <sian@nhs.net>\r\nReply-To: team@nhs.net\r\nSubject: =?utf-8?q?Re:_MbE_request?=\r\n" +
		"Message-ID: <abc@nhs.net>\r\nIn-Reply-To: <x1@dsr>\r\nReferences: <r0@nhs.net> <x1@dsr>\r\n\r\nbody\r\n"
	m, err := ParseMessage([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageID != "abc@nhs.net" || m.Subject != "Re: MbE request" || m.From != "team@nhs.net" ||
		strings.Join(m.InReplyTo, ",") != "x1@dsr" || strings.Join(m.References, ",") != "r0@nhs.net,x1@dsr" {
		t.Errorf("parsed %+v", m)
	}
	noID, err := ParseMessage([]byte("From: a@b\r\nSubject: MbE request\r\n\r\nName: Jo\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := ParseMessage([]byte("From: a@b\r\nSubject: MbE request\r\n\r\nName: Jo\r\n"))
	other, _ := ParseMessage([]byte("From: a@b\r\nSubject: MbE request\r\n\r\nName: Al\r\n"))
	if !strings.HasPrefix(noID.MessageID, "hash-") || noID.MessageID != again.MessageID || noID.MessageID == other.MessageID {
		t.Errorf("a message without Message-ID is keyed by a hash of itself: %q %q %q", noID.MessageID, again.MessageID, other.MessageID)
	}
}
