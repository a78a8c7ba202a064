-- killdb schema, migration 012: signals to a thread, found by the thread and by its process.
--
-- tgkill(pid, tid) and tkill(tid) name a thread; OBJ_PID names the process it belongs to
-- (its pid, and the thread's name). `who --pid TID` finds them by the number the sender
-- gave, among the thread-directed calls only (kill(N) from another pid namespace gives a
-- number that is no host process's): the syscall beside target_arg keeps a pid that was
-- kill()ed a hundred thousand times from being read for it.
DROP INDEX events_target_arg;
CREATE INDEX events_target_arg ON events (target_arg, syscall_name_id);

-- When no process was reached (ESRCH: no OBJ_PID), the pid a tgkill gave is all that says
-- which process was meant: `who --pid P` also finds the failed attempts at P's threads.
-- Only thread-directed calls fill tgid_arg, so the index holds those alone.
CREATE INDEX events_tgid_arg ON events (tgid_arg) WHERE tgid_arg IS NOT NULL;
