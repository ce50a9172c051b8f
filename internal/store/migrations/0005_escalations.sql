-- 0005: escalations. While a person is rated red an escalation workflow (a
-- child of the person's workflow) alerts the team, waits for someone to
-- acknowledge, re-alerts, and escalates to managers. Each spell at red is one
-- escalation, numbered per person from 1.
--
-- escalations holds where each one stands, written only by RecordChange from
-- the escalation workflow's changes. Those changes are numbered within the
-- escalation, and seq is the last step applied: a row is overwritten only by
-- a higher seq, so a retried activity or a late, older step never undoes a
-- newer one (the same guard as people.projection_seq).

create table escalations (
    person_id       bigint not null references people (id),
    number          integer not null,
    started_at      timestamptz not null,
    -- When the first alert must be acknowledged by (working time).
    ack_due_at      timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by text,
    -- Alerts sent: the first and every re-alert.
    alerts          integer not null default 0,
    ended_at        timestamptz,
    -- Why it ended and what was done, once it has.
    outcome         text,
    seq             bigint not null,
    updated_at      timestamptz not null default now(),
    primary key (person_id, number)
);

-- Managers' view lists every open escalation, oldest first.
create index escalations_open on escalations (started_at) where ended_at is null;

-- The escalation number for tasks an escalation workflow opened; null for
-- the person workflow's own tasks.
alter table tasks add column escalation integer;
