-- killdb schema, migration 001.
--
-- This file is the source of truth for the database: killdb embeds it at build time and
-- applies it once, in order with the migrations after it. The public interface is the
-- `signals` view at the end; the tables behind it may change between versions.

-- Interned byte strings: process names, executables, command lines, keys, user names,
-- node names, paths. BLOBs, because the kernel logs bytes, not UTF-8; the views CAST them
-- to TEXT. A command line repeated a million times is stored once.
CREATE TABLE strings (
    id    INTEGER PRIMARY KEY,
    value BLOB NOT NULL UNIQUE
);

-- One row per signal-sending syscall event (kill, tkill, tgkill, rt_sigqueueinfo,
-- rt_tgsigqueueinfo, pidfd_send_signal), identified as the audit system identifies it:
-- node, time and serial. Columns ending in _id point into `strings`.
CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    node_id         INTEGER NOT NULL REFERENCES strings(id),  -- '' when no node= prefix
    sec             INTEGER NOT NULL,
    msec            INTEGER NOT NULL,
    serial          INTEGER NOT NULL,
    arch            INTEGER NOT NULL,                          -- AUDIT_ARCH_* code
    arch_name_id    INTEGER NOT NULL REFERENCES strings(id),
    syscall         INTEGER NOT NULL,                          -- number on that arch
    syscall_name_id INTEGER NOT NULL REFERENCES strings(id),
    signal          INTEGER,
    signal_name_id  INTEGER REFERENCES strings(id),
    success         INTEGER,                                   -- 1 or 0
    exit            INTEGER,                                   -- return value, -errno
    errno_id        INTEGER REFERENCES strings(id),            -- EPERM, ESRCH ... on failure
    target_arg      INTEGER,                                   -- pid/tid the sender passed
    tgid_arg        INTEGER,                                   -- tgkill, rt_tgsigqueueinfo
    pidfd           INTEGER,                                   -- pidfd_send_signal
    a0              INTEGER,                                   -- raw arguments, 64-bit
    a1              INTEGER,
    a2              INTEGER,
    a3              INTEGER,
    sender_pid      INTEGER,
    sender_ppid     INTEGER,
    sender_uid      INTEGER,
    sender_auid     INTEGER,
    sender_euid     INTEGER,
    sender_ses      INTEGER,
    sender_tty_id   INTEGER REFERENCES strings(id),
    sender_comm_id  INTEGER REFERENCES strings(id),
    sender_exe_id   INTEGER REFERENCES strings(id),
    sender_cmdline_id INTEGER REFERENCES strings(id),          -- argv joined by spaces
    sender_argv_id  INTEGER REFERENCES strings(id),            -- PROCTITLE bytes, NUL-separated
    sender_subj_id  INTEGER REFERENCES strings(id),
    sender_uid_name_id  INTEGER REFERENCES strings(id),        -- from ENRICHED logs
    sender_auid_name_id INTEGER REFERENCES strings(id),
    sender_euid_name_id INTEGER REFERENCES strings(id),
    key_id          INTEGER REFERENCES strings(id),
    UNIQUE (node_id, sec, msec, serial)
);
CREATE INDEX events_time ON events (sec);
CREATE INDEX events_sender_pid ON events (sender_pid);
CREATE INDEX events_target_arg ON events (target_arg);  -- failed kills have no OBJ_PID

-- One row per OBJ_PID record: a process the signal reached or was refused for.
-- A process-group kill has several; kill(-1) can have hundreds; ESRCH has none.
CREATE TABLE targets (
    event_id     INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    pid          INTEGER NOT NULL,
    uid          INTEGER,
    auid         INTEGER,
    ses          INTEGER,
    comm_id      INTEGER REFERENCES strings(id),
    obj_id       INTEGER REFERENCES strings(id),
    uid_name_id  INTEGER REFERENCES strings(id),
    auid_name_id INTEGER REFERENCES strings(id),
    PRIMARY KEY (event_id, pid)
) WITHOUT ROWID;
CREATE INDEX targets_pid ON targets (pid);
CREATE INDEX targets_comm ON targets (comm_id);

-- Where reading stopped in each log file. A file is recognised by its first bytes
-- (fingerprint), so a log renamed by rotation, or copied elsewhere, resumes where it was;
-- device and inode tell a renamed file from a new one with the same name.
CREATE TABLE checkpoints (
    id                 INTEGER PRIMARY KEY,
    device             INTEGER NOT NULL,
    inode              INTEGER NOT NULL,
    fingerprint_length INTEGER NOT NULL,
    fingerprint        INTEGER NOT NULL,
    offset             INTEGER NOT NULL,
    path               BLOB NOT NULL,
    updated_at         REAL NOT NULL,
    UNIQUE (fingerprint_length, fingerprint)
);
CREATE INDEX checkpoints_inode ON checkpoints (device, inode);

-- One row per `killdb ingest` (and, later, per plugin session).
CREATE TABLE ingest_runs (
    id              INTEGER PRIMARY KEY,
    started_at      REAL NOT NULL,
    finished_at     REAL,
    status          TEXT NOT NULL,            -- running, complete, failed
    killdb_version  TEXT NOT NULL,
    hostname        TEXT,
    files           INTEGER NOT NULL DEFAULT 0,
    bytes           INTEGER NOT NULL DEFAULT 0,
    lines           INTEGER NOT NULL DEFAULT 0,
    bad_lines       INTEGER NOT NULL DEFAULT 0,
    signal_events   INTEGER NOT NULL DEFAULT 0,
    new_events      INTEGER NOT NULL DEFAULT 0
);

-- What each run read of each file: the coverage that lets queries say "nothing was
-- ingested before T" instead of implying that nothing happened.
CREATE TABLE file_reads (
    id               INTEGER PRIMARY KEY,
    run_id           INTEGER NOT NULL REFERENCES ingest_runs(id) ON DELETE CASCADE,
    path             BLOB NOT NULL,
    device           INTEGER NOT NULL,
    inode            INTEGER NOT NULL,
    start_offset     INTEGER NOT NULL,
    end_offset       INTEGER NOT NULL,
    lines            INTEGER NOT NULL,
    records          INTEGER NOT NULL,
    events           INTEGER NOT NULL,
    signal_events    INTEGER NOT NULL,
    bad_lines        INTEGER NOT NULL,
    first_event_time REAL,
    last_event_time  REAL
);
CREATE INDEX file_reads_time ON file_reads (first_event_time, last_event_time);

-- Per node, the time span of events seen in each file read (aggregated logs interleave
-- hosts, each with its own coverage).
CREATE TABLE node_spans (
    file_read_id     INTEGER NOT NULL REFERENCES file_reads(id) ON DELETE CASCADE,
    node_id          INTEGER NOT NULL REFERENCES strings(id),
    first_event_time REAL NOT NULL,
    last_event_time  REAL NOT NULL,
    records          INTEGER NOT NULL,
    PRIMARY KEY (file_read_id, node_id)
) WITHOUT ROWID;

-- auditd's own records: DAEMON_START, DAEMON_END, DAEMON_ROTATE, DAEMON_ABORT ...
-- They mark when logging started, stopped and rotated. auditd numbers them with its own
-- counter, not the kernel's.
CREATE TABLE daemon_events (
    node_id  INTEGER NOT NULL REFERENCES strings(id),
    sec      INTEGER NOT NULL,
    msec     INTEGER NOT NULL,
    serial   INTEGER NOT NULL,
    type     TEXT NOT NULL,
    op       TEXT,
    fields   BLOB NOT NULL,               -- the record body as logged
    PRIMARY KEY (node_id, sec, msec, serial, type)
) WITHOUT ROWID;

-- Holes in the kernel's serial sequence within one boot: events the kernel numbered but
-- the log does not hold (lost to backlog or rate limits, or filtered out by a rule).
CREATE TABLE serial_gaps (
    node_id       INTEGER NOT NULL REFERENCES strings(id),
    after_sec     INTEGER NOT NULL,
    after_msec    INTEGER NOT NULL,
    after_serial  INTEGER NOT NULL,
    before_sec    INTEGER NOT NULL,
    before_msec   INTEGER NOT NULL,
    before_serial INTEGER NOT NULL,
    missing       INTEGER NOT NULL,
    PRIMARY KEY (node_id, after_sec, after_msec, after_serial)
) WITHOUT ROWID;

-- Where each node's serial sequence stood at the end of the last run, so a gap that
-- straddles two runs is still seen.
CREATE TABLE serial_cursors (
    node_id INTEGER PRIMARY KEY REFERENCES strings(id),
    sec     INTEGER NOT NULL,
    msec    INTEGER NOT NULL,
    serial  INTEGER NOT NULL
);

-- The public interface: one row per (event, target); an event with no target (ESRCH,
-- or pidfd_send_signal without a kill rule) gives one row with NULL target columns.
-- Column names are stable; `killdb who --format json` uses the same names.
CREATE VIEW signals AS
SELECT
    NULLIF(CAST(node.value AS TEXT), '')      AS node,
    e.sec + e.msec / 1000.0                   AS event_time,
    printf('%d.%03d:%d', e.sec, e.msec, e.serial) AS event_id,
    e.serial                                  AS serial,
    CAST(arch.value AS TEXT)                  AS arch,
    CAST(sc.value AS TEXT)                    AS syscall,
    e.signal                                  AS signal,
    CAST(sig.value AS TEXT)                   AS signal_name,
    (e.signal = 0)                            AS probe,
    e.success                                 AS success,
    e.exit                                    AS exit,
    CAST(errno.value AS TEXT)                 AS errno,
    e.target_arg                              AS target_arg,
    e.tgid_arg                                AS tgid_arg,
    e.pidfd                                   AS pidfd,
    e.sender_pid                              AS sender_pid,
    e.sender_ppid                             AS sender_ppid,
    e.sender_uid                              AS sender_uid,
    e.sender_auid                             AS sender_auid,
    e.sender_euid                             AS sender_euid,
    e.sender_ses                              AS sender_ses,
    CAST(tty.value AS TEXT)                   AS sender_tty,
    CAST(comm.value AS TEXT)                  AS sender_comm,
    CAST(exe.value AS TEXT)                   AS sender_exe,
    CAST(cmd.value AS TEXT)                   AS sender_cmdline,
    CAST(uidn.value AS TEXT)                  AS sender_uid_name,
    CAST(auidn.value AS TEXT)                 AS sender_auid_name,
    CAST(euidn.value AS TEXT)                 AS sender_euid_name,
    CAST(subj.value AS TEXT)                  AS sender_subj,
    t.pid                                     AS target_pid,
    t.uid                                     AS target_uid,
    t.auid                                    AS target_auid,
    t.ses                                     AS target_ses,
    CAST(tcomm.value AS TEXT)                 AS target_comm,
    CAST(tuidn.value AS TEXT)                 AS target_uid_name,
    CAST(tauidn.value AS TEXT)                AS target_auid_name,
    CAST(key.value AS TEXT)                   AS key,
    e.id                                      AS event_rowid
FROM events e
JOIN strings node      ON node.id = e.node_id
JOIN strings arch      ON arch.id = e.arch_name_id
JOIN strings sc        ON sc.id = e.syscall_name_id
LEFT JOIN strings sig  ON sig.id = e.signal_name_id
LEFT JOIN strings errno ON errno.id = e.errno_id
LEFT JOIN strings tty  ON tty.id = e.sender_tty_id
LEFT JOIN strings comm ON comm.id = e.sender_comm_id
LEFT JOIN strings exe  ON exe.id = e.sender_exe_id
LEFT JOIN strings cmd  ON cmd.id = e.sender_cmdline_id
LEFT JOIN strings uidn ON uidn.id = e.sender_uid_name_id
LEFT JOIN strings auidn ON auidn.id = e.sender_auid_name_id
LEFT JOIN strings euidn ON euidn.id = e.sender_euid_name_id
LEFT JOIN strings subj ON subj.id = e.sender_subj_id
LEFT JOIN strings key  ON key.id = e.key_id
LEFT JOIN targets t    ON t.event_id = e.id
LEFT JOIN strings tcomm ON tcomm.id = t.comm_id
LEFT JOIN strings tuidn ON tuidn.id = t.uid_name_id
LEFT JOIN strings tauidn ON tauidn.id = t.auid_name_id;

-- What the database covers: per file read, the span of event times seen.
CREATE VIEW coverage AS
SELECT
    r.id                          AS run_id,
    datetime(r.started_at, 'unixepoch') AS run_started,
    CAST(f.path AS TEXT)          AS path,
    f.start_offset                AS start_offset,
    f.end_offset                  AS end_offset,
    f.lines                       AS lines,
    f.events                      AS events,
    f.signal_events               AS signal_events,
    f.bad_lines                   AS bad_lines,
    f.first_event_time            AS first_event_time,
    f.last_event_time             AS last_event_time
FROM file_reads f JOIN ingest_runs r ON r.id = f.run_id;

-- Possible lost events: holes in a node's serial sequence.
CREATE VIEW lost_events AS
SELECT
    NULLIF(CAST(n.value AS TEXT), '')       AS node,
    g.after_sec + g.after_msec / 1000.0     AS after_time,
    g.after_serial                          AS after_serial,
    g.before_sec + g.before_msec / 1000.0   AS before_time,
    g.before_serial                         AS before_serial,
    g.missing                               AS missing
FROM serial_gaps g JOIN strings n ON n.id = g.node_id;
