package workflows

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/internal/register"
)

// Importing a team's existing register (`dsr import`): each person's
// workflow is started by the UpdateImport Update (Update-with-Start) and
// takes the person on in their current state — stage, rating with the date
// of its last review, consent with its date — in one recorded change
// (audit action "imported"), not a replay of their past. Every date the
// register works to follows from those facts as for anyone else: the next
// review from the last one and the colour's cadence, consent expiry from
// its date (and the 16th birthday for a child's consent). What is already
// due opens at once in the same change, as overdue where it is: the review,
// the consent renewal, or the lapse of a consent that has run out.
//
// A new Update, so nothing in a recorded history takes this path: no
// workflow.GetVersion is needed for it.

// ImportActor is the audit actor prefix of an import ("import:<file>" is
// not used: file names may carry names).
const ImportActor = "dsr:import"

// ImportInput is one imported person's standing. It holds no name or NHS
// number; the date of birth is there because the age rules need it
// (payloads are sealed).
type ImportInput struct {
	// ReferralID is the import's referral row (channel import), accepted
	// by the change.
	ReferralID  int64
	DateOfBirth time.Time
	// Rating is the current rating, or empty for someone not yet rated;
	// LastReviewedOn is the date of the last review, which set it.
	Rating         register.Rating
	LastReviewedOn time.Time
	// ConsentBasis empty: no consent on record yet (the person starts as
	// a referral awaiting consent).
	ConsentBasis     register.ConsentBasis
	ConsentGivenBy   string
	ConsentDecidedOn time.Time
	AssignedTo       string
	Notes            string
	// ProjectionSeq and Escalations number on from the record, as for a
	// referral.
	ProjectionSeq int64
	Escalations   int
	Actor         string
}

func (p *person) validateImport(ctx workflow.Context, in ImportInput) error {
	if p.Stage != "" {
		return noLongerApplies("the person is already on the register: an import never overwrites a record")
	}
	errs := register.FieldErrors{}
	if in.ReferralID <= 0 {
		errs.Add("referral_id", "is required")
	}
	if in.DateOfBirth.IsZero() {
		errs.Add("date_of_birth", "is required")
	}
	errs.Merge(actorErrors(in.Actor))
	today := p.Policy.LocalDate(workflow.Now(ctx))
	if in.ConsentBasis != "" {
		errs.Merge(register.ValidateConsent(register.Consent{Basis: in.ConsentBasis, GivenBy: in.ConsentGivenBy,
			DecidedOn: in.ConsentDecidedOn}, in.DateOfBirth, today))
	}
	if in.Rating != "" {
		if _, err := register.ParseRating(string(in.Rating)); err != nil {
			errs.Add("rating", err.Error())
		}
		if in.ConsentBasis == "" {
			errs.Add("rating", "a rated person must have consent on record: give the consent, or leave the rating empty")
		}
		if in.LastReviewedOn.IsZero() {
			errs.Add("last_reviewed_on", "is required with a rating: the date of the review that set it")
		} else if in.LastReviewedOn.After(today) {
			errs.Add("last_reviewed_on", "cannot be in the future")
		}
	}
	return refuseBadFields(errs)
}

// importPerson sets the person's state directly and records it as one
// change. Its routine prompts are quiet (summarised once per import); a red
// person's alert is recorded with the change and their escalation started,
// as when someone is rated red.
func (p *person) importPerson(ctx workflow.Context, in ImportInput) (PersonStatus, error) {
	return p.locked(ctx, func() error { return p.validateImport(ctx, in) }, func(now time.Time) error {
		last, err := lastRecorded(ctx, p.PersonID)
		if err != nil {
			return err
		}
		p.DateOfBirth = in.DateOfBirth
		p.ReferredAt = now
		p.Seq = max(in.ProjectionSeq, last.Seq)
		p.Escalations = max(in.Escalations, last.Escalations)
		p.AssignedTo = strings.TrimSpace(in.AssignedTo)
		p.Stage = register.Referred
		if in.ConsentBasis != "" {
			p.Consent = &ConsentState{Basis: in.ConsentBasis, GivenBy: strings.TrimSpace(in.ConsentGivenBy),
				DecidedOn: in.ConsentDecidedOn, RunsFrom: in.ConsentDecidedOn, RecordedAt: now}
			p.Stage = register.Active
			// The expiry must be known before deciding the stage.
			p.decideConsentAge(ctx, now, true)
			if !now.Before(p.consentExpiresAt()) {
				p.Stage = register.ConsentLapsed
			}
		}
		if in.Rating != "" {
			p.Rating = in.Rating
			p.RatedAt = in.LastReviewedOn
			p.LastReviewedAt = in.LastReviewedOn
		}
		redAlert := p.Stage == register.Active && p.Rating == register.Red && p.rules >= 1
		var opened *openedEscalation
		if redAlert {
			opened = p.openEscalation(now, in.Actor)
		}
		detail := p.importDetail(in)
		ids, err := p.recordWithIDs(ctx, in.Actor, "imported", detail, func(c *register.Change) {
			c.AcceptReferralID = in.ReferralID
			c.Quiet = true
			p.openImportedTasks(c, now)
			opened.recordWith(c)
		})
		if err != nil {
			return err
		}
		if opened != nil {
			if err := p.startOpened(ctx, opened, ids).GetChildWorkflowExecution().Get(ctx, nil); err != nil {
				return fmt.Errorf("imported, but the escalation did not start: %w", err)
			}
		}
		return nil
	})
}

// importDetail is the imported change's audit detail: the facts taken on,
// free text (notes, who gave consent) kept beside the entry as for any
// change.
func (p *person) importDetail(in ImportInput) map[string]string {
	d := map[string]string{
		"referral_id": strconv.FormatInt(in.ReferralID, 10),
		"stage":       string(p.Stage),
	}
	if in.Rating != "" {
		d["rating"] = string(in.Rating)
		d["last_reviewed_on"] = in.LastReviewedOn.Format("2006-01-02")
	}
	if p.Consent != nil {
		d["basis"] = string(p.Consent.Basis)
		d["given_by"] = p.Consent.GivenBy
		d["decided_on"] = p.Consent.DecidedOn.Format("2006-01-02")
	}
	if p.AssignedTo != "" {
		d["assigned_to"] = p.AssignedTo
	}
	if strings.TrimSpace(in.Notes) != "" {
		d["notes"] = in.Notes
	}
	return d
}

// openImportedTasks opens, in the imported change, every task already due
// for the person's state, so none waits for a later wake (which would be
// another change and another prompt): the consent request, the lapse, the
// renewal, the review, and what the rating's colour brings. A task already
// past its due date is shown overdue at once and first chased one chase
// interval after the import, not at once.
func (p *person) openImportedTasks(c *register.Change, now time.Time) {
	switch p.Stage {
	case register.Referred:
		p.openTask(c, now, register.TaskConsentNeeded, p.referralChaseAt(),
			register.ActionRecordConsent, register.ActionCloseReferral)
		return
	case register.ConsentLapsed:
		c.Detail["expired_at"] = p.consentExpiresAt().Format(time.RFC3339)
		p.openTask(c, now, register.TaskConsentLapsed, p.removalForLapseAt(),
			register.ActionRenewConsent, register.ActionRemove)
		return
	}
	if exp := p.consentExpiresAt(); !now.Before(exp.Add(-p.Policy.RenewalNotice)) {
		p.openTask(c, now, register.TaskConsentRenewal, exp, register.ActionRenewConsent, register.ActionRemove)
	}
	if due := p.reviewDueAt(); !now.Before(due.Add(-p.Policy.ReviewNotice)) {
		actions := []register.Action{register.ActionConfirmRating, register.ActionChangeRating}
		if p.Rating == "" {
			actions = []register.Action{register.ActionRate}
		}
		p.openTask(c, now, register.TaskReviewDue, due, actions...)
		if due.Before(now) {
			p.Tasks[len(p.Tasks)-1].LastRemindedAt = now
		}
	}
	if p.Rating != "" {
		p.colourActions(c, now, "", p.Rating, false)
	}
}
