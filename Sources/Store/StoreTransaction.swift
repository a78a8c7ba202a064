import AuditDecoding
import AuditLog
import Foundation
import GRDB
import ProcessContext
import KernelLog
import Pipeline

/// Where reading of one log file stopped, and how to recognise that file again.
public struct Checkpoint: Sendable, Equatable {
    public var rowID: Int64?
    public var device: UInt64
    public var inode: UInt64
    public var fingerprint: Fingerprint
    public var offset: Int64
    public var path: String

    public init(rowID: Int64? = nil, device: UInt64, inode: UInt64, fingerprint: Fingerprint, offset: Int64, path: String) {
        self.rowID = rowID
        self.device = device
        self.inode = inode
        self.fingerprint = fingerprint
        self.offset = offset
        self.path = path
    }
}

/// What storing one event did.
public enum EventOutcome: Sendable, Equatable {
    case inserted
    /// The event was already stored; records it lacked were added (or nothing was new).
    case merged
    /// Later records (OBJ_PID, PROCTITLE) of an event the database does not hold.
    case orphan
    /// Another copy of a stored event that disagrees with it (sender, signal, target): the
    /// stored copy is kept unchanged and this one is recorded in event_conflicts.
    case conflict
}

/// What storing one batch did.
public struct StoredBatch: Sendable, Equatable {
    public var newEvents = 0
    /// Events already stored (records they lacked were added).
    public var mergedEvents = 0
    /// Later records of events the database does not hold.
    public var orphanRecords = 0
    /// Copies of stored events that disagreed with them (kept in event_conflicts).
    public var conflictingEvents = 0
    public var newKernelKills = 0
    public var newSystemdActions = 0
    public var newTracedSignals = 0
    /// USER records that read like the tracer's but are not (another uid or program).
    public var unverifiedTraceMessages = 0
    public init() {}
}

/// Totals of one file read, as the `file_reads` table keeps them.
public struct FileRead: Sendable {
    public var path: String
    public var device: UInt64
    public var inode: UInt64
    public var startOffset: Int64
    public var endOffset: Int64
    public var coverage: FileCoverage

    public init(path: String, device: UInt64, inode: UInt64, startOffset: Int64, endOffset: Int64, coverage: FileCoverage) {
        self.path = path
        self.device = device
        self.inode = inode
        self.startOffset = startOffset
        self.endOffset = endOffset
        self.coverage = coverage
    }
}

/// What wrote an `ingest_runs` row: the `kind` column.
public enum RunKind: String, Sendable, CaseIterable {
    /// `killdb ingest` of audit log files (and kernel logs).
    case ingest
    /// `killdb plugin`: the stream auditd hands over; one run per database session.
    case plugin
    /// A run copied from another database by `killdb merge`.
    case merge
    /// `killdb trace`: the kernel tracer's records.
    case trace
}

/// Where a run stands: the `status` column.
public enum RunStatus: String, Sendable, CaseIterable {
    case running, complete, failed
    /// Found still running by the next run of its kind: it was killed.
    case interrupted

    public var isFinished: Bool { self != .running }
}

/// Totals of one ingest run.
public struct RunTotals: Sendable, Equatable {
    public var files = 0
    public var bytes: Int64 = 0
    public var lines = 0
    public var badLines = 0
    public var signalEvents = 0
    public var newEvents = 0
    /// Copies of stored events that disagreed with them.
    public var conflictingEvents = 0
    public init() {}
}

/// The writes of one transaction. Everything here is idempotent: storing the same records
/// again, in any order, changes nothing.
public struct StoreTransaction {
    let db: Database
    let store: SignalStore

    // MARK: batches

    /// Stores everything one batch of the pipeline holds. The caller's transaction also
    /// holds the checkpoint and run-row updates that go with it. The tracer's records need
    /// the session they belong to.
    public func store(_ batch: EventBatch, trace: TraceSession? = nil, podLogs: PodLogs? = nil) throws -> StoredBatch {
        var out = StoredBatch()
        var statements = try EventStatements(db)
        for event in batch.events {
            switch try store(event, &statements) {
            case .inserted: out.newEvents += 1
            case .merged: out.mergedEvents += 1
            case .orphan: out.orphanRecords += 1
            case .conflict: out.conflictingEvents += 1
            }
        }
        for record in batch.daemonRecords { try store(record) }
        for kill in batch.kernelKills where try store(kill) == .inserted { out.newKernelKills += 1 }
        for action in batch.systemdActions where try store(action) { out.newSystemdActions += 1 }
        if !batch.execs.isEmpty { try store(batch.execs) }
        for gap in batch.serialGaps { try store(gap) }
        if !batch.tracedSignals.isEmpty || !batch.traceLosses.isEmpty {
            guard let trace else { throw StoreError.sqlite("tracer records without their trace session") }
            out.newTracedSignals = try store(batch.tracedSignals, session: trace, podLogs: podLogs)
            for loss in batch.traceLosses { try recordTraceLoss(loss, session: trace) }
        }
        if !batch.forwardedTrace.isEmpty { out.newTracedSignals += try store(forwarded: batch.forwardedTrace) }
        if !batch.traceWriters.isEmpty { try store(traceWriters: batch.traceWriters) }
        if !batch.unverifiedTraceMessages.isEmpty {
            out.unverifiedTraceMessages += try store(unverified: batch.unverifiedTraceMessages)
        }
        return out
    }

    // MARK: events

    /// The statements storing events runs per event, looked up once per batch (targets: TargetRows).
    struct EventStatements {
        var find: BoundStatement
        var insert: BoundStatement
        var complete: BoundStatement

        init(_ db: Database) throws {
            find = try BoundStatement(db, "SELECT id FROM events WHERE node_id = ? AND sec = ? AND msec = ? AND serial = ?")
            insert = try BoundStatement(db, """
                INSERT INTO events (node_id, sec, msec, serial, arch, arch_name_id, syscall, syscall_name_id,
                  signal, signal_name_id, success, exit, errno_id, target_arg, tgid_arg, pidfd,
                  a0, a1, a2, a3, sender_pid, sender_ppid, sender_uid, sender_auid, sender_euid, sender_ses,
                  sender_tty_id, sender_comm_id, sender_exe_id, sender_cmdline, sender_cmdline_id, sender_argv_id,
                  sender_subj_id, sender_uid_name_id, sender_auid_name_id, sender_euid_name_id, key_id, by_target_arg)
                VALUES (\(Array(repeating: "?", count: 38).joined(separator: ",")))
                """)
            // The first copy of a PROCTITLE wins: a later one fills only an event that has none.
            complete = try BoundStatement(db, """
                UPDATE events SET sender_cmdline = ?, sender_cmdline_id = ?, sender_argv_id = ?
                WHERE id = ? AND sender_cmdline IS NULL AND sender_cmdline_id IS NULL
                """)
        }
    }

    /// A target's 32-bit audit id as stored (migration 009): 4294967295, unset, is -1 (one
    /// byte, not six); the `signals` view gives back the unsigned number.
    static func signed32(_ id: Int64) -> Int64 {
        (2_147_483_648...4_294_967_295).contains(id) ? id - 4_294_967_296 : id
    }

    /// Whether a question must find this event by the number the sender gave (events_target_arg,
    /// migration 017): a process group or every process, a thread (the kernel logs its process),
    /// or no process reached. Any other event is found by the process it reached.
    static func foundByTargetArgument(_ call: SignalCall, reachedAny: Bool) -> Bool {
        guard let arg = call.targetArgument else { return false }
        switch call.syscall {
        case .tkill, .tgkill, .rt_tgsigqueueinfo: return true
        case .kill, .rt_sigqueueinfo, .pidfd_send_signal: return arg < 0 || !reachedAny
        }
    }

    /// A command line this short is stored in the event's row (migration 009).
    static let inlineCommandLine = 32

    /// How an event's PROCTITLE is stored (migration 009): the command line (arguments
    /// joined by spaces) inline when short, else interned; the argv bytes only when they
    /// cannot be told from it (an argument holding a space, NULs at the end).
    func commandLineColumns(_ proctitle: [UInt8]) throws -> (inline: [UInt8]?, id: Int64?, argv: Int64?) {
        let cmdline = AuditField.commandLine(proctitle)
        let recoverable = proctitle.last != 0 && !proctitle.contains(0x20)
        let argv = recoverable ? nil : try store.intern(proctitle, db)
        if cmdline.count <= Self.inlineCommandLine { return (cmdline, nil, argv) }
        return (nil, try store.intern(cmdline, db), argv)
    }

    public func store(_ event: SignalEvent) throws -> EventOutcome {
        var statements = try EventStatements(db)
        return try store(event, &statements)
    }

    func store(_ event: SignalEvent, _ st: inout EventStatements) throws -> EventOutcome {
        let nodeID = try store.intern(name: event.id.node, db)
        st.find.begin()
        st.find.bind(nodeID)
        st.find.bind(event.id.seconds)
        st.find.bind(event.id.milliseconds)
        st.find.bind(event.id.serial)
        let existing = try st.find.run(db)
        let s = event.sender
        func id(_ b: [UInt8]?) throws -> Int64? { try b.map { try store.intern($0, db) } }
        let command = try s.proctitle.map(commandLineColumns)
        let rowID: Int64
        let outcome: EventOutcome
        let signal: Int32?
        let failed: Int64
        let timeMS: Int64
        if let existing {
            rowID = existing
            outcome = .merged
            if let call = event.call, try disagrees(existing, call, s) {
                return try recordConflict(existing, event)
            }
            if let command {
                st.complete.begin()
                st.complete.bind(command.inline)
                st.complete.bind(command.id)
                st.complete.bind(command.argv)
                st.complete.bind(rowID)
                try st.complete.run(db)
            }
            guard !event.targets.isEmpty else { return outcome }
            let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT signal, failed, sec * 1000 + msec AS t FROM events WHERE id = ?"),
                                       arguments: [rowID])
            signal = row?["signal"]
            failed = row?["failed"] ?? 0
            timeMS = row?["t"] ?? 0
        } else {
            guard let call = event.call else { return .orphan }
            let arch = try store.intern(name: call.arch.name, db)
            let syscall = try store.intern(name: call.syscall.rawValue, db)
            let signalName = try call.signal.map { try store.intern(name: call.arch.signalName($0), db) }
            let errnoName = try call.exit.flatMap(AuditField.errnoName).map { try store.intern(name: $0, db) }
            func argument(_ i: Int) -> Int64 { i < call.arguments.count ? Int64(bitPattern: call.arguments[i]) : 0 }
            // Migration 017: a0 and a1 only when they say more than the decoded columns.
            let a0 = argument(0), a1 = argument(1)
            let named = call.threadGroupArgument ?? call.targetArgument ?? call.pidfd
            var q = st.insert
            q.begin()
            q.bind(nodeID); q.bind(event.id.seconds); q.bind(event.id.milliseconds); q.bind(event.id.serial)
            q.bind(Self.signed32(Int64(call.arch.code))); q.bind(arch); q.bind(call.syscallNumber); q.bind(syscall)
            q.bind(call.signal); q.bind(signalName); q.bind(call.success.map { $0 ? 1 : 0 } as Int64?); q.bind(call.exit)
            q.bind(errnoName)
            q.bind(call.targetArgument); q.bind(call.threadGroupArgument); q.bind(call.pidfd)
            q.bind(a0 == named ? nil : a0); q.bind(call.signal.map(Int64.init) == a1 ? nil : a1)
            q.bind(argument(2)); q.bind(argument(3))
            q.bind(s.pid); q.bind(s.ppid); q.bind(s.uid); q.bind(s.auid); q.bind(s.euid); q.bind(s.ses)
            q.bind(try id(s.tty)); q.bind(try id(s.comm)); q.bind(try id(s.exe))
            q.bind(command?.inline); q.bind(command?.id); q.bind(command?.argv)
            q.bind(try id(s.subject)); q.bind(try id(s.uidName)); q.bind(try id(s.auidName)); q.bind(try id(s.euidName))
            q.bind(try id(event.key))
            q.bind(Self.foundByTargetArgument(call, reachedAny: !event.targets.isEmpty) ? 1 : nil as Int64?)
            try q.run(db)
            st.insert = q
            rowID = db.lastInsertedRowID
            outcome = .inserted
            signal = call.signal
            failed = call.success == false ? 1 : 0
            timeMS = event.id.seconds * 1000 + Int64(event.id.milliseconds)
        }
        try storeTargets(event.targets, event: rowID, signal: signal.map(Int64.init), failed: failed, timeMS: timeMS)
        return outcome
    }

    /// Whether `call` and `sender` tell another story than the stored event `rowID`.
    func disagrees(_ rowID: Int64, _ call: SignalCall, _ s: SignalSender) throws -> Bool {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT e.syscall, e.signal, e.target_arg, e.sender_pid, c.value AS comm, x.value AS exe
            FROM events e LEFT JOIN strings c ON c.id = e.sender_comm_id LEFT JOIN strings x ON x.id = e.sender_exe_id
            WHERE e.id = ?
            """), arguments: [rowID]) else { return false }
        func bytes(_ column: String) -> [UInt8]? { (row[column] as Data?).map { [UInt8]($0) } }
        return row["syscall"] as Int64? != Int64(call.syscallNumber)
            || row["signal"] as Int64? != call.signal.map(Int64.init)
            || row["target_arg"] as Int64? != call.targetArgument
            || row["sender_pid"] as Int64? != s.pid
            || bytes("comm") != s.comm || bytes("exe") != s.exe
    }

    private func recordConflict(_ rowID: Int64, _ event: SignalEvent) throws -> EventOutcome {
        func id(_ b: [UInt8]?) throws -> Int64? { try b.map { try store.intern($0, db) } }
        let pids = event.targets.map { String($0.pid) }.joined(separator: ",")
        try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO event_conflicts (event_id, syscall, signal, target_arg, sender_pid,
              sender_comm_id, sender_exe_id, target_pids) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [rowID, event.call?.syscallNumber, event.call?.signal, event.call?.targetArgument,
                                     event.sender.pid, try id(event.sender.comm), try id(event.sender.exe), pids])
        return db.changesCount > 0 ? .conflict : .merged
    }

    // MARK: coverage

    public func store(_ record: DaemonRecord) throws {
        try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO daemon_events (node_id, sec, msec, serial, type, op, fields)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [try store.intern(Array(record.id.node.utf8), db), record.id.seconds,
                                     record.id.milliseconds, Int64(record.id.serial), record.type, record.op,
                                     Data(record.body)])
    }

    public func store(_ gap: SerialGap) throws {
        try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO serial_gaps (node_id, after_sec, after_msec, after_serial,
              before_sec, before_msec, before_serial, missing) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [try store.intern(Array(gap.after.node.utf8), db),
                                     gap.after.seconds, gap.after.milliseconds, Int64(gap.after.serial),
                                     gap.before.seconds, gap.before.milliseconds, Int64(gap.before.serial),
                                     Int64(gap.missing)])
    }

    public func saveSerialCursors(_ cursors: [String: EventID]) throws {
        for (node, id) in cursors {
            try db.cachedStatement(sql: """
                INSERT INTO serial_cursors (node_id, sec, msec, serial) VALUES (?, ?, ?, ?)
                ON CONFLICT(node_id) DO UPDATE SET sec = excluded.sec, msec = excluded.msec, serial = excluded.serial
                WHERE excluded.sec > serial_cursors.sec
                   OR (excluded.sec = serial_cursors.sec AND excluded.msec >= serial_cursors.msec)
                """).execute(arguments: [try store.intern(Array(node.utf8), db), id.seconds, id.milliseconds, Int64(id.serial)])
        }
    }

    /// Inserts (rowID nil) or updates one file read; returns its row id.
    public func save(_ read: FileRead, run: Int64, rowID: Int64?) throws -> Int64 {
        let c = read.coverage
        let values: [(any DatabaseValueConvertible)?] = [
            run, Data(read.path.utf8), Int64(bitPattern: read.device), Int64(bitPattern: read.inode),
            read.startOffset, read.endOffset, c.lines, c.records, c.events, c.signalEvents, c.badLines,
            c.firstEventTime, c.lastEventTime,
        ]
        let id: Int64
        if let rowID {
            try db.execute(sql: """
                UPDATE file_reads SET run_id = ?, path = ?, device = ?, inode = ?, start_offset = ?, end_offset = ?,
                  lines = ?, records = ?, events = ?, signal_events = ?, bad_lines = ?,
                  first_event_time = ?, last_event_time = ? WHERE id = \(rowID)
                """, arguments: StatementArguments(values))
            id = rowID
        } else {
            try db.execute(sql: """
                INSERT INTO file_reads (run_id, path, device, inode, start_offset, end_offset, lines, records,
                  events, signal_events, bad_lines, first_event_time, last_event_time)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: StatementArguments(values))
            id = db.lastInsertedRowID
        }
        for (node, span) in c.nodes {
            try db.execute(sql: """
                INSERT INTO node_spans (file_read_id, node_id, first_event_time, last_event_time, records)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(file_read_id, node_id) DO UPDATE SET first_event_time = excluded.first_event_time,
                  last_event_time = excluded.last_event_time, records = excluded.records
                """, arguments: [id, try store.intern(Array(node.utf8), db), span.first, span.last, span.records])
        }
        return id
    }

    // MARK: checkpoints

    /// Saves `checkpoint`; returns its row id.
    public func save(_ checkpoint: Checkpoint) throws -> Int64 {
        let values: [(any DatabaseValueConvertible)?] = [
            Int64(bitPattern: checkpoint.device), Int64(bitPattern: checkpoint.inode),
            checkpoint.fingerprint.length, checkpoint.fingerprint.hash, checkpoint.offset,
            Data(checkpoint.path.utf8), Date().timeIntervalSince1970,
        ]
        // Another row may already claim this fingerprint (a copy of the file read earlier):
        // one row per content is enough.
        if let rowID = checkpoint.rowID {
            try db.execute(sql: """
                DELETE FROM checkpoints WHERE fingerprint_length = ? AND fingerprint = ? AND id != ?
                """, arguments: [checkpoint.fingerprint.length, checkpoint.fingerprint.hash, rowID])
            try db.execute(sql: """
                UPDATE checkpoints SET device = ?, inode = ?, fingerprint_length = ?, fingerprint = ?, offset = ?,
                  path = ?, updated_at = ? WHERE id = \(rowID)
                """, arguments: StatementArguments(values))
            if db.changesCount > 0 { return rowID }
        }
        try db.execute(sql: """
            INSERT INTO checkpoints (device, inode, fingerprint_length, fingerprint, offset, path, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(fingerprint_length, fingerprint) DO UPDATE SET device = excluded.device,
              inode = excluded.inode, offset = MAX(offset, excluded.offset), path = excluded.path,
              updated_at = excluded.updated_at
            """, arguments: StatementArguments(values))
        return try Int64.fetchOne(db, sql: "SELECT id FROM checkpoints WHERE fingerprint_length = ? AND fingerprint = ?",
                                  arguments: [checkpoint.fingerprint.length, checkpoint.fingerprint.hash])!
    }

    // MARK: runs

    public func beginRun(_ kind: RunKind, version: String, hostname: String?) throws -> Int64 {
        try db.execute(sql: """
            INSERT INTO ingest_runs (kind, started_at, status, killdb_version, hostname) VALUES (?, ?, ?, ?, ?)
            """, arguments: [kind.rawValue, Date().timeIntervalSince1970, RunStatus.running.rawValue, version, hostname])
        return db.lastInsertedRowID
    }

    /// Runs of `kinds` still marked running were killed. File ingests and merges (under the
    /// ingest lock) and the auditd plugin (one process at a time) each mark only their own.
    public func markInterruptedRuns(_ kinds: [RunKind]) throws {
        try db.execute(sql: """
            UPDATE ingest_runs SET status = ? WHERE status = ? AND kind IN (\(kinds.map { _ in "?" }.joined(separator: ", ")))
            """, arguments: StatementArguments([RunStatus.interrupted.rawValue, RunStatus.running.rawValue] + kinds.map(\.rawValue)))
    }

    public func updateRun(_ id: Int64, totals: RunTotals, status: RunStatus) throws {
        try db.execute(sql: """
            UPDATE ingest_runs SET status = ?, finished_at = ?, files = ?, bytes = ?, lines = ?, bad_lines = ?,
              signal_events = ?, new_events = ?, conflicting_events = ? WHERE id = ?
            """, arguments: [status.rawValue, status.isFinished ? Date().timeIntervalSince1970 : nil, totals.files,
                             totals.bytes, totals.lines, totals.badLines, totals.signalEvents, totals.newEvents,
                             totals.conflictingEvents, id])
    }
}

extension SignalStore {
    /// The checkpoint of the file open as `fd`, if it was read before under any name: found
    /// by its first bytes (`fingerprint`, as `LogFileReader` took it), or by device and inode
    /// when it has grown past the bytes it was fingerprinted by. nil when the file is new, or
    /// was truncated or replaced.
    public func checkpoint(for file: LogFile, fingerprint: Fingerprint?, fd: Int32) throws(StoreError) -> Checkpoint? {
        try read { db -> Checkpoint? in
            func row(_ r: Row) -> Checkpoint {
                Checkpoint(rowID: r["id"], device: UInt64(bitPattern: r["device"]), inode: UInt64(bitPattern: r["inode"]),
                           fingerprint: Fingerprint(length: r["fingerprint_length"], hash: r["fingerprint"]),
                           offset: r["offset"], path: String(decoding: (r["path"] as Data?) ?? Data(), as: UTF8.self))
            }
            if let fp = fingerprint,
               let r = try Row.fetchOne(db, sql: "SELECT * FROM checkpoints WHERE fingerprint_length = ? AND fingerprint = ?",
                                        arguments: [fp.length, fp.hash]) {
                let c = row(r)
                if c.offset <= file.size { return c }
            }
            let candidates = try Row.fetchAll(db, sql: "SELECT * FROM checkpoints WHERE device = ? AND inode = ?",
                                              arguments: [Int64(bitPattern: file.device), Int64(bitPattern: file.inode)])
            for r in candidates {
                let c = row(r)
                // A file fingerprinted when it was shorter is hashed again over that length only.
                let same = c.fingerprint.length == fingerprint?.length
                    ? c.fingerprint == fingerprint : Fingerprint.of(fd: fd, length: c.fingerprint.length) == c.fingerprint
                if c.offset <= file.size, same {
                    return c
                }
            }
            return nil
        }
    }

    /// Signal events near the end of what is stored: a record of theirs still to come (the
    /// rest of an event that was being written when the last run read the log) is merged.
    public func recentEventIDs(window: Int64 = 30) throws(StoreError) -> Set<EventID> {
        try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT CAST(s.value AS TEXT) AS node, e.sec, e.msec, e.serial FROM events e
                JOIN strings s ON s.id = e.node_id
                WHERE e.sec >= (SELECT MAX(sec) FROM events) - ?
                """, arguments: [window])
            return Set(rows.map { EventID(node: $0["node"], seconds: $0["sec"], milliseconds: $0["msec"],
                                          serial: UInt32(truncatingIfNeeded: $0["serial"] as Int64)) })
        }
    }

    public func serialCursors() throws(StoreError) -> [String: EventID] {
        try read { db in
            var out: [String: EventID] = [:]
            for r in try Row.fetchAll(db, sql: """
                SELECT CAST(s.value AS TEXT) AS node, c.sec, c.msec, c.serial FROM serial_cursors c
                JOIN strings s ON s.id = c.node_id
                """) {
                let node: String = r["node"]
                out[node] = EventID(node: node, seconds: r["sec"], milliseconds: r["msec"],
                                    serial: UInt32(truncatingIfNeeded: r["serial"] as Int64))
            }
            return out
        }
    }
}
