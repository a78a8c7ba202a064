-- killdb schema, migration 008: the processes behind each signal, and where they lived.
--
-- A signal event names its sender by pid and parent pid only. The plugin (and later the
-- tracer) reads the sender's chain of parents and each process's cgroup when the event
-- arrives; each process is stored once, identified as the kernel identifies it: the host
-- (node, boot), pid and start time (field 22 of /proc/PID/stat, clock ticks after boot),
-- so a reused pid is a different row, never a guess from names.

CREATE TABLE processes (
    id                INTEGER PRIMARY KEY,
    node_id           INTEGER NOT NULL REFERENCES strings(id),
    boot_id           TEXT NOT NULL,                -- /proc/sys/kernel/random/boot_id, '' unknown
    pid               INTEGER NOT NULL,
    start_ticks       INTEGER NOT NULL,             -- -1 when the source has no start time
    start_time        REAL,                         -- the same as epoch seconds
    ppid              INTEGER,
    parent_id         INTEGER REFERENCES processes(id),
    comm_id           INTEGER REFERENCES strings(id),
    exe_id            INTEGER REFERENCES strings(id),
    argv_id           INTEGER REFERENCES strings(id),  -- argv joined by NULs
    cmdline_id        INTEGER REFERENCES strings(id),  -- argv joined by spaces
    cgroup_id         INTEGER REFERENCES strings(id),  -- the cgroup path the place was read from
    unit_id           INTEGER REFERENCES strings(id),  -- cron.service, session-3.scope
    slice_id          INTEGER REFERENCES strings(id),
    container         TEXT,                            -- container id (hex)
    container_runtime TEXT CHECK (container_runtime IN ('docker', 'containerd', 'cri-o', 'podman', 'unknown')),
    pod_uid           TEXT,
    pod_qos           TEXT CHECK (pod_qos IN ('guaranteed', 'burstable', 'besteffort')),
    pod_namespace_id  INTEGER REFERENCES strings(id),
    pod_name_id       INTEGER REFERENCES strings(id),
    pod_container_id  INTEGER REFERENCES strings(id),
    -- proc: read from /proc after the event (a process already gone is missing, never
    -- misnamed); audit-execve: from the process's own execve records; tracer: in the kernel.
    source            TEXT NOT NULL CHECK (source IN ('proc', 'audit-execve', 'tracer')),
    read_at           REAL NOT NULL,
    UNIQUE (node_id, boot_id, pid, start_ticks)
);

-- Which processes an event's are. `sender`: the process that made the call; `parent`: the
-- sender had exited when it was read, and this is its parent (the chain starts there);
-- `target`: a process the signal was aimed at, read while it still lived.
CREATE TABLE event_processes (
    event_id   INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('sender', 'parent', 'target')),
    pid        INTEGER NOT NULL,
    process_id INTEGER NOT NULL REFERENCES processes(id),
    PRIMARY KEY (event_id, role, pid)
) WITHOUT ROWID;
CREATE INDEX event_processes_process ON event_processes (process_id);

-- Each process as the operator knows it: pod as namespace/name when kubelet's log
-- directories named it, else its UID.
CREATE VIEW process_context AS
SELECT p.id AS process_rowid,
       CAST(n.value AS TEXT) AS node,
       p.boot_id, p.pid, p.start_ticks, p.start_time, p.ppid,
       p.parent_id AS parent_rowid,
       CAST(comm.value AS TEXT) AS comm,
       CAST(exe.value AS TEXT) AS exe,
       CAST(cmd.value AS TEXT) AS cmdline,
       CAST(cg.value AS TEXT) AS cgroup,
       CAST(unit.value AS TEXT) AS unit,
       CAST(slice.value AS TEXT) AS slice,
       p.container, p.container_runtime,
       CASE WHEN pn.value IS NOT NULL THEN CAST(pns.value AS TEXT) || '/' || CAST(pn.value AS TEXT) ELSE p.pod_uid END AS pod,
       p.pod_uid, p.pod_qos,
       CAST(pc.value AS TEXT) AS pod_container,
       p.source, p.read_at
FROM processes p
JOIN strings n ON n.id = p.node_id
LEFT JOIN strings comm ON comm.id = p.comm_id
LEFT JOIN strings exe ON exe.id = p.exe_id
LEFT JOIN strings cmd ON cmd.id = p.cmdline_id
LEFT JOIN strings cg ON cg.id = p.cgroup_id
LEFT JOIN strings unit ON unit.id = p.unit_id
LEFT JOIN strings slice ON slice.id = p.slice_id
LEFT JOIN strings pns ON pns.id = p.pod_namespace_id
LEFT JOIN strings pn ON pn.id = p.pod_name_id
LEFT JOIN strings pc ON pc.id = p.pod_container_id;

-- Per signal event (event_rowid as in `signals`) and target (target_pid as in `signals`): where the sender and the
-- target lived. The sender's columns are its own, or (sender_read = 0) its parent's when
-- the sender had exited before it could be read: a `kill` run by a unit's script is in
-- that unit as its parent is.
CREATE VIEW signal_context AS
SELECT e.id AS event_rowid,
       s.pid AS sender_pid,
       (s.role = 'sender') AS sender_read,
       sp.unit AS sender_unit, sp.container AS sender_container, sp.container_runtime AS sender_runtime,
       sp.pod AS sender_pod, sp.cgroup AS sender_cgroup,
       tg.pid AS target_pid,
       tp.unit AS target_unit, tp.container AS target_container, tp.container_runtime AS target_runtime,
       tp.pod AS target_pod, tp.cgroup AS target_cgroup
FROM events e
LEFT JOIN targets tg ON tg.event_id = e.id
LEFT JOIN event_processes s ON s.event_id = e.id AND s.role IN ('sender', 'parent')
LEFT JOIN process_context sp ON sp.process_rowid = s.process_id
LEFT JOIN event_processes t ON t.event_id = e.id AND t.role = 'target' AND t.pid = tg.pid
LEFT JOIN process_context tp ON tp.process_rowid = t.process_id
WHERE s.process_id IS NOT NULL OR t.process_id IS NOT NULL;
