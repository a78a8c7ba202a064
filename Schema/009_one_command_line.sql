-- killdb schema, migration 009: an event's command line is stored once.
--
-- Each event stored its command line twice as interned strings: joined by spaces
-- (sender_cmdline_id) and as PROCTITLE's NUL-separated bytes (sender_argv_id). With a
-- command line of its own per kill (`kill -9 PID`, the usual case) that was four copies per
-- event (two rows, two entries of the UNIQUE index over strings.value).
--
-- Now:
-- * the joined command line is the one copy kept, because it is what the views show and
--   SQLite's text functions cannot turn NULs into spaces (replace() and rtrim() stop at a
--   NUL), so it cannot be derived in a view from the argv bytes;
-- * sender_argv_id is kept only when the argv cannot be told from the command line: an
--   argument holding a space, or NULs at its end. Otherwise argv is the command line with
--   each space a NUL;
-- * a command line of at most 32 bytes is stored in the row (sender_cmdline), not interned:
--   a row of `strings` and its index entry cost about 45 bytes for a 13-byte `kill -9 1234`,
--   the inline copy 14; a short command line repeated costs at most 30 bytes more than an id.
--   Longer ones (PROCTITLE holds at most 128 bytes) are interned as before.
-- A writer older than this migration still stores both ids; the view reads either form.
--
-- A target's audit login id and session are 32-bit, mostly unset (4294967295, six bytes
-- each in a row): they are stored as the signed 32-bit number of the same bits (-1, one
-- byte), and the view gives them back as the kernel prints them. Rows stored before are
-- left as they are; the view reads both.
--
-- The table is then copied once, its identity index in time order (below).

ALTER TABLE events ADD COLUMN sender_cmdline BLOB;  -- the command line when at most 32 bytes

CREATE TEMP TABLE command_line_strings_009 (id INTEGER PRIMARY KEY);
INSERT OR IGNORE INTO temp.command_line_strings_009
SELECT sender_cmdline_id FROM events WHERE sender_cmdline_id IS NOT NULL
UNION SELECT sender_argv_id FROM events WHERE sender_argv_id IS NOT NULL;

UPDATE events SET sender_argv_id = NULL
FROM strings a
WHERE a.id = events.sender_argv_id AND events.sender_cmdline_id IS NOT NULL
  AND instr(a.value, x'20') = 0 AND substr(a.value, -1) IS NOT x'00';
UPDATE events SET sender_cmdline = c.value, sender_cmdline_id = NULL
FROM strings c
WHERE c.id = events.sender_cmdline_id AND length(c.value) <= 32;

-- Strings that were command lines and are referenced nowhere now.
DELETE FROM temp.command_line_strings_009 WHERE id IN (
    SELECT sender_cmdline_id FROM events UNION ALL SELECT sender_argv_id FROM events
    UNION ALL SELECT node_id FROM events UNION ALL SELECT arch_name_id FROM events
    UNION ALL SELECT syscall_name_id FROM events UNION ALL SELECT signal_name_id FROM events
    UNION ALL SELECT errno_id FROM events UNION ALL SELECT sender_tty_id FROM events
    UNION ALL SELECT sender_comm_id FROM events UNION ALL SELECT sender_exe_id FROM events
    UNION ALL SELECT sender_subj_id FROM events UNION ALL SELECT sender_uid_name_id FROM events
    UNION ALL SELECT sender_auid_name_id FROM events UNION ALL SELECT sender_euid_name_id FROM events
    UNION ALL SELECT key_id FROM events
    UNION ALL SELECT comm_id FROM targets UNION ALL SELECT obj_id FROM targets
    UNION ALL SELECT uid_name_id FROM targets UNION ALL SELECT auid_name_id FROM targets
    UNION ALL SELECT node_id FROM node_spans UNION ALL SELECT node_id FROM daemon_events
    UNION ALL SELECT node_id FROM serial_gaps UNION ALL SELECT node_id FROM serial_cursors
    UNION ALL SELECT sender_comm_id FROM event_conflicts UNION ALL SELECT sender_exe_id FROM event_conflicts
    UNION ALL SELECT node_id FROM kernel_kill_events UNION ALL SELECT comm_id FROM kernel_kill_events
    UNION ALL SELECT exe_id FROM kernel_kill_events UNION ALL SELECT cgroup_id FROM kernel_kill_events
    UNION ALL SELECT limit_cgroup_id FROM kernel_kill_events UNION ALL SELECT message_id FROM kernel_kill_events
    UNION ALL SELECT node_id FROM systemd_actions UNION ALL SELECT unit_id FROM systemd_actions
    UNION ALL SELECT comm_id FROM systemd_actions UNION ALL SELECT cgroup_id FROM systemd_actions
    UNION ALL SELECT message_id FROM systemd_actions
    UNION ALL SELECT node_id FROM trace_sessions
    UNION ALL SELECT signal_name_id FROM traced_signal_records UNION ALL SELECT cause_detail_id FROM traced_signal_records
    UNION ALL SELECT sender_comm_id FROM traced_signal_records UNION ALL SELECT sender_exe_id FROM traced_signal_records
    UNION ALL SELECT sender_cmdline_id FROM traced_signal_records UNION ALL SELECT sender_argv_id FROM traced_signal_records
    UNION ALL SELECT parent_comm_id FROM traced_signal_records UNION ALL SELECT target_comm_id FROM traced_signal_records
    UNION ALL SELECT node_id FROM processes UNION ALL SELECT comm_id FROM processes
    UNION ALL SELECT exe_id FROM processes UNION ALL SELECT argv_id FROM processes
    UNION ALL SELECT cmdline_id FROM processes UNION ALL SELECT cgroup_id FROM processes
    UNION ALL SELECT unit_id FROM processes UNION ALL SELECT slice_id FROM processes
    UNION ALL SELECT pod_namespace_id FROM processes UNION ALL SELECT pod_name_id FROM processes
    UNION ALL SELECT pod_container_id FROM processes);
DELETE FROM strings WHERE id IN (SELECT id FROM temp.command_line_strings_009);
DROP TABLE temp.command_line_strings_009;

-- The events table again, with its identity (the UNIQUE constraint) in time order: sec,
-- msec, serial, node. The same index then finds an event by identity and reads a span of
-- time in order, so the index on sec alone (events_time, ~15 bytes an event) goes. SQLite
-- cannot change a table's constraint in place: the table is copied (rows and ids as they
-- are), and the views and trigger that name it are made again.
DROP VIEW signals;
DROP VIEW signal_context;
DROP TRIGGER targets_copies;
CREATE TABLE events_009 (
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
    sender_cmdline_id INTEGER REFERENCES strings(id),          -- argv joined by spaces, when longer than 32 bytes
    sender_argv_id  INTEGER REFERENCES strings(id),            -- PROCTITLE bytes, when the command line cannot tell them
    sender_subj_id  INTEGER REFERENCES strings(id),
    sender_uid_name_id  INTEGER REFERENCES strings(id),        -- from ENRICHED logs
    sender_auid_name_id INTEGER REFERENCES strings(id),
    sender_euid_name_id INTEGER REFERENCES strings(id),
    key_id          INTEGER REFERENCES strings(id),
    failed          INTEGER GENERATED ALWAYS AS (success IS 0) VIRTUAL,
    sender_cmdline  BLOB,                                      -- the command line, when at most 32 bytes
    UNIQUE (sec, msec, serial, node_id)
);
INSERT INTO events_009 (id, node_id, sec, msec, serial, arch, arch_name_id, syscall, syscall_name_id,
  signal, signal_name_id, success, exit, errno_id, target_arg, tgid_arg, pidfd, a0, a1, a2, a3,
  sender_pid, sender_ppid, sender_uid, sender_auid, sender_euid, sender_ses, sender_tty_id, sender_comm_id,
  sender_exe_id, sender_cmdline_id, sender_argv_id, sender_subj_id, sender_uid_name_id, sender_auid_name_id,
  sender_euid_name_id, key_id, sender_cmdline)
SELECT id, node_id, sec, msec, serial, arch, arch_name_id, syscall, syscall_name_id,
  signal, signal_name_id, success, exit, errno_id, target_arg, tgid_arg, pidfd, a0, a1, a2, a3,
  sender_pid, sender_ppid, sender_uid, sender_auid, sender_euid, sender_ses, sender_tty_id, sender_comm_id,
  sender_exe_id, sender_cmdline_id, sender_argv_id, sender_subj_id, sender_uid_name_id, sender_auid_name_id,
  sender_euid_name_id, key_id, sender_cmdline
FROM events ORDER BY id;
DROP TABLE events;
ALTER TABLE events_009 RENAME TO events;
CREATE INDEX events_target_arg ON events (target_arg);  -- failed kills have no OBJ_PID
CREATE INDEX events_signal ON events (signal, failed, sec);
CREATE INDEX events_sender_pid ON events (sender_pid, sec);

-- As migration 003 made it.
CREATE TRIGGER targets_copies AFTER INSERT ON targets WHEN NEW.time_ms IS NULL
BEGIN
    UPDATE targets SET (signal, failed, time_ms) =
        (SELECT e.signal, e.success IS 0, e.sec * 1000 + e.msec FROM events e WHERE e.id = NEW.event_id)
    WHERE event_id = NEW.event_id AND pid = NEW.pid;
END;

-- As migration 008 made it.
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

-- As migration 007 made it, the command line read from either place.
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
    CAST(COALESCE(e.sender_cmdline, cmd.value) AS TEXT) AS sender_cmdline,
    CAST(uidn.value AS TEXT)                  AS sender_uid_name,
    CAST(auidn.value AS TEXT)                 AS sender_auid_name,
    CAST(euidn.value AS TEXT)                 AS sender_euid_name,
    CAST(subj.value AS TEXT)                  AS sender_subj,
    t.pid                                     AS target_pid,
    t.uid                                     AS target_uid,
    CASE WHEN t.auid < 0 THEN t.auid + 4294967296 ELSE t.auid END AS target_auid,
    CASE WHEN t.ses < 0 THEN t.ses + 4294967296 ELSE t.ses END AS target_ses,
    CAST(tcomm.value AS TEXT)                 AS target_comm,
    CAST(tuidn.value AS TEXT)                 AS target_uid_name,
    CAST(tauidn.value AS TEXT)                AS target_auid_name,
    CAST(key.value AS TEXT)                   AS key,
    e.id                                      AS event_rowid,
    strftime('%Y-%m-%dT%H:%M:%fZ', e.sec + e.msec / 1000.0, 'unixepoch') AS event_time_utc
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
