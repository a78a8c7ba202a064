import Foundation
import GRDB
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

    /// Coverage, with lost events between `after` and `before` (nil: unbounded).
    public static func read(_ store: SignalStore, after: Double?, before: Double?) throws(StoreError) -> DatabaseCoverage {
        try store.read { db in
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
}

/// The answer to "who sent this signal to that process": newest first, with what was left
/// out and what the database covers, so an empty answer is never mistaken for "nobody".
public struct WhoAnswer: Sendable {
    public var rows: [SignalRow]
    /// Matching events left out because they failed (shown with --include-failed).
    public var hiddenFailed: Int
    /// Matching liveness probes (signal 0) left out.
    public var hiddenProbes: Int
    /// More matches than --limit allowed.
    public var truncated: Bool
    public var coverage: DatabaseCoverage
}

public enum Who {
    public static func ask(_ query: SignalQuery, in store: SignalStore) throws -> WhoAnswer {
        let (clause, args) = query.whereClause()
        var shown = clause
        if !query.includeFailed { shown += " AND success IS NOT 0" }
        if !query.includeProbes { shown += " AND probe IS NOT 1" }
        let limit = query.limit.map { $0 + 1 } ?? -1
        let result = try store.read { db -> ([SignalRow], Int, Int) in
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(SignalRow.selectList) FROM signals WHERE \(shown)
                ORDER BY event_time DESC, serial DESC, target_pid LIMIT \(limit)
                """, arguments: StatementArguments(args))
            let failed = query.includeFailed ? 0 : try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM signals WHERE \(clause) AND success = 0
                \(query.includeProbes ? "" : "AND probe IS NOT 1")
                """, arguments: StatementArguments(args)) ?? 0
            let probes = query.includeProbes ? 0 : try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM signals WHERE \(clause) AND probe = 1
                """, arguments: StatementArguments(args)) ?? 0
            return (rows.map(SignalRow.init), failed, probes)
        }
        var rows = result.0
        var truncated = false
        if let l = query.limit, rows.count > l {
            rows.removeLast(rows.count - l)
            truncated = true
        }
        let coverage = try DatabaseCoverage.read(store, after: query.after, before: query.before)
        return WhoAnswer(rows: rows, hiddenFailed: result.1, hiddenProbes: result.2, truncated: truncated, coverage: coverage)
    }
}
