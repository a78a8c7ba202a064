import AuditDecoding
import Foundation
import GRDB
import Store

/// Errors in what was asked, worded for the operator.
public enum QueryError: Error, CustomStringConvertible {
    case unknownSignal(String)
    /// A signal number past SIGRTMAX (64): no process can be sent it.
    case signalOutOfRange(String)
    case badSQL(String)
    case readOnly(String)
    /// A value the database should not hold (a kind this version never writes).
    case unexpected(String)
    /// A name pattern that can match nothing, and is no process's name on record either.
    case malformedPattern(String, String)

    public var description: String {
        switch self {
        case .unknownSignal(let s):
            return "unknown signal \"\(s)\": give a name (KILL, SIGKILL, TERM, RTMIN+3), a number (9), several separated by commas, or all"
        case .signalOutOfRange(let s):
            return "no signal \"\(s)\": Linux signals are numbered 1 to 64 (and 0, the liveness probe); give a name (KILL, TERM, RTMIN+3) or a number in that range"
        case .badSQL(let message):
            return "SQL error: \(message)"
        case .malformedPattern(let p, let why):
            return "the name \"\(p)\" is no process's name on record, and \(why): close the set ([ab]), or write a literal [ as [[]"
        case .unexpected(let what):
            return "the database holds an unexpected \(what): is it damaged, or written by another program?"
        case .readOnly(let message):
            return "the database is opened read-only for queries; writes are refused (\(message)). killdb ingest is the only writer."
        }
    }
}

/// A signal event as `who` and `report` show it: one row of the `signals` view, with the
/// strings as the exact bytes the kernel logged.
extension SignalQuery {
    /// The kernel keeps a process name (comm) in TASK_COMM_LEN - 1 bytes.
    public static let commBytes = 15

    /// The names a name or pattern also stands for exactly: itself (glob characters and
    /// all), the bytes of the escaped form killdb prints, and each cut to the kernel's 15.
    public static func exactNames(_ pattern: String) -> [[UInt8]] {
        var out = [Array(pattern.utf8)]
        if let cut = keptName(pattern) { out.append(Array(cut.utf8)) }
        if let raw = NameInput.unescaped(pattern), !out.contains(raw) {
            out.append(raw)
            if raw.count > commBytes { out.append(Array(raw.prefix(commBytes))) }
        }
        return out
    }

    /// A plain name (no glob characters) longer than the kernel keeps, cut as the kernel
    /// cuts it: what a search for it matches. Nil when the name fits or is a pattern.
    public static func keptName(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard bytes.count > commBytes, !name.contains(where: { "*?[".contains($0) }) else { return nil }
        return String(decoding: bytes.prefix(commBytes), as: UTF8.self)
    }
}

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

    /// The view's event_id: `1715000000.123:4567`.
    static func eventID(sec: Int64, msec: Int64, serial: Int64) -> String {
        EventID.format(seconds: sec, milliseconds: msec, serial: serial)
    }

    /// A row of `SELECT selectList ...`: read by position, in the order of `columns` (by
    /// name, GRDB compares every column name case-insensitively: slow on many rows).
    init(_ r: Row) {
        func bytes(_ i: Int) -> [UInt8]? { (r[i] as Data?).map { [UInt8]($0) } }
        node = bytes(0); eventTime = r[1]; eventID = r[2]; serial = r[3]
        arch = r[4]; syscall = r[5]; signal = r[6]; signalName = r[7]
        probe = (r[8] as Int64?) == 1; success = (r[9] as Int64?).map { $0 == 1 }
        exit = r[10]; errno = r[11]; targetArg = r[12]; tgidArg = r[13]
        pidfd = r[14]; senderPid = r[15]; senderPpid = r[16]
        senderUid = r[17]; senderAuid = r[18]; senderEuid = r[19]
        senderSes = r[20]; senderTty = bytes(21); senderComm = bytes(22)
        senderExe = bytes(23); senderCmdline = bytes(24)
        senderUidName = bytes(25); senderAuidName = bytes(26)
        senderEuidName = bytes(27); targetPid = r[28]; targetUid = r[29]
        targetAuid = r[30]; targetSes = r[31]; targetComm = bytes(32)
        targetUidName = bytes(33); targetAuidName = bytes(34); key = bytes(35)
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

    /// Parses `KILL`, `SIGKILL`, `9`, `KILL,TERM`, `all` (as `SignalList` does).
    public static func parse(_ text: String) throws(QueryError) -> SignalSet {
        do {
            switch try SignalList.parse(text) {
            case .all: return .all
            case .only(let numbers): return .only(numbers)
            }
        } catch {
            // A number past SIGRTMAX (64) is no signal at all, not a misspelt name.
            if AuditArch.x86_64.signalNumber(named: error.part) != nil { throw .signalOutOfRange(error.part) }
            throw .unknownSignal(error.part)
        }
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
    /// Where the sender lived (its own cgroup, or its parent's when it had exited before
    /// it was read): glob patterns; only kills whose processes were read can match.
    public var senderPlace = PlaceFilter()
    /// Where the target lived (read by the plugin while it lived, or by the tracer at the
    /// event): only kills whose target was read can match.
    public var targetPlace = PlaceFilter()

    public init() {}
}

/// Where a process lived, as `--sender-unit`, `--sender-container`, `--sender-pod` and
/// `--sender-cgroup` ask it. Glob patterns; a container id matches by its prefix (the
/// 12 digits `docker ps` shows), a pod by namespace/name or UID.
public struct PlaceFilter: Sendable, Equatable {
    public var unit: String?
    public var container: String?
    public var pod: String?
    public var cgroup: String?

    public init(unit: String? = nil, container: String? = nil, pod: String? = nil, cgroup: String? = nil) {
        self.unit = unit
        self.container = container
        self.pod = pod
        self.cgroup = cgroup
    }

    public var isEmpty: Bool { unit == nil && container == nil && pod == nil && cgroup == nil }

    /// The conditions on `process_context` (alias pc), with their arguments.
    var terms: [(String, [String])] {
        var out: [(String, [String])] = []
        if let unit { out.append(("pc.unit GLOB ?", [unit])) }
        if let container { out.append(("pc.container GLOB ?", [container + "*"])) }
        if let pod { out.append(("(pc.pod GLOB ? OR pc.pod_uid = ?)", [pod, pod])) }
        if let cgroup { out.append(("pc.cgroup GLOB ?", [cgroup])) }
        return out
    }

    /// The conditions on `traced_signal_context` (alias tc), for the `side` ("sender" or "target").
    func tracedTerms(_ side: String) -> (String, [String]) {
        var terms: [String] = [], args: [String] = []
        if let unit { terms.append("tc.\(side)_unit GLOB ?"); args.append(unit) }
        if let container { terms.append("tc.\(side)_container GLOB ?"); args.append(container + "*") }
        if let pod { terms.append("(tc.\(side)_pod GLOB ? OR tc.\(side)_pod_uid = ?)"); args += [pod, pod] }
        if let cgroup { terms.append("tc.\(side)_cgroup GLOB ?"); args.append(cgroup) }
        return (terms.joined(separator: " AND "), args)
    }
}

extension SignalSet {
    func includes(_ signal: Int32) -> Bool {
        if case .only(let n) = self { return n.contains(signal) }
        return true
    }

    /// The set as the index search asks for it; without probes (signal 0) unless `probes`.
    func searched(probes: Bool) -> SignalSearch.Signals {
        switch self {
        case .all: return .allBut(probes ? [] : [0])
        case .only(let n): return .only(Set(n.map(Int64.init)).filter { probes || $0 != 0 }.sorted())
        }
    }
}
