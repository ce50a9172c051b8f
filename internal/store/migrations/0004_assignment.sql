-- The coordinator a person is assigned to: their prompts go to that
-- coordinator directly (a Slack DM) instead of the team channel.
alter table people add column assigned_to text;
