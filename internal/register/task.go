package register

// TaskKind is what a coordinator is asked to do.
type TaskKind string

const (
	// TaskConsentNeeded: a new referral needs consent recorded.
	TaskConsentNeeded TaskKind = "consent_needed"
	// TaskReferralChase: a referral has waited past the deadline without
	// consent; chase it or close it.
	TaskReferralChase TaskKind = "referral_chase"
	// TaskReviewDue: the rating falls due for review (or a first rating).
	TaskReviewDue TaskKind = "review_due"
	// TaskConsentRenewal: consent expires soon; renew it.
	TaskConsentRenewal TaskKind = "consent_renewal"
	// TaskConsentLapsed: consent has expired; renew it before removal.
	TaskConsentLapsed TaskKind = "consent_lapsed"
)

// Action is something a task lets a coordinator do. Each maps to one
// workflow Update.
type Action string

const (
	ActionRecordConsent Action = "record_consent"
	ActionRenewConsent  Action = "renew_consent"
	ActionRate          Action = "rate"
	ActionConfirmRating Action = "confirm_rating"
	ActionChangeRating  Action = "change_rating"
	ActionCloseReferral Action = "close_referral"
	ActionRemove        Action = "remove"
)

// TaskStatus is where a task is.
type TaskStatus string

const (
	TaskStatusOpen TaskStatus = "open"
	TaskStatusDone TaskStatus = "done"
	// TaskStatusCancelled: closed because it no longer applies (removal, lapse).
	TaskStatusCancelled TaskStatus = "cancelled"
)
