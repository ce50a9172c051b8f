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
// (the end-to-end tests use the real one).
type Audit struct {
	mu      sync.Mutex
	entries []AuditEntry
	fail    error
}

// FailWith makes every append answer err from now on, as a database that
// is down would.
func (a *Audit) FailWith(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = err
}

// AuditAppend records the entry, or answers FailWith's error.
func (a *Audit) AuditAppend(_ context.Context, actor, action string, personID int64, detail map[string]string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return a.fail
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
