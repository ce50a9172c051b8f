package slack

import (
	"strings"
	"testing"

	"github.com/dsr-register/dsr/internal/notify"
)

func TestImportSummaryText(t *testing.T) {
	got := ImportSummaryText(notify.ImportCounts{People: 812, ReviewsOverdue: 40, ConsentsLapsing: 12, Red: 1, NotImported: 3},
		"https://dsr.example.nhs.uk/")
	for _, want := range []string{
		"*Imported 812 people*: 40 reviews overdue, 12 consents lapsing, 1 red (alerts sent).",
		"3 rows not imported yet",
		"<https://dsr.example.nhs.uk/tasks?status=open|Open the task list>",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if one := ImportSummaryText(notify.ImportCounts{People: 1}, ""); !strings.HasPrefix(one, "*Imported 1 person*.") || strings.Contains(one, "<") {
		t.Errorf("one person, no link: %q", one)
	}
}
