import AuditDecoding
import Foundation
import GRDB
import KernelTrace

/// A `killdb trace` session as the store keeps it.
public struct TraceSession: Sendable, Equatable {
    public var runID: Int64
    public var bootID: String
    public var bootTime: Double
    public init(runID: Int64, bootID: String, bootTime: Double) {
        self.runID = runID
        self.bootID = bootID
        self.bootTime = bootTime
    }
}

extension StoreTransaction {
    // MARK: tracer

    /// A new run of kind trace, and its session. Sessions left running by a tracer that was
    /// killed are marked interrupted first (one tracer runs per host).
    public func beginTraceSession(version: String, hostname: String?, signals: String,
                                  bootID: String, bootTime: Double) throws -> TraceSession {
        try markInterruptedRuns([.trace])
        let now = Date().timeIntervalSince1970
        let run = try beginRun(.trace, version: version, hostname: hostname)
        let node = try store.intern([], db)
        try db.execute(sql: """
            INSERT INTO trace_sessions (run_id, node_id, boot_id, boot_time, signals, started_at, last_active_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [run, node, bootID, bootTime, signals, now, now])
        return TraceSession(runID: run, bootID: bootID, bootTime: bootTime)
    }

    /// Stores the records; one already stored (same boot, time, sender thread, target
    /// thread and signal) is left as it is. Returns how many were new.
    @discardableResult
    public func store(_ records: [TracedSignal], session: TraceSession) throws -> Int {
        var inserted = 0
        let statement = try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO traced_signal_records (session_id, boot_id, boot_ns, time, signal, signal_name_id,
              si_code, process_directed, result, cause, cause_detail_id, cause_pidns, syscall,
              sender_pid, sender_tid, sender_start_ns, sender_comm_id, sender_exe_id, sender_cmdline_id, sender_argv_id,
              sender_argv_truncated, sender_kthread, sender_uid, sender_euid, sender_auid, sender_ses,
              sender_pidns, sender_ns_pid, sender_cgroup_id, parent_pid, parent_start_ns, parent_comm_id,
              target_pid, target_tid, target_start_ns, target_comm_id, target_pidns, target_ns_pid, target_cgroup_id)
            VALUES (\(Array(repeating: "?", count: 39).joined(separator: ",")))
            """)
        func id(_ b: [UInt8]?) throws -> Int64? { try b.map { try store.intern($0, db) } }
        for r in records {
            let s = r.sender, t = r.target
            let pidns: Int64? = if case .pidNamespaceTeardown(let ns) = r.cause { Int64(ns) } else { nil }
            let values: [(any DatabaseValueConvertible)?] = [
                session.runID, session.bootID, Int64(bitPattern: r.bootNanoseconds), r.time, r.signal,
                try id(Array(AuditArch.native.signalName(r.signal).utf8)),
                r.code, r.processDirected ? 1 : 0, r.result.name, r.cause.name, try id(r.cause.detail.map { Array($0.utf8) }),
                pidns, r.syscallNumber,
                s.process.pid, s.tid, Int64(bitPattern: s.process.startNanoseconds), try id(s.comm), try id(r.exe),
                try id(r.commandLine), try id(r.argv), r.argvTruncated ? 1 : 0, r.senderIsKernelThread ? 1 : 0,
                Int64(r.uid), Int64(r.euid), Int64(r.loginUID), Int64(r.sessionID),
                Int64(s.pidNamespace), s.namespacePid, Int64(bitPattern: s.cgroupID),
                r.parent.pid, Int64(bitPattern: r.parent.startNanoseconds), try id(r.parentComm),
                t.process.pid, t.tid, Int64(bitPattern: t.process.startNanoseconds), try id(t.comm),
                Int64(t.pidNamespace), t.namespacePid, Int64(bitPattern: t.cgroupID),
            ]
            try statement.execute(arguments: StatementArguments(values))
            inserted += db.changesCount
        }
        return inserted
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

