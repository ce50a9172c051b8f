package api

import (
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/store"
)

// The subject access export as a document a person could be handed: plain
// English, a heading per section, printable (no scripts, no links needed).
// html/template escapes everything that came from people.

var exportTemplate = template.Must(template.New("export").Funcs(template.FuncMap{
	"day": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.Format("2 January 2006")
		case *time.Time:
			if v == nil || v.IsZero() {
				return "—"
			}
			return v.Format("2 January 2006")
		}
		return "—"
	},
	"when":  func(t time.Time) string { return t.Format("2 January 2006 15:04 MST") },
	"words": func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	"or": func(s, fallback string) string {
		if strings.TrimSpace(s) == "" {
			return fallback
		}
		return s
	},
	"details": func(m map[string]string) []string {
		var out []string
		for k, v := range m {
			if v != "" {
				out = append(out, strings.ReplaceAll(k, "_", " ")+": "+v)
			}
		}
		sort.Strings(out)
		return out
	},
}).Parse(`<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>What the Dynamic Support Register holds about {{.Reference}}</title>
<style>
body { font-family: Arial, sans-serif; max-width: 50em; margin: 2em auto; line-height: 1.5; color: #212b32; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #d8dde0; margin-top: 2em; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; vertical-align: top; padding: .3em .5em; border-bottom: 1px solid #e8edee; }
th { width: 30%; } .note { color: #4c6272; }
@media print { body { margin: 0; } h2 { page-break-after: avoid; } tr { page-break-inside: avoid; } }
</style>
</head>
<body>
<h1>What the Dynamic Support Register holds about you</h1>
<p>Register reference <strong>{{.Reference}}</strong>. This document was produced on {{when .GeneratedAt}} by {{.By}}, in answer to a request to see the information held. It lists everything the register holds about this person and nobody else.</p>

<h2>About you</h2>
{{with .Person}}
<table>
<tr><th>Name</th><td>{{or (printf "%s %s" .GivenName .FamilyName) "erased"}}</td></tr>
<tr><th>NHS number</th><td>{{or .NHSNumber "not held"}}</td></tr>
<tr><th>Date of birth</th><td>{{day .DateOfBirth}}</td></tr>
<tr><th>Postcode</th><td>{{or .Postcode "not held"}}</td></tr>
<tr><th>Local authority</th><td>{{or .LocalAuthority "not held"}}</td></tr>
<tr><th>Needs recorded</th><td>{{range $i, $d := .Diagnoses}}{{if $i}}, {{end}}{{words (printf "%s" $d)}}{{else}}none{{end}}</td></tr>
<tr><th>On the register since</th><td>{{day .CreatedAt}}</td></tr>
<tr><th>Where things stand</th><td>{{words (printf "%s" .Stage)}}{{if .Rating}}, rated {{.Rating}}{{end}}</td></tr>
{{if .RemovedAt}}<tr><th>Left the register</th><td>{{day .RemovedAt}} ({{words (printf "%s" .RemovalReason)}})</td></tr>{{end}}
{{if .ErasedAt}}<tr><th>Details erased</th><td>{{day .ErasedAt}}</td></tr>{{end}}
</table>
{{end}}

<h2>Referrals</h2>
{{range .Referrals}}
<table>
<tr><th>Received</th><td>{{day .ReceivedAt}} by {{words (printf "%s" .Channel)}}</td></tr>
<tr><th>Referred by</th><td>{{or .ReferrerName "not recorded"}} ({{words (printf "%s" .ReferrerKind)}}){{if .ReferrerOrganisation}}, {{.ReferrerOrganisation}}{{end}}</td></tr>
<tr><th>Reason given</th><td>{{or .Reason "not held"}}</td></tr>
</table>
{{else}}<p>No referrals are held.</p>{{end}}

<h2>Consent</h2>
{{range .Consent}}<p>{{day .At}}: {{words .Action}}{{range details .Detail}}; {{.}}{{end}}. Recorded by {{.Actor}}.</p>
{{else}}<p>No consent decisions are recorded.</p>{{end}}

<h2>Risk ratings</h2>
<p class="note">Ratings describe the risk of admission to hospital: blue (in hospital), red, amber or green.</p>
{{range .Ratings}}<p>{{day .At}}: {{words .Action}}{{range details .Detail}}; {{.}}{{end}}. By {{.Actor}}.</p>
{{else}}<p>No ratings are recorded.</p>{{end}}

<h2>Tasks for the team</h2>
{{range .Tasks}}<p>{{words (printf "%s" .Kind)}}: opened {{day .OpenedAt}}{{if .DueAt}}, due {{day .DueAt}}{{end}}; {{.Status}}{{if .Outcome}} ({{.Outcome}}){{end}}.</p>
{{else}}<p>No tasks are recorded.</p>{{end}}

<h2>Escalations</h2>
{{range .Escalations}}<p>Escalation {{.Number}}: started {{day .StartedAt}}{{if .AcknowledgedAt}}, acknowledged {{day .AcknowledgedAt}}{{end}}{{if .EndedAt}}, ended {{day .EndedAt}}{{end}}{{if .Outcome}}: {{.Outcome}}{{end}}.</p>
{{else}}<p>There have been no escalations.</p>{{end}}

<h2>Everything recorded, including who has looked at the record</h2>
<table>
<tr><th>When</th><th>What, and who</th></tr>
{{range .Audit}}<tr><td>{{when .At}}</td><td>{{words .Action}} by {{.Actor}}{{range details .Detail}}; {{.}}{{end}}</td></tr>
{{end}}
</table>
</body>
</html>
`))

func writeExportHTML(w http.ResponseWriter, d Deps, sa store.SubjectAccess, by string) {
	var b strings.Builder
	if err := exportTemplate.Execute(&b, struct {
		store.SubjectAccess
		By string
	}{sa, by}); err != nil {
		d.Logger.Error("export: rendering the document failed", "error", err)
		writeError(w, http.StatusInternalServerError, "the document could not be produced; the JSON export (format=json) has the same content", nil)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
}
