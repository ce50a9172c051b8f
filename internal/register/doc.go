// Package register holds the Dynamic Support Register's domain: ratings, stages,
// consent bases, removal reasons, referral rules, the NHS number check and the
// timings policy. It is pure: no I/O, no clocks, no Temporal, no SQL, so the
// workflow, the store and the API can all share one set of rules.
package register
