-- killdb schema, migration 018: the kernel's own word on who wrote a forwarded tracer message.
--
-- A USER record's exe= is libaudit's, read from /proc/self/exe in the writer: the kernel adds
-- the writer's pid and uid, never its executable. `killdb trace --audit` therefore makes the
-- kernel log a record of its own at its session's start, each heartbeat (10 s) and its end:
-- a SECCOMP record of a SECCOMP_RET_LOG verdict its writer thread's filter gives getppid(2)
-- called with two marker arguments, which names the task's pid, uid and executable, as the
-- kernel knows them; no user-space program can write a SECCOMP record. A span here is such
-- anchors of one killdb process (node, pid), from the first to the last; ingest believes a
-- tracer message only within one (up to 60 s past its last anchor: the pid is that process's
-- while it lives, and it anchors every 10 s). Kept across ingest runs: the anchor of a
-- session's start may be in a log read long before its messages.
CREATE TABLE trace_writers (
    node_id     INTEGER NOT NULL REFERENCES strings(id),
    pid         INTEGER NOT NULL,
    first_time  REAL NOT NULL,          -- its first anchor's time (epoch seconds)
    last_time   REAL NOT NULL,          -- its last anchor's
    exe_id      INTEGER NOT NULL REFERENCES strings(id),  -- the executable, as the kernel logged it
    PRIMARY KEY (node_id, pid, first_time)
) WITHOUT ROWID;
