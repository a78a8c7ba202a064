import Foundation
import GRDB
import Store

/// `who --follow`: the signal events stored after a given one (by the events table's rowid,
/// which only grows), matching a question as `who` asks it. Whoever stores them (the plugin,
/// a scheduled ingest, a merge), each shows up at the next poll.
public enum Follow {
    /// The newest event's rowid now (0 for an empty database): following starts after it.
    public static func lastRowID(in store: SignalStore) throws(StoreError) -> Int64 {
        try store.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM events") ?? 0 }
    }

    /// Events after `rowid` that match `query` as `who` matches it (its limit aside), oldest
    /// stored first, from at most `batch` events; and the rowid to continue after (past the rows that did not
    /// match, so they are never read again).
    public static func rows(after rowid: Int64, matching query: SignalQuery, in store: SignalStore,
                            batch: Int = 1000) throws(StoreError) -> (rows: [SignalRow], next: Int64) {
        try store.read { db in
            guard let high = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM (SELECT id FROM events WHERE id > ? ORDER BY id LIMIT ?)",
                                                arguments: [rowid, batch]) else { return ([], rowid) }
            // The same search as `who` asks, so every filter means what it means there
            // (names as the kernel keeps them, the sender's unit, pod, cgroup ...).
            let search = try SignalSearch(query, db)
            let rows = try search.rows(storedAfter: rowid, through: high,
                                       .init(signals: query.signals.searched(probes: query.includeProbes),
                                             failed: query.includeFailed ? [0, 1] : [0]))
            return (rows, high)
        }
    }

    /// A kill the kernel made itself (OOM killer, seccomp, a fatal signal), as the
    /// `kernel_kills` view has it.
    public struct KernelKill: Sendable, Equatable {
        public var rowid: Int64
        public var node: [UInt8]?
        public var eventTime: Double
        public var kind: String
        public var reason: String?
        public var pid: Int64?
        public var comm: [UInt8]?
        public var signalName: String?
        public var source: String?
        /// False when read only from syslog or dmesg text (see `KernelKillRow.verified`).
        public var verified = true
    }

    /// The newest kernel kill's rowid now (0 for none).
    public static func lastKernelRowID(in store: SignalStore) throws(StoreError) -> Int64 {
        try store.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM kernel_kill_events") ?? 0 }
    }

    /// Kernel kills stored after `rowid` whose process matches the query's target (pid or
    /// name), node and signals; oldest first; and the rowid to continue after. A question
    /// about the sender (pid, name, exe, uid) has no kernel kill as its answer.
    public static func kernelKills(after rowid: Int64, matching query: SignalQuery, in store: SignalStore,
                                   batch: Int = 1000) throws(StoreError) -> (kills: [KernelKill], next: Int64) {
        try store.read { db in
            guard let high = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM (SELECT id FROM kernel_kill_events WHERE id > ? ORDER BY id LIMIT ?)",
                                                arguments: [rowid, batch]) else { return ([], rowid) }
            if query.senderPid != nil || query.senderComm != nil || query.senderExe != nil || query.uid != nil
                || query.auid != nil || !query.senderPlace.isEmpty { return ([], high) }
            var terms = ["kill_rowid > ?", "kill_rowid <= ?"]
            var arguments: [DatabaseValueConvertible?] = [rowid, high]
            if let p = query.targetPid { terms.append("pid = ?"); arguments.append(p) }
            if let c = query.targetComm { terms.append("comm GLOB ?"); arguments.append(c) }
            if let n = query.node { terms.append("node IS ?"); arguments.append(n.isEmpty ? nil : n) }
            if case .only(let numbers) = query.signals {
                terms.append("signal IN (\(numbers.map { _ in "?" }.joined(separator: ",")))")
                arguments += numbers.map { Int64($0) }
            }
            let rows = try Row.fetchAll(db, sql: """
                SELECT kill_rowid, CAST(node AS BLOB), event_time, kind, reason, pid, CAST(comm AS BLOB), signal_name, source,
                  verified
                FROM kernel_kills WHERE \(terms.joined(separator: " AND ")) ORDER BY kill_rowid
                """, arguments: StatementArguments(arguments) ?? [])
            return (rows.map { r in
                KernelKill(rowid: r[0], node: (r[1] as Data?).map { [UInt8]($0) }, eventTime: r[2], kind: r[3], reason: r[4],
                           pid: r[5], comm: (r[6] as Data?).map { [UInt8]($0) }, signalName: r[7], source: r[8],
                           verified: r[9] as Bool? ?? true)
            }, high)
        }
    }
}
