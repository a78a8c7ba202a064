-- killdb schema, migration 005: the kernel's own record of each signal (`killdb trace`).
--
-- `killdb trace` records every signal the kernel generates (the signal:signal_generate
-- tracepoint, through eBPF), whatever sent it: the signal syscalls audit sees, and the kills
-- no syscall makes (cgroup.kill, a pid namespace's teardown, the OOM killer, CPU-time
-- limits). Each record says what the kernel did with the signal (delivered, ignored,
-- already pending) and the sender's command line read from its memory at that moment.
-- A process is identified by (boot, pid, start time): a reused pid is a different process.
-- The public interface is the `traced_signals` and `trace_coverage` views at the end.

-- One row per `killdb trace` session. Its run is the ingest_runs row `run_id`.
CREATE TABLE trace_sessions (
    run_id          INTEGER PRIMARY KEY REFERENCES ingest_runs(id) ON DELETE CASCADE,
    node_id         INTEGER NOT NULL REFERENCES strings(id),  -- the host, '' for this one
    boot_id         TEXT NOT NULL,       -- /proc/sys/kernel/random/boot_id
    boot_time       REAL NOT NULL,       -- epoch seconds of boot (CLOCK_REALTIME - CLOCK_BOOTTIME)
    signals         TEXT NOT NULL,       -- the filter: 'SIGKILL', 'SIGKILL,SIGTERM', 'all'
    started_at      REAL NOT NULL,
    last_active_at  REAL NOT NULL,       -- the tracer writes at least every 10 s while it runs
    finished_at     REAL,
    records         INTEGER NOT NULL DEFAULT 0,
    lost            INTEGER NOT NULL DEFAULT 0
);

-- Records the kernel had no room for in the ring buffer: the tracer lost `lost` events
-- between from_time and to_time. Never silence: answers about that span say so.
CREATE TABLE trace_losses (
    session_id  INTEGER NOT NULL REFERENCES trace_sessions(run_id) ON DELETE CASCADE,
    from_time   REAL NOT NULL,
    to_time     REAL NOT NULL,
    lost        INTEGER NOT NULL,
    PRIMARY KEY (session_id, from_time)
) WITHOUT ROWID;

-- One row per signal generated. Times are CLOCK_BOOTTIME nanoseconds of the session's boot
-- (exact, for identity); the view adds wall-clock times. Columns ending in _id point into
-- `strings`.
CREATE TABLE traced_signal_records (
    id                  INTEGER PRIMARY KEY,
    session_id          INTEGER NOT NULL REFERENCES trace_sessions(run_id) ON DELETE CASCADE,
    boot_id             TEXT NOT NULL,
    boot_ns             INTEGER NOT NULL,
    time                REAL NOT NULL,              -- epoch seconds
    signal              INTEGER NOT NULL,
    signal_name_id      INTEGER NOT NULL REFERENCES strings(id),
    si_code             INTEGER NOT NULL,           -- SI_USER 0, SI_KERNEL 128, SI_QUEUE -1, SI_TKILL -6
    process_directed    INTEGER NOT NULL,           -- 1: to the thread group, 0: to one thread
    result              TEXT NOT NULL,              -- delivered, ignored, pending, overflow, lose-info
    cause               TEXT NOT NULL,              -- syscall, cgroup-kill, pidns-teardown, oom, cpu-limit, seccomp, parent-death, kernel
    cause_detail_id     INTEGER REFERENCES strings(id), -- the syscall; the cgroup (cgroup-kill, oom)
    cause_pidns         INTEGER,                    -- pidns-teardown: the namespace (inode number)
    syscall             INTEGER,                    -- the signal syscall's number, when cause = syscall
    sender_pid          INTEGER NOT NULL,           -- thread group id, host pid namespace
    sender_tid          INTEGER NOT NULL,
    sender_start_ns     INTEGER NOT NULL,           -- boot ns; (boot_id, pid, start) is the process
    sender_comm_id      INTEGER REFERENCES strings(id),
    sender_exe_id       INTEGER REFERENCES strings(id),
    sender_cmdline_id   INTEGER REFERENCES strings(id), -- argv joined by spaces, from its memory
    sender_argv_id      INTEGER REFERENCES strings(id), -- argv, NUL-separated
    sender_argv_truncated INTEGER NOT NULL DEFAULT 0,
    sender_kthread      INTEGER NOT NULL DEFAULT 0,
    sender_uid          INTEGER,
    sender_euid         INTEGER,
    sender_auid         INTEGER,                    -- audit login uid; 4294967295 unset
    sender_ses          INTEGER,
    sender_pidns        INTEGER,
    sender_ns_pid       INTEGER,                    -- its pid in its own namespace
    sender_cgroup_id    INTEGER,                    -- unified (v2) hierarchy cgroup id
    parent_pid          INTEGER,
    parent_start_ns     INTEGER,
    parent_comm_id      INTEGER REFERENCES strings(id),
    target_pid          INTEGER NOT NULL,
    target_tid          INTEGER NOT NULL,
    target_start_ns     INTEGER NOT NULL,
    target_comm_id      INTEGER REFERENCES strings(id),  -- the thread's name
    target_pidns        INTEGER,
    target_ns_pid       INTEGER,
    target_cgroup_id    INTEGER,
    UNIQUE (boot_id, boot_ns, sender_tid, target_tid, signal)
);
CREATE INDEX traced_signal_records_time ON traced_signal_records (time);
CREATE INDEX traced_signal_records_target ON traced_signal_records (target_pid, time);
CREATE INDEX traced_signal_records_sender ON traced_signal_records (sender_pid, time);

-- The public interface: one row per signal the kernel generated. Column names follow the
-- `signals` view where they mean the same; *_start_time are epoch seconds.
CREATE VIEW traced_signals AS
SELECT
    NULLIF(CAST(node.value AS TEXT), '')           AS node,
    r.time                                        AS event_time,
    r.signal                                      AS signal,
    CAST(sig.value AS TEXT)                       AS signal_name,
    r.si_code                                     AS si_code,
    r.process_directed                            AS process_directed,
    r.result                                      AS result,
    r.cause                                       AS cause,
    CAST(detail.value AS TEXT)                    AS cause_detail,
    r.cause_pidns                                 AS cause_pidns,
    r.syscall                                     AS syscall_number,
    CASE r.cause WHEN 'syscall' THEN CAST(detail.value AS TEXT) END AS syscall,
    r.sender_pid                                  AS sender_pid,
    r.sender_tid                                  AS sender_tid,
    s.boot_time + r.sender_start_ns / 1e9         AS sender_start_time,
    CAST(comm.value AS TEXT)                      AS sender_comm,
    CAST(exe.value AS TEXT)                       AS sender_exe,
    CAST(cmd.value AS TEXT)                       AS sender_cmdline,
    r.sender_argv_truncated                       AS sender_cmdline_truncated,
    r.sender_kthread                              AS sender_kthread,
    r.sender_uid                                  AS sender_uid,
    r.sender_euid                                 AS sender_euid,
    r.sender_auid                                 AS sender_auid,
    r.sender_ses                                  AS sender_ses,
    r.sender_pidns                                AS sender_pidns,
    r.sender_ns_pid                               AS sender_ns_pid,
    r.sender_cgroup_id                            AS sender_cgroup_id,
    r.parent_pid                                  AS sender_ppid,
    s.boot_time + r.parent_start_ns / 1e9         AS sender_parent_start_time,
    CAST(pcomm.value AS TEXT)                     AS sender_parent_comm,
    r.target_pid                                  AS target_pid,
    r.target_tid                                  AS target_tid,
    s.boot_time + r.target_start_ns / 1e9         AS target_start_time,
    CAST(tcomm.value AS TEXT)                     AS target_comm,
    r.target_pidns                                AS target_pidns,
    r.target_ns_pid                               AS target_ns_pid,
    r.target_cgroup_id                            AS target_cgroup_id,
    r.boot_id                                     AS boot_id,
    r.sender_start_ns                             AS sender_start_ns,
    r.target_start_ns                             AS target_start_ns,
    r.session_id                                  AS run_id,
    r.id                                          AS record_rowid
FROM traced_signal_records r
JOIN trace_sessions s      ON s.run_id = r.session_id
JOIN strings node          ON node.id = s.node_id
JOIN strings sig           ON sig.id = r.signal_name_id
LEFT JOIN strings detail   ON detail.id = r.cause_detail_id
LEFT JOIN strings comm     ON comm.id = r.sender_comm_id
LEFT JOIN strings exe      ON exe.id = r.sender_exe_id
LEFT JOIN strings cmd      ON cmd.id = r.sender_cmdline_id
LEFT JOIN strings pcomm    ON pcomm.id = r.parent_comm_id
LEFT JOIN strings tcomm    ON tcomm.id = r.target_comm_id;

-- When the tracer ran, what it traced, and what it lost: a span with no session is a span
-- the kernel's record of signals does not cover.
CREATE VIEW trace_coverage AS
SELECT
    s.run_id                                      AS run_id,
    NULLIF(CAST(node.value AS TEXT), '')           AS node,
    s.signals                                     AS signals,
    s.started_at                                  AS started_at,
    COALESCE(s.finished_at, s.last_active_at)     AS covered_until,
    r.status                                      AS status,
    s.records                                     AS records,
    s.lost                                        AS lost
FROM trace_sessions s
JOIN ingest_runs r ON r.id = s.run_id
JOIN strings node  ON node.id = s.node_id;
