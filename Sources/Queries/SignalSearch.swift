import Foundation
import GRDB

/// Finds the rows of the `signals` view that a question matches through the indexes of
/// migration 003, and only then reads those rows from the view.
///
/// Asking the view directly is correct but slow at scale: its time is computed, so "newest
/// first" means finding every match and sorting it (a name killed 200,000 times), and
/// preparing a statement over its twenty joins costs more than running a small one. Here
/// each (name or pid, signal, outcome) is one range of an index already in time order;
/// the newest few of each range are merged, and counts read the ranges alone.
///
/// The answer is exactly what the view gives for the same filters, in the order
/// time DESC, serial DESC, event DESC, target pid ASC (the tests hold it to that).
struct SignalSearch {
    /// Which signals: a list, or every signal but some (which includes an unknown one).
    enum Signals: Equatable {
        case only([Int64])
        case allBut([Int64])
    }

    /// The part of the matches wanted: shown kills, hidden failures, hidden probes ...
    struct Outcome {
        var signals: Signals
        /// Values of the `failed` columns: [0] successful or unknown, [1] failed, or both.
        var failed: [Int64]
    }

    /// Where the search starts: the most selective filter the question has.
    private enum Driver {
        case targetPid(Int64)
        /// kill(-N): the process group N (or -1, every process), by the pid the sender gave.
        case targetArg(Int64)
        /// Few names: one index range per name.
        case targetComm([Int64])
        /// Many names (a broad glob): walk events by time and keep targets with one of them.
        case targetCommByTime([Int64])
        case senderPid(Int64)
        /// A target and a sender pid that sent fewer signals than the target received: walk
        /// the sender's events by time and keep the targets asked about.
        case senderPidToTarget(Int64, targetPid: Int64?)
        case time
    }

    /// How many index entries to count, at most, when choosing between two starts.
    static let estimateCap = 5000

    /// Above this many names, a pattern is too broad for one index range per name.
    static let maxCommRanges = 64

    private let db: Database
    private let driver: Driver
    /// Filters on the event, applied to each candidate: (SQL over `e`, arguments).
    private var eventTerms: [Part] = []
    /// The comm ids a target must have when the search does not start from them.
    private var commFilter: [Int64]?
    /// Event time bounds, in milliseconds, exactly as the view's event_time compares.
    private let msLow: Int64
    private let msHigh: Int64
    /// A filter names a string no event has: nothing can match.
    private var impossible = false
    /// For a name: pids of processes on record by that name, whose non-leader threads
    /// (named otherwise) the signals to which go to the process too.
    private var threadPids: [Int64] = []
    private var nameIDs: [Int64] = []
    /// The strings ids of tkill, tgkill and rt_tgsigqueueinfo: the calls that name a thread.
    private var threadCallIDs = "[]"

    private typealias Part = (String, [any DatabaseValueConvertible])

    init(_ query: SignalQuery, _ db: Database, maxCommRanges: Int = Self.maxCommRanges) throws {
        self.db = db
        msLow = query.after.map(Self.firstMillisecond(atOrAfter:)) ?? Int64.min
        msHigh = query.before.map(Self.lastMillisecond(atOrBefore:)) ?? Int64.max
        let comms = try query.targetComm.map { try Self.nameIDs(matching: $0, db, targets: true) }
        threadCallIDs = Self.json(try ["tkill", "tgkill", "rt_tgsigqueueinfo"].compactMap { try Self.stringID(Array($0.utf8), db) })
        if let p = query.targetPid, p < 0 {
            driver = .targetArg(p)
            commFilter = comms
        } else if let s = query.senderPid, query.targetPid != nil || comms?.isEmpty == false,
           try Self.senderIsNarrower(s, than: query.targetPid, comms, msLow, msHigh, db) {
            driver = .senderPidToTarget(s, targetPid: query.targetPid)
            commFilter = comms
        } else if let p = query.targetPid {
            driver = .targetPid(p)
            commFilter = comms
        } else if let comms, comms.count > maxCommRanges {
            driver = .targetCommByTime(comms)
            commFilter = comms
        } else if let comms {
            driver = .targetComm(comms)
        } else if let p = query.senderPid {
            driver = .senderPid(p)
        } else {
            driver = .time
        }
        if comms?.isEmpty == true || msLow > msHigh { impossible = true }
        if case .targetComm(let ids) = driver, !ids.isEmpty {
            nameIDs = ids
            threadPids = try Self.pids(named: ids, db)
        }
        // The unary + keeps SQLite on the index the driver chose.
        if let n = query.node {
            if !n.isEmpty, let id = try Self.stringID(Array(n.utf8), db) {
                eventTerms.append(("+e.node_id = ?", [id]))
            } else {
                impossible = true
            }
        }
        switch driver {
        case .senderPid, .senderPidToTarget: break
        default: if let p = query.senderPid { eventTerms.append(("+e.sender_pid = ?", [p])) }
        }
        if let u = query.uid { eventTerms.append(("+e.sender_uid = ?", [u])) }
        if let u = query.auid { eventTerms.append(("+e.sender_auid = ?", [u])) }
        for (pattern, column) in [(query.senderExe, "sender_exe_id"), (query.senderComm, "sender_comm_id")] {
            guard let pattern else { continue }
            let ids = column == "sender_comm_id" ? try Self.nameIDs(matching: pattern, db, targets: false)
                : try Self.stringIDs(matching: pattern, db)
            if ids.isEmpty { impossible = true }
            eventTerms.append(("+e.\(column) IN (SELECT value FROM json_each(?))", [Self.json(ids)]))
        }
        if !query.senderPlace.isEmpty {
            let terms = query.senderPlace.terms
            eventTerms.append(("""
                +e.id IN (SELECT ep.event_id FROM event_processes ep JOIN process_context pc ON pc.process_rowid = ep.process_id
                          WHERE ep.role IN ('sender', 'parent') AND \(terms.map(\.0).joined(separator: " AND ")))
                """, terms.flatMap(\.1)))
        }
        if !query.targetPlace.isEmpty {
            // The plugin's reading of a target, or the tracer's record of the same kill
            // (same sender, target and signal, within a second) when the target was gone.
            let terms = query.targetPlace.terms
            let traced = query.targetPlace.tracedTerms("target")
            let viaTracer = try db.tableExists("traced_record_processes") ? """
                 OR +e.id IN (SELECT t2.event_id FROM traced_signal_context tc
                              JOIN traced_signal_records tr ON tr.id = tc.record_rowid
                              JOIN targets t2 ON t2.pid = tc.target_pid
                              JOIN events e2 ON e2.id = t2.event_id AND e2.sender_pid = tr.sender_pid
                                AND e2.sec BETWEEN CAST(tr.time AS INTEGER) - 1 AND CAST(tr.time AS INTEGER) + 1
                              WHERE \(traced.0))
                """ : ""
            eventTerms.append(("""
                (+e.id IN (SELECT ep.event_id FROM event_processes ep JOIN process_context pc ON pc.process_rowid = ep.process_id
                          WHERE ep.role = 'target' AND \(terms.map(\.0).joined(separator: " AND ")))\(viaTracer))
                """, terms.flatMap(\.1) + (viaTracer.isEmpty ? [] : traced.1)))
        }
    }

    // MARK: - Rows and counts

    /// The matching rows, newest first, at most `limit` (nil: all).
    func rows(_ outcome: Outcome, limit: Int?) throws -> [SignalRow] {
        if impossible || limit == 0 { return [] }
        let all = try ranges(outcome)
        let cut = limit.map { " LIMIT \($0)" } ?? ""
        struct Candidate { var event: Int64; var pid: Int64?; var ms: Int64; var serial: Int64 }
        var candidates: [Candidate] = []
        // Each range is read newest first and cut at the limit; a few hundred per statement
        // stay within SQLite's limit on compound SELECTs.
        for chunk in stride(from: 0, to: all.count, by: 200) {
            let parts = all[chunk..<min(all.count, chunk + 200)].map { sql($0, count: false, cut: cut) }
            let union = parts.map { "SELECT * FROM (\($0.0))" }.joined(separator: " UNION ALL ")
            let merged = "SELECT * FROM (\(union)) ORDER BY time_ms DESC, serial DESC, event_id DESC, pid\(cut)"
            for r in try Row.fetchAll(db, sql: merged, arguments: StatementArguments(parts.flatMap(\.1))) {
                candidates.append(Candidate(event: r["event_id"], pid: r["pid"], ms: r["time_ms"], serial: r["serial"]))
            }
        }
        candidates.sort { a, b in
            (a.ms, a.serial, a.event) != (b.ms, b.serial, b.event)
                ? (a.ms, a.serial, a.event) > (b.ms, b.serial, b.event)
                : (a.pid ?? Int64.min) < (b.pid ?? Int64.min)
        }
        if let limit, candidates.count > limit { candidates.removeLast(candidates.count - limit) }

        // Then the rows themselves, from the view, in the candidates' order.
        struct Pair: Hashable { var event: Int64; var pid: Int64? }
        let wanted = Set(candidates.map { Pair(event: $0.event, pid: $0.pid) })
        var rank: [Int64: Int] = [:]
        for c in candidates where rank[c.event] == nil { rank[c.event] = rank.count }
        let ids = rank.sorted { $0.value < $1.value }.map(\.key)
        // A JSON array keeps the statement's text fixed (one cached statement) and is not
        // bound by SQLite's limit on parameters.
        let fetch = try db.cachedStatement(sql: """
            SELECT \(SignalRow.selectList), event_rowid FROM signals
            WHERE event_rowid IN (SELECT value FROM json_each(?))
            """)
        var found: [(rank: Int, row: SignalRow)] = []
        for chunk in stride(from: 0, to: ids.count, by: 5000) {
            for r in try Row.fetchAll(fetch, arguments: [Self.json(ids[chunk..<min(ids.count, chunk + 5000)])]) {
                let row = SignalRow(r)
                let event: Int64 = r[SignalRow.columns.count]
                if eventsOnly || wanted.contains(Pair(event: event, pid: row.targetPid)) { found.append((rank[event]!, row)) }
            }
        }
        found.sort { a, b in
            a.rank != b.rank ? a.rank < b.rank : (a.row.targetPid ?? Int64.min) < (b.row.targetPid ?? Int64.min)
        }
        let rows = found.map(\.row)
        if let limit, rows.count > limit { return Array(rows.prefix(limit)) }
        return rows
    }

    /// The matching rows among the events stored after rowid `low` up to `high` (events.id
    /// only grows), oldest stored first: what `who --follow` prints. Every filter of the
    /// question applies as `rows` applies it, the time bounds too.
    func rows(storedAfter low: Int64, through high: Int64, _ o: Outcome) throws -> [SignalRow] {
        if impossible || high <= low { return [] }
        var pid: Int64?, sender: Int64?, groupArg: Int64?, comms = commFilter
        switch driver {
        case .targetPid(let p): pid = p
        case .targetArg(let a): groupArg = a
        case .targetComm(let ids): comms = ids
        case .targetCommByTime: break
        case .senderPid(let p): sender = p
        case .senderPidToTarget(let s, let t): sender = s; pid = t
        case .time: break
        }
        var (filter, args) = wholeOutcomeWhere(o, lead: ("e.id > ? AND e.id <= ?", [low, high]))
        if commFilter == nil, let comms {
            filter += " AND t.comm_id IN (SELECT value FROM json_each(?))"
            args.append(Self.json(comms))
        }
        if let sender { filter += " AND e.sender_pid = ?"; args.append(sender) }
        // kill(-N) asked for the group by the number the sender gave, as `rows` finds it.
        if let groupArg { filter += " AND e.target_arg = ?"; args.append(groupArg) }
        if let pid {
            // As `rows`: the target, or the pid asked for when the kill reached no process.
            filter += " AND (t.pid = ? OR (t.event_id IS NULL AND e.target_arg = ?))"
            args += [pid, pid]
        }
        let pairs = try Row.fetchAll(db, sql: """
            SELECT e.id AS event_id, t.pid AS pid FROM events e LEFT JOIN targets t ON t.event_id = e.id
            WHERE \(filter) ORDER BY e.id, t.pid
            """, arguments: StatementArguments(args))
        struct Pair: Hashable { var event: Int64; var pid: Int64? }
        var wanted = Set<Pair>(), ids: [Int64] = []
        for r in pairs {
            let p = Pair(event: r["event_id"], pid: r["pid"])
            if ids.last != p.event { ids.append(p.event) }
            wanted.insert(p)
        }
        guard !ids.isEmpty else { return [] }
        let rank = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        var found: [(rank: Int, row: SignalRow)] = []
        for r in try Row.fetchAll(db, sql: """
            SELECT \(SignalRow.selectList), event_rowid FROM signals WHERE event_rowid IN (SELECT value FROM json_each(?))
            """, arguments: [Self.json(ids)]) {
            let row = SignalRow(r)
            let event: Int64 = r[SignalRow.columns.count]
            if wanted.contains(Pair(event: event, pid: row.targetPid)) { found.append((rank[event]!, row)) }
        }
        found.sort { a, b in a.rank != b.rank ? a.rank < b.rank : (a.row.targetPid ?? Int64.min) < (b.row.targetPid ?? Int64.min) }
        return found.map(\.row)
    }

    /// How many rows match.
    func count(_ outcome: Outcome) throws -> Int {
        if impossible { return 0 }
        var total = 0
        let all = try ranges(outcome)
        for chunk in stride(from: 0, to: all.count, by: 200) {
            let parts = all[chunk..<min(all.count, chunk + 200)].map { sql($0, count: true, cut: "") }
            let sum = "SELECT SUM(c) FROM (" + parts.map { "SELECT (\($0.0)) AS c" }.joined(separator: " UNION ALL ") + ")"
            total += try Int.fetchOne(db, sql: sum, arguments: StatementArguments(parts.flatMap(\.1))) ?? 0
        }
        return total
    }

    // MARK: - Index ranges

    /// What a range is read from.
    private enum Source {
        /// targets_pid or targets_comm, joined with the event: one row per target.
        case targetIndex
        /// Events in time order, joined with the targets asked about: one row per target.
        case eventsWithTargets
        /// Events in time order: every row of the event matches (or it has no target).
        case events
    }

    /// One index range to read: where from, and the WHERE terms over `t` and `e`.
    private struct Range { var source: Source; var filter: Part }

    /// Whether the ranges give whole events (every row of an event found matches).
    private var eventsOnly: Bool {
        switch driver {
        case .senderPid, .time, .targetArg: return true
        default: return false
        }
    }

    /// The ranges that together hold every matching row, once.
    private func ranges(_ o: Outcome) throws -> [Range] {
        switch driver {
        case .targetPid(let p):
            return try targetRanges("pid", [p], o)
                + [Range(source: .eventsWithTargets, filter: threadWhere(tid: p, o, sender: nil))]
                + (commFilter == nil ? unmatchedPidWhere(p, o, sender: nil).map { Range(source: .events, filter: $0) } : [])
        case .targetArg(let arg):
            return [Range(source: .events, filter: wholeOutcomeWhere(o, lead: ("e.target_arg = ? AND \(Self.byTargetArg)", [arg])))]
        case .targetComm(let ids):
            return try targetRanges("comm_id", ids, o) + threadRanges(o)
        case .targetCommByTime:
            return try eventRanges(o).map { Range(source: .eventsWithTargets, filter: eventWhere(signal: $0, failed: $1)) }
        case .senderPid(let p):
            return [Range(source: .events, filter: wholeOutcomeWhere(o, lead: ("e.sender_pid = ?", [p])))]
        case .senderPidToTarget(let sender, let target):
            var (where_, args) = wholeOutcomeWhere(o, lead: ("e.sender_pid = ?", [sender]))
            if let target {
                where_ += " AND +t.pid = ?"
                args.append(target)
            }
            return [Range(source: .eventsWithTargets, filter: (where_, args))]
                + (target.map { [Range(source: .eventsWithTargets, filter: threadWhere(tid: $0, o, sender: sender))] } ?? [])
                + (target != nil && commFilter == nil
                   ? unmatchedPidWhere(target!, o, sender: sender).map { Range(source: .events, filter: $0) } : [])
        case .time:
            return try eventRanges(o).map { Range(source: .events, filter: eventWhere(signal: $0, failed: $1)) }
        }
    }

    /// The events found by the number the sender gave (a group, a thread, no process
    /// reached): the only ones events_target_arg holds (migration 017), and every one these
    /// questions can match. Written out, so SQLite sees the partial index applies.
    private static let byTargetArg = "e.by_target_arg IS NOT NULL"

    private static let eventOrder = " ORDER BY e.sec DESC, e.msec DESC, e.serial DESC, e.id DESC"

    /// A range's query: its rows (event_id, pid, time_ms, serial), newest first and cut, or
    /// their number (one per target, or one for an event without any, as the view counts).
    private func sql(_ r: Range, count: Bool, cut: String) -> Part {
        let (filter, args) = r.filter
        switch r.source {
        case .targetIndex:
            if count {
                // From the index alone, unless an event filter needs the event.
                let join = eventTerms.isEmpty && !filter.contains("e.") ? "" : " JOIN events e ON e.id = t.event_id"
                return ("SELECT COUNT(*) FROM targets t\(join) WHERE \(filter)", args)
            }
            return ("""
                SELECT t.event_id AS event_id, t.pid AS pid, t.time_ms AS time_ms, e.serial AS serial
                FROM targets t JOIN events e ON e.id = t.event_id WHERE \(filter)
                ORDER BY t.time_ms DESC, e.serial DESC, t.event_id DESC, t.pid\(cut)
                """, args)
        case .eventsWithTargets:
            // CROSS JOIN: events first, in time order, so the limit ends the walk early.
            let from = "events e CROSS JOIN targets t ON t.event_id = e.id"
            if count { return ("SELECT COUNT(*) FROM \(from) WHERE \(filter)", args) }
            return ("""
                SELECT t.event_id AS event_id, t.pid AS pid, e.sec * 1000 + e.msec AS time_ms, e.serial AS serial
                FROM \(from) WHERE \(filter)\(Self.eventOrder), t.pid\(cut)
                """, args)
        case .events:
            if count { return ("SELECT COUNT(*) FROM events e LEFT JOIN targets t ON t.event_id = e.id WHERE \(filter)", args) }
            return ("""
                SELECT e.id AS event_id, NULL AS pid, e.sec * 1000 + e.msec AS time_ms, e.serial AS serial
                FROM events e WHERE \(filter)\(Self.eventOrder)\(cut)
                """, args)
        }
    }

    /// The ranges of targets_pid or targets_comm: one per value, signal and outcome.
    private func targetRanges(_ column: String, _ values: [Int64], _ o: Outcome) throws -> [Range] {
        try values.flatMap { v in
            try signals(o, table: "targets", column: column, value: v).flatMap { s in
                o.failed.map { f in
                    var terms = ["t.\(column) = ?", "t.signal IS ?", "t.failed = ?", "t.time_ms BETWEEN ? AND ?"]
                    var args: [any DatabaseValueConvertible] = [v, s, f, msLow, msHigh]
                    addFilters(&terms, &args)
                    return Range(source: .targetIndex, filter: (terms.joined(separator: " AND "), args))
                }
            }
        }
    }

    /// The signals of an outcome; for "all but", those present in the index range (NULL too).
    private func signals(_ o: Outcome, table: String, column: String?, value: Int64?) throws -> [Int64?] {
        switch o.signals {
        case .only(let list): return list
        case .allBut(let excluded):
            return try Self.presentSignals(db, table: table, column: column, value: value).filter { s in
                s.map { !excluded.contains($0) } ?? true
            }
        }
    }

    /// Whether a sender pid sent fewer signals in the time asked about than the target (a pid,
    /// or names) received over all time: counted from the indexes, up to `estimateCap`.
    private static func senderIsNarrower(_ sender: Int64, than pid: Int64?, _ comms: [Int64]?,
                                         _ msLow: Int64, _ msHigh: Int64, _ db: Database) throws -> Bool {
        let sent = try Int.fetchOne(db, sql: """
            SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE sender_pid = ? AND sec BETWEEN ? AND ? LIMIT \(estimateCap))
            """, arguments: [sender, floorDiv(msLow, 1000), floorDiv(msHigh, 1000)]) ?? 0
        let received = try Int.fetchOne(db, sql: pid != nil ? """
            SELECT COUNT(*) FROM (SELECT 1 FROM targets WHERE pid = ? LIMIT \(estimateCap))
            """ : """
            SELECT COUNT(*) FROM (SELECT 1 FROM targets WHERE comm_id IN (SELECT value FROM json_each(?)) LIMIT \(estimateCap))
            """, arguments: [pid.map { $0 as any DatabaseValueConvertible } ?? json(comms ?? [])]) ?? 0
        return sent < received
    }

    /// Events that reached no process but were aimed at `pid` (ESRCH leaves no target),
    /// by the pid or thread id, or as the process of a thread (tgkill's first argument):
    /// the number the sender asked for, in its own pid namespace, says who may have been meant.
    private func unmatchedPidWhere(_ pid: Int64, _ o: Outcome, sender: Int64?) -> [Part] {
        let none = "NOT EXISTS (SELECT 1 FROM targets n WHERE n.event_id = e.id)"
        return [("e.target_arg = ? AND \(Self.byTargetArg) AND \(none)", [pid]),
                ("e.tgid_arg = ? AND e.target_arg IS NOT e.tgid_arg AND \(none)", [pid])].map { lead in
            var (where_, args) = wholeOutcomeWhere(o, lead: (lead.0, lead.1))
            if let sender {
                where_ += " AND +e.sender_pid = ?"
                args.append(sender)
            }
            return (where_, args)
        }
    }

    /// A signal to thread `tid` of another process (tgkill(pid, tid), tkill(tid)): OBJ_PID
    /// names the process, so the thread is found by the number the sender gave. Not for
    /// kill(N) or a tgkill whose pid is not the host's: those numbers are of the sender's
    /// pid namespace, and need not be any host process's.
    private func threadWhere(tid: Int64, _ o: Outcome, sender: Int64?) -> Part {
        var (where_, args) = wholeOutcomeWhere(o, lead: (
            "e.target_arg = ? AND \(Self.byTargetArg) AND e.syscall_name_id IN (SELECT value FROM json_each(?)) AND t.pid != e.target_arg AND (e.tgid_arg = t.pid OR e.tgid_arg IS NULL)",
            [tid, threadCallIDs]))
        if let sender {
            where_ += " AND +e.sender_pid = ?"
            args.append(sender)
        }
        return (where_, args)
    }

    /// Signals to the non-leader threads of processes on record by the name asked for:
    /// the kernel logs the thread's name, but the signal went to that process.
    private func threadRanges(_ o: Outcome) throws -> [Range] {
        try threadPids.flatMap { pid in
            try signals(o, table: "targets", column: "pid", value: pid).flatMap { s in
                o.failed.map { f in
                    var terms = ["t.pid = ?", "t.signal IS ?", "t.failed = ?", "t.time_ms BETWEEN ? AND ?",
                                 "t.comm_id NOT IN (SELECT value FROM json_each(?))", "e.target_arg != t.pid",
                                 "e.syscall_name_id IN (SELECT value FROM json_each(?))", "(e.tgid_arg = t.pid OR e.tgid_arg IS NULL)"]
                    var args: [any DatabaseValueConvertible] = [pid, s, f, msLow, msHigh, Self.json(nameIDs), threadCallIDs]
                    addFilters(&terms, &args)
                    return Range(source: .targetIndex, filter: (terms.joined(separator: " AND "), args))
                }
            }
        }
    }

    /// Above this many pids, a name's threads are not searched by process (a broad glob).
    static let maxThreadPids = 64

    /// The pids that had a process (or thread) of these names, from the index alone.
    static func pids(named ids: [Int64], _ db: Database) throws -> [Int64] {
        let found = try Int64.fetchAll(db, sql: """
            SELECT DISTINCT pid FROM targets WHERE comm_id IN (SELECT value FROM json_each(?)) LIMIT \(maxThreadPids + 1)
            """, arguments: [json(ids)])
        return found.count > maxThreadPids ? [] : found
    }

    /// The (signal, failed) ranges of events_signal for an outcome.
    private func eventRanges(_ o: Outcome) throws -> [(Int64?, Int64)] {
        try signals(o, table: "events", column: nil, value: nil).flatMap { s in o.failed.map { (s, $0) } }
    }

    /// WHERE terms over `e` for one range of events_signal, with the time and other filters.
    private func eventWhere(signal: Int64?, failed: Int64) -> Part {
        var terms = ["e.signal IS ?", "e.failed = ?"]
        var args: [any DatabaseValueConvertible] = [signal, failed]
        addTime(&terms, &args)
        addFilters(&terms, &args)
        return (terms.joined(separator: " AND "), args)
    }

    /// WHERE terms over `e` for a whole outcome, for a search that starts from `lead`'s index.
    private func wholeOutcomeWhere(_ o: Outcome, lead: Part) -> Part {
        var terms = [lead.0], args = lead.1
        switch o.signals {
        case .only(let list):
            terms.append("+e.signal IN (SELECT value FROM json_each(?))")
            args.append(Self.json(list))
        case .allBut(let excluded):
            terms.append("(e.signal IS NULL OR e.signal NOT IN (SELECT value FROM json_each(?)))")
            args.append(Self.json(excluded))
        }
        terms.append("+e.failed IN (SELECT value FROM json_each(?))")
        args.append(Self.json(o.failed))
        addTime(&terms, &args)
        addFilters(&terms, &args)
        return (terms.joined(separator: " AND "), args)
    }

    private func addTime(_ terms: inout [String], _ args: inout [any DatabaseValueConvertible]) {
        if msLow != Int64.min || msHigh != Int64.max {
            // Whole seconds let the index narrow the search; milliseconds make it exact.
            terms.append("e.sec BETWEEN ? AND ?")
            args += [Self.floorDiv(msLow, 1000), Self.floorDiv(msHigh, 1000)]
            terms.append("e.sec * 1000 + e.msec BETWEEN ? AND ?")
            args += [msLow, msHigh]
        }
    }

    /// The filters besides the one the range starts from: the target's names (when the
    /// range does not start from them) and everything about the event.
    private func addFilters(_ terms: inout [String], _ args: inout [any DatabaseValueConvertible]) {
        if let commFilter {
            terms.append("+t.comm_id IN (SELECT value FROM json_each(?))")
            args.append(Self.json(commFilter))
        }
        for (t, a) in eventTerms { terms.append(t); args += a }
    }

    /// The distinct signals in one leading range of an index (NULL included), read by
    /// skipping from one to the next rather than scanning the range.
    static func presentSignals(_ db: Database, table: String, column: String?, value: Int64?) throws -> [Int64?] {
        let lead = column.map { "\($0) = ? AND " } ?? ""
        let leadArgs: [any DatabaseValueConvertible] = value.map { [$0] } ?? []
        var found: [Int64?] = []
        if try Int64.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM \(table) WHERE \(lead)signal IS NULL LIMIT 1"),
                              arguments: StatementArguments(leadArgs)) != nil {
            found.append(nil)
        }
        let next = try db.cachedStatement(sql: "SELECT MIN(signal) FROM \(table) WHERE \(lead)signal > ?")
        var last = Int64.min
        while let s = try Int64.fetchOne(next, arguments: StatementArguments(leadArgs + [last])) {
            found.append(s)
            last = s
        }
        return found
    }

    static func json<C: Collection>(_ ids: C) -> String where C.Element == Int64 {
        "[" + ids.map(String.init).joined(separator: ",") + "]"
    }

    // MARK: - Names to ids

    static func stringID(_ bytes: [UInt8], _ db: Database) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM strings WHERE value = ?"), arguments: [Data(bytes)])
    }

    /// The literal start of a glob pattern, when it is ASCII: any string the pattern
    /// matches starts with these bytes (SQLite reads no other bytes as ASCII characters).
    static func literalPrefix(_ pattern: String) -> (prefix: [UInt8], whole: Bool)? {
        var prefix: [UInt8] = []
        for b in pattern.utf8 {
            if b == UInt8(ascii: "*") || b == UInt8(ascii: "?") || b == UInt8(ascii: "[") { return (prefix, false) }
            if b >= 0x80 || b == 0 { return nil }
            prefix.append(b)
        }
        return (prefix, true)
    }

    /// Ids of the strings a glob matches, as `CAST(value AS TEXT) GLOB pattern` would.
    static func stringIDs(matching pattern: String, _ db: Database) throws -> [Int64] {
        if let (prefix, whole) = literalPrefix(pattern) {
            if whole { return try stringID(prefix, db).map { [$0] } ?? [] }
            if !prefix.isEmpty {
                var end = prefix
                end[end.count - 1] += 1  // ASCII, so no overflow
                return try Int64.fetchAll(db, sql: """
                    SELECT id FROM strings WHERE value >= ? AND value < ? AND CAST(value AS TEXT) GLOB ?
                    """, arguments: [Data(prefix), Data(end), pattern])
            }
        }
        return try Int64.fetchAll(db, sql: "SELECT id FROM strings WHERE CAST(value AS TEXT) GLOB ?", arguments: [pattern])
    }

    /// Ids of the process names (comm) a name or glob finds: those the pattern matches, the
    /// name itself even when it holds glob characters (`evil[x`), and for a plain name longer
    /// than the kernel keeps (TASK_COMM_LEN - 1 bytes) its first 15 bytes.
    static func nameIDs(matching pattern: String, _ db: Database, targets: Bool) throws -> [Int64] {
        var ids = targets ? try commIDs(matching: pattern, db) : try stringIDs(matching: pattern, db)
        for name in SignalQuery.exactNames(pattern) {
            if let id = try stringID(name, db), !ids.contains(id) { ids.append(id) }
        }
        if ids.isEmpty, let why = NameInput.malformed(pattern) { throw QueryError.malformedPattern(pattern, why) }
        return ids
    }

    /// Ids of the target names a glob matches. A pattern without a literal start is tried
    /// against each distinct target name (from the index), not every string stored.
    static func commIDs(matching pattern: String, _ db: Database) throws -> [Int64] {
        if let (prefix, _) = literalPrefix(pattern), !prefix.isEmpty { return try stringIDs(matching: pattern, db) }
        var ids: [Int64] = []
        let next = try db.cachedStatement(sql: "SELECT MIN(comm_id) FROM targets WHERE comm_id > ?")
        let match = try db.cachedStatement(sql: "SELECT CAST(value AS TEXT) GLOB ? FROM strings WHERE id = ?")
        var last = Int64.min
        while let id = try Int64.fetchOne(next, arguments: [last]) {
            if try Bool.fetchOne(match, arguments: [pattern, id]) == true { ids.append(id) }
            last = id
        }
        return ids
    }

    // MARK: - Time

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        if a == Int64.min || a == Int64.max { return a }
        return a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    /// The view's event_time of an instant in milliseconds: sec + msec / 1000.0.
    static func eventTime(ms: Int64) -> Double {
        let sec = floorDiv(ms, 1000)
        return Double(sec) + Double(ms - sec * 1000) / 1000.0
    }

    /// The last millisecond whose event_time is <= t (event_time grows with the millisecond).
    static func lastMillisecond(atOrBefore t: Double) -> Int64 {
        guard t.isFinite else { return t > 0 ? Int64.max : Int64.min }
        let scaled = (t * 1000).rounded(.down)
        if scaled >= 9.2e18 { return Int64.max }
        if scaled <= -9.2e18 { return Int64.min }
        var m = Int64(scaled)
        while eventTime(ms: m) > t { m -= 1 }
        while eventTime(ms: m + 1) <= t { m += 1 }
        return m
    }

    /// The first millisecond whose event_time is >= t.
    static func firstMillisecond(atOrAfter t: Double) -> Int64 {
        guard t.isFinite else { return t > 0 ? Int64.max : Int64.min }
        let scaled = (t * 1000).rounded(.up)
        if scaled >= 9.2e18 { return Int64.max }
        if scaled <= -9.2e18 { return Int64.min }
        var m = Int64(scaled)
        while eventTime(ms: m) < t { m += 1 }
        while eventTime(ms: m - 1) >= t { m -= 1 }
        return m
    }
}
