-- killdb schema, migration 004: what kind of run each ingest_runs row is, and its status,
-- as checked columns. A run's kind was told only by its file reads' paths ("(auditd plugin)",
-- "[merged from SOURCE] …"); it is now a column the write side sets (Store's RunKind and
-- RunStatus), backfilled here from those paths. `trace` is the kernel tracer's.
--
-- SQLite cannot add a CHECK to an existing column: the table is rebuilt (the migration runs
-- with foreign keys off, so file_reads and kernel_log_reads keep their rows). `kind` comes
-- last so that the columns before it stay where they were.

DROP VIEW coverage;
DROP TRIGGER IF EXISTS ingest_runs_plugin_kind;  -- a database taken back by hand and migrated again

CREATE TABLE ingest_runs_004 (
    id              INTEGER PRIMARY KEY,
    started_at      REAL NOT NULL,
    finished_at     REAL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed', 'interrupted')),
    killdb_version  TEXT NOT NULL,
    hostname        TEXT,
    files           INTEGER NOT NULL DEFAULT 0,
    bytes           INTEGER NOT NULL DEFAULT 0,
    lines           INTEGER NOT NULL DEFAULT 0,
    bad_lines       INTEGER NOT NULL DEFAULT 0,
    signal_events   INTEGER NOT NULL DEFAULT 0,
    new_events      INTEGER NOT NULL DEFAULT 0,
    kind            TEXT NOT NULL DEFAULT 'ingest' CHECK (kind IN ('ingest', 'plugin', 'merge', 'trace'))
);

-- Each run's kind from its file reads, in one pass (file_reads has no index on run_id).
CREATE TEMP TABLE run_kinds_004 (run_id INTEGER PRIMARY KEY, kind TEXT NOT NULL);
INSERT INTO temp.run_kinds_004
SELECT run_id,
       CASE MAX(CASE WHEN substr(path, 1, 13) = CAST('[merged from ' AS BLOB) THEN 2
                     WHEN path = CAST('(auditd plugin)' AS BLOB) THEN 1
                     ELSE 0 END)
         WHEN 2 THEN 'merge' WHEN 1 THEN 'plugin' ELSE 'ingest' END
FROM file_reads GROUP BY run_id;

INSERT INTO ingest_runs_004 (id, started_at, finished_at, status, killdb_version, hostname, files, bytes, lines,
                             bad_lines, signal_events, new_events, kind)
SELECT r.id, r.started_at, r.finished_at,
       CASE WHEN r.status IN ('running', 'complete', 'failed', 'interrupted') THEN r.status ELSE 'failed' END,
       r.killdb_version, r.hostname, r.files, r.bytes, r.lines, r.bad_lines, r.signal_events, r.new_events,
       COALESCE(k.kind, 'ingest')
FROM ingest_runs r LEFT JOIN temp.run_kinds_004 k ON k.run_id = r.id;
DROP TABLE temp.run_kinds_004;

DROP TABLE ingest_runs;
ALTER TABLE ingest_runs_004 RENAME TO ingest_runs;

-- A plugin still running the previous binary after an upgrade begins its runs without a
-- kind: its stream's file read says which it is.
CREATE TRIGGER ingest_runs_plugin_kind AFTER INSERT ON file_reads
WHEN NEW.path = CAST('(auditd plugin)' AS BLOB)
BEGIN
    UPDATE ingest_runs SET kind = 'plugin' WHERE id = NEW.run_id AND kind = 'ingest';
END;

-- As migration 001 made it, with the run's kind last.
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
    r.kind                        AS run_kind
FROM file_reads f JOIN ingest_runs r ON r.id = f.run_id;
