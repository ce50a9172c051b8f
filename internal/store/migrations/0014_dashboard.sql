-- 0014: what the web dashboard and register list read, kept fast at 50,000
-- people and a million audit rows.
--
-- register_snapshots is the register counted once a day (by stage and
-- rating), so "change since last week / last month" and the weekly trend by
-- colour are read, not rebuilt from the audit log. The service writes
-- today's row when it first needs it (and once an hour); a day nobody
-- counted simply has no row, and the dashboard says so.
create table register_snapshots (
    day    date not null,
    stage  text not null,
    -- '' for people not yet rated.
    rating text not null default '',
    people integer not null,
    primary key (day, stage, rating)
);

-- What is late: overdue reviews and consent about to lapse are only asked
-- of people on the register.
create index people_review_due on people (next_review_due) where stage = 'active';
create index people_consent_expires on people (consent_expires_at) where stage = 'active';

-- The inbox and "required actions past due": open tasks by kind and due date.
create index tasks_open_kind_due on tasks (kind, due_at) where status = 'open';

-- Trend: C(E)TRs held, by when they were recorded.
create index tasks_ctr_done on tasks (closed_at)
    where status = 'done' and kind in ('community_ctr', 'post_admission_ctr', 'inpatient_ctr');

-- Trend: admissions (rated blue), by when.
create index audit_log_admissions on audit_log (at)
    where action = 'rated' and detail->>'to' = 'blue';

-- Trend: red alerts by when they started.
create index escalations_started on escalations (started_at);
