package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Every read of a person's record is audited, in the same append-only
// audit_log as every change: who, when, through what. A list (the register,
// the tasks, the escalations) is one entry saying what was listed, not one
// per person on it. Neither holds personal data: the person is an opaque ID,
// the detail names the surface, what was read, filters and a count.

// Surface is what a record was read through.
type Surface string

const (
	ViaAPI   Surface = "api"
	ViaSlack Surface = "slack"
	ViaWeb   Surface = "web"
)

// ActionViewed and ActionListed are the audit actions of reads.
const (
	ActionViewed = "viewed"
	ActionListed = "listed"
)

// View is one look at one person's record.
type View struct {
	// Actor is who looked (a token's name, a Slack coordinator, a signed-in user).
	Actor    string
	PersonID int64
	Via      Surface
	// What was read: "record", "escalations", "tasks", "export", "views".
	What string
}

// RecordView audits a look at a person's record: one insert. The caller
// shows nothing until it has succeeded — an unaudited read is not allowed.
func (s *Store) RecordView(ctx context.Context, v View) error {
	if v.PersonID <= 0 || v.Via == "" || v.What == "" {
		return errors.New("store: record view: person, surface and what was read are required")
	}
	return s.appendRead(ctx, v.Actor, ActionViewed, v.PersonID, map[string]string{"via": string(v.Via), "what": v.What})
}

// Listing is one list of people (or of their tasks or escalations) shown.
type Listing struct {
	Actor string
	Via   Surface
	// List names what was listed: "people", "tasks", "escalations".
	List string
	// Filters are the list's filters as given (already validated: values
	// are ratings, stages, statuses, flags — never free text).
	Filters map[string]string
	// Count is how many rows were shown.
	Count int
}

// RecordListing audits a list shown: one entry, whatever its length.
func (s *Store) RecordListing(ctx context.Context, l Listing) error {
	if l.Via == "" || l.List == "" {
		return errors.New("store: record listing: surface and list are required")
	}
	detail := map[string]string{"via": string(l.Via), "list": l.List, "count": strconv.Itoa(l.Count)}
	var filters []string
	for k, v := range l.Filters {
		if v != "" {
			filters = append(filters, k+"="+v)
		}
	}
	sort.Strings(filters)
	detail["filters"] = strings.Join(filters, "&")
	return s.appendRead(ctx, l.Actor, ActionListed, 0, detail)
}

func (s *Store) appendRead(ctx context.Context, actor, action string, personID int64, detail map[string]string) error {
	if strings.TrimSpace(actor) == "" {
		return fmt.Errorf("store: audit %s: the actor is required", action)
	}
	d, err := detailJSON(detail)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `insert into audit_log (actor, action, person_id, detail) values ($1, $2, $3, $4)`,
		actor, action, nullID(personID), d); err != nil {
		return fmt.Errorf("store: audit %s: %w", action, err)
	}
	return nil
}

// Views lists who has looked at a person's record, newest first.
func (s *Store) Views(ctx context.Context, personID int64) ([]AuditEntry, error) {
	out, err := s.audit(ctx, `where person_id = $1 and action = 'viewed'`, personID)
	if err != nil {
		return nil, fmt.Errorf("store: views of person %d: %w", personID, err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
