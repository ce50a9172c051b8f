-- 0008: idempotency keys for coordinator actions. A client that loses an
-- answer (a timeout, a dropped connection, a killed process) retries with
-- the same Idempotency-Key; the key is also the action's Temporal UpdateID,
-- so the action is recorded once whichever attempt reached the workflow.
--
-- A row is claimed before the action is attempted and answered once its
-- outcome is known. A retry whose key is answered gets that same answer and
-- touches nothing; a retry whose key is still in flight (the first attempt's
-- outcome is unknown) goes to Temporal again with the same UpdateID, which
-- Temporal deduplicates. The same key with a different request is refused.
-- Rows are pruned after 7 days (store.IdempotencyKeyRetention).

create table idempotency_keys (
    -- The caller's key namespaced by surface and actor and hashed to a fixed
    -- length (casework.ActionID): two callers' keys never collide, and the
    -- key holds nothing personal.
    key           text primary key,
    -- Who sent it (the API token's name): who to ask about a stuck key.
    actor         text not null,
    -- sha256 of method, path and the canonical JSON body: the same key with
    -- a different request is refused rather than answered with another's
    -- answer.
    fingerprint   text not null,
    status        text not null default 'in_flight'
                  constraint idempotency_keys_status_valid check (status in ('in_flight', 'answered')),
    -- The first answer, replayed byte for byte to every retry.
    answer_status integer,
    answer_body   bytea,
    created_at    timestamptz not null default now(),
    answered_at   timestamptz,
    constraint idempotency_keys_answer_consistent
        check ((status = 'answered') = (answer_status is not null and answer_body is not null))
);

-- Pruning deletes by age.
create index idempotency_keys_created on idempotency_keys (created_at);
