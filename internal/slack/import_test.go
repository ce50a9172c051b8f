package slack

import (
	"strings"
	"testing"
	"time"

	"github.com/dsr-register/dsr/internal/store/storetest"

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

func TestImportSummaryPostedOnceToTheCoordinators(t *testing.T) {
	st, _ := storetest.WithOneReferral(t, t0)
	srv, _, paced := fakeSlack(t)
	n := &Notifier{Records: st, Poster: paced, Channel: "C-COORD", ManagersChannel: "C-MGR", PublicURL: "https://dsr.example.nhs.uk", Now: time.Now}
	note := notify.ForImport("abc123", notify.ImportCounts{People: 3, ReviewsOverdue: 1}, time.Now())
	deliverTwice(t, n, note)
	if post := onlyPost(t, srv, "C-COORD", "the coordinators' channel"); !strings.HasPrefix(post.Text, "*Imported 3 people*: 1 review overdue.") {
		t.Fatalf("want the import summary, got %+v", post)
	}
}
