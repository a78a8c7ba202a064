import AuditLog
import Foundation

/// `auditctl -s`, as name → value. auditd 3.x prints one `name value` pair a line
/// (`enabled 1`, `pid 1234`, `backlog_limit 8192`, `loginuid_immutable 0 unlocked`).
public struct AuditStatus: Sendable, Equatable {
    public var values: [String: String]

    public init(text: String) {
        var values: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        self.values = values
    }

    /// The leading number of a value (`loginuid_immutable 0 unlocked` → 0).
    public func number(_ name: String) -> Int64? {
        values[name].flatMap { $0.split(separator: " ").first }.flatMap { Int64($0) }
    }

    public var enabled: Int64? { number("enabled") }
    public var pid: Int64? { number("pid") }
    public var lost: Int64? { number("lost") }
    public var backlog: Int64? { number("backlog") }
    public var backlogLimit: Int64? { number("backlog_limit") }
    public var rateLimit: Int64? { number("rate_limit") }
}

/// The parts of auditd.conf that decide how long a record stays on disk, with auditd's
/// own defaults for what the file leaves out.
public struct AuditdConfig: Sendable, Equatable {
    public var values: [String: String]
    /// False when there was no file: auditd then runs on its defaults.
    public var fileFound: Bool

    public init(text: String, fileFound: Bool = true) {
        var values: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let kv = content.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if kv.count == 2, !kv[0].isEmpty { values[kv[0].lowercased()] = kv[1] }
        }
        self.values = values
        self.fileFound = fileFound
    }

    public static let defaults = AuditdConfig(text: "", fileFound: false)

    /// MB (2^20 bytes) per log file; auditd's default is 8.
    public var maxLogFileMB: Int64 { values["max_log_file"].flatMap { Int64($0) } ?? 8 }
    public var numLogs: Int64 { values["num_logs"].flatMap { Int64($0) } ?? 5 }
    /// ROTATE, KEEP_LOGS, IGNORE, SYSLOG, SUSPEND, SINGLE, HALT, EXEC ... (upper-cased).
    public var maxLogFileAction: String { (values["max_log_file_action"] ?? "ROTATE").uppercased() }
    public var logFile: String { values["log_file"] ?? "/var/log/audit/audit.log" }
    public var logGroup: String { values["log_group"] ?? "root" }
    /// `write_logs = no` (or the old `log_format = NOLOG`): auditd keeps no log at all.
    public var writesLogs: Bool {
        values["write_logs"]?.lowercased() != "no" && values["log_format"]?.uppercased() != "NOLOG"
    }
}

/// One audit log file as found on disk.
public struct LogFileInfo: Sendable, Equatable {
    public var name: String
    public var size: Int64
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var modified: Date
    /// Seconds of the first and last `audit(SEC.MSEC:SERIAL)` stamp, when read (only the
    /// oldest file's first and the newest file's last are needed).
    public var firstStamp: Double?
    public var lastStamp: Double?
    /// A compressed rotation's bytes once decompressed (what auditd wrote); nil for a plain
    /// file, whose `size` is that.
    public var contentBytes: Int64?
    /// The bytes auditd wrote into this file.
    public var loggedBytes: Int64 { contentBytes ?? size }

    public init(name: String, size: Int64, mode: UInt32 = 0o600, uid: UInt32 = 0, gid: UInt32 = 0,
                modified: Date, firstStamp: Double? = nil, lastStamp: Double? = nil, contentBytes: Int64? = nil) {
        self.name = name
        self.size = size
        self.contentBytes = contentBytes
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.modified = modified
        self.firstStamp = firstStamp
        self.lastStamp = lastStamp
    }
}

/// The log directory: whether we can read it, and its audit.log files, oldest first
/// (audit.log.4 ... audit.log.1, audit.log).
public struct LogDirectory: Sendable, Equatable {
    public enum Access: Sendable, Equatable {
        case readable
        case missing
        case notADirectory
        case denied(String)
    }

    public var path: String
    public var access: Access
    public var files: [LogFileInfo]
    /// The group auditd gives the logs (auditd.conf log_group), as a gid, when known.
    public var logGroupID: UInt32?

    public init(path: String, access: Access, files: [LogFileInfo] = [], logGroupID: UInt32? = nil) {
        self.path = path
        self.access = access
        self.files = files
        self.logGroupID = logGroupID
    }

    /// The audit logs among `names`, oldest first, as ingest reads them (compressed
    /// rotations included).
    public static func ordered(_ names: [String], base: String = "audit.log") -> [String] {
        LogFileSet.rotationOrder(names, base: base)
    }
}

/// One row of ingest_runs.
public struct IngestRun: Sendable, Equatable {
    public var startedAt: Double
    public var finishedAt: Double?
    public var status: String

    public init(startedAt: Double, finishedAt: Double?, status: String) {
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
    }
}

/// The newest `killdb trace` session, and what it lost.
public struct TracerFacts: Sendable, Equatable {
    public var startedAt: Double
    public var lastActiveAt: Double
    public var finishedAt: Double?
    public var status: String
    public var signals: String
    public var records: Int64
    /// Records lost in the kernel (ring buffer full) in the last day, and when.
    public var lostLastDay: Int64
    public var firstLossTime: Double?
    public var lastLossTime: Double?

    public init(startedAt: Double, lastActiveAt: Double, finishedAt: Double? = nil, status: String, signals: String = "SIGKILL",
                records: Int64 = 0, lostLastDay: Int64 = 0, firstLossTime: Double? = nil, lastLossTime: Double? = nil) {
        self.startedAt = startedAt
        self.lastActiveAt = lastActiveAt
        self.finishedAt = finishedAt
        self.status = status
        self.signals = signals
        self.records = records
        self.lostLastDay = lostLastDay
        self.firstLossTime = firstLossTime
        self.lastLossTime = lastLossTime
    }
}

/// Whether BPF can run the tracer here: nil when usable, else why and the fix.
public struct BPFProbe: Sendable, Equatable {
    public var problem: String?
    public var fix: String?
    /// What was proven: "loaded and attached the tracer's program", or only the prerequisites.
    public var proof: String
    /// Not looked at, and that is not the host's problem ("needs root").
    public var skipped: String?
    public init(problem: String? = nil, fix: String? = nil, proof: String = "BTF present, privileges and lockdown allow it",
                skipped: String? = nil) {
        self.problem = problem
        self.fix = fix
        self.proof = proof
        self.skipped = skipped
    }
}

/// What the database says about itself, read through a read-only connection.
public struct DatabaseFacts: Sendable, Equatable {
    public var path: String
    /// `PRAGMA quick_check`: "ok", or the problems it lists.
    public var quickCheck: String
    /// The last migration applied (e.g. 001_initial).
    public var schemaVersion: String?
    /// Event times the ingested logs covered (file_reads).
    public var firstEventTime: Double?
    public var lastEventTime: Double?
    public var signalEvents: Int64
    /// Rows of lost_events (serial gaps) and the events they miss.
    public var serialGaps: Int64
    public var missingEvents: Int64
    /// The newest runs, newest first.
    public var recentRuns: [IngestRun]
    /// When the last complete run finished.
    public var lastCompleteFinish: Double?
    /// The newest tracer session; nil when `killdb trace` never wrote to this database.
    public var tracer: TracerFacts?

    public init(path: String, quickCheck: String = "ok", schemaVersion: String? = nil,
                firstEventTime: Double? = nil, lastEventTime: Double? = nil, signalEvents: Int64 = 0,
                serialGaps: Int64 = 0, missingEvents: Int64 = 0, recentRuns: [IngestRun] = [],
                lastCompleteFinish: Double? = nil, tracer: TracerFacts? = nil) {
        self.path = path
        self.quickCheck = quickCheck
        self.schemaVersion = schemaVersion
        self.firstEventTime = firstEventTime
        self.lastEventTime = lastEventTime
        self.signalEvents = signalEvents
        self.serialGaps = serialGaps
        self.missingEvents = missingEvents
        self.recentRuns = recentRuns
        self.lastCompleteFinish = lastCompleteFinish
        self.tracer = tracer
    }
}

/// The database, or why there are no facts about it.
public enum DatabaseProbe: Sendable, Equatable {
    case facts(DatabaseFacts)
    case missing(path: String)
    /// Not readable by us while not root: the ingest (root) may well read it.
    case needsRoot(path: String)
    case unusable(path: String, reason: String)

    public var facts: DatabaseFacts? {
        if case .facts(let f) = self { return f }
        return nil
    }
}

/// An auditd process found in /proc, registered with the kernel or not.
public struct RunningAuditd: Sendable, Equatable {
    public var pid: Int32
    /// Its executable's path (/proc/PID/exe), or its comm when that cannot be read.
    public var executable: String

    public init(pid: Int32, executable: String) {
        self.pid = pid
        self.executable = executable
    }
}

/// Everything the checks look at, gathered once.
public struct DoctorInputs: Sendable {
    public var auditStatus: Probe<AuditStatus>
    /// The name (/proc/PID/comm) of the process `auditctl -s` names; nil if there is none.
    public var auditdProcessName: String?
    public var loadedRules: Probe<String>
    public var cmdline: Probe<String>
    public var config: Probe<AuditdConfig>
    public var configPath: String
    public var logs: LogDirectory
    public var database: DatabaseProbe
    /// nil: not looked at (the tracer checks are skipped).
    public var bpf: BPFProbe?
    public var now: Date
    /// Whether the kernel log (/dev/kmsg) can be read: the path, or why not; nil when not
    /// looked at (the check is then left out).
    public var kernelLog: Probe<String>?
    /// auditd processes found in /proc (looked at only when the kernel names no daemon).
    public var runningAuditd: [RunningAuditd] = []
    /// Signal events per signal in the newest log's tail, and what was sampled; nil when
    /// the logs could not be read (the check is then left out).
    public var signalRates: (rates: SignalRates, sampled: String)?

    public init(auditStatus: Probe<AuditStatus>, auditdProcessName: String?, loadedRules: Probe<String>,
                cmdline: Probe<String>, config: Probe<AuditdConfig>, configPath: String = "/etc/audit/auditd.conf",
                logs: LogDirectory, database: DatabaseProbe, bpf: BPFProbe? = nil, now: Date,
                kernelLog: Probe<String>? = nil) {
        self.auditStatus = auditStatus
        self.auditdProcessName = auditdProcessName
        self.loadedRules = loadedRules
        self.cmdline = cmdline
        self.config = config
        self.configPath = configPath
        self.logs = logs
        self.database = database
        self.bpf = bpf
        self.now = now
        self.kernelLog = kernelLog
    }
}
