package workflows

import (
	"strconv"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/dsr-register/dsr/internal/register"
)

// What the register does on its own, as time passes. Every deadline is
// derived from facts (when consent was decided, when the rating was last
// reviewed) and the policy read just before, never stored, so a change of
// policy moves it.

// consentExpiresAt is when the consent in force runs out: at the end of
// the consent period, or at 16 for consent given for a child
// (person_consent_age.go).
func (p *person) consentExpiresAt() time.Time {
	if p.Consent == nil {
		return time.Time{}
	}
	if p.consentEndsAtSixteen() {
		return p.sixteenthBirthday()
	}
	return p.normalConsentExpiry()
}

// reviewDueAt is when the rating next falls due for review. A first rating
// is due within the review notice of consent being recorded, so its task
// opens at once and is not overdue the moment it opens.
func (p *person) reviewDueAt() time.Time {
	if p.Consent == nil {
		return time.Time{}
	}
	if p.Rating == "" {
		return p.Consent.RecordedAt.Add(p.Policy.ReviewNotice)
	}
	return p.LastReviewedAt.Add(p.Policy.ReviewEvery(p.Rating))
}

func (p *person) referralChaseAt() time.Time {
	return p.ReferredAt.Add(p.Policy.ReferralConsentDeadline)
}

func (p *person) removalForLapseAt() time.Time {
	return p.consentExpiresAt().Add(p.Policy.ConsentGrace)
}

// nextReminderAt is when an open task is next chased. Renewal and lapse
// tasks are reminded at a steady pace while they run; any other task is
// chased every ChaseEvery once it is overdue (its opening was the first
// prompt, so the first chase comes one interval after the due date).
func (p *person) nextReminderAt(t OpenTask) time.Time {
	switch t.Kind {
	case register.TaskConsentRenewal, register.TaskConsentLapsed:
		last := t.OpenedAt
		if t.LastRemindedAt.After(last) {
			last = t.LastRemindedAt
		}
		return last.Add(p.Policy.RenewalReminderEvery)
	}
	if t.LastRemindedAt.IsZero() {
		return t.DueAt.Add(p.Policy.ChaseEvery)
	}
	return t.LastRemindedAt.Add(p.Policy.ChaseEvery)
}

// nextDeadline is the earliest moment after now at which something falls
// due, capped by the policy recheck so a long sleeper sees a new policy.
func (p *person) nextDeadline(now time.Time) time.Time {
	wake := wakeUpBy(now, p.Policy.Recheck)
	switch p.Stage {
	case register.Referred:
		if !p.ReferralChased {
			wake.consider(p.referralChaseAt())
		}
	case register.Active:
		exp := p.consentExpiresAt()
		wake.consider(exp)
		wake.consider(exp.Add(-p.Policy.RenewalNotice))
		wake.consider(p.consentAgeWake())
		if _, open := p.Tasks.find(register.TaskReviewDue); !open {
			wake.consider(p.reviewDueAt().Add(-p.Policy.ReviewNotice))
		}
		if due := p.nextInpatientCTRDue(); !due.IsZero() {
			wake.consider(due.Add(-p.Policy.CTRNotice))
		}
	case register.ConsentLapsed:
		wake.consider(p.removalForLapseAt())
	}
	for _, t := range p.Tasks {
		wake.consider(p.nextReminderAt(t))
	}
	return wake.at
}

// actOnWhatIsDue takes every step whose time has come, one recorded change
// each, under the lock so no Update interleaves.
func (p *person) actOnWhatIsDue(ctx workflow.Context) error {
	return underLock(ctx, p.lock, func() error {
		now := workflow.Now(ctx)
		p.decideConsentAge(ctx, now, false)
		steps := []func(workflow.Context, time.Time) (bool, error){
			p.chaseReferralWithoutConsent,
			p.lapseExpiredConsent,
			p.removeAfterGrace,
			p.openRenewal,
			p.openReview,
			p.openInpatientCTR,
			p.chaseOverdueTasks,
		}
		for _, step := range steps {
			if _, err := step(ctx, now); err != nil {
				return err
			}
			if p.Stage == register.Removed {
				return nil
			}
		}
		return nil
	})
}

// chaseReferralWithoutConsent: a referral with no consent by the deadline
// is put to a coordinator to chase or close.
func (p *person) chaseReferralWithoutConsent(ctx workflow.Context, now time.Time) (bool, error) {
	if p.Stage != register.Referred || p.ReferralChased || now.Before(p.referralChaseAt()) {
		return false, nil
	}
	p.ReferralChased = true
	return true, p.record(ctx, TimerActor, "referral_consent_overdue", nil, func(c *register.Change) {
		p.closeTasks(c, register.TaskStatusCancelled, "no consent by the deadline: chase opened", register.TaskConsentNeeded)
		p.openTask(c, now, register.TaskReferralChase, now,
			register.ActionRecordConsent, register.ActionCloseReferral)
	})
}

// lapseExpiredConsent: consent not renewed by expiry lapses. Reviews stop;
// only renewal is prompted until the grace period ends.
func (p *person) lapseExpiredConsent(ctx workflow.Context, now time.Time) (bool, error) {
	if p.Stage != register.Active || now.Before(p.consentExpiresAt()) {
		return false, nil
	}
	expired := p.consentExpiresAt()
	p.Stage = register.ConsentLapsed
	return true, p.record(ctx, TimerActor, "consent_lapsed",
		p.consentEndDetail(map[string]string{"stage_from": string(register.Active), "expired_at": expired.Format(time.RFC3339)}),
		func(c *register.Change) {
			p.closeTasks(c, register.TaskStatusCancelled, "consent lapsed", register.TaskReviewDue, register.TaskConsentRenewal)
			p.openTask(c, now, register.TaskConsentLapsed, p.removalForLapseAt(),
				register.ActionRenewConsent, register.ActionRemove)
		})
}

// removeAfterGrace: a lapsed person not renewed within the grace period
// leaves the register.
func (p *person) removeAfterGrace(ctx workflow.Context, now time.Time) (bool, error) {
	if p.Stage != register.ConsentLapsed || now.Before(p.removalForLapseAt()) {
		return false, nil
	}
	return true, p.remove(ctx, now, TimerActor, register.RemovedConsentLapsed, "consent not renewed within the grace period")
}

// opensAhead says whether a task the timers open ahead of its due date
// (renewal, review, inpatient C(E)TR) opens now: the person is active, no
// task of its kind is open, and now is within notice of due.
func (p *person) opensAhead(now time.Time, kind register.TaskKind, due time.Time, notice time.Duration) bool {
	_, open := p.Tasks.find(kind)
	return p.Stage == register.Active && !open && !now.Before(due.Add(-notice))
}

// openRenewal opens the renewal task ahead of expiry.
func (p *person) openRenewal(ctx workflow.Context, now time.Time) (bool, error) {
	exp := p.consentExpiresAt()
	if !p.opensAhead(now, register.TaskConsentRenewal, exp, p.Policy.RenewalNotice) {
		return false, nil
	}
	return true, p.record(ctx, TimerActor, "consent_renewal_due",
		p.consentEndDetail(map[string]string{"expires_at": exp.Format(time.RFC3339)}),
		func(c *register.Change) {
			p.openTask(c, now, register.TaskConsentRenewal, exp, register.ActionRenewConsent, register.ActionRemove)
		})
}

// openReview opens the review task ahead of the due date (or at once for a
// first rating).
func (p *person) openReview(ctx workflow.Context, now time.Time) (bool, error) {
	due := p.reviewDueAt()
	if !p.opensAhead(now, register.TaskReviewDue, due, p.Policy.ReviewNotice) {
		return false, nil
	}
	actions := []register.Action{register.ActionConfirmRating, register.ActionChangeRating}
	action := "review_due"
	if p.Rating == "" {
		actions = []register.Action{register.ActionRate}
		action = "first_rating_due"
	}
	return true, p.record(ctx, TimerActor, action,
		map[string]string{"due_at": due.Format(time.RFC3339), "rating": string(p.Rating)},
		func(c *register.Change) {
			p.openTask(c, now, register.TaskReviewDue, due, actions...)
		})
}

// chaseOverdueTasks sends reminders for tasks whose reminder time has come,
// all in one change.
func (p *person) chaseOverdueTasks(ctx workflow.Context, now time.Time) (bool, error) {
	var keys, managers []string
	for i := range p.Tasks {
		t := &p.Tasks[i]
		if now.Before(p.nextReminderAt(*t)) {
			continue
		}
		t.LastRemindedAt = now
		t.Reminders++
		keys = append(keys, t.Key)
		if p.rules >= 1 && t.Kind.Completable() {
			// An overdue required action (a C(E)TR, a keyworker
			// referral) is the managers' business too.
			managers = append(managers, t.Key)
		}
	}
	if len(keys) == 0 {
		return false, nil
	}
	detail := map[string]string{"tasks": strconv.Itoa(len(keys))}
	return true, p.record(ctx, TimerActor, "tasks_chased", detail, func(c *register.Change) {
		c.Remind = keys
		c.Managers = managers
	})
}

// remove takes the person off the register and closes every open prompt.
func (p *person) remove(ctx workflow.Context, now time.Time, actor string, reason register.RemovalReason, notes string) error {
	from := p.Stage
	p.Stage = register.Removed
	p.RemovalReason = reason
	p.RemovedAt = now
	if err := p.record(ctx, actor, "removed",
		map[string]string{"stage_from": string(from), "reason": string(reason), "notes": notes},
		func(c *register.Change) {
			p.closeTasks(c, register.TaskStatusCancelled, "removed from the register: "+string(reason))
		}); err != nil {
		return err
	}
	p.endEscalation(ctx, "removed from the register ("+string(reason)+")", actor)
	if workflow.GetVersion(ctx, retentionVersion, workflow.DefaultVersion, 1) == 1 {
		p.startRetention(ctx)
	}
	return nil
}
