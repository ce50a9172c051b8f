-- Threaded chasers already posted, by notification key, so a retried
-- activity never posts the same reminder twice.
create table slack_replies (
    notification_key text primary key,
    task_id          bigint not null references tasks (id),
    channel          text not null,
    ts               text not null,
    posted_at        timestamptz not null default now()
);
