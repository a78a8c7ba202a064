-- killdb schema, migration 016: process_execs as one B-tree in the order the ancestry walk
-- reads it (a node's pid, newest execve first before a time).
--
-- A busy host that audits execve logs one row per execve: a rowid table with a UNIQUE index
-- on the event and another on (node, pid, sec) was three B-trees to insert into per row,
-- most of an execve-heavy ingest's SQLite time and 82 bytes a row. Keyed by (node, pid,
-- time, serial) it is one; an event read twice still lands once (its pid is its own).
-- The ids into `strings` are not declared as foreign keys: checking four parents per row
-- was a third of each insert, and the ids are the store's own interning (strings are never
-- deleted), not input.

CREATE TABLE process_execs_by_pid (
    node_id   INTEGER NOT NULL,   -- strings(id), as comm_id and exe_id
    pid       INTEGER NOT NULL,
    sec       INTEGER NOT NULL,
    msec      INTEGER NOT NULL,
    serial    INTEGER NOT NULL,
    ppid      INTEGER,
    comm_id   INTEGER,
    exe_id    INTEGER,
    argv_id   INTEGER,   -- strings(id): argv joined by NULs
    PRIMARY KEY (node_id, pid, sec, msec, serial)
) WITHOUT ROWID;
INSERT OR IGNORE INTO process_execs_by_pid (node_id, pid, sec, msec, serial, ppid, comm_id, exe_id, argv_id)
SELECT node_id, pid, sec, msec, serial, ppid, comm_id, exe_id, argv_id FROM process_execs;
DROP TABLE process_execs;
ALTER TABLE process_execs_by_pid RENAME TO process_execs;
