import AuditDecoding
import Foundation
import GRDB
import Store

/// Errors in what was asked, worded for the operator.
public enum QueryError: Error, CustomStringConvertible {
    case unknownSignal(String)
    case badSQL(String)
    case readOnly(String)

    public var description: String {
        switch self {
        case .unknownSignal(let s):
            return "unknown signal \"\(s)\": give a name (KILL, SIGKILL, TERM, RTMIN+3), a number (9), several separated by commas, or all"
        case .badSQL(let message):
            return "SQL error: \(message)"
        case .readOnly(let message):
            return "the database is opened read-only for queries; writes are refused (\(message)). killdb ingest is the only writer."
        }
    }
}

/// A signal event as `who` and `report` show it: one row of the `signals` view, with the
/// strings as the exact bytes the kernel logged.
public struct SignalRow: Sendable, Equatable {
    public var node: [UInt8]?
    public var eventTime: Double
    public var eventID: String
    public var serial: Int64
    public var arch: String
    public var syscall: String
    public var signal: Int64?
    public var signalName: String?
    public var probe: Bool
    public var success: Bool?
    public var exit: Int64?
    public var errno: String?
    public var targetArg: Int64?
    public var tgidArg: Int64?
    public var pidfd: Int64?
    public var senderPid: Int64?
    public var senderPpid: Int64?
    public var senderUid: Int64?
    public var senderAuid: Int64?
    public var senderEuid: Int64?
    public var senderSes: Int64?
    public var senderTty: [UInt8]?
    public var senderComm: [UInt8]?
    public var senderExe: [UInt8]?
    public var senderCmdline: [UInt8]?
    public var senderUidName: [UInt8]?
    public var senderAuidName: [UInt8]?
    public var senderEuidName: [UInt8]?
    public var targetPid: Int64?
    public var targetUid: Int64?
    public var targetAuid: Int64?
    public var targetSes: Int64?
    public var targetComm: [UInt8]?
    public var targetUidName: [UInt8]?
    public var targetAuidName: [UInt8]?
    public var key: [UInt8]?

    /// The `signals` view's columns, in order, as `who --format json` names them.
    public static let columns = [
        "node", "event_time", "event_id", "serial", "arch", "syscall", "signal", "signal_name", "probe",
        "success", "exit", "errno", "target_arg", "tgid_arg", "pidfd", "sender_pid", "sender_ppid",
        "sender_uid", "sender_auid", "sender_euid", "sender_ses", "sender_tty", "sender_comm", "sender_exe",
        "sender_cmdline", "sender_uid_name", "sender_auid_name", "sender_euid_name", "target_pid",
        "target_uid", "target_auid", "target_ses", "target_comm", "target_uid_name", "target_auid_name", "key",
    ]

    /// Byte-string columns are read as BLOBs: TEXT would be repaired into valid UTF-8 on the
    /// way out of SQLite, and the exact bytes are evidence.
    static let selectList: String = columns.map { c in
        ["node", "sender_tty", "sender_comm", "sender_exe", "sender_cmdline", "sender_uid_name",
         "sender_auid_name", "sender_euid_name", "target_comm", "target_uid_name", "target_auid_name", "key"]
            .contains(c) ? "CAST(\(c) AS BLOB) AS \(c)" : c
    }.joined(separator: ", ")

    init(_ r: Row) {
        func bytes(_ c: String) -> [UInt8]? { (r[c] as Data?).map { [UInt8]($0) } }
        node = bytes("node"); eventTime = r["event_time"]; eventID = r["event_id"]; serial = r["serial"]
        arch = r["arch"]; syscall = r["syscall"]; signal = r["signal"]; signalName = r["signal_name"]
        probe = (r["probe"] as Int64?) == 1; success = (r["success"] as Int64?).map { $0 == 1 }
        exit = r["exit"]; errno = r["errno"]; targetArg = r["target_arg"]; tgidArg = r["tgid_arg"]
        pidfd = r["pidfd"]; senderPid = r["sender_pid"]; senderPpid = r["sender_ppid"]
        senderUid = r["sender_uid"]; senderAuid = r["sender_auid"]; senderEuid = r["sender_euid"]
        senderSes = r["sender_ses"]; senderTty = bytes("sender_tty"); senderComm = bytes("sender_comm")
        senderExe = bytes("sender_exe"); senderCmdline = bytes("sender_cmdline")
        senderUidName = bytes("sender_uid_name"); senderAuidName = bytes("sender_auid_name")
        senderEuidName = bytes("sender_euid_name"); targetPid = r["target_pid"]; targetUid = r["target_uid"]
        targetAuid = r["target_auid"]; targetSes = r["target_ses"]; targetComm = bytes("target_comm")
        targetUidName = bytes("target_uid_name"); targetAuidName = bytes("target_auid_name"); key = bytes("key")
    }
}

/// Which signals a question is about.
public enum SignalSet: Sendable, Equatable {
    case all
    case only([Int32])

    /// `SIGKILL or SIGTERM`, for sentences.
    public var names: String {
        switch self {
        case .all: return "signal"
        case .only(let n): return n.map { AuditArch.x86_64.signalName($0) }.joined(separator: " or ")
        }
    }

    /// Parses `KILL`, `SIGKILL`, `9`, `KILL,TERM`, `all`.
    public static func parse(_ text: String) throws(QueryError) -> SignalSet {
        if text.lowercased() == "all" { return .all }
        var numbers: [Int32] = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            if let n = Int32(part), n >= 0, n <= 64 {
                numbers.append(n)
            } else if let n = AuditArch.x86_64.signalNumber(named: part) {
                numbers.append(n)
            } else {
                throw .unknownSignal(part)
            }
        }
        guard !numbers.isEmpty else { throw .unknownSignal(text) }
        return .only(numbers)
    }
}

/// A question about signals, as `who` and `report` ask it. Every filter is optional.
public struct SignalQuery: Sendable {
    public var targetPid: Int64?
    /// Glob patterns, as the shell's (`java*`).
    public var targetComm: String?
    public var senderExe: String?
    public var senderPid: Int64?
    public var senderComm: String?
    public var node: String?
    public var uid: Int64?
    public var auid: Int64?
    public var signals: SignalSet = .only([9])
    public var before: Double?
    public var after: Double?
    public var includeFailed = false
    public var includeProbes = false
    public var limit: Int?

    public init() {}

    /// The WHERE clause and its arguments, without the success and probe filters (so the
    /// hidden ones can be counted).
    func whereClause() -> (String, [any DatabaseValueConvertible]) {
        var terms: [String] = []
        var args: [any DatabaseValueConvertible] = []
        // The IN (...) terms let SQLite start from an index instead of scanning every event.
        if let p = targetPid {
            // ESRCH leaves no OBJ_PID: the pid the sender asked for still says who was meant.
            terms.append("""
                event_rowid IN (SELECT event_id FROM targets WHERE pid = ? UNION SELECT id FROM events WHERE target_arg = ?) \
                AND (target_pid = ? OR (target_pid IS NULL AND target_arg = ?))
                """)
            args += [p, p, p, p]
        }
        if let g = targetComm {
            terms.append("""
                event_rowid IN (SELECT event_id FROM targets WHERE comm_id IN \
                (SELECT id FROM strings WHERE CAST(value AS TEXT) GLOB ?)) AND target_comm GLOB ?
                """)
            args += [g, g]
        }
        if let g = senderExe { terms.append("sender_exe GLOB ?"); args.append(g) }
        if let p = senderPid { terms.append("sender_pid = ?"); args.append(p) }
        if let g = senderComm { terms.append("sender_comm GLOB ?"); args.append(g) }
        if let n = node { terms.append("node IS ?"); args.append(n) }
        if let u = uid { terms.append("sender_uid = ?"); args.append(u) }
        if let u = auid { terms.append("sender_auid = ?"); args.append(u) }
        if case .only(let numbers) = signals {
            terms.append("signal IN (\(numbers.map { _ in "?" }.joined(separator: ",")))")
            args += numbers.map { Int64($0) }
        }
        if let b = before { terms.append("event_time <= ?"); args.append(b) }
        if let a = after { terms.append("event_time >= ?"); args.append(a) }
        // event_time is computed, so it cannot use the index on whole seconds; when no
        // target narrows the search, start from that index instead of every event.
        if (before != nil || after != nil) && targetPid == nil && targetComm == nil {
            terms.append("event_rowid IN (SELECT id FROM events WHERE sec >= ? AND sec <= ?)")
            args.append(after.map { Int64(($0 - 1).rounded(.down)) } ?? Int64.min)
            args.append(before.map { Int64($0.rounded(.up)) } ?? Int64.max)
        }
        return (terms.isEmpty ? "1" : terms.joined(separator: " AND "), args)
    }
}

