-- 0018: a Slack post survives a crash between Slack accepting it and dsr
-- recording where it went. chat.postMessage has no idempotency key, so dsr
-- notes each attempt before it sends; a later attempt that finds a note
-- looks for the message in Slack first (by the metadata every dsr message
-- carries) instead of posting it again.
create table slack_post_attempts (
    post_key   text primary key,
    channel    text not null,
    first_at   timestamptz not null,
    last_at    timestamptz not null
);
