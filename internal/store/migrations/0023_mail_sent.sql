-- 0023: email sent, by key. Every email dsr sends is a notification from the
-- outbox, retried until it goes; the key (the notification's) is recorded
-- once the SMTP server has accepted the message, so a retry never sends it
-- twice. The Message-ID is derived from the key, so in the one gap left (the
-- server accepted it and dsr stopped before recording) the copy sent again
-- has the same Message-ID and mail clients show it once.

create table mail_sent (
    key            text primary key,
    message_id     text not null unique,
    -- The MbE request the email was about, so a reply to it is threaded.
    mbe_request_id bigint references mbe_requests (id),
    sent_at        timestamptz not null default now()
);
