import AuditDecoding
import Foundation
import GRDB
import KernelTrace
import Pipeline
import ProcessContext

/// A `killdb trace` session as the store keeps it.
public struct TraceSession: Sendable, Equatable {
    public var runID: Int64
    public var bootID: String
    public var bootTime: Double
    /// When it started (its trace_sessions row's started_at): with the node and boot, the
    /// session's identity on every database its records reach.
    public var startedAt: Double
    public init(runID: Int64, bootID: String, bootTime: Double, startedAt: Double = 0) {
        self.runID = runID
        self.bootID = bootID
        self.bootTime = bootTime
        self.startedAt = startedAt
    }
}

extension StoreTransaction {
    // MARK: tracer

    /// A new run of kind trace, and its session. Sessions left running by a tracer that was
    /// killed are marked interrupted first (one tracer runs per host).
    public func beginTraceSession(version: String, hostname: String?, signals: String,
                                  bootID: String, bootTime: Double) throws -> TraceSession {
        // Sessions read back from other hosts' audit messages are theirs to end.
        try db.execute(sql: """
            UPDATE ingest_runs SET status = 'interrupted' WHERE status = 'running' AND kind = 'trace'
              AND id NOT IN (SELECT run_id FROM trace_sessions WHERE origin = 'audit')
            """)
        // To the microsecond, as `--audit`'s messages carry it: the same session read back
        // from this host's own audit log is then found, not begun again.
        let now = (Date().timeIntervalSince1970 * 1e6).rounded() / 1e6
        let run = try beginRun(.trace, version: version, hostname: hostname)
        let node = try store.intern([], db)
        try db.execute(sql: """
            INSERT INTO trace_sessions (run_id, node_id, boot_id, boot_time, signals, started_at, last_active_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [run, node, bootID, bootTime, signals, now, now])
        return TraceSession(runID: run, bootID: bootID, bootTime: bootTime, startedAt: now)
    }

    /// Stores the records; one already stored (same boot, time, sender thread, target
    /// thread and signal) is left as it is. Returns how many were new.
    @discardableResult
    public func store(_ records: [TracedSignal], session: TraceSession, podLogs: PodLogs? = nil) throws -> Int {
        var inserted = 0
        var statement = try BoundStatement(db, """
            INSERT OR IGNORE INTO traced_signal_records (session_id, boot_id, boot_ns, time, signal, signal_name_id,
              si_code, process_directed, result, cause, cause_detail_id, cause_pidns, syscall,
              sender_pid, sender_tid, sender_start_ns, sender_comm_id, sender_exe_id, sender_cmdline_id, sender_argv_id,
              sender_argv_truncated, sender_kthread, sender_uid, sender_euid, sender_auid, sender_ses,
              sender_pidns, sender_ns_pid, sender_cgroup_id, parent_pid, parent_start_ns, parent_comm_id,
              target_pid, target_tid, target_start_ns, target_comm_id, target_pidns, target_ns_pid, target_cgroup_id,
              sender_context_missing)
            VALUES (\(Array(repeating: "?", count: 40).joined(separator: ",")))
            """)
        // A busy sender's records repeat its names and command line: the previous record's
        // string ids are compared before the interning table is hashed.
        var last: [([UInt8], Int64)?] = Array(repeating: nil, count: 16)
        var column = 0
        func id(_ b: [UInt8]?) throws -> Int64? {
            column += 1
            guard let b else { return nil }
            if let (bytes, id) = last[column], bytes == b { return id }
            let id = try store.intern(b, db)
            last[column] = (b, id)
            return id
        }
        // And its processes: the same sender, parents and target, stored once per batch.
        var processRows = ProcessRows(node: try store.intern([], db))
        var link = try BoundStatement(db, """
            INSERT OR IGNORE INTO traced_record_processes (record_id, role, process_id, cgroup_id) VALUES (?, ?, ?, ?)
            """)
        for r in records {
            column = 0
            let s = r.sender, t = r.target
            let pidns: Int64? = if case .pidNamespaceTeardown(let ns) = r.cause { Int64(ns) } else { nil }
            statement.begin()
            statement.bind(session.runID)
            statement.bind(session.bootID)
            statement.bind(Int64(bitPattern: r.bootNanoseconds))
            statement.bind(r.time)
            statement.bind(r.signal)
            statement.bind(try store.intern(name: AuditArch.native.signalName(r.signal), db))
            statement.bind(r.code)
            statement.bind(r.processDirected ? 1 : 0)
            statement.bind(r.result.name)
            statement.bind(r.cause.name)
            statement.bind(try id(r.cause.detail.map { Array($0.utf8) }))
            statement.bind(pidns)
            statement.bind(r.syscallNumber)
            statement.bind(s.process.pid)
            statement.bind(s.tid)
            statement.bind(Int64(bitPattern: s.process.startNanoseconds))
            statement.bind(try id(s.comm))
            statement.bind(try id(r.exe))
            statement.bind(try id(r.commandLine))
            statement.bind(try id(r.argv))
            statement.bind(r.argvTruncated ? 1 : 0)
            statement.bind(r.senderIsKernelThread ? 1 : 0)
            statement.bind(Int64(r.uid))
            statement.bind(Int64(r.euid))
            statement.bind(Int64(r.loginUID))
            statement.bind(Int64(r.sessionID))
            statement.bind(Int64(s.pidNamespace))
            statement.bind(s.namespacePid)
            statement.bind(Int64(bitPattern: s.cgroupID))
            statement.bind(r.parent.pid)
            statement.bind(Int64(bitPattern: r.parent.startNanoseconds))
            statement.bind(try id(r.parentComm))
            statement.bind(t.process.pid)
            statement.bind(t.tid)
            statement.bind(Int64(bitPattern: t.process.startNanoseconds))
            statement.bind(try id(t.comm))
            statement.bind(Int64(t.pidNamespace))
            statement.bind(t.namespacePid)
            statement.bind(Int64(bitPattern: t.cgroupID))
            statement.bind(r.contextMissing ? 1 : 0)
            try statement.run(db)
            if db.changesCount > 0 {
                inserted += 1
                let record = db.lastInsertedRowID
                let (sender, target) = try storeProcesses(of: r, session: session, podLogs: podLogs, rows: &processRows)
                func linked(_ role: String, _ process: Int64, _ cgroup: [UInt8]?) throws {
                    link.begin()
                    link.bind(record)
                    link.bind(role)
                    link.bind(process)
                    link.bind(try id(cgroup))
                    try link.run(db)
                }
                try linked("sender", sender, r.sender.cgroupPath)
                try linked("target", target, r.target.cgroupPath)
            }
        }
        return inserted
    }

    /// The process rows a batch has stored, so a busy sender's chain is walked once.
    struct ProcessRows {
        let node: Int64
        var senders: [[ProcessIdentity]: Int64] = [:]
        var targets: [ProcessIdentity: Int64] = [:]
        /// The previous record's sender and parents (arrays compare by identity first).
        var last: (sender: ProcessIdentity, ancestors: [TracedAncestor], row: Int64)?
    }

    /// The record's sender with its parents, and its target, each stored once (node, boot,
    /// pid, start time); the caller links them to the record with the cgroup each was in at the event.
    private func storeProcesses(of r: TracedSignal, session: TraceSession, podLogs: PodLogs?,
                                rows: inout ProcessRows) throws -> (sender: Int64, target: Int64) {
        let sender: Int64
        if let l = rows.last, l.sender == r.sender.process, l.ancestors == r.ancestors {
            sender = l.row
        } else if let known = rows.senders[[r.sender.process] + r.ancestors.map(\.process)] {
            sender = known
            rows.last = (r.sender.process, r.ancestors, known)
        } else {
            let chainKey = [r.sender.process] + r.ancestors.map(\.process)
            let chain = TracedProcesses.chain(r, bootID: session.bootID, bootTime: session.bootTime, podLogs: podLogs)
            var ids: [Int64] = []
            for p in chain { ids.append(try store(p, node: rows.node)) }
            for (child, parent) in zip(ids, ids.dropFirst()) {
                try db.cachedStatement(sql: "UPDATE processes SET parent_id = ? WHERE id = ? AND parent_id IS NULL")
                    .execute(arguments: [parent, child])
            }
            sender = ids[0]
            rows.senders[chainKey] = sender
            rows.last = (r.sender.process, r.ancestors, sender)
        }
        let target: Int64
        if let known = rows.targets[r.target.process] {
            target = known
        } else {
            target = try store(TracedProcesses.target(r, bootID: session.bootID, bootTime: session.bootTime, podLogs: podLogs),
                               node: rows.node)
            rows.targets[r.target.process] = target
        }
        return (sender, target)
    }

    /// The session is alive: its totals so far, and, at the end, that it finished.
    public func updateTraceSession(_ session: TraceSession, records: Int, lost: UInt64, finished: Bool, status: String = "running") throws {
        let now = Date().timeIntervalSince1970
        try db.execute(sql: """
            UPDATE trace_sessions SET last_active_at = ?, records = ?, lost = ?, finished_at = ? WHERE run_id = ?
            """, arguments: [now, records, Int64(bitPattern: lost), finished ? now : nil, session.runID])
        try db.execute(sql: """
            UPDATE ingest_runs SET status = ?, finished_at = ?, signal_events = ?, new_events = ? WHERE id = ?
            """, arguments: [status, finished ? now : nil, records, records, session.runID])
    }

    public func recordTraceLoss(_ loss: TraceLoss, session: TraceSession) throws {
        try db.execute(sql: """
            INSERT INTO trace_losses (session_id, from_time, to_time, lost) VALUES (?, ?, ?, ?)
            ON CONFLICT (session_id, from_time) DO UPDATE SET to_time = excluded.to_time, lost = lost + excluded.lost
            """, arguments: [session.runID, loss.from, loss.to, Int64(bitPattern: loss.count)])
    }
}


extension StoreTransaction {
    // MARK: the tracer's records forwarded through audit

    /// Stores messages `killdb trace --audit` wrote on some host, read back from an audit
    /// log: each session (found by node, boot and start, or begun as a run of kind trace
    /// of origin audit) gains its records, losses, totals and end. Reading the same log
    /// again changes nothing. Returns the records that were new.
    @discardableResult
    public func store(forwarded messages: [ForwardedTraceMessage]) throws -> Int {
        var inserted = 0
        var sessions: [String: TraceSession] = [:]
        for m in messages {
            let o = m.message.origin
            let key = "\(m.node)\u{0}\(o.bootID)\u{0}\(o.startedAt)"
            let session: TraceSession
            if let s = sessions[key] {
                session = s
            } else {
                session = try forwardedSession(node: m.node, origin: o, message: m.message)
                sessions[key] = session
            }
            switch m.message {
            case .signal(let record, _):
                let n = try store([record], session: session)
                inserted += n
                try db.execute(sql: """
                    UPDATE trace_sessions SET records = records + ?, last_active_at = max(last_active_at, ?) WHERE run_id = ?
                    """, arguments: [n, record.time, session.runID])
            case .loss(let loss, _):
                try db.execute(sql: """
                    INSERT INTO trace_losses (session_id, from_time, to_time, lost) VALUES (?, ?, ?, ?)
                    ON CONFLICT (session_id, from_time) DO NOTHING
                    """, arguments: [session.runID, loss.from, loss.to, Int64(bitPattern: loss.count)])
            case .session(_, let state, _, _, _, let lost, let time):
                try db.execute(sql: """
                    UPDATE trace_sessions SET last_active_at = max(last_active_at, ?), lost = max(lost, ?),
                      finished_at = CASE WHEN ? THEN COALESCE(finished_at, ?) ELSE finished_at END
                    WHERE run_id = ?
                    """, arguments: [time, Int64(bitPattern: lost), state == .stop || state == .failed, time, session.runID])
                if state == .stop || state == .failed {
                    try db.execute(sql: "UPDATE ingest_runs SET status = ?, finished_at = ? WHERE id = ?",
                                   arguments: [state == .stop ? "complete" : "failed", time, session.runID])
                }
            }
        }
        for s in sessions.values {
            try db.execute(sql: """
                UPDATE ingest_runs SET signal_events = (SELECT records FROM trace_sessions WHERE run_id = ?),
                  new_events = (SELECT records FROM trace_sessions WHERE run_id = ?) WHERE id = ?
                """, arguments: [s.runID, s.runID, s.runID])
        }
        return inserted
    }

    private func forwardedSession(node: String, origin o: TraceOrigin, message: TraceAuditMessage) throws -> TraceSession {
        let nodeID = try store.intern(Array(node.utf8), db)
        if let run = try Int64.fetchOne(db, sql: """
            SELECT run_id FROM trace_sessions WHERE node_id = ? AND boot_id = ? AND started_at = ?
            """, arguments: [nodeID, o.bootID, o.startedAt]) {
            return TraceSession(runID: run, bootID: o.bootID, bootTime: o.bootTime)
        }
        var version = "?", hostname: String? = node.isEmpty ? nil : node
        if case .session(_, _, let v, let h, _, _, _) = message {
            version = v
            hostname = h
        }
        try db.execute(sql: """
            INSERT INTO ingest_runs (kind, started_at, status, killdb_version, hostname) VALUES ('trace', ?, 'running', ?, ?)
            """, arguments: [o.startedAt, version, hostname])
        let run = db.lastInsertedRowID
        try db.execute(sql: """
            INSERT INTO trace_sessions (run_id, node_id, boot_id, boot_time, signals, started_at, last_active_at, origin)
            VALUES (?, ?, ?, ?, ?, ?, ?, 'audit')
            """, arguments: [run, nodeID, o.bootID, o.bootTime, o.signals, o.startedAt, o.startedAt])
        return TraceSession(runID: run, bootID: o.bootID, bootTime: o.bootTime)
    }

    /// Messages that were not the tracer's: kept, never evidence. Returns how many were new.
    @discardableResult
    public func store(unverified messages: [UnverifiedTraceMessage]) throws -> Int {
        var inserted = 0
        for u in messages {
            try db.execute(sql: """
                INSERT INTO unverified_trace_messages (node_id, sec, msec, serial, writer_pid, writer_uid, writer_exe_id,
                  reason, body_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """, arguments: [try store.intern(Array(u.id.node.utf8), db), u.id.seconds, u.id.milliseconds, u.id.serial,
                                 u.pid, u.uid, try u.exe.map { try store.intern($0, db) }, u.reason,
                                 try store.intern(u.body, db)])
            inserted += db.changesCount
        }
        return inserted
    }
}

/// A traced record's processes as the store keeps them (`ProcessRecord`s, as the plugin's).
public enum TracedProcesses {
    /// /proc/PID/stat's clock ticks (USER_HZ) from the kernel's nanoseconds, as the kernel
    /// converts them (nsec_to_clock_t): the same process the plugin read has the same key.
    public static func ticks(_ ns: UInt64) -> Int64 {
        let hz = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        return Int64(ns / (1_000_000_000 / hz))
    }

    static func place(_ cgroup: [UInt8]?, _ podLogs: PodLogs?) -> ProcessPlace? {
        guard var place = cgroup.flatMap({ ProcessPlace(procCgroup: $0) }) else { return nil }
        if let pod = place.pod, let podLogs { place.pod = podLogs.complete(pod, container: place.container) }
        return place
    }

    /// The sender, then its parents, as far as the kernel and /proc named them.
    public static func chain(_ r: TracedSignal, bootID: String, bootTime: Double, podLogs: PodLogs?) -> [ProcessRecord] {
        let s = r.sender
        var sender = ProcessRecord(pid: Int64(s.process.pid), startTicks: ticks(s.process.startNanoseconds),
                                   startTime: bootTime + Double(s.process.startNanoseconds) / 1e9,
                                   ppid: r.ancestors.first.map { Int64($0.process.pid) } ?? Int64(r.parent.pid),
                                   comm: s.comm, exe: r.exe,
                                   argv: r.argv.map { a in
                                       var a = a
                                       while a.last == 0 { a.removeLast() }
                                       return a.split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
                                   } ?? [],
                                   cgroup: r.senderProcCgroup ?? s.cgroupPath, source: .tracer, readAt: r.time)
        sender.bootID = bootID
        sender.place = place(sender.cgroup, podLogs)
        var out = [sender]
        for (i, a) in r.ancestors.enumerated() {
            var p = ProcessRecord(pid: Int64(a.process.pid), startTicks: ticks(a.process.startNanoseconds),
                                  startTime: bootTime + Double(a.process.startNanoseconds) / 1e9,
                                  ppid: i + 1 < r.ancestors.count ? Int64(r.ancestors[i + 1].process.pid) : nil,
                                  comm: a.comm, exe: a.exe, argv: a.argv, cgroup: a.procCgroup,
                                  source: a.atEvent ? .tracer : .proc, readAt: a.readAt ?? r.time)
            p.bootID = bootID
            p.place = place(p.cgroup, podLogs)
            out.append(p)
        }
        return out
    }

    /// The target as the kernel knew it at the event: its name (the thread's) and cgroup.
    public static func target(_ r: TracedSignal, bootID: String, bootTime: Double, podLogs: PodLogs?) -> ProcessRecord {
        let t = r.target
        var p = ProcessRecord(pid: Int64(t.process.pid), startTicks: ticks(t.process.startNanoseconds),
                              startTime: bootTime + Double(t.process.startNanoseconds) / 1e9,
                              comm: t.comm, cgroup: t.cgroupPath, source: .tracer, readAt: r.time)
        p.bootID = bootID
        p.place = place(p.cgroup, podLogs)
        return p
    }
}
