-- killdb schema, migration 013: ISO 8601 UTC beside every epoch time in the views 007 left
-- without (coverage, traced_signals, trace_coverage, process_context), and seccomp kills
-- named as `ausearch -i` names them.
--
-- Each view is made again exactly as before with the new columns last, so `SELECT *` and
-- positional readers keep their columns. kernel_kill_events.details of a seccomp kill is
-- `arch=i386 syscall=getpgid code=kill` from this version on (libaudit's and libauparse's
-- names; the number stays in `syscall`): the view's reason names the syscall from it, and
-- rows stored before keep the number.

DROP VIEW coverage;
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
    f.last_event_time             AS last_event_time,
    r.kind                        AS run_kind,
    strftime('%Y-%m-%dT%H:%M:%fZ', f.first_event_time, 'unixepoch') AS first_event_time_utc,
    strftime('%Y-%m-%dT%H:%M:%fZ', f.last_event_time, 'unixepoch') AS last_event_time_utc
FROM file_reads f JOIN ingest_runs r ON r.id = f.run_id;

DROP VIEW traced_signals;
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
    r.id                                          AS record_rowid,
    strftime('%Y-%m-%dT%H:%M:%fZ', r.time, 'unixepoch') AS event_time_utc,
    strftime('%Y-%m-%dT%H:%M:%fZ', s.boot_time + r.sender_start_ns / 1e9, 'unixepoch') AS sender_start_time_utc,
    strftime('%Y-%m-%dT%H:%M:%fZ', s.boot_time + r.parent_start_ns / 1e9, 'unixepoch') AS sender_parent_start_time_utc,
    strftime('%Y-%m-%dT%H:%M:%fZ', s.boot_time + r.target_start_ns / 1e9, 'unixepoch') AS target_start_time_utc
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

DROP VIEW trace_coverage;
CREATE VIEW trace_coverage AS
SELECT
    s.run_id                                      AS run_id,
    NULLIF(CAST(node.value AS TEXT), '')           AS node,
    s.signals                                     AS signals,
    s.started_at                                  AS started_at,
    COALESCE(s.finished_at, s.last_active_at)     AS covered_until,
    r.status                                      AS status,
    s.records                                     AS records,
    s.lost                                        AS lost,
    strftime('%Y-%m-%dT%H:%M:%fZ', s.started_at, 'unixepoch') AS started_at_utc,
    strftime('%Y-%m-%dT%H:%M:%fZ', COALESCE(s.finished_at, s.last_active_at), 'unixepoch') AS covered_until_utc
FROM trace_sessions s
JOIN ingest_runs r ON r.id = s.run_id
JOIN strings node  ON node.id = s.node_id;

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
      WHEN 'seccomp' THEN 'a seccomp filter refused syscall ' || COALESCE(
           -- details, since this migration: `arch=i386 syscall=getpgid code=kill` (libaudit's names).
           CASE WHEN k.details LIKE 'arch=% syscall=%'
                THEN substr(k.details, instr(k.details, ' syscall=') + 9,
                            instr(substr(k.details, instr(k.details, ' syscall=') + 9) || ' ', ' ') - 1)
                     || ' (' || substr(k.details, 6, instr(k.details, ' ') - 6) || ')' END,
           k.syscall, '?')
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

-- signal_context reads process_context by name: it reads the new one, and is not made
-- again here (a view is resolved when it is used).
DROP VIEW process_context;
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
       p.source, p.read_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', p.start_time, 'unixepoch') AS start_time_utc,
       strftime('%Y-%m-%dT%H:%M:%fZ', p.read_at, 'unixepoch') AS read_at_utc
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
