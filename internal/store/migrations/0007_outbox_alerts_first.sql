-- 0007: alerts first, and nothing stuck forever.
--
-- The dispatcher used to deliver each person's notifications strictly in the
-- order they were queued, so a red alert waited behind that person's routine
-- messages, which waited behind everyone's prompts in the coordinators'
-- channel. Order matters only between a message and its own edits and
-- thread replies: `line` names that sequence (one task's notifications), and
-- urgent ones (everything about a red alert, and what the managers are told)
-- are read first.
--
-- A notification Slack refuses for good (an archived channel, a deleted
-- message, an unknown user), or that cannot be read, is set aside after a
-- bounded number of tries: `needs_attention_at` says when. It is no longer
-- tried on its own, it is shown on /healthz, and the managers are told once.

alter table notification_outbox
    add column line text,
    add column urgent boolean not null default false,
    add column needs_attention_at timestamptz;

-- Rows queued before this migration were ordered per person.
update notification_outbox set line = 'person-' || person_id where line is null;
alter table notification_outbox alter column line set not null;

drop index notification_outbox_waiting;
create index notification_outbox_waiting on notification_outbox (urgent desc, id)
    where sent_at is null and needs_attention_at is null;

-- Telling the managers that a notification needs attention is a message
-- about no task when the notification could not be read.
alter table slack_replies alter column task_id drop not null;
