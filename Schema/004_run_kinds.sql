-- killdb schema, migration 004: what kind of run each ingest_runs row is, and its status,
-- checked. A run's kind was told only by its file reads' paths ("(auditd plugin)",
-- "[merged from SOURCE] …"); it is now a column the write side sets (Store's RunKind and
-- RunStatus), backfilled here from those paths. `trace` is the kernel tracer's.
--
-- The table is altered, not rebuilt: a rebuild would drop columns that later migrations
-- add, on a database where one of them ran first. SQLite cannot add a CHECK to an existing
-- column, so triggers check `status`.

ALTER TABLE ingest_runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'ingest'
    CHECK (kind IN ('ingest', 'plugin', 'merge', 'trace'));

-- Each run's kind from its file reads, in one pass (file_reads has no index on run_id).
CREATE TEMP TABLE run_kinds_004 (run_id INTEGER PRIMARY KEY, kind TEXT NOT NULL);
INSERT INTO temp.run_kinds_004
SELECT run_id,
       CASE MAX(CASE WHEN substr(path, 1, 13) = CAST('[merged from ' AS BLOB) THEN 2
                     WHEN path = CAST('(auditd plugin)' AS BLOB) THEN 1
                     ELSE 0 END)
         WHEN 2 THEN 'merge' WHEN 1 THEN 'plugin' ELSE 'ingest' END
FROM file_reads GROUP BY run_id;
UPDATE ingest_runs SET kind = k.kind FROM temp.run_kinds_004 k WHERE k.run_id = ingest_runs.id AND k.kind != 'ingest';
DROP TABLE temp.run_kinds_004;

UPDATE ingest_runs SET status = 'failed' WHERE status NOT IN ('running', 'complete', 'failed', 'interrupted');
CREATE TRIGGER ingest_runs_status_insert BEFORE INSERT ON ingest_runs
WHEN NEW.status NOT IN ('running', 'complete', 'failed', 'interrupted')
BEGIN
    SELECT RAISE(ABORT, 'ingest_runs.status must be running, complete, failed or interrupted');
END;
CREATE TRIGGER ingest_runs_status_update BEFORE UPDATE OF status ON ingest_runs
WHEN NEW.status NOT IN ('running', 'complete', 'failed', 'interrupted')
BEGIN
    SELECT RAISE(ABORT, 'ingest_runs.status must be running, complete, failed or interrupted');
END;

-- A plugin still running the previous binary after an upgrade begins its runs without a
-- kind: its stream's file read says which it is.
CREATE TRIGGER ingest_runs_plugin_kind AFTER INSERT ON file_reads
WHEN NEW.path = CAST('(auditd plugin)' AS BLOB)
BEGIN
    UPDATE ingest_runs SET kind = 'plugin' WHERE id = NEW.run_id AND kind = 'ingest';
END;

-- As migration 001 made it, with the run's kind last.
DROP VIEW IF EXISTS coverage;
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
