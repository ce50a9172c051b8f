-- 0006: the notification outbox. RecordChange used to post to Slack before
-- it returned, so a busy or unreachable Slack held up the workflow that
-- decided the change (and the coordinator's Update waiting on it), and an
-- activity timed out while its alert waited for its turn in the channel was
-- retried, sometimes after its post had gone out: a duplicate.
--
-- Now RecordChange writes what is to be told here, keyed like the
-- notification itself so a retried activity adds nothing, and returns. One
-- dispatcher at a time (it holds an advisory lock, so Slack's per-channel pace
-- is kept by one process) delivers them in order per person, retrying until
-- they go. A row holds IDs, kinds and times only, as a notification does.
-- Delivered rows are kept 30 days.

create table notification_outbox (
    id         bigserial primary key,
    key        text not null unique,
    person_id  bigint not null,
    -- The notification (internal/notify.Notification) as JSON.
    payload    jsonb not null,
    created_at timestamptz not null default now(),
    attempts   integer not null default 0,
    last_error text,
    -- Set when the destination refused it (a channel the bot is not in, a
    -- user who is not there): it is tried again after this, and the
    -- person's later notifications go on without it meanwhile.
    retry_after timestamptz,
    sent_at    timestamptz
);

-- The dispatcher reads what is waiting, oldest first.
create index notification_outbox_waiting on notification_outbox (id) where sent_at is null;
