-- Where each task's Slack message is, so the message can be edited in place
-- when the task closes, and so a retried activity never posts it twice.
create table slack_messages (
    task_id   bigint primary key references tasks (id),
    channel   text not null,
    ts        text not null,
    posted_at timestamptz not null default now()
);
