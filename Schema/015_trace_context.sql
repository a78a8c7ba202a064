-- killdb schema, migration 015: a traced signal whose sender's context the tracer did not
-- have.
--
-- The tracer reads a sender's command line, executable and parents once per process image
-- (at its first traced signal after each execve, or after it is reparented) and sends them
-- ahead of its signals; a signal stored without them (the context record was lost in the
-- kernel's full ring buffer, or dropped by the tracer's bounded memory) says so here, so a
-- NULL command line is read as "unknown", never as "none". Such a signal still names its
-- sender's pid, start time, name and parent, which its own record carries.
--
-- traced_signals is made again exactly as 013 made it, with the new column last.

ALTER TABLE traced_signal_records ADD COLUMN sender_context_missing INTEGER NOT NULL DEFAULT 0;

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
    strftime('%Y-%m-%dT%H:%M:%fZ', s.boot_time + r.target_start_ns / 1e9, 'unixepoch') AS target_start_time_utc,
    r.sender_context_missing                      AS sender_context_missing
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

