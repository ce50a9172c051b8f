package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dsr-register/dsr/internal/register"
	"github.com/dsr-register/dsr/internal/workinghours"
)

// PolicyConfig holds the register's timings. Values are days ("28d" or
// "28") or any Go duration ("90m", "36h"). The defaults are
// register.DefaultPolicy's; README.md says where each comes from.
type PolicyConfig struct {
	ConsentPeriod           Duration `env:"DSR_CONSENT_PERIOD, default=365d"`
	RenewalNotice           Duration `env:"DSR_CONSENT_RENEWAL_NOTICE, default=30d"`
	RenewalReminderEvery    Duration `env:"DSR_CONSENT_RENEWAL_REMINDER_EVERY, default=7d"`
	ConsentGrace            Duration `env:"DSR_CONSENT_GRACE, default=28d"`
	ReferralConsentDeadline Duration `env:"DSR_REFERRAL_CONSENT_DEADLINE, default=28d"`
	ReviewRed               Duration `env:"DSR_REVIEW_RED, default=7d"`
	ReviewAmber             Duration `env:"DSR_REVIEW_AMBER, default=28d"`
	ReviewGreen             Duration `env:"DSR_REVIEW_GREEN, default=91d"`
	ReviewBlue              Duration `env:"DSR_REVIEW_BLUE, default=28d"`
	ReviewNotice            Duration `env:"DSR_REVIEW_NOTICE, default=2d"`
	ChaseEvery              Duration `env:"DSR_CHASE_EVERY, default=3d"`
	Recheck                 Duration `env:"DSR_POLICY_RECHECK, default=1d"`

	// Escalation when someone turns red, counted in working time.
	EscalationAckWithin    Duration `env:"DSR_ESCALATION_ACK_WITHIN, default=4h"`
	EscalationRealertEvery Duration `env:"DSR_ESCALATION_REALERT_EVERY, default=1h"`
	// Deadlines from turning red or amber.
	RedCTRWithin         Duration `env:"DSR_RED_CTR_WITHIN, default=14d"`
	RedKeyworkerWithin   Duration `env:"DSR_RED_KEYWORKER_WITHIN, default=5d"`
	RedMeetingWithin     Duration `env:"DSR_RED_MEETING_WITHIN, default=5d"`
	AmberMeetingWithin   Duration `env:"DSR_AMBER_MEETING_WITHIN, default=28d"`
	AmberKeyworkerWithin Duration `env:"DSR_AMBER_KEYWORKER_WITHIN, default=28d"`
	// KeyworkerMaxAge is the oldest age, in whole years, referred to the
	// keyworker service.
	KeyworkerMaxAge int `env:"DSR_KEYWORKER_MAX_AGE, default=25"`
	// C(E)TRs for people admitted to hospital (blue).
	PostAdmissionCTRAdult Duration `env:"DSR_POST_ADMISSION_CTR_ADULT, default=28d"`
	PostAdmissionCTRChild Duration `env:"DSR_POST_ADMISSION_CTR_CHILD, default=14d"`
	InpatientCTRAdult     Duration `env:"DSR_INPATIENT_CTR_ADULT, default=182d"`
	InpatientCTRChild     Duration `env:"DSR_INPATIENT_CTR_CHILD, default=91d"`
	InpatientCTRSecure    Duration `env:"DSR_INPATIENT_CTR_SECURE, default=365d"`
	CTRNotice             Duration `env:"DSR_CTR_NOTICE, default=28d"`
	// DischargeHold keeps a person at red this long after discharge; 0
	// turns it off.
	DischargeHold Duration `env:"DSR_DISCHARGE_HOLD, default=14d"`

	// The working week that working-time deadlines count in.
	WorkingHoursStart string   `env:"DSR_WORKING_HOURS_START, default=09:00"`
	WorkingHoursEnd   string   `env:"DSR_WORKING_HOURS_END, default=17:00"`
	WorkingDays       Weekdays `env:"DSR_WORKING_DAYS, default=mon,tue,wed,thu,fri"`
	WorkingTimezone   string   `env:"DSR_WORKING_TIMEZONE, default=Europe/London"`
	BankHolidays      string   `env:"DSR_BANK_HOLIDAYS, default=england-wales"`

	// Retention (issue 10): how long a removed person's identifying details
	// are kept before they are erased, leaving an anonymous skeleton.
	// 2922d is 8 years (README "Retention" names the source).
	RetentionAfterRemoval Duration `env:"DSR_RETENTION_AFTER_REMOVAL, default=2922d"`

	// Meetings and feedback from services (issue 13, part 2): the reminder
	// before a meeting, when the managers hear of an overdue meeting
	// action, and when an unanswered feedback request is chased.
	MeetingReminderBefore      Duration `env:"DSR_MEETING_REMINDER_BEFORE, default=1d"`
	MeetingActionEscalateAfter Duration `env:"DSR_MEETING_ACTION_ESCALATE_AFTER, default=14d"`
	FeedbackChaseAfter         Duration `env:"DSR_FEEDBACK_CHASE_AFTER, default=7d"`
}

// Register converts the timings to the domain's Policy.
func (p PolicyConfig) Register() register.Policy {
	return register.Policy{
		ConsentPeriod:           time.Duration(p.ConsentPeriod),
		RenewalNotice:           time.Duration(p.RenewalNotice),
		RenewalReminderEvery:    time.Duration(p.RenewalReminderEvery),
		ConsentGrace:            time.Duration(p.ConsentGrace),
		ReferralConsentDeadline: time.Duration(p.ReferralConsentDeadline),
		ReviewRed:               time.Duration(p.ReviewRed),
		ReviewAmber:             time.Duration(p.ReviewAmber),
		ReviewGreen:             time.Duration(p.ReviewGreen),
		ReviewBlue:              time.Duration(p.ReviewBlue),
		ReviewNotice:            time.Duration(p.ReviewNotice),
		ChaseEvery:              time.Duration(p.ChaseEvery),
		Recheck:                 time.Duration(p.Recheck),

		EscalationAckWithin:    time.Duration(p.EscalationAckWithin),
		EscalationRealertEvery: time.Duration(p.EscalationRealertEvery),
		RedCTRWithin:           time.Duration(p.RedCTRWithin),
		RedKeyworkerWithin:     time.Duration(p.RedKeyworkerWithin),
		RedMeetingWithin:       time.Duration(p.RedMeetingWithin),
		AmberMeetingWithin:     time.Duration(p.AmberMeetingWithin),
		AmberKeyworkerWithin:   time.Duration(p.AmberKeyworkerWithin),
		KeyworkerMaxAge:        p.KeyworkerMaxAge,
		PostAdmissionCTRAdult:  time.Duration(p.PostAdmissionCTRAdult),
		PostAdmissionCTRChild:  time.Duration(p.PostAdmissionCTRChild),
		InpatientCTRAdult:      time.Duration(p.InpatientCTRAdult),
		InpatientCTRChild:      time.Duration(p.InpatientCTRChild),
		InpatientCTRSecure:     time.Duration(p.InpatientCTRSecure),
		CTRNotice:              time.Duration(p.CTRNotice),
		DischargeHold:          time.Duration(p.DischargeHold),
		WorkingHours:           p.WorkingHours(),
		RetentionAfterRemoval:  time.Duration(p.RetentionAfterRemoval),

		MeetingReminderBefore:      time.Duration(p.MeetingReminderBefore),
		MeetingActionEscalateAfter: time.Duration(p.MeetingActionEscalateAfter),
		FeedbackChaseAfter:         time.Duration(p.FeedbackChaseAfter),
	}
}

// WorkingHours is the working-hours calendar's options.
func (p PolicyConfig) WorkingHours() workinghours.Options {
	var days []time.Weekday
	if p.WorkingDays != nil {
		days = slices.Clone([]time.Weekday(p.WorkingDays))
	}
	return workinghours.Options{
		Location: p.WorkingTimezone,
		Start:    p.WorkingHoursStart,
		End:      p.WorkingHoursEnd,
		Days:     days,
		Holidays: p.BankHolidays,
	}
}

// workingHoursVariables maps the workinghours.Options fields its errors
// name to the variables an operator sets.
var workingHoursVariables = strings.NewReplacer(
	"workinghours: ", "",
	"Options.Location", "DSR_WORKING_TIMEZONE",
	"Options.Start", "DSR_WORKING_HOURS_START",
	"Options.End", "DSR_WORKING_HOURS_END",
	"Options.Days", "DSR_WORKING_DAYS",
	"Options.Holidays", "DSR_BANK_HOLIDAYS",
)

// checkWorkingHours builds the calendar so that a mistake is reported
// naming the variable, not the Go field.
func (p PolicyConfig) checkWorkingHours() error {
	if _, err := workinghours.New(p.WorkingHours()); err != nil {
		msg := workingHoursVariables.Replace(err.Error())
		if !strings.HasPrefix(msg, "DSR_") {
			msg = "DSR_WORKING_HOURS_START, DSR_WORKING_HOURS_END, DSR_WORKING_DAYS, DSR_WORKING_TIMEZONE, DSR_BANK_HOLIDAYS: " + msg
		}
		return fmt.Errorf("configuration: %s", msg)
	}
	return nil
}
