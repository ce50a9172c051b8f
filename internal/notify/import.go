package notify

import "time"

// ImportSummary is the one message an import of an existing register
// (`dsr import`) sends: counts only, about no one. The imported people's
// routine prompts are opened quietly (register.Change.Quiet) and this
// stands for them; their red alerts are sent as usual.
const ImportSummary Event = "import_summary"

// ImportCounts is what an import brought onto the register.
type ImportCounts struct {
	// People is how many people the import created (this run and any
	// interrupted run of the same file before it).
	People int
	// Active, Referred and ConsentLapsed count them by stage.
	Active, Referred, ConsentLapsed int
	// Red, Amber, Green and Blue count them by rating.
	Red, Amber, Green, Blue int
	// ReviewsOverdue counts review tasks already past their due date;
	// ReviewsDue those opened ahead of it.
	ReviewsOverdue, ReviewsDue int
	// ConsentsLapsing counts consent renewal tasks opened (expiry within
	// the renewal notice).
	ConsentsLapsing int
	// NotImported counts rows left out: invalid, or possible duplicates
	// to resolve first.
	NotImported int
}

// ImportSummaryKey names an import's summary by the import's identity (a
// hash of the file's content, opaque), so a re-run of the same file never
// sends it twice.
func ImportSummaryKey(importID string) string { return "import-" + importID }

// ForImport is the one notification an import queues when it ends.
func ForImport(importID string, counts ImportCounts, at time.Time) Notification {
	c := counts
	return Notification{Key: ImportSummaryKey(importID), Event: ImportSummary, At: at, Import: &c}
}
