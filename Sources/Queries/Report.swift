import Foundation
import GRDB
import ProcessContext
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

    /// (1) The kills of the target in the window, whoever made them (processes, the kernel,
    /// systemd), each with all its evidence; oldest first. Each kind is cut at the limit.
    public var entries: [Kill] = []
    /// (1) The signal rows among them, oldest first: the kills whose senders (2) follows.
    public var kills: [SignalRow]
    /// All matching signal rows; more than `kills.count` when the list was cut at the limit.
    public var signalKillsTotal: Int
    /// Kills of a whole cgroup in the window (systemd-oomd's, no process named), oldest first.
    public var cgroupKills: [SystemdKillRow] = []

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

/// The kills grouped by where their target (or sender) lived: a pod, a container, a
/// systemd unit, as the plugin or the tracer read it.
public struct PlaceCount: Sendable, Equatable {
    public enum Side: String, Sendable { case target, sender }
    public enum Kind: String, Sendable { case pod, container, unit }
    public var side: Side
    public var kind: Kind
    /// `shop/cart-7d9` (or the pod's UID), `containerd 4f3c2b1a0e9d`, `cron.service`.
    public var name: [UInt8]
    public var count: Int
}

extension Incident {
    /// Each place with how many of the listed kills landed in it (target) or came from it
    /// (sender), most first; kills whose processes were not read count nowhere.
    public var killsByPlace: [PlaceCount] {
        var counts: [PlaceCount] = []
        func add(_ side: PlaceCount.Side, _ place: ProcessPlace?) {
            guard let place, let (kind, name) = Self.key(place) else { return }
            if let i = counts.firstIndex(where: { $0.side == side && $0.kind == kind && $0.name == name }) {
                counts[i].count += 1
            } else {
                counts.append(PlaceCount(side: side, kind: kind, name: name, count: 1))
            }
        }
        for k in entries {
            add(.target, k.processes?.target?.place)
            add(.sender, k.processes?.senderPlace)
        }
        return counts.enumerated().sorted { a, b in
            (a.element.side == b.element.side) ? (a.element.count != b.element.count ? a.element.count > b.element.count : a.offset < b.offset)
                : a.element.side == .target
        }.map(\.element)
    }

    /// The name an operator knows a place by: its pod, else its container, else its unit.
    static func key(_ p: ProcessPlace) -> (PlaceCount.Kind, [UInt8])? {
        if let pod = p.pod {
            if let ns = pod.namespace, let n = pod.name { return (.pod, ns + Array("/".utf8) + n) }
            return (.pod, Array(pod.uid.utf8))
        }
        if let c = p.container { return (.container, Array("\(c.runtime.rawValue) \(c.shortID)".utf8)) }
        if let u = p.unit { return (.unit, u) }
        return nil
    }
}

/// Views of the entries by kind of evidence; the renderers read `entries`.
extension Incident {
    /// All matching kills, whoever killed.
    public var killsTotal: Int { signalKillsTotal + entries.count - kills.count }
    public var kernelKills: [KernelKillRow] { entries.compactMap { if case .kernel(let k) = $0.primary { k } else { nil } } }
    public var systemdKills: [SystemdKillRow] { entries.compactMap { if case .systemd(let s) = $0.primary { s } else { nil } } }
    /// systemd's journal entry for a kill PID 1 sent, by `WhoAnswer.rowKey`.
    public var systemdContext: [String: SystemdKillRow] { Kill.journals(entries) }
    public var oomdKills: [SystemdKillRow] { cgroupKills }
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
    /// When the tracer ran (`killdb trace`): kills audit cannot see are seen only then.
    public var tracer = TraceCoverage(sessions: [], losses: [])

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
    /// The report, read in one snapshot of `store`.
    public static func run(_ q: IncidentQuery, in store: SignalStore) throws -> Incident {
        try store.answering { db in try answer(q, db) }
    }

    /// The report from `db`, inside the caller's read transaction.
    public static func answer(_ q: IncidentQuery, _ db: Database) throws -> Incident {
        let search = try SignalSearch(q.base(signals: q.signals, target: true), db)
        // Newest first so the limit keeps the kills nearest the incident; shown oldest first.
        let (kills, killsTotal) = try fetchLimited(
            search, .init(signals: q.signals.searched(probes: q.includeProbes), failed: [0]), limit: q.limit)
        let (failed, failedTotal) = try fetchLimited(search, .init(signals: .allBut([0]), failed: [1]), limit: q.limit)
        let senders = try senderActivity(db, q, kills: kills)
        let patterns = try repeatedKills(db, q, kills: kills)
        var database = try DatabaseCoverage.read(db, after: q.start, before: q.before)
        if let node = q.node { database.lostEvents.removeAll { $0.node != node } }
        var incident = Incident(query: q, kills: kills, signalKillsTotal: killsTotal,
                                senders: senders, patterns: patterns, failed: failed, failedTotal: failedTotal,
                                coverage: WindowCoverage(start: q.start, end: q.before, database: database))
        try addKillsNoProcessSent(q, db, &incident)
        return incident
    }

    /// The kernel's and systemd's kills of the target in the window, with the signal rows.
    static func addKillsNoProcessSent(_ q: IncidentQuery, _ db: Database, _ r: inout Incident) throws {
        let filter = KernelKillQuery.Filter(pid: q.targetPid, comm: q.targetComm, node: q.node, signals: q.signals,
                                            before: q.before, after: q.start)
        r.entries = try KillTimeline.kills(db, signals: r.kills, others: filter, limit: q.limit, order: .oldestFirst)
        // Each kill says which process with its pid it reached, as who's answer does.
        for i in r.entries.indices {
            guard let s = r.entries[i].signal, let pid = s.targetPid else { continue }
            r.entries[i].earlierEnds = try PidInstances.ends(db, pid: pid, node: s.node, before: s.eventTime)
        }
        r.cgroupKills = try KernelKillQuery.oomdKills(db, node: q.node, before: q.before, after: q.start, limit: q.limit).reversed()
        r.coverage.kernel = try KernelLogCoverage.read(db)
        r.coverage.tracer = try TracedSignalQuery.coverage(db)
    }

    static func fetchLimited(_ search: SignalSearch, _ outcome: SignalSearch.Outcome, limit: Int) throws -> ([SignalRow], Int) {
        let rows = try search.rows(outcome, limit: max(0, limit))
        let total = rows.count < limit ? rows.count : try search.count(outcome)
        return (oldestFirst(rows), total)
    }

    /// Rows newest first, as a report lists them: oldest first, the targets of one event by pid.
    static func oldestFirst(_ rows: [SignalRow]) -> [SignalRow] {
        rows.reversed().enumerated().sorted { a, b in
            let x = a.element, y = b.element
            if (x.eventTime, x.serial) != (y.eventTime, y.serial) { return a.offset < b.offset }
            return (x.targetPid ?? Int64.min, a.offset) < (y.targetPid ?? Int64.min, b.offset)
        }.map(\.element)
    }

    /// Each distinct sender process of the listed kills, identified by node, pid and exe
    /// (pids are reused, but rarely by the same executable within one window).
    static func senderActivity(_ db: Database, _ q: IncidentQuery, kills: [SignalRow]) throws -> [Incident.SenderActivity] {
        struct Key: Hashable { var node: [UInt8]?; var pid: Int64?; var exe: [UInt8]? }
        struct Group: Hashable {
            var signal: Int64?; var targetPid: Int64?; var targetComm: Int64?; var targetArg: Int64?
            var success: Int64?; var errno: Int64?
        }
        struct Activity { var signalName: Int64?; var count: Int; var first: Int64; var last: Int64 }
        var seen: Set<Key> = []
        var senders: [Incident.SenderActivity] = []
        var names = StringTable(db)
        let listed = Set(kills.map(WhoAnswer.rowKey))
        // Most rows are not listed: their serial says so without building the key's string.
        let listedSerials = Set(kills.map(\.serial))
        let low = SignalSearch.firstMillisecond(atOrAfter: q.start), high = SignalSearch.lastMillisecond(atOrBefore: q.before)
        // The tables, not the view: one index range per sender, a few small columns per row.
        let statement = try db.cachedStatement(sql: """
            SELECT e.sec, e.msec, e.serial, e.signal, e.signal_name_id, e.success, e.errno_id, e.target_arg,
                   t.pid, t.comm_id
            FROM events e LEFT JOIN targets t ON t.event_id = e.id
            WHERE e.sender_pid IS ? AND e.sec BETWEEN ? AND ? AND e.sec * 1000 + e.msec BETWEEN ? AND ?
              AND +e.node_id = ? AND +e.sender_exe_id IS ? AND (e.signal IS NULL OR e.signal != 0)
            ORDER BY e.sec, e.msec, e.serial, t.pid
            """)
        for kill in kills {
            let key = Key(node: kill.node, pid: kill.senderPid, exe: kill.senderExe)
            guard seen.insert(key).inserted else { continue }
            guard let node = try SignalSearch.stringID(kill.node ?? [], db) else { continue }
            let exe = try kill.senderExe.map { try SignalSearch.stringID($0, db) }
            if exe == .some(nil) { continue }
            var groups: [Group: Activity] = [:]
            var order: [Group] = []
            let rows = try Row.fetchCursor(statement, arguments: [
                kill.senderPid, SignalSearch.floorDiv(low, 1000), SignalSearch.floorDiv(high, 1000), low, high, node, exe ?? nil])
            while let r = try rows.next() {
                let sec: Int64 = r[0], msec: Int64 = r[1], serial: Int64 = r[2], pid: Int64? = r[8]
                if listedSerials.contains(serial), listed.contains(WhoAnswer.rowKey(eventID: SignalRow.eventID(sec: sec, msec: msec, serial: serial), targetPid: pid)) {
                    continue
                }
                let g = Group(signal: r[3], targetPid: pid, targetComm: r[9], targetArg: pid == nil ? r[7] : nil,
                              success: r[5], errno: r[6])
                let ms = sec * 1000 + msec
                if var a = groups[g] {
                    a.count += 1
                    a.first = min(a.first, ms)
                    a.last = max(a.last, ms)
                    groups[g] = a
                } else {
                    order.append(g)
                    groups[g] = Activity(signalName: r[4], count: 1, first: ms, last: ms)
                }
            }
            // Most frequent first; ties in order of first appearance.
            let ranked = order.enumerated().sorted { a, b in
                let x = groups[a.element]!.count, y = groups[b.element]!.count
                return x != y ? x > y : a.offset < b.offset
            }.map(\.element)
            let activity = try ranked.map { g in
                let a = groups[g]!
                return Incident.Activity(signalName: try names.text(a.signalName), signal: g.signal, targetPid: g.targetPid,
                                  targetComm: try names.bytes(g.targetComm), targetArg: g.targetArg,
                                  success: g.success.map { $0 == 1 }, errno: try names.text(g.errno), count: a.count,
                                  first: SignalSearch.eventTime(ms: a.first), last: SignalSearch.eventTime(ms: a.last))
            }
            senders.append(Incident.SenderActivity(node: kill.node, pid: kill.senderPid, comm: kill.senderComm,
                                                   exe: kill.senderExe, activity: activity))
        }
        return senders
    }

    /// Sender × target name pairs seen at least twice. With a target pid, "the same target
    /// name" is the name of the processes killed under that pid.
    static func repeatedKills(_ db: Database, _ q: IncidentQuery, kills: [SignalRow]) throws -> [Incident.RepeatedKill] {
        let low = SignalSearch.firstMillisecond(atOrAfter: q.start), high = SignalSearch.lastMillisecond(atOrBefore: q.before)
        var terms = ["t.failed = 0", "t.comm_id IS NOT NULL", "t.time_ms BETWEEN ? AND ?"]
        var args: [any DatabaseValueConvertible] = [low, high]
        var comms: [Int64]?
        if q.targetPid != nil {
            // Exact names, not patterns: a name may hold glob characters.
            comms = try Set(kills.compactMap(\.targetComm)).compactMap { try SignalSearch.stringID($0, db) }
        } else if let g = q.targetComm {
            comms = try SignalSearch.commIDs(matching: g, db)
        }
        // Start from the names when there are some, else from the window's events. Kills are
        // counted by signal sent: one to a process group that reached three is one, not three.
        let table = comms == nil ? "e" : "t"
        if let comms {
            if comms.isEmpty { return [] }
            terms.append("t.comm_id IN (SELECT value FROM json_each(?))")
            args.append(SignalSearch.json(comms))
        } else {
            terms += ["e.sec BETWEEN ? AND ?", "e.failed = 0"]
            args += [SignalSearch.floorDiv(low, 1000), SignalSearch.floorDiv(high, 1000)]
        }
        switch q.signals.searched(probes: q.includeProbes) {
        case .only(let list):
            terms.append("\(table).signal IN (SELECT value FROM json_each(?))")
            args.append(SignalSearch.json(list))
        case .allBut(let excluded):
            var present: [Int64?] = []
            for v in comms.map({ $0.map { Optional($0) } }) ?? [nil] {
                present += try SignalSearch.presentSignals(db, table: table == "t" ? "targets" : "events",
                                                           column: v == nil ? nil : "comm_id", value: v)
            }
            if present.contains(where: { $0 == nil }) {
                // A record without a signal number (never from the kernel): scan, matching it too.
                terms.append("(t.signal IS NULL OR t.signal NOT IN (SELECT value FROM json_each(?)))")
                args.append(SignalSearch.json(excluded))
            } else {
                // The signals there are, so the index is searched by signal rather than scanned.
                terms.append("\(table).signal IN (SELECT value FROM json_each(?))")
                args.append(SignalSearch.json(Set(present.compactMap { $0 }).subtracting(excluded).sorted()))
            }
        }
        if let node = q.node {
            guard !node.isEmpty, let id = try SignalSearch.stringID(Array(node.utf8), db) else { return [] }
            terms.append("+e.node_id = ?")
            args.append(id)
        }
        // Grouped here, not in SQL: there each COUNT(DISTINCT) keeps a temporary B-tree and
        // the GROUP BY sorts in another, five B-tree inserts per row, which over a month of
        // a busy host (86,000 kills) cost more than the rest of the report together.
        // CROSS JOIN keeps the order of the rows: an event's targets of one name come one
        // after another (events outer, its targets inner; or targets_comm's order, the time
        // then the event), so an event is counted when it changes and no set of every event
        // is kept: memory grows with the distinct pids, not with the window.
        let statement = try db.makeStatement(sql: """
            SELECT e.node_id, e.sender_exe_id, e.sender_comm_id, e.sender_pid, t.comm_id, t.event_id, t.pid, t.time_ms
            FROM \(table == "t" ? "targets t CROSS JOIN events e" : "events e CROSS JOIN targets t") ON t.event_id = e.id
            WHERE \(terms.joined(separator: " AND "))
            """)
        // The key as SQL grouped it: node, exe, the name when there is no exe, target name.
        struct Key: Hashable, Comparable {
            var node: Int64, exe: Int64?, commKey: Int64?, targetComm: Int64
            static func < (a: Key, b: Key) -> Bool {
                // NULL first, as SQLite orders a GROUP BY.
                func less(_ x: Int64?, _ y: Int64?) -> Bool? {
                    guard x != y else { return nil }
                    guard let x else { return true }
                    guard let y else { return false }
                    return x < y
                }
                if a.node != b.node { return a.node < b.node }
                if let l = less(a.exe, b.exe) { return l }
                if let l = less(a.commKey, b.commKey) { return l }
                return a.targetComm < b.targetComm
            }
        }
        struct Group {
            var events = 0, lastEvent: Int64?
            var processes: Set<Int64> = [], senders: Set<Int64> = [], comms: Set<Int64> = []
            var someComm: Int64?
            var first = Int64.max, last = Int64.min

            mutating func add(event: Int64, target: Int64, sender: Int64?, comm: Int64?, time: Int64) {
                if event != lastEvent {
                    events += 1
                    lastEvent = event
                }
                processes.insert(target)
                if let sender { senders.insert(sender) }
                if let comm {
                    comms.insert(comm)
                    someComm = min(someComm ?? comm, comm)
                }
                first = min(first, time)
                last = max(last, time)
            }
        }
        var groups: [Key: Group] = [:]
        let rows = try Row.fetchCursor(statement, arguments: StatementArguments(args))
        while let r = try rows.next() {
            let exe: Int64? = r[1], comm: Int64? = r[2], senderPid: Int64? = r[3], time: Int64 = r[7]
            let key = Key(node: r[0], exe: exe, commKey: exe == nil ? comm : nil, targetComm: r[4])
            // In place: no copy of the group's sets per row.
            groups[key, default: Group()].add(event: r[5], target: r[6], sender: senderPid, comm: comm, time: time)
        }
        var names = StringTable(db)
        var patterns: [Incident.RepeatedKill] = []
        for (key, g) in groups.sorted(by: { $0.key < $1.key }) where g.events >= 2 {
            let exe = try names.bytes(key.exe)
            let node = try names.bytes(key.node)
            let comm = exe == nil ? try names.bytes(key.commKey) : (g.comms.count == 1 ? try names.bytes(g.someComm) : nil)
            patterns.append(Incident.RepeatedKill(
                node: node?.isEmpty == true ? nil : node, senderExe: exe, senderComm: comm,
                targetComm: try names.bytes(key.targetComm) ?? [], count: g.events, processes: g.processes.count,
                senderProcesses: g.senders.count, first: SignalSearch.eventTime(ms: g.first),
                last: SignalSearch.eventTime(ms: g.last)))
        }
        return patterns.enumerated().sorted { a, b in
            let x = a.element, y = b.element
            if x.count != y.count { return x.count > y.count }
            if x.first != y.first { return x.first < y.first }
            return a.offset < b.offset
        }.map(\.element)
    }
}

/// Strings by id, each read once.
struct StringTable {
    let db: Database
    var cache: [Int64: [UInt8]] = [:]

    init(_ db: Database) { self.db = db }

    mutating func bytes(_ id: Int64?) throws -> [UInt8]? {
        guard let id else { return nil }
        if let b = cache[id] { return b }
        let data = try Data.fetchOne(db.cachedStatement(sql: "SELECT value FROM strings WHERE id = ?"), arguments: [id])
        let b = data.map { [UInt8]($0) }
        cache[id] = b
        return b
    }

    /// As the views show it: CAST(value AS TEXT).
    mutating func text(_ id: Int64?) throws -> String? {
        try bytes(id).map { String(decoding: $0, as: UTF8.self) }
    }
}
