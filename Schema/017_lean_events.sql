-- killdb schema, migration 017: narrower event rows, and the index by the pid the sender gave
-- only where a question needs it.
--
-- Measured with the dbstat table on 200,000 signal-dense kills (each its own command line),
-- 257 bytes an event: the events row 95, targets 39, targets_comm 26, targets_pid 24, the
-- identity index 23, events_signal 18, events_sender_pid 18, events_target_arg 13.
--
-- * events_target_arg held every event. A kill that reached a process is found by that
--   process (targets_pid); the number the sender gave is needed only for a process group or
--   every process (target_arg < 0), a thread (tkill, tgkill, rt_tgsigqueueinfo: the kernel
--   logs the process, the sender named the thread), and an event that reached no process
--   (ESRCH: no OBJ_PID). by_target_arg is 1 on those, NULL on the rest, and the index holds
--   only those. An event stored before its OBJ_PID arrives is marked (it had no target then);
--   a target merged in later leaves the mark, which only costs an index entry. The column's
--   default is 1, so a writer that does not know it (an older binary still running as the
--   auditd plugin, a merge) indexes every event it writes, as before.
-- * arch, the AUDIT_ARCH_* code, is stored as the signed 32-bit number of the same bits:
--   x86_64's 0xc000003e is six bytes unsigned, four signed. Read it as `arch & 4294967295`
--   (an older writer still running may store the unsigned number; both read back the same).
-- * a0 and a1, the raw arguments, are NULL when they repeat a decoded column: a0 the first
--   of tgid_arg, target_arg, pidfd that is set (the pid, thread group or pidfd the call
--   names first), a1 the signal. COALESCE(a0, tgid_arg, target_arg, pidfd) and
--   COALESCE(a1, signal) give them back. a2 and a3 are kept as logged.
-- Existing rows are converted; the `signals` view and every other view read none of these
-- columns and answer as before.

ALTER TABLE events ADD COLUMN by_target_arg INTEGER DEFAULT 1;

UPDATE events SET
    arch = CASE WHEN arch >= 2147483648 AND arch < 4294967296 THEN arch - 4294967296 ELSE arch END,
    a0 = CASE WHEN a0 IS COALESCE(tgid_arg, target_arg, pidfd) THEN NULL ELSE a0 END,
    a1 = CASE WHEN a1 IS signal THEN NULL ELSE a1 END,
    by_target_arg = CASE WHEN target_arg IS NOT NULL AND (
        target_arg < 0
        OR syscall_name_id IN (SELECT id FROM strings WHERE value IN (CAST('tkill' AS BLOB), CAST('tgkill' AS BLOB),
                                                                       CAST('rt_tgsigqueueinfo' AS BLOB)))
        OR NOT EXISTS (SELECT 1 FROM targets t WHERE t.event_id = events.id)) THEN 1 END;

DROP INDEX events_target_arg;
CREATE INDEX events_target_arg ON events (target_arg, syscall_name_id) WHERE by_target_arg IS NOT NULL;
