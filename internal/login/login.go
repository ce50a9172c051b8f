// Package login signs NHS staff in to the web app with OpenID Connect
// (Microsoft Entra ID in production; a local provider in `dsr dev`) and keeps
// who they are in a sealed session cookie. The web package asks it who is
// signed in (FromContext) and for the form token that guards every POST
// (CSRFToken); it never sees a password or a token.
//
// This file is the package's interface to the rest of dsr. The OIDC flow,
// the session cookie and the CSRF check live beside it.
package login

import (
	"context"

	"github.com/dsr-register/dsr/internal/config"
)

// User is the signed-in person.
type User struct {
	// Name is how the audit names them (AuditName); Subject is the
	// provider's stable ID for them.
	Name    string
	Subject string
	Role    config.Role
}

// AuditName is how the audit names a signed-in user's sign-ins, reads and
// actions: "Alice Smith (web)".
func (u User) AuditName() string { return u.Name + " (web)" }

// Auditor records sign-ins and sign-outs in the register's audit log
// (store.Store.AuditAppend); an entry about no person has personID 0.
type Auditor interface {
	AuditAppend(ctx context.Context, actor, action string, personID int64, detail map[string]string) error
}

// The audit actions of signing in and out. Their detail holds the role and
// the provider's subject: who the staff member is, never a patient.
const (
	ActionSignedIn = "signed_in"
	// ActionSignInRefused: the provider signed someone in whom the register
	// does not let in (no dsr role).
	ActionSignInRefused = "sign_in_refused"
	ActionSignedOut     = "signed_out"
)

// IsCoordinator reports whether the user may act on the register.
func (u User) IsCoordinator() bool { return u.Role == config.RoleCoordinator }

// IsManager reports whether the user may watch the register.
func (u User) IsManager() bool { return u.Role == config.RoleManager }

type userKey struct{}

// WithUser returns ctx carrying u: the session middleware does this for a
// signed-in request, and tests of the web pages may do it directly.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// FromContext is the signed-in user of a request, if any.
func FromContext(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}
