-- killdb schema, migration 011: the processes behind each of the tracer's records.
--
-- The tracer reads, in the kernel at the event, the sender's chain of parents (pid, start
-- time, name: real_parent links, so a `kill` that exits a moment later and the parents that
-- exit with it are still named) and where sender and target live (their unified-hierarchy
-- cgroup as a path: the id alone names nothing once a container's cgroup is removed). Each
-- process is stored once in `processes` (migration 008), identified by (node, boot, pid,
-- start time) as the plugin's are, so a process both saw is one row. source 'tracer': its
-- identity and name are the kernel's at the event, its executable and command line were
-- completed from /proc (read_at) while it lived; 'proc': a parent past the kernel's depth,
-- read from /proc only.

-- Which processes a traced record's are: the sender (its parents follow processes.parent_id)
-- and the target. `cgroup_id`: the process's unified (v2) cgroup path at this event (the
-- process row keeps the first place it was seen in).
CREATE TABLE traced_record_processes (
    record_id  INTEGER NOT NULL REFERENCES traced_signal_records(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('sender', 'target')),
    process_id INTEGER NOT NULL REFERENCES processes(id),
    cgroup_id  INTEGER REFERENCES strings(id),
    PRIMARY KEY (record_id, role)
) WITHOUT ROWID;
CREATE INDEX traced_record_processes_process ON traced_record_processes (process_id);

-- Per traced record (record_rowid as in `traced_signals`): where the sender and the target
-- lived, in the words of `signal_context`. The sender's columns are its own, or
-- (sender_place_own = 0) its parent's when its own cgroup names nothing (a `kill` run by a
-- unit's script on a host whose units are in the v1 name=systemd hierarchy: the kernel gives
-- the v2 path, /proc gave the parent's v1 one).
CREATE VIEW traced_signal_context AS
SELECT r.id AS record_rowid,
       r.sender_pid,
       (sp.unit IS NOT NULL OR sp.container IS NOT NULL OR sp.pod_uid IS NOT NULL OR pp.process_rowid IS NULL) AS sender_place_own,
       CASE WHEN sp.unit IS NOT NULL OR sp.container IS NOT NULL OR sp.pod_uid IS NOT NULL OR pp.process_rowid IS NULL
            THEN sp.unit ELSE pp.unit END AS sender_unit,
       CASE WHEN sp.unit IS NOT NULL OR sp.container IS NOT NULL OR sp.pod_uid IS NOT NULL OR pp.process_rowid IS NULL
            THEN sp.container ELSE pp.container END AS sender_container,
       CASE WHEN sp.unit IS NOT NULL OR sp.container IS NOT NULL OR sp.pod_uid IS NOT NULL OR pp.process_rowid IS NULL
            THEN sp.container_runtime ELSE pp.container_runtime END AS sender_runtime,
       CASE WHEN sp.unit IS NOT NULL OR sp.container IS NOT NULL OR sp.pod_uid IS NOT NULL OR pp.process_rowid IS NULL
            THEN sp.pod ELSE pp.pod END AS sender_pod,
       CASE WHEN sp.unit IS NOT NULL OR sp.container IS NOT NULL OR sp.pod_uid IS NOT NULL OR pp.process_rowid IS NULL
            THEN sp.pod_uid ELSE pp.pod_uid END AS sender_pod_uid,
       CAST(scg.value AS TEXT) AS sender_cgroup,
       r.target_pid,
       tp.unit AS target_unit, tp.container AS target_container, tp.container_runtime AS target_runtime,
       tp.pod AS target_pod, tp.pod_uid AS target_pod_uid, CAST(tcg.value AS TEXT) AS target_cgroup
FROM traced_signal_records r
LEFT JOIN traced_record_processes s ON s.record_id = r.id AND s.role = 'sender'
LEFT JOIN process_context sp ON sp.process_rowid = s.process_id
LEFT JOIN process_context pp ON pp.process_rowid = sp.parent_rowid
LEFT JOIN strings scg ON scg.id = s.cgroup_id
LEFT JOIN traced_record_processes t ON t.record_id = r.id AND t.role = 'target'
LEFT JOIN process_context tp ON tp.process_rowid = t.process_id
LEFT JOIN strings tcg ON tcg.id = t.cgroup_id
WHERE s.process_id IS NOT NULL OR t.process_id IS NOT NULL;

-- Successful execve events from the audit logs (when the rules audit execve, as many sites'
-- do): a process (pid, its parent), and what it ran. A kill whose sender's parents neither
-- the plugin nor the tracer read names them from these: the newest execve of the parent
-- pid at or before the kill, then of its parent, and so on. Best effort: a pid reused by a
-- process that never ran execve (a fork) is not told apart, and answers say where the
-- chain came from.
CREATE TABLE process_execs (
    id        INTEGER PRIMARY KEY,
    node_id   INTEGER NOT NULL REFERENCES strings(id),
    sec       INTEGER NOT NULL,
    msec      INTEGER NOT NULL,
    serial    INTEGER NOT NULL,
    pid       INTEGER NOT NULL,
    ppid      INTEGER,
    comm_id   INTEGER REFERENCES strings(id),
    exe_id    INTEGER REFERENCES strings(id),
    argv_id   INTEGER REFERENCES strings(id),   -- argv joined by NULs
    UNIQUE (node_id, sec, msec, serial)
);
CREATE INDEX process_execs_pid ON process_execs (node_id, pid, sec);
