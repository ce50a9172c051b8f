-- 0010: information governance (issue 10). Every read of a record is
-- audited; a removed person's identifying details are erased once the
-- retention period has passed (or on request), leaving an anonymous
-- skeleton — reference, dates, ratings, stage — so reports and the audit
-- still add up.

-- An erased person keeps their row with no identifying details.
alter table people alter column nhs_number drop not null;
alter table people alter column date_of_birth drop not null;
alter table people add column erased_at timestamptz;

-- audit_log stays append-only and holds no personal data: what people type
-- (notes, rationales, who gave consent — a parent's name) is kept here,
-- beside the entry it belongs to, and blanked when the person is erased.
-- No foreign key: like audit_log's own person_id, none is wanted on the
-- append-only table (one would also change how TRUNCATE is refused).
create table audit_free_text (
    audit_id bigint not null,
    field    text not null,
    body     text not null,
    primary key (audit_id, field)
);

-- Move what earlier versions wrote into the entries themselves. This is the
-- only time audit_log is rewritten: by the schema's owner, inside the
-- migration's transaction, with the guard lifted for this one statement.
insert into audit_free_text (audit_id, field, body)
select a.id, f.key, f.value
from audit_log a, jsonb_each_text(a.detail) f
where f.key in ('notes', 'rationale', 'given_by') and f.value <> '';

alter table audit_log disable trigger audit_log_no_update_or_delete;
update audit_log set detail = detail - 'notes' - 'rationale' - 'given_by'
where detail ?| array['notes', 'rationale', 'given_by'];
alter table audit_log enable trigger audit_log_no_update_or_delete;

-- Who has looked at a record, newest first.
create index audit_log_views on audit_log (person_id, id) where action = 'viewed';

-- An identity check keeps the details its referral gave; they are erased
-- with the person the referral went to.
alter table identity_checks alter column date_of_birth drop not null;
