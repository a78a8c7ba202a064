-- killdb schema, migration 010: the tracer's records forwarded through the audit system.
--
-- `killdb trace --audit` also writes each record as a user-space audit message (a USER
-- record, `msg='op=killdb-trace-signal ...'`), so auditd logs it and audisp-remote forwards
-- it like any other record; `killdb ingest` on a collector reads it back into the same
-- tables as a local tracer's. A session is then known by its host, boot and start, the same
-- on every database: that is its identity here and in `killdb merge`.

-- 'local': this host's `killdb trace`; 'audit': read back from an audit log.
ALTER TABLE trace_sessions ADD COLUMN origin TEXT NOT NULL DEFAULT 'local' CHECK (origin IN ('local', 'audit'));
CREATE UNIQUE INDEX trace_sessions_identity ON trace_sessions (node_id, boot_id, started_at);

-- USER records that read like a tracer message but that the kernel does not attribute to
-- root running killdb (another uid, another program, a format this killdb cannot read):
-- never evidence, kept so that the attempt itself is on record.
CREATE TABLE unverified_trace_messages (
    node_id     INTEGER NOT NULL REFERENCES strings(id),
    sec         INTEGER NOT NULL,
    msec        INTEGER NOT NULL,
    serial      INTEGER NOT NULL,
    writer_pid  INTEGER,                -- the kernel's pid= of the writer
    writer_uid  INTEGER,                -- the kernel's uid= of the writer
    writer_exe_id INTEGER REFERENCES strings(id), -- libaudit's exe= in the message
    reason      TEXT NOT NULL,
    body_id     INTEGER NOT NULL REFERENCES strings(id),  -- the record's body as logged
    PRIMARY KEY (node_id, sec, msec, serial)
) WITHOUT ROWID;
