-- 0016: oversight reads (issue 12): the managers' digest, /metrics and the
-- monthly return. Indexes only; every figure is read from the projections
-- and the audit log, so a past month is rebuilt the same whenever asked.

-- The monthly return rebuilds each person's stage and rating at a month's
-- end from their audit entries, and counts removals and admissions by when.
create index audit_log_person_action_at on audit_log (person_id, action, at);
create index audit_log_action_at on audit_log (action, at);

-- New referrals in a month.
create index referrals_received on referrals (received_at);

-- The digest's and /metrics' unacknowledged alerts.
create index escalations_unacknowledged on escalations (started_at)
    where ended_at is null and acknowledged_at is null;
