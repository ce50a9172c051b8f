-- 0015: open tasks by person (and due date), for the dashboard's workload
-- and the register's open-task counts: read from the index alone.
create index tasks_open_person on tasks (person_id, due_at) where status = 'open';

-- Workload: each open task's person's coordinator, read from an index
-- rather than the people table's wide rows.
create index people_coordinator on people (id) include (assigned_to);
