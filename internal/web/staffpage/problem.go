package staffpage

// Problem is one line of a form's error summary ("error-summary" in
// templates/fields.html): what is wrong, linking to the field to fix.
type Problem struct {
	// Href is the field's fragment, "#" and its id.
	Href    string
	Message string
}
