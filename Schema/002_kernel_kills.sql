-- killdb schema, migration 002: kills no process sent.
--
-- The kernel's OOM killer (global or a memory cgroup's), seccomp filters and fatal
-- core-dumping signals end processes without any kill() syscall, so no audit signal rule
-- records them. They are read from the kernel log (/dev/kmsg, journalctl -k -o json,
-- kern.log / messages, dmesg output) and from the audit log's SECCOMP and ANOM_ABEND
-- records. systemd's side (unit stops that timed out, systemd-oomd) comes from the journal.
-- The public interface is the `kernel_kills` and `systemd_kills` views at the end.

-- One row per kill. Several log entries may describe one kill (the oom-kill: line and the
-- Killed process line; the same line in /dev/kmsg and in kern.log): they are joined by
-- pid and time into one row, each entry's identity kept in kernel_kill_entries.
CREATE TABLE kernel_kill_events (
    id              INTEGER PRIMARY KEY,
    node_id         INTEGER NOT NULL REFERENCES strings(id),  -- '' when the source names no host
    time            REAL NOT NULL,                             -- epoch seconds
    source          TEXT NOT NULL,                             -- kmsg, journal, syslog, dmesg, audit
    kind            TEXT NOT NULL,                             -- oom, memcg-oom, seccomp, abend
    pid             INTEGER,
    comm_id         INTEGER REFERENCES strings(id),
    exe_id          INTEGER REFERENCES strings(id),            -- seccomp, abend (from audit)
    uid             INTEGER,
    signal          INTEGER,
    cgroup_id       INTEGER REFERENCES strings(id),            -- the killed task's memory cgroup
    limit_cgroup_id INTEGER REFERENCES strings(id),            -- the cgroup whose limit was hit
    "constraint"    TEXT,                                      -- CONSTRAINT_NONE, CONSTRAINT_MEMCG ...
    syscall         INTEGER,                                   -- seccomp: the refused syscall
    arch            INTEGER,                                   -- seccomp: AUDIT_ARCH_* code
    details         TEXT,                                      -- total-vm:…kB, anon-rss:…kB, …
    message_id      INTEGER REFERENCES strings(id)             -- the first entry, as logged
);
CREATE INDEX kernel_kill_events_pid ON kernel_kill_events (pid, time);
CREATE INDEX kernel_kill_events_time ON kernel_kill_events (time);

-- Every log entry that described a kill: reading an entry again adds nothing.
-- kmsg:BOOT_ID:SEQ, audit:NODE:SEC.MSEC:SERIAL:KIND, or SOURCE:NODE:TIME:HASH of the text.
CREATE TABLE kernel_kill_entries (
    identity TEXT PRIMARY KEY,
    kill_id  INTEGER NOT NULL REFERENCES kernel_kill_events(id) ON DELETE CASCADE
) WITHOUT ROWID;

-- systemd's kills, from the journal: `Killing process N (c) with signal SIGKILL.` (kind
-- kill), `State 'stop-sigterm' timed out. Killing.` (stop-timeout, the reason for the kills
-- after it) and systemd-oomd's `Killed /x.slice/y.service due to …` (oomd, a cgroup).
CREATE TABLE systemd_actions (
    id        INTEGER PRIMARY KEY,
    node_id   INTEGER NOT NULL REFERENCES strings(id),
    time      REAL NOT NULL,
    kind      TEXT NOT NULL,                                   -- kill, stop-timeout, oomd
    unit_id   INTEGER REFERENCES strings(id),
    pid       INTEGER,
    comm_id   INTEGER REFERENCES strings(id),
    signal    INTEGER,
    cgroup_id INTEGER REFERENCES strings(id),                  -- oomd: the cgroup killed
    reason    TEXT,
    message_id INTEGER REFERENCES strings(id),
    identity  TEXT NOT NULL UNIQUE
);
CREATE INDEX systemd_actions_pid ON systemd_actions (pid, time);
CREATE INDEX systemd_actions_time ON systemd_actions (time);

-- What each run read of each kernel log: the coverage that lets answers say "the kernel
-- log was read from T1 to T2" instead of implying the kernel killed nothing.
CREATE TABLE kernel_log_reads (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES ingest_runs(id) ON DELETE CASCADE,
    source       TEXT NOT NULL,                                -- kmsg, or the file's format(s)
    path         BLOB NOT NULL,
    boot_id      TEXT,                                         -- kmsg
    start_offset INTEGER NOT NULL,                             -- kmsg: sequence numbers
    end_offset   INTEGER NOT NULL,
    entries      INTEGER NOT NULL,
    kills        INTEGER NOT NULL,
    signal_events INTEGER NOT NULL,                            -- audit records in the kernel log
    bad_lines    INTEGER NOT NULL,
    first_time   REAL,
    last_time    REAL
);
CREATE INDEX kernel_log_reads_time ON kernel_log_reads (first_time, last_time);

-- Where reading /dev/kmsg stopped, per boot: its sequence numbers restart at boot.
CREATE TABLE kmsg_cursors (
    boot_id    TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    updated_at REAL NOT NULL
);

-- The public interface: one row per kill the kernel made itself.
CREATE VIEW kernel_kills AS
SELECT
    NULLIF(CAST(node.value AS TEXT), '')       AS node,
    k.time                                     AS event_time,
    k.kind                                     AS kind,
    CASE k.kind
      WHEN 'memcg-oom' THEN 'the memory cgroup OOM killer: '
           || COALESCE('memory cgroup ' || CAST(lim.value AS TEXT), 'memory cgroup ' || CAST(cg.value AS TEXT), 'a memory cgroup')
           || ' exceeded its limit'
      WHEN 'oom' THEN 'the kernel''s OOM killer: '
           || CASE WHEN k."constraint" IN ('CONSTRAINT_CPUSET', 'CONSTRAINT_MEMORY_POLICY')
                   THEN 'memory ran out within its ' || (CASE k."constraint" WHEN 'CONSTRAINT_CPUSET' THEN 'cpuset' ELSE 'memory policy' END)
                   ELSE 'the system ran out of memory' END
      WHEN 'seccomp' THEN 'a seccomp filter refused syscall ' || COALESCE(k.syscall, '?')
      WHEN 'abend' THEN 'a fatal signal it did not handle (core dump)'
      ELSE k.kind END                          AS reason,
    k.pid                                      AS pid,
    CAST(comm.value AS TEXT)                   AS comm,
    CAST(exe.value AS TEXT)                    AS exe,
    k.uid                                      AS uid,
    k.signal                                   AS signal,
    CASE k.signal WHEN 9 THEN 'SIGKILL' WHEN 31 THEN 'SIGSYS' WHEN 11 THEN 'SIGSEGV' WHEN 6 THEN 'SIGABRT'
      WHEN 7 THEN 'SIGBUS' WHEN 4 THEN 'SIGILL' WHEN 8 THEN 'SIGFPE' WHEN 5 THEN 'SIGTRAP' WHEN 3 THEN 'SIGQUIT'
      WHEN 24 THEN 'SIGXCPU' WHEN 25 THEN 'SIGXFSZ'
      ELSE CASE WHEN k.signal IS NULL THEN NULL ELSE 'signal ' || k.signal END END AS signal_name,
    CAST(cg.value AS TEXT)                     AS cgroup,
    CAST(lim.value AS TEXT)                    AS limit_cgroup,
    k."constraint"                             AS "constraint",
    k.syscall                                  AS syscall,
    k.details                                  AS details,
    k.source                                   AS source,
    CAST(msg.value AS TEXT)                    AS message,
    k.id                                       AS kill_rowid
FROM kernel_kill_events k
JOIN strings node       ON node.id = k.node_id
LEFT JOIN strings comm  ON comm.id = k.comm_id
LEFT JOIN strings exe   ON exe.id = k.exe_id
LEFT JOIN strings cg    ON cg.id = k.cgroup_id
LEFT JOIN strings lim   ON lim.id = k.limit_cgroup_id
LEFT JOIN strings msg   ON msg.id = k.message_id;

-- systemd's kills and the unit stops behind them.
CREATE VIEW systemd_kills AS
SELECT
    NULLIF(CAST(node.value AS TEXT), '')       AS node,
    a.time                                     AS event_time,
    a.kind                                     AS kind,
    CAST(unit.value AS TEXT)                   AS unit,
    a.pid                                      AS pid,
    CAST(comm.value AS TEXT)                   AS comm,
    a.signal                                   AS signal,
    CAST(cg.value AS TEXT)                     AS cgroup,
    a.reason                                   AS reason,
    CAST(msg.value AS TEXT)                    AS message
FROM systemd_actions a
JOIN strings node       ON node.id = a.node_id
LEFT JOIN strings unit  ON unit.id = a.unit_id
LEFT JOIN strings comm  ON comm.id = a.comm_id
LEFT JOIN strings cg    ON cg.id = a.cgroup_id
LEFT JOIN strings msg   ON msg.id = a.message_id;
