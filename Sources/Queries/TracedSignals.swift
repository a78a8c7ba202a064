import Foundation
import GRDB

/// One record of the tracer (`killdb trace`): a row of the `traced_signals` view, strings as
/// the bytes the kernel held.
public struct TracedSignalRow: Sendable, Equatable {
    public var node: [UInt8]?
    public var eventTime: Double
    public var signal: Int64
    public var signalName: String
    public var siCode: Int64
    public var processDirected: Bool
    /// delivered, ignored, pending, overflow, lose-info.
    public var result: String
    /// syscall, cgroup-kill, pidns-teardown, oom, cpu-limit, seccomp, parent-death, kernel.
    public var cause: String
    public var causeDetail: [UInt8]?
    public var causePidns: Int64?
    public var syscall: String?
    public var senderPid: Int64
    public var senderTid: Int64
    public var senderStartTime: Double?
    public var senderComm: [UInt8]?
    public var senderExe: [UInt8]?
    public var senderCmdline: [UInt8]?
    public var senderUid: Int64?
    public var senderEuid: Int64?
    public var senderAuid: Int64?
    public var senderPpid: Int64?
    public var senderParentComm: [UInt8]?
    public var senderNsPid: Int64?
    public var senderKthread: Bool
    public var targetPid: Int64
    public var targetTid: Int64
    public var targetStartTime: Double?
    public var targetComm: [UInt8]?
    public var targetNsPid: Int64?
    public var targetPidns: Int64?
    /// The record's row (`record_rowid`): its processes hang on it.
    public var recordRowID: Int64?

    static let blobColumns: Set<String> = ["node", "cause_detail", "sender_comm", "sender_exe", "sender_cmdline",
                                           "sender_parent_comm", "target_comm"]
    static let columns = ["node", "event_time", "signal", "signal_name", "si_code", "process_directed", "result", "cause",
                          "cause_detail", "cause_pidns", "syscall", "sender_pid", "sender_tid", "sender_start_time",
                          "sender_comm", "sender_exe", "sender_cmdline", "sender_uid", "sender_euid", "sender_auid",
                          "sender_ppid", "sender_parent_comm", "sender_ns_pid", "sender_kthread", "target_pid",
                          "target_tid", "target_start_time", "target_comm", "target_ns_pid", "target_pidns", "record_rowid"]
    static let selectList = columns.map { blobColumns.contains($0) ? "CAST(\($0) AS BLOB) AS \($0)" : $0 }
        .joined(separator: ", ")

    /// For tests: a row of the view's columns (missing ones NULL).
    public init(testRow r: Row) { self.init(r) }

    init(_ r: Row) {
        func bytes(_ c: String) -> [UInt8]? { (r[c] as Data?).map { [UInt8]($0) } }
        node = bytes("node")
        eventTime = r["event_time"] ?? 0
        signal = r["signal"] ?? 0
        signalName = r["signal_name"] ?? "SIG?"
        siCode = r["si_code"] ?? 0
        processDirected = (r["process_directed"] as Int64?) == 1
        result = r["result"] ?? "delivered"
        cause = r["cause"] ?? "kernel"
        causeDetail = bytes("cause_detail")
        causePidns = r["cause_pidns"]
        syscall = r["syscall"]
        senderPid = r["sender_pid"] ?? 0
        senderTid = r["sender_tid"] ?? 0
        senderStartTime = r["sender_start_time"]
        senderComm = bytes("sender_comm")
        senderExe = bytes("sender_exe")
        senderCmdline = bytes("sender_cmdline")
        senderUid = r["sender_uid"]
        senderEuid = r["sender_euid"]
        senderAuid = r["sender_auid"]
        senderPpid = r["sender_ppid"]
        senderParentComm = bytes("sender_parent_comm")
        senderNsPid = r["sender_ns_pid"]
        senderKthread = (r["sender_kthread"] as Int64?) == 1
        targetPid = r["target_pid"] ?? 0
        targetTid = r["target_tid"] ?? 0
        targetStartTime = r["target_start_time"]
        targetComm = bytes("target_comm")
        targetNsPid = r["target_ns_pid"]
        targetPidns = r["target_pidns"]
        recordRowID = r["record_rowid"]
    }
}

/// When the tracer ran: what `who` and `report` say about the spans it did not cover.
public struct TraceCoverage: Sendable, Equatable {
    public struct Session: Sendable, Equatable {
        public var from: Double
        /// The session's end (finished), or the last time it wrote (still running, or killed).
        public var to: Double
        public var signals: String
        public var lost: Int64
        /// It ended and wrote that it did: `to` is its true end. Otherwise it was alive at
        /// `to` and may have run up to a heartbeat longer (it writes at least that often).
        public var finished: Bool
        public init(from: Double, to: Double, signals: String, lost: Int64, finished: Bool = true) {
            self.from = from
            self.to = to
            self.signals = signals
            self.lost = lost
            self.finished = finished
        }

        /// The span it certainly or possibly traced: the wall clock a record is stamped with
        /// is converted from the boot clock, so the edges get a second's tolerance; a session
        /// that did not finish was alive `heartbeat` past its last write.
        public var reach: ClosedRange<Double> {
            from - TraceCoverage.edgeTolerance...(to + TraceCoverage.edgeTolerance + (finished ? 0 : TraceCoverage.heartbeat))
        }

        /// Does its filter take `signal` (a name such as SIGKILL)?
        public func traces(_ signal: String?) -> Bool {
            guard let signal else { return true }
            let parts = signals.split(separator: ",")
            return parts.first == "all" || parts.contains(Substring(signal))
        }
    }
    public var sessions: [Session]
    public struct Loss: Sendable, Equatable {
        public var from: Double
        public var to: Double
        public var lost: Int64
    }
    public var losses: [Loss]

    public init(sessions: [Session], losses: [Loss]) {
        self.sessions = sessions
        self.losses = losses
    }

    /// Seconds of tolerance at a session's edges (boot clock to wall clock, heartbeat writes).
    public static let edgeTolerance = 1.0
    /// How often a running tracer writes its session row (LiveTraceOptions.heartbeat).
    public static let heartbeat = 10.0

    /// Did a session tracing `signal` run at `time`?
    public func covers(_ time: Double, signal: String? = nil) -> Bool {
        sessions.contains { $0.reach.contains(time) && $0.traces(signal) }
    }

    /// Sessions that ran at some time in [from, to].
    public func sessions(from: Double, to: Double) -> [Session] {
        sessions.filter { $0.reach.upperBound >= from && $0.reach.lowerBound <= to }
    }

    /// Losses that overlap [from, to].
    public func losses(from: Double, to: Double) -> [Loss] {
        losses.filter { $0.to >= from && $0.from <= to }
    }
}

public enum TracedSignalQuery {
    /// The tracer's records of signals to `targetPid` (its thread group), oldest first.
    public static func records(_ db: Database, targetPid: Int64, signal: Int64? = nil, since: Double? = nil,
                               until: Double? = nil, limit: Int = 200) throws -> [TracedSignalRow] {
        guard try db.tableExists("traced_signal_records") else { return [] }
        var sql = "SELECT \(TracedSignalRow.selectList) FROM traced_signals WHERE target_pid = ?"
        var args: [any DatabaseValueConvertible] = [targetPid]
        if let signal { sql += " AND signal = ?"; args.append(signal) }
        if let since { sql += " AND event_time >= ?"; args.append(since) }
        if let until { sql += " AND event_time <= ?"; args.append(until) }
        sql += " ORDER BY event_time, record_rowid LIMIT ?"
        args.append(limit)
        return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map { TracedSignalRow($0) }
    }

    /// The tracer's record of the same kill as an audited syscall: same sender and target
    /// process, same signal, within a second.
    public static func sameKill(_ db: Database, senderPid: Int64, targetPid: Int64, signal: Int64, time: Double) throws -> TracedSignalRow? {
        guard try db.tableExists("traced_signal_records") else { return nil }
        return try Row.fetchOne(db, sql: """
            SELECT \(TracedSignalRow.selectList) FROM traced_signals
            WHERE sender_pid = ? AND target_pid = ? AND signal = ? AND event_time BETWEEN ? AND ?
            ORDER BY abs(event_time - ?) LIMIT 1
            """, arguments: [senderPid, targetPid, signal, time - 1, time + 1, time]).map { TracedSignalRow($0) }
    }

    /// Has the tracer stored anything here?
    static func hasRecords(_ db: Database) throws -> Bool {
        guard try db.tableExists("traced_signal_records") else { return false }
        return try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM traced_signal_records)") ?? false
    }

    /// The tracer's record of an audited syscall's kill: same node, sender and target pid
    /// and signal, cause syscall, within a second.
    static func sameKill(_ db: Database, as r: SignalRow) throws -> TracedSignalRow? {
        guard let sender = r.senderPid, let target = r.targetPid, let signal = r.signal,
              try db.tableExists("traced_signal_records") else { return nil }
        return try Row.fetchOne(db, sql: """
            SELECT \(TracedSignalRow.selectList) FROM traced_signals
            WHERE sender_pid = ? AND target_pid = ? AND signal = ? AND cause = 'syscall'
              AND event_time BETWEEN ? AND ? AND CAST(node AS BLOB) IS ?
            ORDER BY abs(event_time - ?) LIMIT 1
            """, arguments: [sender, target, signal, r.eventTime - 1, r.eventTime + 1, r.node.map { Data($0) },
                             r.eventTime]).map { TracedSignalRow($0) }
    }

    /// The tracer's record of the kernel's OOM kill of the same process (cause oom, same
    /// target pid and node, within two seconds: the kernel log's clock is the boot clock).
    static func oomKill(_ db: Database, as k: KernelKillRow) throws -> TracedSignalRow? {
        guard let pid = k.pid, try db.tableExists("traced_signal_records") else { return nil }
        return try Row.fetchOne(db, sql: """
            SELECT \(TracedSignalRow.selectList) FROM traced_signals
            WHERE target_pid = ? AND cause = 'oom' AND event_time BETWEEN ? AND ? AND CAST(node AS BLOB) IS ?
            ORDER BY abs(event_time - ?) LIMIT 1
            """, arguments: [pid, k.eventTime - 2, k.eventTime + 2, k.node.map { Data($0) }, k.eventTime])
            .map { TracedSignalRow($0) }
    }

    /// The tracer's record of a seccomp filter's kill the audit log's SECCOMP record tells
    /// (cause seccomp, same target pid, signal and node, within two seconds: both clocks are
    /// the wall clock, the tracer's converted from the boot clock).
    static func seccompKill(_ db: Database, as k: KernelKillRow) throws -> TracedSignalRow? {
        guard let pid = k.pid, let signal = k.signal, try db.tableExists("traced_signal_records") else { return nil }
        return try Row.fetchOne(db, sql: """
            SELECT \(TracedSignalRow.selectList) FROM traced_signals
            WHERE target_pid = ? AND cause = 'seccomp' AND signal = ? AND event_time BETWEEN ? AND ?
              AND CAST(node AS BLOB) IS ?
            ORDER BY abs(event_time - ?) LIMIT 1
            """, arguments: [pid, signal, k.eventTime - 2, k.eventTime + 2, k.node.map { Data($0) }, k.eventTime])
            .map { TracedSignalRow($0) }
    }

    /// The tracer's records of kills no other source saw: causes other than a syscall, the
    /// OOM killer or seccomp, and those three when no audit event or kernel kill joins them (audit
    /// was not logging, the kernel log rotated away). Newest first, cut at `limit` (-1: none).
    static func unjoined(_ db: Database, pid: Int64?, comm: String?, node: String?, signals: SignalSet,
                         before: Double?, after: Double?, target: PlaceFilter = PlaceFilter(),
                         sender: PlaceFilter = PlaceFilter(), limit: Int) throws -> [TracedSignalRow] {
        guard try db.tableExists("traced_signal_records") else { return [] }
        var terms: [String] = [], args: [any DatabaseValueConvertible] = []
        for (side, place) in [("target", target), ("sender", sender)] where !place.isEmpty {
            guard try db.tableExists("traced_record_processes") else { return [] }
            let (clause, values) = place.tracedTerms(side)
            terms.append("t.record_rowid IN (SELECT tc.record_rowid FROM traced_signal_context tc WHERE \(clause))")
            args += values
        }
        if let pid { terms.append("t.target_pid = ?"); args.append(pid) }
        if let comm { terms.append("t.target_comm GLOB ?"); args.append(comm) }
        if let node { terms.append("t.node IS ?"); args.append(node) }
        if case .only(let n) = signals {
            terms.append("t.signal IN (\(n.map { _ in "?" }.joined(separator: ",")))")
            args += n.map { Int64($0) }
        }
        if let before { terms.append("t.event_time <= ?"); args.append(before) }
        if let after { terms.append("t.event_time >= ?"); args.append(after) }
        terms.append("""
            NOT (t.cause = 'syscall' AND EXISTS (
                SELECT 1 FROM signals s WHERE s.sender_pid = t.sender_pid AND s.target_pid = t.target_pid
                AND s.signal = t.signal AND s.event_time BETWEEN t.event_time - 1 AND t.event_time + 1
                AND s.node IS t.node))
            """)
        terms.append("""
            NOT (t.cause = 'oom' AND EXISTS (
                SELECT 1 FROM kernel_kills k WHERE k.pid = t.target_pid AND k.kind IN ('oom', 'memcg-oom')
                AND k.event_time BETWEEN t.event_time - 2 AND t.event_time + 2 AND k.node IS t.node))
            """)
        terms.append("""
            NOT (t.cause = 'seccomp' AND EXISTS (
                SELECT 1 FROM kernel_kills k WHERE k.pid = t.target_pid AND k.kind = 'seccomp' AND k.signal = t.signal
                AND k.event_time BETWEEN t.event_time - 2 AND t.event_time + 2 AND k.node IS t.node))
            """)
        return try Row.fetchAll(db, sql: """
            SELECT \(TracedSignalRow.selectList) FROM traced_signals t WHERE \(terms.joined(separator: " AND "))
            ORDER BY t.event_time DESC, t.record_rowid DESC LIMIT \(limit)
            """, arguments: StatementArguments(args)).map { TracedSignalRow($0) }
    }

    /// The tracer's records of signals the kernel made (no syscall: seccomp's SIGSYS, a CPU
    /// limit's SIGXCPU ...) to the target with a signal outside the set and no kernel kill
    /// joined to them, by signal name: an answer about SIGKILL says they exist.
    static func otherSignals(_ db: Database, _ f: KernelKillQuery.Filter) throws -> [String] {
        guard case .only(let asked) = f.signals else { return [] }
        return try unjoined(db, pid: f.pid, comm: f.comm, node: f.node, signals: .all, before: f.before, after: f.after,
                            target: f.targetPlace, sender: f.senderPlace, limit: -1)
            .filter { $0.cause != "syscall" && !asked.contains(Int32(truncatingIfNeeded: $0.signal)) }
            .map(\.signalName)
    }

    /// For a namespace teardown or a parent-death signal: the kill of the process whose exit
    /// caused it (the record of a SIGKILL to the sender, the init or the parent, shortly
    /// before; the same process, by its start time, not a namesake that had its pid).
    public static func initKill(_ db: Database, for teardown: TracedSignalRow) throws -> TracedSignalRow? {
        try Row.fetchOne(db, sql: """
            SELECT \(TracedSignalRow.selectList) FROM traced_signals
            WHERE target_pid = ? AND event_time BETWEEN ? AND ? AND signal = 9
              AND (? IS NULL OR abs(target_start_time - ?) < 0.001)
            ORDER BY event_time DESC LIMIT 1
            """, arguments: [teardown.senderPid, teardown.eventTime - 60, teardown.eventTime,
                             teardown.senderStartTime, teardown.senderStartTime]).map { TracedSignalRow($0) }
    }

    public static func coverage(_ db: Database) throws -> TraceCoverage {
        guard try db.tableExists("trace_sessions") else { return TraceCoverage(sessions: [], losses: []) }
        let sessions = try Row.fetchAll(db, sql: """
            SELECT c.started_at, c.covered_until, c.signals, c.lost, s.finished_at IS NOT NULL AS finished
            FROM trace_coverage c JOIN trace_sessions s ON s.run_id = c.run_id ORDER BY c.started_at
            """)
            .map { TraceCoverage.Session(from: $0["started_at"], to: $0["covered_until"], signals: $0["signals"],
                                         lost: $0["lost"], finished: $0["finished"]) }
        let losses = try Row.fetchAll(db, sql: "SELECT from_time, to_time, lost FROM trace_losses ORDER BY from_time")
            .map { TraceCoverage.Loss(from: $0["from_time"], to: $0["to_time"], lost: $0["lost"]) }
        return TraceCoverage(sessions: sessions, losses: losses)
    }
}
