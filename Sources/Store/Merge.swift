import Foundation
import GRDB

/// Why a source database cannot be merged, worded for the operator.
public enum MergeError: Error, CustomStringConvertible {
    case sourceMissing(path: String)
    case sameDatabase(path: String)
    case notKilldbDatabase(path: String)
    case noURISupport

    public var description: String {
        switch self {
        case .sourceMissing(let path):
            return "no database at \(path) to merge."
        case .sameDatabase(let path):
            return "\(path) is the target database itself; merging it into itself adds nothing."
        case .notKilldbDatabase(let path):
            return "\(path) is not a killdb database (it has none of killdb's migrations)."
        case .noURISupport:
            return "this SQLite library cannot attach a database read-only (built without URI filenames)."
        }
    }
}

/// What merging one source database added to the target.
public struct MergeResult: Sendable, Equatable {
    public var source: String
    /// Signal events in the source, and how many of them the target did not hold yet.
    public var sourceEvents = 0
    public var newEvents = 0
    /// Target rows (processes reached) added, to new events or to events already held.
    public var newTargets = 0
    /// Events already held that lacked a command line the source has.
    public var completedEvents = 0
    public var newStrings = 0
    public var newDaemonRecords = 0
    public var newSerialGaps = 0
    /// Kills the kernel made (OOM killer, seccomp ...) and systemd's kills, not held yet.
    public var newKernelKills = 0
    public var newSystemdActions = 0
    /// Successful execve events kept for ancestry (migration 011): a merged host's senders
    /// keep their parents' programs.
    public var newExecs = 0
    /// Ingest runs of the source copied, or refreshed because the source's copy moved on.
    public var copiedRuns = 0
    public var copiedFileReads = 0
    /// The tracer's (`killdb trace`): sessions not held yet, and records by their identity
    /// (boot, boot-clock time, sender and target thread, signal).
    public var newTraceSessions = 0
    public var newTracedSignals = 0
    /// The source's copies of events the target holds that tell another story (another
    /// sender, signal or target): the target's copy is kept whole, the source's is recorded
    /// in event_conflicts, and the merge writes a run row of its own counting them.
    public var conflictingEvents = 0

    public init(source: String) { self.source = source }
}

extension SignalStore {
    /// How a file read copied from another database is named in `file_reads.path`: its
    /// original path behind the source's, so `coverage` tells which database covered what.
    public static func mergedPathPrefix(source: String) -> String { "[merged from \(source)] " }

    /// Copies everything `sourcePath` holds that this database lacks, in one transaction:
    /// events by identity (node, sec, msec, serial) with their targets, strings re-interned,
    /// auditd's own records, serial gaps, and the source's coverage (ingest runs, file reads,
    /// node spans) as rows marked with the source. Merging the same source again adds nothing.
    ///
    /// The caller holds the ingest lock on this database; the source is only read (attached
    /// read-only), so it may be in use by its own ingest meanwhile: the transaction sees one
    /// snapshot of it.
    /// `version` is the killdb version a run row of the merge's own names.
    public func merge(from sourcePath: String, version: String = "unknown") throws -> MergeResult {
        let source = absolute(sourcePath)
        var own = stat(), other = stat()
        guard stat(source, &other) == 0 else { throw MergeError.sourceMissing(path: sourcePath) }
        if stat(path, &own) == 0, own.st_dev == other.st_dev, own.st_ino == other.st_ino {
            throw MergeError.sameDatabase(path: sourcePath)
        }
        // A newer schema is refused (the source may hold what this killdb cannot read). An
        // older one is fine: every table copied here is the first migration's.
        let checked: SignalStore
        do {
            checked = try SignalStore.openReadOnly(path: source)
        } catch .foreign {
            throw MergeError.notKilldbDatabase(path: sourcePath)
        }
        let applied = Set(try checked.appliedMigrations())
        guard let first = embeddedMigrations.first?.name, applied.contains(first) else {
            throw MergeError.notKilldbDatabase(path: sourcePath)
        }

        do {
            return try queue.writeWithoutTransaction { db in
                let usesURI = try String.fetchAll(db, sql: "PRAGMA compile_options").contains("USE_URI")
                guard usesURI else { throw MergeError.noURISupport }
                // Its id maps hold a row per event and string merged: on disk, not in memory.
                try db.execute(sql: "PRAGMA temp_store = FILE")
                try db.execute(sql: "ATTACH DATABASE ? AS src", arguments: [Self.readOnlyURI(source)])
                defer { try? db.execute(sql: "DETACH DATABASE src") }
                var result = MergeResult(source: sourcePath)
                try db.inTransaction {
                    let started = Date().timeIntervalSince1970
                    result = try Self.copy(db, marker: Self.mergedPathPrefix(source: source), into: result)
                    if result.conflictingEvents > 0 {
                        // Only then: merging the same source again must add nothing, and a
                        // merge's coverage is the source's runs, copied.
                        try db.execute(sql: """
                            INSERT INTO main.ingest_runs (kind, started_at, finished_at, status, killdb_version, hostname,
                              signal_events, new_events, conflicting_events)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """, arguments: [RunKind.merge.rawValue, started, Date().timeIntervalSince1970,
                                             RunStatus.complete.rawValue, version, ProcessInfo.processInfo.hostName,
                                             result.sourceEvents, result.newEvents, result.conflictingEvents])
                    }
                    return .commit
                }
                return result
            }
        } catch let e as MergeError {
            throw e
        } catch let e as DatabaseError where e.resultCode == .SQLITE_BUSY {
            throw StoreError.busy(path: path)
        } catch {
            throw StoreError.sqlite(describe(error))
        }
    }

    /// Signal events stored (not rows of `signals`: a group kill is one event).
    public func eventCount() throws(StoreError) -> Int {
        try read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM events") ?? 0 }
    }

    /// `file:` URI of `path`, opened read-only: SQLite itself refuses any write to it.
    static func readOnlyURI(_ path: String) -> String {
        var escaped = ""
        for ch in path.unicodeScalars {
            switch ch {
            case "%": escaped += "%25"
            case "?": escaped += "%3f"
            case "#": escaped += "%23"
            default: escaped.unicodeScalars.append(ch)
            }
        }
        return "file:\(escaped)?mode=ro"
    }

    private func absolute(_ path: String) -> String {
        if let p = realpath(path, nil) { defer { free(p) }; return String(cString: p) }
        return path
    }

    private static func copy(_ db: Database, marker: String, into start: MergeResult) throws -> MergeResult {
        var r = start
        // Strings: the source's ids mean nothing here, so every reference goes through this map.
        try db.execute(sql: """
            INSERT INTO main.strings (value) SELECT value FROM src.strings WHERE true
            ON CONFLICT(value) DO NOTHING
            """)
        r.newStrings = db.changesCount
        try db.execute(sql: """
            DROP TABLE IF EXISTS temp.merge_strings;
            CREATE TEMP TABLE merge_strings (old INTEGER PRIMARY KEY, new INTEGER NOT NULL);
            INSERT INTO temp.merge_strings SELECT s.id, m.id FROM src.strings s JOIN main.strings m ON m.value = s.value;
            """)
        func s(_ column: String, _ table: String = "e") -> String {
            "(SELECT new FROM temp.merge_strings WHERE old = \(table).\(column))"
        }

        // Events, by identity: one the target holds already is left as it is (below, it
        // gains what only the source has, as an ingest merges late records).
        r.sourceEvents = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM src.events") ?? 0
        // Unless the source's copy tells another story: then the target's is kept whole (no
        // targets or command line lent to it) and the source's is recorded as a conflict,
        // as an ingest does (StoreTransaction.disagrees compares the same columns).
        try db.execute(sql: """
            DROP TABLE IF EXISTS temp.merge_conflicts;
            CREATE TEMP TABLE merge_conflicts (old INTEGER PRIMARY KEY, new INTEGER NOT NULL);
            INSERT INTO temp.merge_conflicts
            SELECT e.id, m.id FROM src.events e
            JOIN temp.merge_strings n ON n.old = e.node_id
            JOIN main.events m ON m.node_id = n.new AND m.sec = e.sec AND m.msec = e.msec AND m.serial = e.serial
            WHERE m.syscall IS NOT e.syscall OR m.signal IS NOT e.signal OR m.target_arg IS NOT e.target_arg
               OR m.sender_pid IS NOT e.sender_pid OR m.sender_comm_id IS NOT \(s("sender_comm_id"))
               OR m.sender_exe_id IS NOT \(s("sender_exe_id"));
            """)
        try db.execute(sql: """
            INSERT OR IGNORE INTO main.event_conflicts (event_id, syscall, signal, target_arg, sender_pid,
              sender_comm_id, sender_exe_id, target_pids)
            SELECT c.new, e.syscall, e.signal, e.target_arg, e.sender_pid, \(s("sender_comm_id")), \(s("sender_exe_id")),
              COALESCE((SELECT group_concat(pid, ',') FROM (SELECT t.pid FROM src.targets t WHERE t.event_id = e.id ORDER BY t.pid)), '')
            FROM temp.merge_conflicts c JOIN src.events e ON e.id = c.old ORDER BY c.old
            """)
        r.conflictingEvents = db.changesCount
        // A source older than migration 009 has no inline command line: its ids say it all.
        let inline = try Row.fetchAll(db, sql: "PRAGMA src.table_info(events)").contains { $0["name"] == "sender_cmdline" }
        let plain = ["sec", "msec", "serial", "arch", "syscall", "signal", "success", "exit", "target_arg",
                     "tgid_arg", "pidfd", "a0", "a1", "a2", "a3", "sender_pid", "sender_ppid", "sender_uid",
                     "sender_auid", "sender_euid", "sender_ses"] + (inline ? ["sender_cmdline"] : [])
        let interned = ["node_id", "arch_name_id", "syscall_name_id", "signal_name_id", "errno_id", "sender_tty_id",
                        "sender_comm_id", "sender_exe_id", "sender_cmdline_id", "sender_argv_id", "sender_subj_id",
                        "sender_uid_name_id", "sender_auid_name_id", "sender_euid_name_id", "key_id"]
        // Migration 017's encodings, whichever the source has: arch as signed 32-bit, and the
        // mark of the events found by the number the sender gave (a source without it has
        // every event indexed so; here it is worked out again).
        let arch = "CASE WHEN e.arch >= 2147483648 AND e.arch < 4294967296 THEN e.arch - 4294967296 ELSE e.arch END"
        let byTargetArg = """
            CASE WHEN e.target_arg IS NOT NULL AND (e.target_arg < 0
              OR (SELECT value FROM src.strings WHERE id = e.syscall_name_id)
                 IN (CAST('tkill' AS BLOB), CAST('tgkill' AS BLOB), CAST('rt_tgsigqueueinfo' AS BLOB))
              OR NOT EXISTS (SELECT 1 FROM src.targets t WHERE t.event_id = e.id)) THEN 1 END
            """
        try db.execute(sql: """
            INSERT INTO main.events (\((plain + interned).joined(separator: ", ")), by_target_arg)
            SELECT \((plain.map { $0 == "arch" ? arch : "e.\($0)" } + interned.map { s($0) }).joined(separator: ", ")),
              \(byTargetArg)
            FROM src.events e WHERE true ORDER BY e.id
            ON CONFLICT(node_id, sec, msec, serial) DO NOTHING
            """)
        r.newEvents = db.changesCount
        try db.execute(sql: """
            DROP TABLE IF EXISTS temp.merge_events;
            CREATE TEMP TABLE merge_events (old INTEGER PRIMARY KEY, new INTEGER NOT NULL UNIQUE);
            INSERT INTO temp.merge_events
            SELECT e.id, m.id FROM src.events e
            JOIN temp.merge_strings n ON n.old = e.node_id
            JOIN main.events m ON m.node_id = n.new AND m.sec = e.sec AND m.msec = e.msec AND m.serial = e.serial
            WHERE e.id NOT IN (SELECT old FROM temp.merge_conflicts);
            """)
        try copyConflicts(db, s)
        // The first complete copy wins, as in ingest: an event without a command line takes
        // the source's, in whichever form the source holds it.
        let sourceInline = inline ? "e.sender_cmdline" : "NULL"
        try db.execute(sql: """
            UPDATE main.events AS m SET
              sender_cmdline = (SELECT \(sourceInline) FROM temp.merge_events me
                JOIN src.events e ON e.id = me.old WHERE me.new = m.id),
              sender_cmdline_id = (SELECT \(s("sender_cmdline_id")) FROM temp.merge_events me
                JOIN src.events e ON e.id = me.old WHERE me.new = m.id),
              sender_argv_id = (SELECT \(s("sender_argv_id")) FROM temp.merge_events me
                JOIN src.events e ON e.id = me.old WHERE me.new = m.id)
            WHERE m.sender_cmdline IS NULL AND m.sender_cmdline_id IS NULL
              AND EXISTS (SELECT 1 FROM temp.merge_events me JOIN src.events e ON e.id = me.old WHERE me.new = m.id
                AND (\(sourceInline) IS NOT NULL OR e.sender_cmdline_id IS NOT NULL))
            """)
        r.completedEvents = db.changesCount
        try db.execute(sql: """
            INSERT INTO main.targets (event_id, pid, uid, auid, ses, comm_id, obj_id, uid_name_id, auid_name_id,
              signal, failed, time_ms)
            SELECT me.new, t.pid, t.uid, t.auid, t.ses, \(s("comm_id", "t")), \(s("obj_id", "t")),
              \(s("uid_name_id", "t")), \(s("auid_name_id", "t")), m.signal, m.failed, m.sec * 1000 + m.msec
            FROM src.targets t JOIN temp.merge_events me ON me.old = t.event_id
            JOIN main.events m ON m.id = me.new WHERE true
            ON CONFLICT(event_id, pid) DO NOTHING
            """)
        r.newTargets = db.changesCount

        try db.execute(sql: """
            INSERT INTO main.daemon_events (node_id, sec, msec, serial, type, op, fields)
            SELECT \(s("node_id", "d")), d.sec, d.msec, d.serial, d.type, d.op, d.fields FROM src.daemon_events d WHERE true
            ON CONFLICT DO NOTHING
            """)
        r.newDaemonRecords = db.changesCount
        try db.execute(sql: """
            INSERT INTO main.serial_gaps (node_id, after_sec, after_msec, after_serial, before_sec, before_msec,
              before_serial, missing)
            SELECT \(s("node_id", "g")), g.after_sec, g.after_msec, g.after_serial, g.before_sec, g.before_msec,
              g.before_serial, g.missing FROM src.serial_gaps g WHERE true
            ON CONFLICT DO NOTHING
            """)
        r.newSerialGaps = db.changesCount
        try copyKernelKills(db, s, into: &r)
        try copyExecs(db, s, into: &r)
        // Checkpoints and serial cursors are not copied: they say where this database's own
        // reading of its own logs stands, which another database's say nothing about.

        let runs = try copyCoverage(db, marker: marker, into: &r)
        try copyTrace(db, runs: runs, into: &r)
        try db.execute(sql: "DROP TABLE temp.merge_strings; DROP TABLE temp.merge_events; DROP TABLE temp.merge_conflicts")
        return r
    }

    /// The conflicts the source recorded (migration 006) for events both hold, unless one is
    /// the target's own copy (the source kept the other first). A source older than 006 has none.
    private static func copyConflicts(_ db: Database, _ s: (String, String) -> String) throws {
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM src.sqlite_master WHERE name = 'event_conflicts')") == true else {
            return
        }
        try db.execute(sql: """
            INSERT OR IGNORE INTO main.event_conflicts (event_id, syscall, signal, target_arg, sender_pid,
              sender_comm_id, sender_exe_id, target_pids)
            SELECT m.id, x.syscall, x.signal, x.target_arg, x.sender_pid, \(s("sender_comm_id", "x")), \(s("sender_exe_id", "x")),
              x.target_pids
            FROM src.event_conflicts x
            JOIN (SELECT old, new FROM temp.merge_events UNION ALL SELECT old, new FROM temp.merge_conflicts) me ON me.old = x.event_id
            JOIN main.events m ON m.id = me.new
            WHERE m.syscall IS NOT x.syscall OR m.signal IS NOT x.signal OR m.target_arg IS NOT x.target_arg
               OR m.sender_pid IS NOT x.sender_pid OR m.sender_comm_id IS NOT \(s("sender_comm_id", "x"))
               OR m.sender_exe_id IS NOT \(s("sender_exe_id", "x"))
            ORDER BY x.id
            """)
    }

    /// The execve events kept for ancestry (migration 011; 016 keyed them by pid, with the same
    /// columns). An execve is one event of its host: one the target holds is held already.
    private static func copyExecs(_ db: Database, _ s: (String, String) -> String, into r: inout MergeResult) throws {
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM src.sqlite_master WHERE name = 'process_execs')") == true else {
            return
        }
        try db.execute(sql: """
            INSERT OR IGNORE INTO main.process_execs (node_id, pid, sec, msec, serial, ppid, comm_id, exe_id, argv_id)
            SELECT \(s("node_id", "x")), x.pid, x.sec, x.msec, x.serial, x.ppid, \(s("comm_id", "x")), \(s("exe_id", "x")),
              \(s("argv_id", "x"))
            FROM src.process_execs x ORDER BY 1, 2, 3, 4, 5
            """)
        r.newExecs = db.changesCount
    }

    /// Kernel kills (migration 002) by their entries' identities: a kill any of whose log
    /// entries the target holds is held already. A source older than 002 has none.
    private static func copyKernelKills(_ db: Database, _ s: (String, String) -> String, into r: inout MergeResult) throws {
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM src.sqlite_master WHERE name = 'kernel_kill_events')") == true else {
            return
        }
        let new = try Int64.fetchAll(db, sql: """
            SELECT k.id FROM src.kernel_kill_events k WHERE NOT EXISTS (
              SELECT 1 FROM src.kernel_kill_entries se JOIN main.kernel_kill_entries me ON me.identity = se.identity
              WHERE se.kill_id = k.id)
            ORDER BY k.id
            """)
        // Whether the source proved who wrote each entry (migration 014); an older source is
        // judged as the migration judges it.
        func has(_ table: String, _ column: String) throws -> Bool {
            try Row.fetchAll(db, sql: "PRAGMA src.table_info(\(table))").contains { $0["name"] as String? == column }
        }
        let killVerified = try has("kernel_kill_events", "verified") ? "k.verified" : """
            CASE WHEN k.source IN ('syslog', 'dmesg') AND NOT EXISTS (SELECT 1 FROM src.kernel_kill_entries e
              WHERE e.kill_id = k.id AND (e.identity GLOB 'kmsg:*' OR e.identity GLOB 'journal:*' OR e.identity GLOB 'audit:*'))
            THEN 0 ELSE 1 END
            """
        let actionVerified = try has("systemd_actions", "verified") ? "a.verified"
            : "CASE WHEN a.identity GLOB 'syslog:*' OR a.identity GLOB 'dmesg:*' THEN 0 ELSE 1 END"
        for old in new {
            try db.execute(sql: """
                INSERT INTO main.kernel_kill_events (node_id, time, source, kind, pid, comm_id, exe_id, uid, signal,
                  cgroup_id, limit_cgroup_id, "constraint", syscall, arch, details, message_id, verified)
                SELECT \(s("node_id", "k")), k.time, k.source, k.kind, k.pid, \(s("comm_id", "k")), \(s("exe_id", "k")),
                  k.uid, k.signal, \(s("cgroup_id", "k")), \(s("limit_cgroup_id", "k")), k."constraint", k.syscall, k.arch,
                  k.details, \(s("message_id", "k")), \(killVerified)
                FROM src.kernel_kill_events k WHERE k.id = ?
                """, arguments: [old])
            let id = db.lastInsertedRowID
            try db.execute(sql: """
                INSERT INTO main.kernel_kill_entries (identity, kill_id)
                SELECT identity, ? FROM src.kernel_kill_entries WHERE kill_id = ? ON CONFLICT DO NOTHING
                """, arguments: [id, old])
        }
        r.newKernelKills = new.count
        try db.execute(sql: """
            INSERT INTO main.systemd_actions (node_id, time, kind, unit_id, pid, comm_id, signal, cgroup_id, reason,
              message_id, identity, verified)
            SELECT \(s("node_id", "a")), a.time, a.kind, \(s("unit_id", "a")), a.pid, \(s("comm_id", "a")), a.signal,
              \(s("cgroup_id", "a")), a.reason, \(s("message_id", "a")), a.identity, \(actionVerified)
            FROM src.systemd_actions a WHERE true
            ON CONFLICT(identity) DO NOTHING
            """)
        r.newSystemdActions = db.changesCount
    }

    /// Copies the source's ingest runs with their file reads and node spans. A run is
    /// recognised by when it started, where and by which version; a copy made by an earlier
    /// merge is refreshed when the source's run has moved on (it was still running), and a
    /// run this database made itself (read back from a database it was merged into) is left alone.
    /// Returns where each of the source's runs is here (copied, or found already held).
    private static func copyCoverage(_ db: Database, marker: String, into r: inout MergeResult) throws -> [Int64: Int64] {
        var runs: [Int64: Int64] = [:]
        var runColumns = ["started_at", "finished_at", "status", "killdb_version", "hostname", "files", "bytes",
                          "lines", "bad_lines", "signal_events", "new_events"]
        // A source older than migration 006 has no count of conflicts.
        if try Row.fetchAll(db, sql: "PRAGMA src.table_info(ingest_runs)").contains(where: { $0["name"] as String? == "conflicting_events" }) {
            runColumns.append("conflicting_events")
        }
        let readColumns = ["path", "device", "inode", "start_offset", "end_offset", "lines", "records", "events",
                           "signal_events", "bad_lines", "first_event_time", "last_event_time"]
        let markerData = Data(marker.utf8)
        for run in try Row.fetchAll(db, sql: "SELECT * FROM src.ingest_runs ORDER BY id") {
            let sourceReads = try Row.fetchAll(db, sql: "SELECT * FROM src.file_reads WHERE run_id = ? ORDER BY id",
                                               arguments: [run["id"]])
            let existing = try Row.fetchOne(db, sql: """
                SELECT * FROM main.ingest_runs WHERE started_at = ? AND killdb_version = ? AND hostname IS ?
                """, arguments: [run["started_at"], run["killdb_version"], run["hostname"]])
            if let existing {
                let id: Int64 = existing["id"]
                runs[run["id"]] = id
                // This database's own run, not a copy of the source's.
                if existing["kind"] as String? != RunKind.merge.rawValue { continue }
                let copies = try Row.fetchAll(db, sql: "SELECT * FROM main.file_reads WHERE run_id = ? ORDER BY id",
                                              arguments: [id])
                let sameRun = runColumns.allSatisfy { existing[$0] as DatabaseValue == run[$0] as DatabaseValue }
                let sameReads = copies.count == sourceReads.count && zip(copies, sourceReads).allSatisfy { c, s in
                    readColumns.dropFirst().allSatisfy { c[$0] as DatabaseValue == s[$0] as DatabaseValue }
                }
                if sameRun && sameReads { continue }
                // A run with no reads cannot be told from our own: refresh it only while unfinished.
                if copies.isEmpty && existing["finished_at"] as Double? != nil { continue }
                try db.execute(sql: "DELETE FROM main.file_reads WHERE run_id = ?", arguments: [id])
                try db.execute(sql: """
                    UPDATE main.ingest_runs SET \(runColumns.map { "\($0) = ?" }.joined(separator: ", ")) WHERE id = ?
                    """, arguments: StatementArguments(runColumns.map { run[$0] as DatabaseValue } + [id.databaseValue]))
                try copyReads(db, sourceReads, run: id, markerData: markerData, columns: readColumns, into: &r)
            } else {
                try db.execute(sql: """
                    INSERT INTO main.ingest_runs (kind, \(runColumns.joined(separator: ", ")))
                    VALUES (?, \(runColumns.map { _ in "?" }.joined(separator: ", ")))
                    """, arguments: StatementArguments([RunKind.merge.rawValue.databaseValue] + runColumns.map { run[$0] as DatabaseValue }))
                let id = db.lastInsertedRowID
                runs[run["id"]] = id
                try copyReads(db, sourceReads, run: id, markerData: markerData, columns: readColumns, into: &r)
            }
            r.copiedRuns += 1
        }
        return runs
    }

    /// The tracer's sessions, their losses and records (migration 005). A session is known
    /// by its node, boot and start, so one already held (merged before, or read back from a
    /// database it was merged into) is the same session: it gains the source's later totals
    /// and only the records it lacks. Records are copied column by column as both databases
    /// have them, every string re-interned, so columns later migrations add come along.
    private static func copyTrace(_ db: Database, runs: [Int64: Int64], into r: inout MergeResult) throws {
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM src.sqlite_master WHERE name = 'traced_signal_records')") == true,
              try db.tableExists("traced_signal_records") else { return }
        let mainColumns = try Row.fetchAll(db, sql: "PRAGMA main.table_info(traced_signal_records)").map { $0["name"] as String }
        let sourceColumns = Set(try Row.fetchAll(db, sql: "PRAGMA src.table_info(traced_signal_records)").map { $0["name"] as String })
        let stringColumns = Set(try Row.fetchAll(db, sql: "PRAGMA main.foreign_key_list(traced_signal_records)")
            .filter { $0["table"] as String == "strings" }.map { $0["from"] as String })
        let columns = mainColumns.filter { $0 != "id" && $0 != "session_id" && sourceColumns.contains($0) }
        let values = columns.map { c in
            stringColumns.contains(c) ? "(SELECT new FROM temp.merge_strings WHERE old = t.\(c))" : "t.\(c)"
        }
        let insertRecords = """
            INSERT INTO main.traced_signal_records (session_id, \(columns.joined(separator: ", ")))
            SELECT ?, \(values.joined(separator: ", ")) FROM src.traced_signal_records t WHERE t.session_id = ? ORDER BY t.id
            ON CONFLICT DO NOTHING
            """
        for session in try Row.fetchAll(db, sql: "SELECT * FROM src.trace_sessions ORDER BY run_id") {
            let old: Int64 = session["run_id"]
            let node = try Int64.fetchOne(db, sql: "SELECT new FROM temp.merge_strings WHERE old = ?", arguments: [session["node_id"]])
            let held = try Int64.fetchOne(db, sql: """
                SELECT run_id FROM main.trace_sessions WHERE node_id = ? AND boot_id = ? AND started_at = ?
                """, arguments: [node, session["boot_id"], session["started_at"]])
            let id: Int64
            if let held {
                id = held
                try db.execute(sql: """
                    UPDATE main.trace_sessions SET last_active_at = max(last_active_at, ?),
                      finished_at = COALESCE(finished_at, ?), records = max(records, ?), lost = max(lost, ?)
                    WHERE run_id = ?
                    """, arguments: [session["last_active_at"], session["finished_at"], session["records"], session["lost"], id])
            } else {
                guard let run = runs[old], let node else { continue }
                id = run
                try db.execute(sql: """
                    INSERT INTO main.trace_sessions (run_id, node_id, boot_id, boot_time, signals, started_at,
                      last_active_at, finished_at, records, lost)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [id, node, session["boot_id"], session["boot_time"], session["signals"],
                                     session["started_at"], session["last_active_at"], session["finished_at"],
                                     session["records"], session["lost"]])
                r.newTraceSessions += 1
            }
            try db.execute(sql: """
                INSERT INTO main.trace_losses (session_id, from_time, to_time, lost)
                SELECT ?, from_time, to_time, lost FROM src.trace_losses WHERE session_id = ?
                ON CONFLICT DO NOTHING
                """, arguments: [id, old])
            try db.execute(sql: insertRecords, arguments: [id, old])
            r.newTracedSignals += db.changesCount
        }
    }

    private static func copyReads(_ db: Database, _ reads: [Row], run: Int64, markerData: Data, columns: [String],
                                  into r: inout MergeResult) throws {
        for read in reads {
            var values = columns.map { read[$0] as DatabaseValue }
            let original = (read["path"] as Data?) ?? Data()
            values[0] = (markerData + original).databaseValue
            try db.execute(sql: """
                INSERT INTO main.file_reads (run_id, \(columns.joined(separator: ", ")))
                VALUES (?, \(columns.map { _ in "?" }.joined(separator: ", ")))
                """, arguments: StatementArguments([run.databaseValue] + values))
            let id = db.lastInsertedRowID
            try db.execute(sql: """
                INSERT INTO main.node_spans (file_read_id, node_id, first_event_time, last_event_time, records)
                SELECT ?, (SELECT new FROM temp.merge_strings WHERE old = n.node_id), n.first_event_time,
                  n.last_event_time, n.records
                FROM src.node_spans n WHERE n.file_read_id = ?
                """, arguments: [id, read["id"]])
            r.copiedFileReads += 1
        }
    }
}
