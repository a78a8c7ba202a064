import Foundation
import GRDB
import Store

/// What `killdb report` is asked: the signals of one window of time, ending at `before`.
public struct IncidentQuery: Sendable {
    /// The end of the window (epoch seconds), inclusive: usually the moment the process died.
    public var before: Double
    /// The window's length in seconds; it starts at `before - window`, inclusive.
    public var window: Double = 3600
    public var targetPid: Int64?
    /// Glob pattern, as the shell's (`java*`).
    public var targetComm: String?
    /// The signals that count as "the kills" (default SIGKILL).
    public var signals: SignalSet = .only([9])
    public var node: String?
    /// At most this many kills and this many failed attempts are listed (the totals are
    /// always counted), so a window over a busy host stays a report, not a dump.
    public var limit: Int = 100

    public init(before: Double, window: Double = 3600) {
        self.before = before
        self.window = window
    }

    public var start: Double { before - window }
    public var hasTarget: Bool { targetPid != nil || targetComm != nil }

    /// The shared filter: window, node, and (when `target`) the target.
    func base(signals: SignalSet, target: Bool) -> SignalQuery {
        var q = SignalQuery()
        q.after = start
        q.before = before
        q.node = node
        q.signals = signals
        if target {
            q.targetPid = targetPid
            q.targetComm = targetComm
        }
        return q
    }

    /// Probes (signal 0) only count when asked for by number: they are not kills.
    var includeProbes: Bool {
        if case .only(let s) = signals { return s.contains(0) }
        return false
    }
}

/// The incident report's content, section by section, before any formatting.
public struct Incident: Sendable {
    public var query: IncidentQuery

    /// (1) The signals delivered to the target in the window, oldest first.
    public var kills: [SignalRow]
    /// All matching kills, whoever killed (processes, the kernel, systemd).
    public var killsTotal: Int
    /// All matching signal rows; more than `kills.count` when the list was cut at the limit.
    public var signalKillsTotal: Int
    /// (1) Kills the kernel made itself (OOM killer, seccomp, fatal signals), oldest first.
    public var kernelKills: [KernelKillRow] = []
    /// (1) systemd's kills the journal records and no audit record shows, oldest first.
    public var systemdKills: [SystemdKillRow] = []
    /// systemd's journal entry for a kill PID 1 sent, by `WhoAnswer.rowKey`.
    public var systemdContext: [String: SystemdKillRow] = [:]
    /// systemd-oomd's kills of whole cgroups in the window (no process named), oldest first.
    public var oomdKills: [SystemdKillRow] = []

    /// (2) What each sender of a listed kill did besides: every other signal it sent in the
    /// window (probes excluded), counted by signal, target and outcome.
    public var senders: [SenderActivity]

    /// (3) The same sender (executable, or name when the exe is unknown) killing processes
    /// of the same name at least twice in the window.
    public var patterns: [RepeatedKill]

    /// (4) Attempts that failed (EPERM, ESRCH ...), any signal but probes, oldest first.
    public var failed: [SignalRow]
    public var failedTotal: Int

    /// (5) What the database does not cover of the window.
    public var coverage: WindowCoverage

    public struct SenderActivity: Sendable, Equatable {
        public var node: [UInt8]?
        public var pid: Int64?
        public var comm: [UInt8]?
        public var exe: [UInt8]?
        /// Grouped by signal, target and outcome; most frequent first.
        public var activity: [Activity]
    }

    public struct Activity: Sendable, Equatable {
        public var signalName: String?
        public var signal: Int64?
        public var targetPid: Int64?
        public var targetComm: [UInt8]?
        /// What the sender asked for when no process was reached (ESRCH, pidfd).
        public var targetArg: Int64?
        public var success: Bool?
        public var errno: String?
        public var count: Int
        public var first: Double
        public var last: Double
    }

    public struct RepeatedKill: Sendable, Equatable {
        public var node: [UInt8]?
        /// The sender's executable; nil when the log had none and `senderComm` is the key.
        public var senderExe: [UInt8]?
        /// The sender's name: the key when there is no exe, else shown when there was only one.
        public var senderComm: [UInt8]?
        public var targetComm: [UInt8]
        public var count: Int
        /// Distinct target pids and distinct sender pids among them.
        public var processes: Int
        public var senderProcesses: Int
        public var first: Double
        public var last: Double
    }
}

/// How much of the window the ingested logs cover.
public struct WindowCoverage: Sendable, Equatable {
    public var start: Double
    public var end: Double
    /// Database-wide: the span of ingested log time, last ingest, lost events in the window.
    public var database: DatabaseCoverage
    /// The parts of the window outside the span of ingested log time: nothing is known there.
    public var uncovered: [Span]
    /// What the kernel logs cover (kills no process sent).
    public var kernel = KernelLogCoverage()

    public struct Span: Sendable, Equatable {
        public var start: Double
        public var end: Double
        public init(start: Double, end: Double) { self.start = start; self.end = end }
    }

    public init(start: Double, end: Double, database: DatabaseCoverage) {
        self.start = start
        self.end = end
        self.database = database
        guard let first = database.firstEventTime, let last = database.lastEventTime else {
            uncovered = [Span(start: start, end: end)]
            return
        }
        var parts: [Span] = []
        if start < first { parts.append(Span(start: start, end: min(first, end))) }
        if end > last { parts.append(Span(start: max(last, start), end: end)) }
        uncovered = parts
    }
}

public enum IncidentReportQuery {
    public static func run(_ q: IncidentQuery, in store: SignalStore) throws -> Incident {
        let killQuery = q.base(signals: q.signals, target: true)
        var (killClause, killArgs) = killQuery.whereClause()
        killClause += " AND success IS NOT 0"
        if !q.includeProbes { killClause += " AND probe IS NOT 1" }

        let failedQuery = q.base(signals: .all, target: true)
        var (failedClause, failedArgs) = failedQuery.whereClause()
        failedClause += " AND success = 0 AND probe IS NOT 1"

        let sections = try store.read { db in
            // Newest first so the limit keeps the kills nearest the incident; shown oldest first.
            let (kills, killsTotal) = try fetchLimited(db, killClause, killArgs, limit: q.limit)
            let (failed, failedTotal) = try fetchLimited(db, failedClause, failedArgs, limit: q.limit)
            let senders = try senderActivity(db, q, kills: kills)
            let patterns = try repeatedKills(db, q, kills: kills)
            return (kills, killsTotal, senders, patterns, failed, failedTotal)
        }
        var database = try DatabaseCoverage.read(store, after: q.start, before: q.before)
        if let node = q.node { database.lostEvents.removeAll { $0.node != node } }
        var incident = Incident(query: q, kills: sections.0, killsTotal: sections.1, signalKillsTotal: sections.1,
                                senders: sections.2, patterns: sections.3, failed: sections.4, failedTotal: sections.5,
                                coverage: WindowCoverage(start: q.start, end: q.before, database: database))
        try addKillsNoProcessSent(q, store, &incident)
        return incident
    }

    /// The kernel's and systemd's kills of the target in the window.
    static func addKillsNoProcessSent(_ q: IncidentQuery, _ store: SignalStore, _ r: inout Incident) throws {
        let filter = KernelKillQuery.Filter(pid: q.targetPid, comm: q.targetComm, node: q.node, signals: q.signals,
                                            before: q.before, after: q.start)
        let kills = r.kills
        try store.read { db in
            for k in kills where k.senderPid == 1 {
                if let s = try KernelKillQuery.systemdContext(db, for: k) { r.systemdContext[WhoAnswer.rowKey(k)] = s }
            }
            r.kernelKills = try KernelKillQuery.kernelKills(db, filter, limit: q.limit).reversed()
            r.systemdKills = try KernelKillQuery.standaloneSystemdKills(db, filter, limit: q.limit).reversed()
            r.oomdKills = try KernelKillQuery.oomdKills(db, node: q.node, before: q.before, after: q.start, limit: q.limit).reversed()
        }
        r.killsTotal = r.signalKillsTotal + r.kernelKills.count + r.systemdKills.count
        r.coverage.kernel = try KernelLogCoverage.read(store)
    }

    static func fetchLimited(_ db: Database, _ clause: String, _ args: [any DatabaseValueConvertible],
                             limit: Int) throws -> ([SignalRow], Int) {
        let rows = try Row.fetchAll(db, sql: """
            SELECT \(SignalRow.selectList) FROM signals WHERE \(clause)
            ORDER BY event_time DESC, serial DESC, target_pid DESC LIMIT \(max(0, limit))
            """, arguments: StatementArguments(args)).map(SignalRow.init)
        let total = rows.count < limit ? rows.count : try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM signals WHERE \(clause)",
                                                                        arguments: StatementArguments(args)) ?? rows.count
        return (rows.reversed(), total)
    }

    /// Each distinct sender process of the listed kills, identified by node, pid and exe
    /// (pids are reused, but rarely by the same executable within one window).
    static func senderActivity(_ db: Database, _ q: IncidentQuery, kills: [SignalRow]) throws -> [Incident.SenderActivity] {
        struct Key: Hashable { var node: [UInt8]?; var pid: Int64?; var exe: [UInt8]? }
        struct Group: Hashable {
            var signal: Int64?; var targetPid: Int64?; var targetComm: [UInt8]?; var targetArg: Int64?
            var success: Bool?; var errno: String?
        }
        var seen: Set<Key> = []
        var senders: [Incident.SenderActivity] = []
        let listed = Set(kills.map { "\($0.eventID)/\($0.targetPid.map(String.init) ?? "-")" })
        for kill in kills {
            let key = Key(node: kill.node, pid: kill.senderPid, exe: kill.senderExe)
            guard seen.insert(key).inserted else { continue }
            // One prepared statement for every sender: preparing a query of the signals view
            // costs more than running it over a window.
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT \(SignalRow.selectList) FROM signals
                WHERE event_rowid IN (SELECT id FROM events WHERE sec >= ? AND sec <= ?)
                  AND event_time >= ? AND event_time <= ? AND CAST(node AS BLOB) IS ? AND sender_pid IS ?
                  AND CAST(sender_exe AS BLOB) IS ? AND probe IS NOT 1
                ORDER BY event_time, serial, target_pid
                """), arguments: [Int64((q.start - 1).rounded(.down)), Int64(q.before.rounded(.up)),
                                 q.start, q.before, kill.node.map { Data($0) }, kill.senderPid, kill.senderExe.map { Data($0) }])
                .map(SignalRow.init)
            var groups: [Group: Incident.Activity] = [:]
            var order: [Group] = []
            for r in rows where !listed.contains("\(r.eventID)/\(r.targetPid.map(String.init) ?? "-")") {
                let g = Group(signal: r.signal, targetPid: r.targetPid, targetComm: r.targetComm,
                              targetArg: r.targetPid == nil ? r.targetArg : nil, success: r.success, errno: r.errno)
                if var a = groups[g] {
                    a.count += 1
                    a.first = min(a.first, r.eventTime)
                    a.last = max(a.last, r.eventTime)
                    groups[g] = a
                } else {
                    order.append(g)
                    groups[g] = Incident.Activity(signalName: r.signalName, signal: r.signal, targetPid: r.targetPid,
                                                  targetComm: r.targetComm, targetArg: g.targetArg, success: r.success,
                                                  errno: r.errno, count: 1, first: r.eventTime, last: r.eventTime)
                }
            }
            // Most frequent first; ties in order of first appearance.
            let activity = order.enumerated().sorted { a, b in
                let x = groups[a.element]!.count, y = groups[b.element]!.count
                return x != y ? x > y : a.offset < b.offset
            }.map { groups[$0.element]! }
            senders.append(Incident.SenderActivity(node: kill.node, pid: kill.senderPid, comm: kill.senderComm,
                                                   exe: kill.senderExe, activity: activity))
        }
        return senders
    }

    /// Sender × target name pairs seen at least twice. With a target pid, "the same target
    /// name" is the name of the processes killed under that pid.
    static func repeatedKills(_ db: Database, _ q: IncidentQuery, kills: [SignalRow]) throws -> [Incident.RepeatedKill] {
        var query = q.base(signals: q.signals, target: false)
        query.targetComm = q.targetComm
        var (clause, args) = query.whereClause()
        clause += " AND success IS NOT 0 AND target_comm IS NOT NULL"
        if !q.includeProbes { clause += " AND probe IS NOT 1" }
        if q.targetPid != nil {
            let names = Array(Set(kills.compactMap(\.targetComm)))
            if names.isEmpty { return [] }
            clause += " AND CAST(target_comm AS BLOB) IN (\(names.map { _ in "?" }.joined(separator: ",")))"
            args += names.map { Data($0) }
        }
        let rows = try Row.fetchAll(db, sql: """
            SELECT CAST(node AS BLOB) AS n, CAST(sender_exe AS BLOB) AS exe,
                   CASE WHEN sender_exe IS NULL THEN CAST(sender_comm AS BLOB) END AS comm_key,
                   CAST(target_comm AS BLOB) AS tcomm,
                   COUNT(*) AS count, COUNT(DISTINCT target_pid) AS processes,
                   COUNT(DISTINCT sender_pid) AS senders, COUNT(DISTINCT sender_comm) AS comms,
                   MIN(CAST(sender_comm AS BLOB)) AS some_comm,
                   MIN(event_time) AS first, MAX(event_time) AS last
            FROM signals WHERE \(clause)
            GROUP BY n, exe, comm_key, tcomm HAVING COUNT(*) >= 2
            ORDER BY count DESC, first
            """, arguments: StatementArguments(args))
        return rows.map { r in
            func bytes(_ c: String) -> [UInt8]? { (r[c] as Data?).map { [UInt8]($0) } }
            let exe = bytes("exe")
            return Incident.RepeatedKill(
                node: bytes("n"), senderExe: exe,
                senderComm: exe == nil ? bytes("comm_key") : ((r["comms"] as Int) == 1 ? bytes("some_comm") : nil),
                targetComm: bytes("tcomm") ?? [], count: r["count"], processes: r["processes"],
                senderProcesses: r["senders"], first: r["first"], last: r["last"])
        }
    }
}
