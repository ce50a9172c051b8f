package slack

import (
	"context"
	"fmt"
	"strings"

	"github.com/dsr-register/dsr/internal/notify"
	"github.com/dsr-register/dsr/internal/slack/pacer"
)

// ImportSummaryText is the one message an import posts instead of a prompt
// per imported person: counts and a link to the register, never a name or
// a reference.
func ImportSummaryText(c notify.ImportCounts, publicURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*Imported %s*", plural(c.People, "person", "people"))
	var parts []string
	add := func(n int, one, many string) {
		if n > 0 {
			parts = append(parts, plural(n, one, many))
		}
	}
	add(c.ReviewsOverdue, "review overdue", "reviews overdue")
	add(c.ReviewsDue, "review due soon", "reviews due soon")
	add(c.ConsentsLapsing, "consent lapsing", "consents lapsing")
	add(c.ConsentLapsed, "consent already lapsed", "consents already lapsed")
	add(c.Referred, "awaiting consent", "awaiting consent")
	add(c.Red, "red (alerts sent)", "red (alerts sent)")
	if len(parts) > 0 {
		b.WriteString(": " + strings.Join(parts, ", "))
	}
	b.WriteString(".")
	if c.NotImported > 0 {
		fmt.Fprintf(&b, "\n%s not imported yet (errors or possible duplicates in the import report).", plural(c.NotImported, "row", "rows"))
	}
	b.WriteString("\nTheir prompts are in the task list, not posted one by one.")
	if publicURL != "" {
		fmt.Fprintf(&b, "\n<%s/tasks?status=open|Open the task list>", strings.TrimSuffix(publicURL, "/"))
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// postImportSummary posts an import's summary to the coordinators' channel
// once, under the notification's key there (postMessageOnce), so a
// redelivery, or a retry after dsr stopped mid-post, posts nothing more.
func (n *Notifier) postImportSummary(ctx context.Context, note notify.Notification) error {
	if n.Channel == "" || note.Import == nil {
		return nil
	}
	err := n.postMessageOnce(ctx, note.Key+"@"+n.Channel, n.Channel, pacer.PriorityRoutine, 0, func() string {
		return ImportSummaryText(*note.Import, n.PublicURL)
	})
	if err != nil {
		return fmt.Errorf("slack: post the import summary: %w", err)
	}
	return nil
}
