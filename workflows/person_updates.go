package workflows

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/internal/register"
)

// Coordinator actions arrive as Updates. Each has a validator that rejects
// what no longer applies before anything is written to history, and a
// handler that re-checks under the lock (the state may have moved while it
// waited), records the change, and answers with the person's status.

// ReferInput takes a referral into the person's workflow. It starts the
// workflow (Update-with-Start) or, for someone already on the register,
// records a re-referral.
type ReferInput struct {
	ReferralID  int64
	DateOfBirth time.Time
	ReceivedAt  time.Time
	// ProjectionSeq is the store's last change number for this person, so
	// a new spell after removal keeps numbering changes from there.
	ProjectionSeq int64
	// Escalations is how many escalations the person has had, so a new
	// spell numbers its escalations on (their IDs and audit keys are
	// per person, for good).
	Escalations int
	Actor       string
}

// RecordConsentInput records a consent decision: the first, or a renewal.
type RecordConsentInput struct {
	Basis     register.ConsentBasis
	GivenBy   string
	DecidedOn time.Time
	Notes     string
	Actor     string
}

// WithdrawConsentInput records that consent was withdrawn.
type WithdrawConsentInput struct {
	Reason string
	Actor  string
}

// RateInput sets a rating.
type RateInput struct {
	Rating    register.Rating
	Rationale string
	// SecurePlacement records, with a blue rating, that the person is in a
	// secure service (adults there have inpatient C(E)TRs yearly). Rating
	// blue again with a different value corrects it.
	SecurePlacement bool
	Actor           string
}

// ConfirmReviewInput confirms the rating at review without changing it.
type ConfirmReviewInput struct {
	Notes string
	Actor string
}

// RemoveInput takes the person off the register.
type RemoveInput struct {
	Reason register.RemovalReason
	Notes  string
	Actor  string
}

// AssignInput assigns the person to a coordinator (by actor name), whose
// prompts then reach them directly.
type AssignInput struct {
	Coordinator string
	Actor       string
}

func (p *person) registerHandlers(ctx workflow.Context) error {
	return registerHandlers(ctx, p.status, []update{
		{UpdateRefer, p.refer, p.validateRefer},
		{UpdateRecordConsent, p.recordConsent, p.validateRecordConsent},
		{UpdateWithdrawConsent, p.withdrawConsent, p.validateWithdrawConsent},
		{UpdateRate, p.rate, p.validateRate},
		{UpdateConfirmReview, p.confirmReview, p.validateConfirmReview},
		{UpdateRemove, p.removeByCoordinator, p.validateRemove},
		{UpdateAssign, p.assign, p.validateAssign},
		{UpdateCompleteAction, p.completeAction, p.validateCompleteAction},
		{UpdateImport, p.importPerson, p.validateImport},
		{UpdateConveneMeeting, p.conveneMeeting, p.validateConveneMeeting},
	})
}

// locked runs an Update's step under the lock, re-validating first.
func (p *person) locked(ctx workflow.Context, validate func() error, step func(now time.Time) error) (PersonStatus, error) {
	return runLocked(ctx, p.lock, func() error {
		if p.Policy.ConsentPeriod == 0 {
			// The very first Update of a new person arrives before the
			// main loop has read the policy.
			if err := refreshPolicy(ctx, &p.Policy); err != nil {
				return err
			}
		}
		return validate()
	}, step, p.status)
}

// --- refer -----------------------------------------------------------------

func (p *person) validateRefer(ctx workflow.Context, in ReferInput) error {
	if in.ReferralID <= 0 {
		return invalidInput(map[string]string{"referral_id": "is required"})
	}
	if p.Stage == register.Removed {
		return noLongerApplies("the person was removed moments ago; send the referral again to start a new spell")
	}
	return nil
}

func (p *person) refer(ctx workflow.Context, in ReferInput) (PersonStatus, error) {
	return p.locked(ctx, func() error { return p.validateRefer(ctx, in) }, func(now time.Time) error {
		detail := map[string]string{"referral_id": strconv.FormatInt(in.ReferralID, 10)}
		if p.Stage != "" {
			// Someone already on the register: one person, one workflow;
			// the new referral is recorded against them.
			detail["stage"] = string(p.Stage)
			return p.record(ctx, in.Actor, "re_referred", detail, func(c *register.Change) {
				c.AcceptReferralID = in.ReferralID
			})
		}
		seq, escalations := in.ProjectionSeq, in.Escalations
		if workflow.GetVersion(ctx, newSpellNumberingVersion, workflow.DefaultVersion, 1) == 1 {
			// What the referral saw may be stale: a removal recorded after
			// it was read (the last spell ending as it arrived) would
			// share its numbers, and the new spell's first change would be
			// taken for a replay of the removal. Number on from the record.
			// Read before anything changes, so a failure leaves no trace.
			last, err := lastRecorded(ctx, p.PersonID)
			if err != nil {
				return err
			}
			seq, escalations = max(seq, last.Seq), max(escalations, last.Escalations)
		}
		p.DateOfBirth = in.DateOfBirth
		p.ReferredAt = now
		p.Seq = seq
		p.Escalations = escalations
		p.Stage = register.Referred
		detail["stage_from"] = "none"
		return p.record(ctx, in.Actor, "referral_accepted", detail, func(c *register.Change) {
			c.AcceptReferralID = in.ReferralID
			p.openTask(c, now, register.TaskConsentNeeded, p.referralChaseAt(),
				register.ActionRecordConsent, register.ActionCloseReferral)
		})
	})
}

// --- consent ---------------------------------------------------------------

func (p *person) validateRecordConsent(ctx workflow.Context, in RecordConsentInput) error {
	switch p.Stage {
	case register.Removed:
		return noLongerApplies("the person is no longer on the register (removed: %s); refer them again to record consent", p.RemovalReason)
	case "":
		return noLongerApplies("no referral has been taken in for this person yet")
	}
	now := workflow.Now(ctx)
	// "Today" is the team's: a decision made at 00:30 in a London summer is
	// made that day, although UTC's calendar is a day behind.
	today := p.Policy.LocalDate(now)
	if errs := register.ValidateConsent(register.Consent{Basis: in.Basis, GivenBy: in.GivenBy, DecidedOn: in.DecidedOn}, p.DateOfBirth, today); errs != nil {
		return invalidInput(errs)
	}
	if !in.DecidedOn.Add(p.Policy.ConsentPeriod).After(now) {
		return invalidInput(map[string]string{"decided_on": "a decision made then has already expired; record a current decision"})
	}
	if p.Consent != nil && in.DecidedOn.Before(p.Consent.DecidedOn) {
		return invalidInput(map[string]string{"decided_on": "is earlier than the consent already recorded (" + p.Consent.DecidedOn.Format("2006-01-02") + ")"})
	}
	return requireActor(in.Actor)
}

// utcDateBeforeTeamToday is the date at now by UTC's calendar, which the
// register took for "today" before the team's zone (Policy.LocalDate) was:
// kept only where histories recorded then must replay as they ran.
func utcDateBeforeTeamToday(now time.Time) time.Time {
	return register.CalendarDate(now)
}

func (p *person) recordConsent(ctx workflow.Context, in RecordConsentInput) (PersonStatus, error) {
	return p.locked(ctx, func() error { return p.validateRecordConsent(ctx, in) }, func(now time.Time) error {
		// A decision dated today runs from now. Today by UTC's calendar as
		// well as the team's: histories recorded before the team's "today"
		// was accepted replay as they ran.
		runsFrom := in.DecidedOn
		if decided := register.CalendarDate(in.DecidedOn); decided.Equal(utcDateBeforeTeamToday(now)) || decided.Equal(p.Policy.LocalDate(now)) {
			runsFrom = now
		}
		renewal := p.Consent != nil
		from := p.Stage
		p.Consent = &ConsentState{Basis: in.Basis, GivenBy: strings.TrimSpace(in.GivenBy), DecidedOn: in.DecidedOn, RunsFrom: runsFrom, RecordedAt: now}
		p.Stage = register.Active
		action, outcome := "consent_recorded", "consent recorded ("+string(in.Basis)+")"
		if renewal {
			action, outcome = "consent_renewed", "consent renewed ("+string(in.Basis)+")"
		}
		detail := map[string]string{"basis": string(in.Basis), "given_by": p.Consent.GivenBy,
			"decided_on": in.DecidedOn.Format("2006-01-02"), "notes": in.Notes}
		if from != register.Active {
			detail["stage_from"] = string(from)
		}
		return p.record(ctx, in.Actor, action, detail, func(c *register.Change) {
			p.closeTasks(c, register.TaskStatusDone, outcome,
				register.TaskConsentNeeded, register.TaskReferralChase, register.TaskConsentRenewal, register.TaskConsentLapsed)
		})
	})
}

func (p *person) validateWithdrawConsent(ctx workflow.Context, in WithdrawConsentInput) error {
	switch p.Stage {
	case register.Removed:
		return p.noLongerOnRegister()
	case register.Referred, "":
		return noLongerApplies("no consent has been recorded to withdraw; to close the referral, remove the person instead")
	}
	return requireActor(in.Actor)
}

// withdrawConsent stops all processing for the person at once: they leave
// the register and every open prompt closes.
func (p *person) withdrawConsent(ctx workflow.Context, in WithdrawConsentInput) (PersonStatus, error) {
	return p.locked(ctx, func() error { return p.validateWithdrawConsent(ctx, in) }, func(now time.Time) error {
		return p.remove(ctx, now, in.Actor, register.RemovedConsentWithdrawn, in.Reason)
	})
}

// --- ratings ---------------------------------------------------------------

// mustBeActive explains why a person who is not on the register with
// consent cannot be rated or reviewed.
func (p *person) mustBeActive() error {
	switch p.Stage {
	case register.Active:
		return nil
	case register.Referred:
		return noLongerApplies("consent has not been recorded yet: the register is consent based, record consent first")
	case register.ConsentLapsed:
		return noLongerApplies("consent lapsed on %s: renew consent before rating", p.consentExpiresAt().Format("2006-01-02"))
	}
	return p.mustBeOnRegister()
}

func (p *person) validateRate(ctx workflow.Context, in RateInput) error {
	if err := p.mustBeActive(); err != nil {
		return err
	}
	errs := register.FieldErrors{}
	errs.Merge(register.ValidateRating(in.Rating, in.Rationale, in.SecurePlacement))
	errs.Merge(actorErrors(in.Actor))
	if msg := p.checkDischargeHold(workflow.Now(ctx), in.Rating); msg != "" {
		errs.Add("rating", msg)
	}
	return refuseBadFields(errs)
}

func (p *person) rate(ctx workflow.Context, in RateInput) (PersonStatus, error) {
	return p.locked(ctx, func() error { return p.validateRate(ctx, in) }, func(now time.Time) error {
		from := p.Rating
		p.Rating = in.Rating
		p.RatedAt = now
		p.LastReviewedAt = now
		detail := map[string]string{"from": string(from), "to": string(in.Rating), "rationale": in.Rationale}
		turningRed := p.rules >= 1 && in.Rating == register.Red && from != register.Red
		// Turning red records the escalation's alert with the rating, in one
		// change, and then starts the escalation workflow to take it on.
		// Before that version, the escalation was started before the rating
		// was recorded and alerted itself.
		var escalation workflow.ChildWorkflowFuture
		var opened *openedEscalation
		if turningRed && p.alertWithRating(ctx) {
			opened = p.openEscalation(now, in.Actor)
			detail["escalation"] = strconv.Itoa(p.OpenEscalation)
		} else if turningRed {
			escalation = p.startEscalation(ctx, now, in.Actor)
			detail["escalation"] = strconv.Itoa(p.OpenEscalation)
		}
		ids, err := p.recordWithIDs(ctx, in.Actor, "rated", detail, func(c *register.Change) {
			p.closeTasks(c, register.TaskStatusDone, "rated "+string(in.Rating), register.TaskReviewDue)
			p.colourActions(c, now, from, in.Rating, in.SecurePlacement)
			opened.recordWith(c)
		})
		if err != nil {
			return err
		}
		if opened != nil {
			escalation = p.startOpened(ctx, opened, ids)
		}
		if escalation != nil {
			if err := escalation.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
				return fmt.Errorf("rating recorded, but the escalation did not start: %w", err)
			}
		}
		if from == register.Red && in.Rating != register.Red {
			reason := "rating lowered to " + string(in.Rating)
			if in.Rating == register.Blue {
				reason = "admitted to hospital (blue)"
			}
			p.endEscalation(ctx, reason, in.Actor)
		}
		return nil
	})
}

func (p *person) validateConfirmReview(ctx workflow.Context, in ConfirmReviewInput) error {
	if err := p.mustBeActive(); err != nil {
		return err
	}
	if p.Rating == "" {
		return noLongerApplies("there is no rating to confirm yet: rate the person first")
	}
	return requireActor(in.Actor)
}

func (p *person) confirmReview(ctx workflow.Context, in ConfirmReviewInput) (PersonStatus, error) {
	return p.locked(ctx, func() error { return p.validateConfirmReview(ctx, in) }, func(now time.Time) error {
		p.LastReviewedAt = now
		detail := map[string]string{"rating": string(p.Rating), "notes": in.Notes}
		return p.record(ctx, in.Actor, "review_confirmed", detail, func(c *register.Change) {
			p.closeTasks(c, register.TaskStatusDone, "rating confirmed "+string(p.Rating), register.TaskReviewDue)
		})
	})
}

// --- removal ---------------------------------------------------------------

func (p *person) validateRemove(ctx workflow.Context, in RemoveInput) error {
	if p.Stage == register.Removed {
		return noLongerApplies("the person was already removed (%s)", p.RemovalReason)
	}
	if p.Stage == "" {
		return noLongerApplies("no referral has been taken in for this person yet")
	}
	// merged is never chosen as a reason, but merging two records removes
	// the one merged away with it (a validator only: nothing replays it).
	if _, err := register.ParseRemovalReason(string(in.Reason)); err != nil && in.Reason != register.RemovedMerged {
		return invalidInput(map[string]string{"reason": err.Error()})
	}
	return requireActor(in.Actor)
}

func (p *person) removeByCoordinator(ctx workflow.Context, in RemoveInput) (PersonStatus, error) {
	return p.locked(ctx, func() error { return p.validateRemove(ctx, in) }, func(now time.Time) error {
		return p.remove(ctx, now, in.Actor, in.Reason, in.Notes)
	})
}

// --- assignment ------------------------------------------------------------

// mustBeOnRegister refuses an Update for someone not (or no longer) on the
// register.
func (p *person) mustBeOnRegister() error {
	switch p.Stage {
	case register.Removed:
		return p.noLongerOnRegister()
	case "":
		return noLongerApplies("no referral has been taken in for this person yet")
	}
	return nil
}

// noLongerOnRegister refuses an Update for someone removed, saying why
// they left.
func (p *person) noLongerOnRegister() error {
	return noLongerApplies("the person is no longer on the register (removed: %s)", p.RemovalReason)
}

func (p *person) validateAssign(ctx workflow.Context, in AssignInput) error {
	if err := p.mustBeOnRegister(); err != nil {
		return err
	}
	if errs := register.ValidateAssignment(in.Coordinator); errs != nil {
		return invalidInput(errs)
	}
	if in.Coordinator == p.AssignedTo {
		return noLongerApplies("already assigned to %s", p.AssignedTo)
	}
	return requireActor(in.Actor)
}

func (p *person) assign(ctx workflow.Context, in AssignInput) (PersonStatus, error) {
	return p.locked(ctx, func() error { return p.validateAssign(ctx, in) }, func(now time.Time) error {
		detail := map[string]string{"from": p.AssignedTo, "to": in.Coordinator}
		p.AssignedTo = in.Coordinator
		return p.record(ctx, in.Actor, "assigned", detail, nil)
	})
}
