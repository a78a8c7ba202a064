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

-- As migration 007 made it, the command line read from either place.
DROP VIEW signals;
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
    t.auid                                    AS target_auid,
    t.ses                                     AS target_ses,
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
