-- Copies of one event id that disagree (another sender, another signal, another target):
-- the first copy stored is kept as the event, and each disagreeing copy is kept here, so
-- an answer never silently mixes two stories. Storing the same copy again adds nothing.
CREATE TABLE event_conflicts (
    id              INTEGER PRIMARY KEY,
    event_id        INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    syscall         INTEGER,
    signal          INTEGER,
    target_arg      INTEGER,
    sender_pid      INTEGER,
    sender_comm_id  INTEGER REFERENCES strings(id),
    sender_exe_id   INTEGER REFERENCES strings(id),
    target_pids     TEXT NOT NULL,              -- the copy's OBJ_PID pids, comma-separated
    UNIQUE (event_id, syscall, signal, target_arg, sender_pid, sender_comm_id, sender_exe_id, target_pids)
);

-- Per run: disagreeing copies met (and not stored as part of the event).
ALTER TABLE ingest_runs ADD COLUMN conflicting_events INTEGER NOT NULL DEFAULT 0;
