package logintest

import (
	"context"
	"sync"
)

// AuditEntry is one entry login asked to be audited.
type AuditEntry struct {
	Actor, Action string
	PersonID      int64
	Detail        map[string]string
}

// Audit stands in for the register's audit log in tests of sign-in alone
// (the end-to-end tests use the real one). Fail, when set, is what every
// append answers, as a database that is down would.
type Audit struct {
	mu      sync.Mutex
	entries []AuditEntry
	Fail    error
}

// AuditAppend records the entry, or answers Fail.
func (a *Audit) AuditAppend(_ context.Context, actor, action string, personID int64, detail map[string]string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.Fail != nil {
		return a.Fail
	}
	a.entries = append(a.entries, AuditEntry{Actor: actor, Action: action, PersonID: personID, Detail: detail})
	return nil
}

// Entries are the entries recorded so far, oldest first.
func (a *Audit) Entries() []AuditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]AuditEntry(nil), a.entries...)
}
