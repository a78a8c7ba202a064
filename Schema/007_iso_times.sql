-- Every time in the public views also as ISO 8601 UTC text with milliseconds
-- (2026-11-24T19:02:30.412Z), beside the epoch seconds: what sqlite3, Datasette or a
-- spreadsheet shows needs no conversion, and sorts as the epoch does. The views are made
-- again exactly as before, with the new columns last, so `SELECT *` and positional readers
-- keep their columns.

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

DROP VIEW lost_events;
CREATE VIEW lost_events AS
SELECT
    NULLIF(CAST(n.value AS TEXT), '')       AS node,
    g.after_sec + g.after_msec / 1000.0     AS after_time,
    g.after_serial                          AS after_serial,
    g.before_sec + g.before_msec / 1000.0   AS before_time,
    g.before_serial                         AS before_serial,
    g.missing                               AS missing,
    strftime('%Y-%m-%dT%H:%M:%fZ', g.after_sec + g.after_msec / 1000.0, 'unixepoch') AS after_time_utc,
    strftime('%Y-%m-%dT%H:%M:%fZ', g.before_sec + g.before_msec / 1000.0, 'unixepoch') AS before_time_utc
FROM serial_gaps g JOIN strings n ON n.id = g.node_id;

DROP VIEW kernel_kills;
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
    k.id                                       AS kill_rowid,
    strftime('%Y-%m-%dT%H:%M:%fZ', k.time, 'unixepoch') AS event_time_utc
FROM kernel_kill_events k
JOIN strings node       ON node.id = k.node_id
LEFT JOIN strings comm  ON comm.id = k.comm_id
LEFT JOIN strings exe   ON exe.id = k.exe_id
LEFT JOIN strings cg    ON cg.id = k.cgroup_id
LEFT JOIN strings lim   ON lim.id = k.limit_cgroup_id
LEFT JOIN strings msg   ON msg.id = k.message_id;

DROP VIEW systemd_kills;
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
    CAST(msg.value AS TEXT)                    AS message,
    strftime('%Y-%m-%dT%H:%M:%fZ', a.time, 'unixepoch') AS event_time_utc
FROM systemd_actions a
JOIN strings node       ON node.id = a.node_id
LEFT JOIN strings unit  ON unit.id = a.unit_id
LEFT JOIN strings comm  ON comm.id = a.comm_id
LEFT JOIN strings cg    ON cg.id = a.cgroup_id
LEFT JOIN strings msg   ON msg.id = a.message_id;
