import AuditDecoding
import AuditLog
import KernelLog
import Foundation
import GRDB

/// What storing one kernel-log entry did.
public enum KernelKillOutcome: Sendable, Equatable {
    case inserted
    /// Another entry already described this kill (the oom-kill: line, or the same line in
    /// another log): what this one adds was merged into it.
    case merged
    /// This very entry was stored before.
    case duplicate
}

/// One read of one kernel log, as `kernel_log_reads` keeps it.
public struct KernelLogRead: Sendable {
    public var source: String
    public var path: String
    public var bootID: String?
    public var start: Int64
    public var end: Int64
    public var entries = 0
    public var kills = 0
    public var signalEvents = 0
    public var badLines = 0
    public var firstTime: Double?
    public var lastTime: Double?

    public init(source: String, path: String, bootID: String? = nil, start: Int64, end: Int64) {
        self.source = source
        self.path = path
        self.bootID = bootID
        self.start = start
        self.end = end
    }

    public mutating func saw(_ t: Double) {
        if firstTime == nil || t < firstTime! { firstTime = t }
        if lastTime == nil || t > lastTime! { lastTime = t }
    }
}

extension StoreTransaction {
    /// Entries of one kill lie this close in time: the oom-kill: line and the Killed
    /// process line are microseconds apart, syslog's stamp is whole seconds, and a dmesg
    /// stamp is placed by an estimate of the boot time.
    static let kernelKillJoinWindow = 5.0

    public func store(_ kill: KernelKill) throws -> KernelKillOutcome {
        if try Int64.fetchOne(db.cachedStatement(sql: "SELECT kill_id FROM kernel_kill_entries WHERE identity = ?"),
                              arguments: [kill.identity]) != nil {
            return .duplicate
        }
        func id(_ b: [UInt8]?) throws -> Int64? { try b.map { try store.intern($0, db) } }
        func id(_ s: String?) throws -> Int64? { try s.map { try store.intern(Array($0.utf8), db) } }
        let nodeID = try store.intern(Array(kill.node.utf8), db)
        var existing: Int64?
        var existingVerified = true
        if let pid = kill.pid {
            let kinds = kill.kind.isOOM ? ["oom", "memcg-oom"] : [kill.kind.rawValue]
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT k.id, k.verified, CAST(n.value AS TEXT) AS node FROM kernel_kill_events k JOIN strings n ON n.id = k.node_id
                WHERE k.pid = ? AND k.time BETWEEN ? AND ? AND k.kind IN (?, ?)
                ORDER BY ABS(k.time - ?)
                """), arguments: [pid, kill.time - Self.kernelKillJoinWindow, kill.time + Self.kernelKillJoinWindow,
                                  kinds[0], kinds.last!, kill.time])
            if let row = rows.first(where: { sameHost($0["node"], kill.node) }) {
                existing = row["id"]
                existingVerified = row["verified"] as Bool? ?? true
            }
        }
        let outcome: KernelKillOutcome
        let rowID: Int64
        if let existing, existingVerified, !kill.verified {
            // A line anyone could have written adds nothing to what a trusted log says.
            rowID = existing
            outcome = .merged
        } else if let existing, !existingVerified, kill.verified {
            // The kernel's own entry of a kill first read from syslog: its words replace those
            // of the line anyone could have written.
            rowID = existing
            outcome = .merged
            try db.cachedStatement(sql: """
                UPDATE kernel_kill_events SET verified = 1, source = ?, time = ?,
                  kind = ?,
                  node_id = CASE WHEN ? = x'' THEN node_id ELSE ? END,
                  comm_id = COALESCE(?, comm_id), exe_id = COALESCE(?, exe_id), uid = COALESCE(?, uid),
                  signal = COALESCE(?, signal), cgroup_id = COALESCE(?, cgroup_id),
                  limit_cgroup_id = COALESCE(?, limit_cgroup_id), "constraint" = COALESCE(?, "constraint"),
                  syscall = COALESCE(?, syscall), arch = COALESCE(?, arch), details = COALESCE(?, details),
                  message_id = ?
                WHERE id = ?
                """).execute(arguments: [kill.source.rawValue, kill.time,
                                         kill.kind.rawValue,
                                         Data(kill.node.utf8), nodeID,
                                         try id(kill.comm), try id(kill.exe), kill.uid,
                                         kill.signal, try id(kill.cgroup), try id(kill.limitCgroup), kill.constraint,
                                         kill.syscall, kill.arch.map { Int64($0) }, kill.details, try id(kill.message), existing])
        } else if let existing {
            rowID = existing
            outcome = .merged
            // A memory cgroup's kill stays one, whichever entry said so.
            try db.cachedStatement(sql: """
                UPDATE kernel_kill_events SET
                  kind = CASE WHEN ? = 'memcg-oom' THEN 'memcg-oom' ELSE kind END,
                  node_id = CASE WHEN node_id = (SELECT id FROM strings WHERE value = x'') THEN ? ELSE node_id END,
                  comm_id = COALESCE(comm_id, ?), exe_id = COALESCE(exe_id, ?), uid = COALESCE(uid, ?),
                  signal = COALESCE(signal, ?), cgroup_id = COALESCE(cgroup_id, ?),
                  limit_cgroup_id = COALESCE(limit_cgroup_id, ?), "constraint" = COALESCE("constraint", ?),
                  syscall = COALESCE(syscall, ?), arch = COALESCE(arch, ?), details = COALESCE(details, ?),
                  message_id = CASE WHEN ? THEN ? ELSE message_id END
                WHERE id = ?
                """).execute(arguments: [kill.kind.rawValue, nodeID, try id(kill.comm), try id(kill.exe), kill.uid,
                                         kill.signal, try id(kill.cgroup), try id(kill.limitCgroup), kill.constraint,
                                         kill.syscall, kill.arch.map { Int64($0) }, kill.details,
                                         // The Killed process line is what operators grep for: the better evidence.
                                         kill.message.firstRange(of: "Killed process") != nil, try id(kill.message), existing])
        } else {
            try db.cachedStatement(sql: """
                INSERT INTO kernel_kill_events (node_id, time, source, kind, pid, comm_id, exe_id, uid, signal,
                  cgroup_id, limit_cgroup_id, "constraint", syscall, arch, details, message_id, verified)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [nodeID, kill.time, kill.source.rawValue, kill.kind.rawValue, kill.pid,
                                         try id(kill.comm), try id(kill.exe), kill.uid, kill.signal,
                                         try id(kill.cgroup), try id(kill.limitCgroup), kill.constraint, kill.syscall,
                                         kill.arch.map { Int64($0) }, kill.details, try id(kill.message), kill.verified])
            rowID = db.lastInsertedRowID
            outcome = .inserted
        }
        try db.cachedStatement(sql: "INSERT INTO kernel_kill_entries (identity, kill_id) VALUES (?, ?)")
            .execute(arguments: [kill.identity, rowID])
        return outcome
    }

    /// True when the entry's stored row is new; false when this entry was stored before.
    public func store(_ action: SystemdAction) throws -> Bool {
        func id(_ b: [UInt8]?) throws -> Int64? { try b.map { try store.intern($0, db) } }
        func id(_ s: String?) throws -> Int64? { try s.map { try store.intern(Array($0.utf8), db) } }
        try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO systemd_actions (node_id, time, kind, unit_id, pid, comm_id, signal, cgroup_id,
              reason, message_id, identity, verified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [try store.intern(Array(action.node.utf8), db), action.time, action.kind.rawValue,
                                     try id(action.unit), action.pid, try id(action.comm), action.signal,
                                     try id(action.cgroup), action.reason, try id(action.message), action.identity,
                                     action.verified])
        return db.changesCount > 0
    }

    public func save(_ read: KernelLogRead, run: Int64) throws {
        try db.execute(sql: """
            INSERT INTO kernel_log_reads (run_id, source, path, boot_id, start_offset, end_offset, entries, kills,
              signal_events, bad_lines, first_time, last_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [run, read.source, Data(read.path.utf8), read.bootID, read.start, read.end, read.entries,
                             read.kills, read.signalEvents, read.badLines, read.firstTime, read.lastTime])
    }

    public func saveKmsgCursor(bootID: String, sequence: UInt64) throws {
        try db.execute(sql: """
            INSERT INTO kmsg_cursors (boot_id, seq, updated_at) VALUES (?, ?, ?)
            ON CONFLICT(boot_id) DO UPDATE SET seq = MAX(seq, excluded.seq), updated_at = excluded.updated_at
            """, arguments: [bootID, Int64(bitPattern: sequence), Date().timeIntervalSince1970])
    }
}

/// Host names from different sources: `web1` in kern.log, `web1.example.com` in the
/// journal, none at all in dmesg output.
func sameHost(_ a: String, _ b: String) -> Bool {
    if a.isEmpty || b.isEmpty || a == b { return true }
    return a.hasPrefix(b + ".") || b.hasPrefix(a + ".")
}

extension SignalStore {
    /// The last kmsg sequence number stored for this boot.
    public func kmsgCursor(bootID: String) throws(StoreError) -> UInt64? {
        try read { db in
            try Int64.fetchOne(db, sql: "SELECT seq FROM kmsg_cursors WHERE boot_id = ?", arguments: [bootID])
                .map { UInt64(bitPattern: $0) }
        }
    }
}
