-- killdb schema, migration 014: whether a kernel kill's or a systemd action's log entry can
-- only have been written by the kernel (or PID 1, or systemd-oomd).
--
-- /dev/kmsg's kernel facility is the kernel's own (a write to /dev/kmsg gets another, and
-- needs root); the journal's _TRANSPORT=kernel, _PID/_UID and _SYSTEMD_UNIT are journald's,
-- not the logging process's; the audit log is auditd's. A plain syslog file cannot say who
-- wrote a line: any user writes `kernel: Out of memory: Killed process …` or
-- `systemd[1]: x.service: Killing process …` with `logger -t kernel`; saved dmesg text is only
-- as good as whoever wrote the file. Kills read only from those are kept, but `verified` is
-- 0, and answers say so. One trusted entry of a kill makes its row verified (the write side
-- then takes that entry's words over the others').

ALTER TABLE kernel_kill_events ADD COLUMN verified INTEGER NOT NULL DEFAULT 1 CHECK (verified IN (0, 1));
UPDATE kernel_kill_events SET verified = 0
WHERE source IN ('syslog', 'dmesg') AND NOT EXISTS (
    SELECT 1 FROM kernel_kill_entries e WHERE e.kill_id = kernel_kill_events.id
      AND (e.identity GLOB 'kmsg:*' OR e.identity GLOB 'journal:*' OR e.identity GLOB 'audit:*'));

ALTER TABLE systemd_actions ADD COLUMN verified INTEGER NOT NULL DEFAULT 1 CHECK (verified IN (0, 1));
UPDATE systemd_actions SET verified = 0 WHERE identity GLOB 'syslog:*' OR identity GLOB 'dmesg:*';

-- As migrations 013 (kernel_kills) and 007 (systemd_kills) made them, with `verified` last.
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
    strftime('%Y-%m-%dT%H:%M:%fZ', k.time, 'unixepoch') AS event_time_utc,
    k.verified                                 AS verified
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
    strftime('%Y-%m-%dT%H:%M:%fZ', a.time, 'unixepoch') AS event_time_utc,
    a.verified                                 AS verified
FROM systemd_actions a
JOIN strings node       ON node.id = a.node_id
LEFT JOIN strings unit  ON unit.id = a.unit_id
LEFT JOIN strings comm  ON comm.id = a.comm_id
LEFT JOIN strings cg    ON cg.id = a.cgroup_id
LEFT JOIN strings msg   ON msg.id = a.message_id;
