package portal

import "html/template"

// icons are the easy-read pictures, drawn here as simple line drawings so
// the portal loads nothing from elsewhere. Each stands beside words that
// say the same thing, so it is hidden from screen readers.
var icons = map[string]string{
	// A list on a clipboard: the register.
	"register": `<rect x="10" y="6" width="28" height="38" rx="3"/><rect x="18" y="3" width="12" height="6" rx="2"/><path d="M16 18h16M16 26h16M16 34h10"/>`,
	// Two people.
	"people": `<circle cx="17" cy="15" r="6"/><circle cx="33" cy="17" r="5"/><path d="M5 42c0-8 5-14 12-14s12 6 12 14M28 42c0-6 2-11 6-12 5 0 9 5 9 12"/>`,
	// A house.
	"home": `<path d="M6 24 24 8l18 16"/><path d="M11 20v22h26V20"/><rect x="20" y="30" width="8" height="12"/>`,
	// A form with a pencil.
	"form": `<rect x="8" y="6" width="26" height="36" rx="2"/><path d="M14 16h14M14 24h14M14 32h6"/><path d="m30 38 12-12 3 3-12 12-4 1z"/>`,
	// Two people, one helping the other.
	"helper": `<circle cx="15" cy="13" r="5"/><circle cx="33" cy="13" r="5"/><path d="M7 42V28c0-4 4-7 8-7s8 3 8 7v14M25 42V28c0-4 4-7 8-7s8 3 8 7v14M21 28h6"/>`,
	// A clock.
	"clock": `<circle cx="24" cy="24" r="18"/><path d="M24 13v11l8 5"/>`,
	// A card with a number on it.
	"card": `<rect x="4" y="12" width="40" height="26" rx="3"/><path d="M10 20h12M10 30h28"/>`,
	// A speech bubble.
	"speech": `<path d="M6 10h36v22H20l-9 8v-8H6z"/><path d="M13 18h22M13 25h14"/>`,
	// A telephone handset.
	"phone": `<path d="M14 6l6 8-4 5c3 6 7 10 13 13l5-4 8 6-4 8C24 41 7 24 6 10z"/>`,
	// A hand held up: saying no.
	"no": `<circle cx="24" cy="24" r="18"/><path d="M11 11l26 26"/>`,
	// Two arrows: changing your mind.
	"change": `<path d="M8 18h28l-6-6M40 30H12l6 6"/>`,
	// A grown-up and a child.
	"family": `<circle cx="16" cy="11" r="5"/><circle cx="34" cy="22" r="4"/><path d="M8 42V26c0-5 4-8 8-8s8 3 8 8v16M28 42v-8c0-3 3-5 6-5s6 2 6 5v8"/>`,
	// A head with a thought.
	"think": `<circle cx="20" cy="26" r="12"/><path d="M15 42v-4M25 42v-4"/><circle cx="36" cy="10" r="5"/><circle cx="34" cy="19" r="2"/>`,
	// A paper plane: sending.
	"send": `<path d="M4 22 44 6 34 42 22 28z"/><path d="M22 28 44 6"/>`,
	// A calendar.
	"calendar": `<rect x="6" y="10" width="36" height="32" rx="3"/><path d="M6 18h36M16 6v8M32 6v8M13 26h6M21 26h6M29 26h6M13 34h6M21 34h6"/>`,
}

// icon is the picture named, as inline SVG hidden from screen readers.
func icon(name string) template.HTML {
	paths, ok := icons[name]
	if !ok {
		return ""
	}
	return template.HTML(`<svg class="dsr-easy-read__icon" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48" width="48" height="48" ` +
		`fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round" stroke-linejoin="round" focusable="false" aria-hidden="true">` +
		paths + `</svg>`)
}
