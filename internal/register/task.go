package register

import "slices"

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

	// Escalation (a person turning red). The alert is acknowledged; the
	// others are the actions national policy expects, each marked done.

	// TaskEscalationAlert: someone turned red; a coordinator must
	// acknowledge within the acknowledgement window.
	TaskEscalationAlert TaskKind = "escalation_alert"
	// TaskCommunityCTR: a community Care (Education) and Treatment Review
	// must take place.
	TaskCommunityCTR TaskKind = "community_ctr"
	// TaskKeyworkerReferral: people aged 0–25 are referred to the keyworker
	// service (red, amber and blue).
	TaskKeyworkerReferral TaskKind = "keyworker_referral"
	// TaskMultiAgencyMeeting: a multi-agency meeting, where needed; it can
	// be closed as not needed.
	TaskMultiAgencyMeeting TaskKind = "multi_agency_meeting"

	// TaskAmberMeeting: amber — a multi-agency meeting and/or a community
	// C(E)TR within the amber window.
	TaskAmberMeeting TaskKind = "amber_meeting"
	// TaskPostAdmissionCTR: blue — the C(E)TR after admission.
	TaskPostAdmissionCTR TaskKind = "post_admission_ctr"
	// TaskInpatientCTR: blue — the recurring inpatient C(E)TR.
	TaskInpatientCTR TaskKind = "inpatient_ctr"
)

// RequiredActions are the task kinds closed by marking them done (a C(E)TR
// held, a referral made, a meeting held), rather than by another Update.
var RequiredActions = []TaskKind{
	TaskCommunityCTR, TaskKeyworkerReferral, TaskMultiAgencyMeeting,
	TaskAmberMeeting, TaskPostAdmissionCTR, TaskInpatientCTR,
}

// Completable reports whether a task of this kind is one of the
// RequiredActions.
func (k TaskKind) Completable() bool { return slices.Contains(RequiredActions, k) }

// RequiredActionNames lists the RequiredActions for an error message.
func RequiredActionNames() string { return joinValues(RequiredActions) }

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
	// ActionAcknowledge acknowledges a red alert.
	ActionAcknowledge Action = "acknowledge"
	// ActionMarkDone records a required action as done (a C(E)TR held, a
	// keyworker referral made, a meeting held).
	ActionMarkDone Action = "mark_done"
	// ActionNotNeeded closes a "where needed" action as not needed.
	ActionNotNeeded Action = "not_needed"
)

// TaskStatus is where a task is.
type TaskStatus string

const (
	TaskStatusOpen TaskStatus = "open"
	TaskStatusDone TaskStatus = "done"
	// TaskStatusCancelled: closed because it no longer applies (removal, lapse).
	TaskStatusCancelled TaskStatus = "cancelled"
)
