import AuditDecoding
import Foundation
import GRDB
import KernelLog
import Store

/// What the database can vouch for: the span of log time it has read, and the holes in it.
/// An answer of "nothing found" means something only within this.
public struct DatabaseCoverage: Sendable, Equatable {
    public var firstEventTime: Double?
    public var lastEventTime: Double?
    public var lastIngest: Double?
    public var signalEvents: Int
    /// Possible lost events (serial gaps) overlapping the time asked about.
    public var lostEvents: [LostEvents]

    public struct LostEvents: Sendable, Equatable {
        public var node: String?
        public var after: Double
        public var before: Double
        public var missing: Int64
    }

    /// Coverage, with lost events between `after` and `before` (nil: unbounded), in the
    /// caller's read transaction: the answer's snapshot.
    static func read(_ db: Database, after: Double?, before: Double?) throws -> DatabaseCoverage {
        let span = try Row.fetchOne(db, sql: """
            SELECT MIN(first_event_time) AS first, MAX(last_event_time) AS last FROM file_reads
            """)
        let lastIngest = try Double.fetchOne(db, sql: "SELECT MAX(finished_at) FROM ingest_runs WHERE status = 'complete'")
        // Events are never deleted, so the largest rowid is the count, without a scan.
        let count = try Int.fetchOne(db, sql: "SELECT MAX(id) FROM events") ?? 0
        let lost = try Row.fetchAll(db, sql: """
            SELECT node, after_time, before_time, missing FROM lost_events
            WHERE before_time >= ? AND after_time <= ? ORDER BY after_time
            """, arguments: [after ?? -Double.greatestFiniteMagnitude, before ?? Double.greatestFiniteMagnitude])
        return DatabaseCoverage(
            firstEventTime: span?["first"], lastEventTime: span?["last"], lastIngest: lastIngest,
            signalEvents: count,
            lostEvents: lost.map { LostEvents(node: $0["node"], after: $0["after_time"], before: $0["before_time"], missing: $0["missing"]) })
    }
}

/// The answer to "who sent this signal to that process": newest first, with what was left
/// out and what the database covers, so an empty answer is never mistaken for "nobody".
/// All of it is read in one snapshot.
public struct WhoAnswer: Sendable {
    /// The kills found, whoever made them (processes, the kernel, systemd), each with all its
    /// evidence; newest first, cut at the limit. This is the answer.
    public var entries: [Kill] = []
    /// The signal rows matching, newest first, cut at the limit: what `--format table` and
    /// `csv` show (the `signals` view's rows, nothing else).
    public var rows: [SignalRow]
    /// What matched but was left out, so the answer can say how to see it.
    public var leftOut = LeftOut()
    /// More matches than --limit allowed.
    public var truncated: Bool
    /// Kills of a whole cgroup near the time asked about (systemd-oomd's): they name no
    /// process, so they are shown beside the answer when nothing else is found, not in it.
    public var cgroupKills: [SystemdKillRow] = []
    public var coverage: DatabaseCoverage
    public var kernelCoverage = KernelLogCoverage()
    /// When the tracer ran (`killdb trace`): kills audit cannot see are seen only then.
    public var traceCoverage = TraceCoverage(sessions: [], losses: [])

    /// What matched but was left out, so the answer can say how to see it.
    public struct LeftOut: Sendable, Equatable {
        /// Failed attempts (--include-failed shows them).
        public var failed = 0
        /// Liveness probes, signal 0 (--include-probes).
        public var probes = 0
        /// Kernel kills of the target by a signal outside the set, by signal name (or kind):
        /// SIGSYS from seccomp when SIGKILL was asked for (--signal all).
        public var kernelKillsByOtherSignals: [String] = []
    }

    public static func rowKey(_ r: SignalRow) -> String { rowKey(eventID: r.eventID, targetPid: r.targetPid) }
    static func rowKey(eventID: String, targetPid: Int64?) -> String { "\(eventID)/\(targetPid.map(String.init) ?? "-")" }
}

/// Views of the entries by kind of evidence, for callers that want one kind; the renderers
/// read `entries`.
extension WhoAnswer {
    /// Each entry by the record it is known by.
    public var timeline: [Evidence] { entries.map(\.primary) }
    public var kernelKills: [KernelKillRow] { entries.compactMap { if case .kernel(let k) = $0.primary { k } else { nil } } }
    public var systemdKills: [SystemdKillRow] { entries.compactMap { if case .systemd(let s) = $0.primary { s } else { nil } } }
    /// systemd's journal entry for a signal PID 1 sent, by `rowKey`.
    public var systemdContext: [String: SystemdKillRow] { Kill.journals(entries) }
    public var oomdKills: [SystemdKillRow] { cgroupKills }
    public var hiddenFailed: Int { leftOut.failed }
    public var hiddenProbes: Int { leftOut.probes }
    public var hiddenKernelKills: [String] { leftOut.kernelKillsByOtherSignals }
}

extension Kill {
    static func journals(_ kills: [Kill]) -> [String: SystemdKillRow] {
        var out: [String: SystemdKillRow] = [:]
        for k in kills { if let r = k.signal, let j = k.journal { out[WhoAnswer.rowKey(r)] = j } }
        return out
    }
}

public enum Who {
    /// The answer, read in one snapshot of `store`.
    public static func ask(_ query: SignalQuery, in store: SignalStore) throws -> WhoAnswer {
        try store.answering { db in try answer(query, db) }
    }

    /// The answer from `db`, inside the caller's read transaction.
    public static func answer(_ query: SignalQuery, _ db: Database) throws -> WhoAnswer {
        let signals = query.signals.searched(probes: query.includeProbes)
        let search = try SignalSearch(query, db)
        var rows = try search.rows(.init(signals: signals, failed: query.includeFailed ? [0, 1] : [0]),
                                   limit: query.limit.map { $0 + 1 })
        let failed = query.includeFailed ? 0 : try search.count(.init(signals: signals, failed: [1]))
        var probes = 0
        if !query.includeProbes, query.signals.includes(0) {
            probes = try search.count(.init(signals: .only([0]), failed: [0, 1]))
        }
        var truncated = false
        if let l = query.limit, rows.count > l {
            rows.removeLast(rows.count - l)
            truncated = true
        }
        var answer = WhoAnswer(rows: rows, leftOut: .init(failed: failed, probes: probes), truncated: truncated,
                               coverage: try DatabaseCoverage.read(db, after: query.after, before: query.before))
        try addKillsNoProcessSent(query, db, &answer)
        if let p = query.targetPid, p < 0 {
            answer.entries = groupKills(answer.entries)
        } else {
            try PidInstances.mark(&answer.entries, db)
        }
        return answer
    }

    /// A question about a process group: each kill(-N) is one kill, with every process it
    /// reached, not one per member.
    static func groupKills(_ kills: [Kill]) -> [Kill] {
        var out: [Kill] = []
        var index: [String: Int] = [:]
        for k in kills {
            if let r = k.signal, let i = index[r.eventID] {
                out[i].group.append(r)
                continue
            }
            if let r = k.signal { index[r.eventID] = out.count }
            out.append(k)
        }
        return out
    }

    /// The kernel's and systemd's kills of the target, joined with the signal rows by time.
    static func addKillsNoProcessSent(_ query: SignalQuery, _ db: Database, _ answer: inout WhoAnswer) throws {
        // The kernel is no sender: a question about a sender excludes its kills.
        let bySender = query.senderExe != nil || query.senderPid != nil || query.senderComm != nil
            || query.uid != nil || query.auid != nil || !query.senderPlace.isEmpty
        // The tracer's records name their sender's and target's places: asked only by
        // places, its kills are still answers (the kernel's and systemd's are not).
        let byPlaceOnly = query.senderExe == nil && query.senderPid == nil && query.senderComm == nil
            && query.uid == nil && query.auid == nil
        var filter = KernelKillQuery.Filter(pid: query.targetPid, comm: query.targetComm, node: query.node,
                                            signals: query.signals, before: query.before, after: query.after)
        filter.targetPlace = query.targetPlace
        filter.senderPlace = query.senderPlace
        filter.kernelAndSystemd = !bySender && query.targetPlace.isEmpty
        var kills = try KillTimeline.kills(db, signals: answer.rows, others: byPlaceOnly ? filter : nil,
                                           limit: query.limit.map { $0 + 1 } ?? -1, order: .newestFirst)
        if filter.kernelAndSystemd {
            answer.leftOut.kernelKillsByOtherSignals = try KernelKillQuery.otherSignals(db, filter)
                + TracedSignalQuery.otherSignals(db, filter)
        }
        if let l = query.limit, kills.count > l {
            kills.removeLast(kills.count - l)
            answer.truncated = true
        }
        answer.entries = kills
        answer.kernelCoverage = try KernelLogCoverage.read(db)
        answer.traceCoverage = try TracedSignalQuery.coverage(db)
        // systemd-oomd names no process: its kills are worth showing only near the time asked about.
        if kills.isEmpty && !bySender && (query.before != nil || query.after != nil) {
            let before = query.before ?? query.after! + 3600
            let after = query.after ?? before - 3600
            answer.cgroupKills = try KernelKillQuery.oomdKills(db, node: query.node, before: before, after: after, limit: 5)
        }
    }
}

// MARK: - Kills no process sent

/// A kill the kernel made itself: one row of the `kernel_kills` view.
public struct KernelKillRow: Sendable, Equatable {
    public var node: [UInt8]?
    public var eventTime: Double
    public var kind: KernelKillKind
    /// The view's sentence: "the memory cgroup OOM killer: memory cgroup /x reached its limit".
    public var reason: String
    public var pid: Int64?
    public var comm: [UInt8]?
    public var exe: [UInt8]?
    public var uid: Int64?
    public var signal: Int64?
    public var signalName: String?
    public var cgroup: [UInt8]?
    public var limitCgroup: [UInt8]?
    public var constraint: String?
    public var syscall: Int64?
    public var details: String?
    /// Where the kill was read: a kernel log, or the audit log (SECCOMP, ANOM_ABEND).
    public var source: KernelLogSource
    public var message: [UInt8]?
    /// Whether a log that proves the kernel wrote it holds an entry of this kill (kmsg, the
    /// journal's kernel transport, the audit log); false when it was read only from syslog
    /// or dmesg text, which anyone could have written (`logger -t kernel`).
    public var verified: Bool

    /// The `kernel_kills` view's columns, as JSON names them.
    public static let columns = ["node", "event_time", "kind", "reason", "pid", "comm", "exe", "uid", "signal",
                                 "signal_name", "cgroup", "limit_cgroup", "constraint", "syscall", "details",
                                 "source", "message", "verified"]

    static let selectList = columns.map { c in
        ["node", "comm", "exe", "cgroup", "limit_cgroup", "message"].contains(c) ? "CAST(\(c) AS BLOB) AS \(c)"
            : c == "constraint" ? "\"constraint\"" : c
    }.joined(separator: ", ")

    init(_ r: Row) throws {
        func bytes(_ c: String) -> [UInt8]? { (r[c] as Data?).map { [UInt8]($0) } }
        node = bytes("node"); eventTime = r["event_time"]; reason = r["reason"] ?? ""
        kind = try Self.decode(r["kind"], "kernel kill kind")
        source = try Self.decode(r["source"], "kernel kill source")
        pid = r["pid"]; comm = bytes("comm"); exe = bytes("exe"); uid = r["uid"]; signal = r["signal"]
        signalName = r["signal_name"]; cgroup = bytes("cgroup"); limitCgroup = bytes("limit_cgroup")
        constraint = r["constraint"]; syscall = r["syscall"]; details = r["details"]
        message = bytes("message")
        verified = r["verified"] as Bool? ?? true
    }

    /// The write side's enums; a value this version never writes is a damaged database.
    static func decode<T: RawRepresentable>(_ text: String?, _ what: String) throws -> T where T.RawValue == String {
        guard let text, let v = T(rawValue: text) else { throw QueryError.unexpected("\(what) \"\(text ?? "NULL")\"") }
        return v
    }
}

/// systemd's part in a kill, from the journal: one row of the `systemd_kills` view.
public struct SystemdKillRow: Sendable, Equatable {
    public var node: [UInt8]?
    public var eventTime: Double
    public var kind: SystemdAction.Kind
    public var unit: [UInt8]?
    public var pid: Int64?
    public var comm: [UInt8]?
    public var signal: Int64?
    public var cgroup: [UInt8]?
    /// Why: the stop timeout before a kill (`State 'stop-sigterm' timed out. Killing`), or
    /// systemd-oomd's own words.
    public var reason: String?
    /// Whether the journal (or /dev/kmsg) proves PID 1 or systemd-oomd wrote it; false for a
    /// `systemd[1]:` line of a syslog file, which any user can write (`logger -t 'systemd[1]'`).
    public var verified: Bool

    public var signalName: String? { signal.map { AuditArch.x86_64.signalName(Int32(truncatingIfNeeded: $0)) } }

    static let selectList = """
        CAST(node AS BLOB) AS node, event_time, kind, CAST(unit AS BLOB) AS unit, pid, CAST(comm AS BLOB) AS comm,
        signal, CAST(cgroup AS BLOB) AS cgroup, reason, verified
        """

    init(_ r: Row) throws {
        func bytes(_ c: String) -> [UInt8]? { (r[c] as Data?).map { [UInt8]($0) } }
        node = bytes("node"); eventTime = r["event_time"]; unit = bytes("unit"); pid = r["pid"]
        kind = try KernelKillRow.decode(r["kind"], "systemd action kind")
        comm = bytes("comm"); signal = r["signal"]; cgroup = bytes("cgroup"); reason = r["reason"]
        verified = r["verified"] as Bool? ?? true
    }
}

/// What the kernel logs cover: an answer without a kernel kill means something only here.
public struct KernelLogCoverage: Sendable, Equatable {
    public var firstTime: Double?
    public var lastTime: Double?
    /// kmsg, journal, syslog, dmesg: the kinds of kernel log ever read.
    public var sources: [String] = []
    public var kills = 0
    /// SECCOMP / ANOM_ABEND records came from the audit logs, whose span is the audit span.
    public var fromAudit = 0
    public var systemdActions = 0

    public init() {}

    public var everRead: Bool { !sources.isEmpty }

    /// In the caller's read transaction: the answer's snapshot.
    static func read(_ db: Database) throws -> KernelLogCoverage {
        var c = KernelLogCoverage()
        if let r = try Row.fetchOne(db, sql: "SELECT MIN(first_time) AS f, MAX(last_time) AS l FROM kernel_log_reads") {
            c.firstTime = r["f"]
            c.lastTime = r["l"]
        }
        let kinds = try String.fetchAll(db, sql: "SELECT DISTINCT source FROM kernel_log_reads ORDER BY source")
        c.sources = Array(Set(kinds.flatMap { $0.split(separator: "+").map(String.init) })).sorted()
        c.kills = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM kernel_kill_events WHERE source != 'audit'") ?? 0
        c.fromAudit = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM kernel_kill_events WHERE source = 'audit'") ?? 0
        c.systemdActions = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM systemd_actions") ?? 0
        return c
    }
}

/// The questions about kills no process sent, shared by `who` and `report`.
enum KernelKillQuery {
    struct Filter {
        var pid: Int64?
        var comm: String?
        var node: String?
        var signals: SignalSet
        var before: Double?
        var after: Double?
        /// Where the target and sender lived: only the tracer's records (of these kills) say.
        var targetPlace = PlaceFilter()
        var senderPlace = PlaceFilter()
        /// False when the question is one the kernel's and systemd's kills cannot answer
        /// (a sender, a target's place): only the tracer's records are searched.
        var kernelAndSystemd = true

        /// WHERE terms over `kernel_kills` or `systemd_kills` (same column names).
        func clause(signals: Bool = true) -> (String, [any DatabaseValueConvertible]) {
            var terms: [String] = [], args: [any DatabaseValueConvertible] = []
            if let pid { terms.append("pid = ?"); args.append(pid) }
            if let comm {
                // The name exactly too (`evil[x`, the escaped form printed), as signal rows match.
                let exact = SignalQuery.exactNames(comm)
                terms.append("(comm GLOB ? OR CAST(comm AS BLOB) IN (\(exact.map { _ in "?" }.joined(separator: ","))))")
                args.append(comm)
                args += exact.map { Data($0) }
            }
            if let node { terms.append("node IS ?"); args.append(node) }
            if signals, case .only(let n) = self.signals {
                terms.append("signal IN (\(n.map { _ in "?" }.joined(separator: ",")))")
                args += n.map { Int64($0) }
            }
            if let before { terms.append("event_time <= ?"); args.append(before) }
            if let after { terms.append("event_time >= ?"); args.append(after) }
            return (terms.isEmpty ? "1" : terms.joined(separator: " AND "), args)
        }
    }

    static func kernelKills(_ db: Database, _ f: Filter, limit: Int) throws -> [KernelKillRow] {
        let (clause, args) = f.clause()
        return try Row.fetchAll(db, sql: """
            SELECT \(KernelKillRow.selectList) FROM kernel_kills WHERE \(clause)
            ORDER BY event_time DESC, kill_rowid DESC LIMIT \(limit)
            """, arguments: StatementArguments(args)).map { try KernelKillRow($0) }
    }

    /// Kernel kills of the target by a signal outside the set (SIGSYS from seccomp when
    /// SIGKILL was asked for), a seccomp kill's ANOM_ABEND not counted again.
    static func otherSignals(_ db: Database, _ f: Filter) throws -> [String] {
        guard case .only(let n) = f.signals else { return [] }
        let (clause, args) = f.clause(signals: false)
        return try String.fetchAll(db, sql: """
            SELECT COALESCE(signal_name, kind) FROM kernel_kills WHERE \(clause)
            AND (signal IS NULL OR signal NOT IN (\(n.map(String.init).joined(separator: ","))))
            AND NOT (kind = 'abend' AND EXISTS (
                SELECT 1 FROM kernel_kills s WHERE s.kind = 'seccomp' AND s.pid = kernel_kills.pid
                AND s.signal = kernel_kills.signal AND s.node IS kernel_kills.node
                AND abs(s.event_time - kernel_kills.event_time) <= 1))
            ORDER BY event_time DESC
            """, arguments: StatementArguments(args))
    }

    /// systemd's kills of the target that no audit record shows (the journal is the only
    /// witness); those an audit record shows are attached to it instead.
    static func standaloneSystemdKills(_ db: Database, _ f: Filter, limit: Int) throws -> [SystemdKillRow] {
        let (clause, args) = f.clause()
        return try Row.fetchAll(db, sql: """
            SELECT \(SystemdKillRow.selectList) FROM systemd_kills s WHERE kind = 'kill' AND \(clause)
            AND NOT EXISTS (SELECT 1 FROM events e JOIN targets t ON t.event_id = e.id
                            WHERE e.sender_pid = 1 AND t.pid = s.pid AND e.sec BETWEEN s.event_time - 3 AND s.event_time + 2)
            ORDER BY event_time DESC LIMIT \(limit)
            """, arguments: StatementArguments(args)).map { try SystemdKillRow($0) }.map { try withReason($0, db) }
    }

    /// systemd's journal entry for a signal PID 1 sent: same pid, within 2 s.
    static func systemdContext(_ db: Database, for r: SignalRow) throws -> SystemdKillRow? {
        guard r.senderPid == 1, let pid = r.targetPid else { return nil }
        guard let row = try Row.fetchOne(db, sql: """
            SELECT \(SystemdKillRow.selectList) FROM systemd_kills WHERE kind = 'kill' AND pid = ?
            AND event_time BETWEEN ? AND ? ORDER BY ABS(event_time - ?) LIMIT 1
            """, arguments: [pid, r.eventTime - 2, r.eventTime + 2, r.eventTime]) else { return nil }
        return try withReason(try SystemdKillRow(row), db)
    }

    /// A kill's reason: the unit's stop timeout just before it, if the journal has one.
    static func withReason(_ k: SystemdKillRow, _ db: Database) throws -> SystemdKillRow {
        var k = k
        guard k.reason == nil, let unit = k.unit else { return k }
        k.reason = try String.fetchOne(db, sql: """
            SELECT reason FROM systemd_kills WHERE kind = 'stop-timeout' AND CAST(unit AS BLOB) = ?
            AND event_time BETWEEN ? AND ? ORDER BY event_time DESC LIMIT 1
            """, arguments: [Data(unit), k.eventTime - 10, k.eventTime + 1])
        return k
    }

    /// systemd-oomd's kills of whole cgroups in a span: it names no process, so these can
    /// only be shown beside an answer, not as one.
    static func oomdKills(_ db: Database, node: String?, before: Double?, after: Double?, limit: Int) throws -> [SystemdKillRow] {
        var terms = ["kind = 'oomd'"], args: [any DatabaseValueConvertible] = []
        if let node { terms.append("node IS ?"); args.append(node) }
        if let before { terms.append("event_time <= ?"); args.append(before) }
        if let after { terms.append("event_time >= ?"); args.append(after) }
        return try Row.fetchAll(db, sql: """
            SELECT \(SystemdKillRow.selectList) FROM systemd_kills WHERE \(terms.joined(separator: " AND "))
            ORDER BY event_time DESC LIMIT \(limit)
            """, arguments: StatementArguments(args)).map { try SystemdKillRow($0) }
    }
}
