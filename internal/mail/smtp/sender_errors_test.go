package smtp

import (
	"fmt"
	"strings"
	"testing"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/dsr-register/dsr/internal/notify"
)

// A server's refusal keeps its codes (the outbox decides on them) and loses
// its text, which may name the recipient.
func TestSMTPRefusalNamesNoRecipient(t *testing.T) {
	server := &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "<jo.bloggs@example.nhs.uk>: Recipient address rejected"}
	err := refusedIfPermanent(fmt.Errorf("mail: sending through smtp.example: %w", withoutServerText(server)))
	if strings.Contains(err.Error(), "bloggs") {
		t.Errorf("the error names the recipient: %v", err)
	}
	if !notify.IsRefused(err) || !strings.Contains(err.Error(), "550") {
		t.Errorf("want a refusal that keeps SMTP 550, got %v", err)
	}
}
