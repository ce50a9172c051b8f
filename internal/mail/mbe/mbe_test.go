package mbe

import (
	"strings"
	"testing"

	"github.com/dsr-register/dsr/internal/mail"
)

func TestIsRequest(t *testing.T) {
	for subject, want := range map[string]bool{
		"MbE request":                         true,
		"MBE REQUEST":                         true,
		"mbe request":                         true,
		"Re: MbE request":                     true,
		"RE: FW: Fwd: MbE Request - Jo B":     true,
		"URGENT  MbE   request for next week": true,
		"MbE-request":                         true,
		"MbE requests x2":                     true,
		"Referral for DSR":                    false,
		"Timbe requested":                     false,
		"MbE":                                 false,
		"":                                    false,
	} {
		if got := IsRequest(subject); got != want {
			t.Errorf("IsRequest(%q) = %v, want %v", subject, got, want)
		}
	}
}

// Each shape a real request comes in, as a whole email: what the parser must
// find, and nothing more.
func TestParseShapes(t *testing.T) {
	complete := Fields{
		Name:      "Jo Bloggs",
		Purpose:   "To agree a plan for Jo's discharge from the assessment unit",
		Invitees:  "Jo, her mum (Pat Bloggs), CTLD nurse, social worker",
		WhyNotMDT: "The MDT met twice and could not agree who leads the housing plan",
	}
	for _, tc := range []struct {
		name string
		raw  string
		want Fields
	}{{
		name: "labelled lines",
		raw: "From: Sam Nurse <sam.nurse@nhs.net>\r\nTo: dsr-team@localhost\r\nSubject: MbE request\r\nMessage-ID: <a1@nhs.net>\r\n\r\n" +
			"Hi DSR team,\r\n\r\nPlease could you arrange an MbE.\r\n\r\n" +
			"Name: Jo Bloggs\r\n" +
			"Purpose of meeting - To agree a plan for Jo's discharge from the assessment unit\r\n" +
			"Who to invite (including the person and/or parent/carer): Jo, her mum (Pat Bloggs), CTLD nurse, social worker\r\n" +
			"Why an MDT without the DSR team is not being taken forward: The MDT met twice and could not agree who leads the housing plan\r\n" +
			"\r\nKind regards\r\nSam Nurse\r\nCommunity Team\r\n",
		want: complete,
	}, {
		name: "numbered list in the team's order",
		raw: "From: sam@nhs.net\nSubject: RE: MbE request\n\nHello,\n\n" +
			"1. Jo Bloggs\n" +
			"2. To agree a plan for Jo's discharge from the assessment unit\n" +
			"3. Jo, her mum (Pat Bloggs), CTLD nurse, social worker\n" +
			"4. The MDT met twice and could not agree who leads the housing plan\n" +
			"\nThanks\nSam\n",
		want: complete,
	}, {
		name: "the team's bullets answered, label on its own line",
		raw: "From: sam@nhs.net\nSubject: MbE request\n\n" +
			"- full name of individual\nJo Bloggs\n\n" +
			"- purpose of the meeting\nTo agree a plan for Jo's discharge\nfrom the assessment unit\n\n" +
			"- who to invite including individual and or parent/carer information:\nJo, her mum (Pat Bloggs), CTLD nurse, social worker\n\n" +
			"- Why a MDT (without the DSR Team) isn't being taken forward\nThe MDT met twice and could not agree who leads the housing plan\n",
		want: Fields{Name: "Jo Bloggs", Purpose: "To agree a plan for Jo's discharge from the assessment unit",
			Invitees: complete.Invitees, WhyNotMDT: complete.WhyNotMDT},
	}, {
		name: "tab separated table pasted from Word",
		raw: "From: sam@nhs.net\nSubject: MbE request\n\n" +
			"Name of person\tJo Bloggs\n" +
			"Purpose\tTo agree a plan for Jo's discharge from the assessment unit\n" +
			"Invitees\tJo, her mum (Pat Bloggs), CTLD nurse, social worker\n" +
			"Why not an MDT?\tThe MDT met twice and could not agree who leads the housing plan\n",
		want: complete,
	}, {
		name: "pipe table with a header row",
		raw: "From: sam@nhs.net\nSubject: MbE request\n\n" +
			"| Name | Purpose | Who to invite | Why not MDT |\n" +
			"| Jo Bloggs | To agree a plan for Jo's discharge from the assessment unit | Jo, her mum (Pat Bloggs), CTLD nurse, social worker | The MDT met twice and could not agree who leads the housing plan |\n",
		want: complete,
	}, {
		name: "HTML-only mail with a Word table and Outlook's thread",
		raw: "From: Sam <sam@nhs.net>\nSubject: FW: MbE request\nMIME-Version: 1.0\nContent-Type: text/html; charset=\"windows-1252\"\nContent-Transfer-Encoding: quoted-printable\n\n" +
			"<html><head><style>p{margin:0}</style></head><body><p>Dear team,</p>" +
			"<table class=3DMsoTableGrid><tr><td><p><b>Name</b></p></td><td><p>Jo Bloggs</p></td></tr>" +
			"<tr><td>Purpose of the meeting</td><td>To agree a plan for Jo=92s discharge from the assessment unit</td></tr>" +
			"<tr><td>Who to invite</td><td>Jo, her mum (Pat Bloggs), CTLD nurse, social worker</td></tr>" +
			"<tr><td>Why an MDT without the DSR team is not being taken forward</td><td>The MDT met twice and could not agree who leads the housing plan</td></tr></table>" +
			"<p>Kind regards</p><p>Sam</p>" +
			"<div id=3D\"appendonsend\"></div><hr><div id=3D\"divRplyFwdMsg\"><b>From:</b> Alex<br><b>Sent:</b> 3 March 2025</div>" +
			"<div>Name: Someone Else</div></body></html>\n",
		want: Fields{Name: "Jo Bloggs", Purpose: "To agree a plan for Jo\u2019s discharge from the assessment unit",
			Invitees: complete.Invitees, WhyNotMDT: complete.WhyNotMDT},
	}, {
		name: "multipart with both: the plain part is read",
		raw: "From: sam@nhs.net\nSubject: MbE request\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b1\"\n\n" +
			"--b1\nContent-Type: text/plain; charset=utf-8\n\nName: Jo Bloggs\nPurpose: To agree a plan\n\n" +
			"--b1\nContent-Type: text/html; charset=utf-8\n\n<p>Name: Jo Bloggs</p><p>Purpose: To agree a plan</p>\n--b1--\n",
		want: Fields{Name: "Jo Bloggs", Purpose: "To agree a plan"},
	}, {
		name: "incomplete, with a signature and a quoted thread that must be ignored",
		raw: "From: sam@nhs.net\nSubject: Re: MbE request\n\n" +
			"Name: Jo Bloggs\nPurpose: To agree a plan\n\n" +
			"Sent from my iPhone\n\n" +
			"On Mon, 3 Mar 2025 at 10:02, DSR Team <dsr-team@localhost> wrote:\n" +
			"> Who to invite: everyone\n> Why an MDT is not being taken forward: no reason\n",
		want: Fields{Name: "Jo Bloggs", Purpose: "To agree a plan"},
	}, {
		name: "a reply giving the rest above Outlook's header block",
		raw: "From: sam@nhs.net\nSubject: RE: MbE request\n\n" +
			"Who to invite: Jo and her dad\nWhy not MDT: the MDT has not been able to meet\n\n" +
			"From: DSR Team <dsr-team@localhost>\nSent: 03 March 2025 10:02\nTo: Sam\nSubject: Re: MbE request\n\n" +
			"Name: Other Person\n",
		want: Fields{Invitees: "Jo and her dad", WhyNotMDT: "the MDT has not been able to meet"},
	}, {
		name: "prose only: nothing is guessed",
		raw: "From: sam@nhs.net\nSubject: MbE request\n\n" +
			"Hi, I'd like to request an MbE for Jo Bloggs as things have got worse at home and the MDT is stuck.\n" +
			"Can you call me?\n-- \nSam\n",
		want: Fields{},
	}, {
		name: "placeholders are not answers",
		raw:  "From: sam@nhs.net\nSubject: MbE request\n\nName: Jo Bloggs\nPurpose: TBC\nWho to invite: ?\n",
		want: Fields{Name: "Jo Bloggs"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := mail.ParseMessage([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if !IsRequest(m.Subject) {
				t.Errorf("subject %q not taken as an MbE request", m.Subject)
			}
			got := Parse(m.Text)
			if got != tc.want {
				t.Errorf("Parse:\n got %#v\nwant %#v\ntext:\n%s", got, tc.want, m.Text)
			}
		})
	}
}

func normalise(s string) string { return strings.Join(strings.Fields(s), " ") }

// FuzzParse: no panic, and every field returned is in the input: the
// parser never invents one.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"Name: Jo Bloggs\nPurpose of meeting - plan\nWho to invite: Jo\nWhy not MDT: stuck\n",
		"1. Jo\n2. plan\n3. Jo and mum\n4. MDT stuck\n",
		"| Name | Purpose |\n| Jo | plan |\n",
		"Name\tJo\nPurpose\tplan\n",
		"- full name of individual\n\nJo Bloggs\n",
		"Name: Jo\n> Purpose: quoted\nOn Mon wrote:\n",
		"Purpose:\ncontinues\nhere\n\nName:\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := Parse(text)
		in := normalise(text)
		for _, k := range FieldOrder {
			v := got.Get(k)
			if v == "" {
				continue
			}
			if !strings.Contains(in, normalise(v)) {
				t.Fatalf("field %s = %q is not in the input %q", k, v, text)
			}
		}
	})
}
