-- 0020: importing a team's existing register (dsr import).
--
-- Each imported row has a stable key: a hash of the NHS number when the row
-- has one, else of the normalised name, date of birth and postcode (never
-- a hash of the file, which changes with every edit). It is kept with the
-- person the row created, so a re-run after Ctrl-C or a crash finds them
-- and creates nobody twice. It is a hash: nothing personal can be read
-- from it, but it is derived from personal data, so erasure blanks it.
alter table people add column import_key text unique;
