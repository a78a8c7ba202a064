-- killdb schema, migration 003: indexes that answer "newest first" without sorting history.
--
-- `who NAME` wants the newest few kills of a name that may have been killed 200,000 times,
-- and it says how many failed attempts it left out. An index on the name alone finds every
-- kill of that name and sorts them all; these indexes hold, per name (or pid) and per
-- signal and outcome, the kills already in time order, so the newest are read first and
-- the hidden ones are counted from the index alone.

-- Copies of the event's signal, outcome and time in each target row, so one index over
-- targets serves the whole question. Events never change these three after insertion;
-- killdb writes the copies with the row.
ALTER TABLE targets ADD COLUMN signal INTEGER;   -- events.signal
ALTER TABLE targets ADD COLUMN failed INTEGER;   -- 1 when events.success = 0, else 0
ALTER TABLE targets ADD COLUMN time_ms INTEGER;  -- events.sec * 1000 + events.msec

-- The outcome as the questions ask it: a syscall that did not report failure (success = 1,
-- or unknown because the sender died inside it, as `kill -9 0` does) is shown by default.
ALTER TABLE events ADD COLUMN failed INTEGER GENERATED ALWAYS AS (success IS 0) VIRTUAL;

DROP INDEX targets_pid;
DROP INDEX targets_comm;
DROP INDEX events_sender_pid;

UPDATE targets SET signal = e.signal, failed = (e.success IS 0), time_ms = e.sec * 1000 + e.msec
FROM events e WHERE e.id = targets.event_id;

-- A writer older than this migration (a plugin process still running the previous binary
-- after an upgrade) inserts targets without the copies: they are made here.
CREATE TRIGGER targets_copies AFTER INSERT ON targets WHEN NEW.time_ms IS NULL
BEGIN
    UPDATE targets SET (signal, failed, time_ms) =
        (SELECT e.signal, e.success IS 0, e.sec * 1000 + e.msec FROM events e WHERE e.id = NEW.event_id)
    WHERE event_id = NEW.event_id AND pid = NEW.pid;
END;

CREATE INDEX targets_pid ON targets (pid, signal, failed, time_ms);
CREATE INDEX targets_comm ON targets (comm_id, signal, failed, time_ms);
CREATE INDEX events_signal ON events (signal, failed, sec);
CREATE INDEX events_sender_pid ON events (sender_pid, sec);
