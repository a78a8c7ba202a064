import AuditLog
import Foundation
import Pipeline
import Store

/// Errors of the ingest as a whole, worded for the operator.
public enum IngestError: Error, CustomStringConvertible {
    case locked(database: String, holder: String?)
    case lockFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .locked(let database, let holder):
            let who = holder.map { "another killdb ingest (pid \($0))" } ?? "a killdb process"
            return "\(who) is writing to \(database); it waited and gave up. Runs from cron or a timer must not overlap: let that one finish, or raise --wait."
        case .lockFile(let path, let reason):
            return "cannot create the lock file \(path): \(reason)"
        }
    }
}

/// Progress of a running ingest, for a terminal.
public struct IngestProgress: Sendable {
    public var bytesRead: Int64
    public var bytesTotal: Int64
    public var signalEvents: Int
    public var file: String
}

/// What one file contributed.
public struct FileSummary: Sendable {
    public var path: String
    public var startOffset: Int64
    public var endOffset: Int64
    /// True when the checkpoint showed this file (under this or another name) was read before.
    public var resumed: Bool
    public var coverage: FileCoverage
}

/// A line that was skipped, named for `--verbose`.
public struct SkippedLineReport: Sendable {
    public var path: String
    public var offset: Int64
    public var reason: String
}

/// What an ingest did.
public struct IngestSummary: Sendable {
    public var files: [FileSummary] = []
    public var totals = RunTotals()
    public var mergedEvents = 0
    /// Copies of a stored event id that told another story (sender, signal, target): the
    /// first copy was kept; each is in the event_conflicts table.
    public var conflictingEvents = 0
    public var orphanRecords = 0
    public var unparsableEvents = 0
    public var daemonRecords = 0
    public var serialGaps: [SerialGap] = []
    public var skipped: [SkippedLineReport] = []
    public var skippedTotal = 0
    /// Files listed in a directory that rotation deleted before they could be opened.
    public var vanished: [String] = []
    public var runID: Int64 = 0
    /// What the kernel logs (and journals) contributed.
    public var kernel = KernelLogSummary()
    /// Said once when logs without `node=` names look like several hosts' mixed together.
    public var mixedHostsWarning: String?
    /// The tracer's messages read back from the logs (`killdb trace --audit` on the logging
    /// host): records, how many were new, and USER records that only looked like them.
    public var forwardedTraceMessages = 0
    public var newTracedSignals = 0
    public var unverifiedTraceMessages = 0
}

extension IngestSummary {
    /// The warning for unnamed logs of several hosts: `path` is the file that broke the sequence.
    static func mixedHosts(_ b: SerialGapTracker.OriginBreak, path: String) -> String {
        "the logs have no node= names and look like several hosts' mixed together: \(path) starts at audit(\(b.next)), "
            + "which does not continue audit(\(b.previous)) read before it. Serial sequences were kept apart per file, so no "
            + "events are counted missing between them, but a record cannot say which host wrote it. Name each host: "
            + "name_format = hostname in its /etc/audit/auditd.conf, then restart auditd (or ingest each host into its own "
            + "database and join them with killdb merge)"
    }
}

extension IngestSummary {
    static let skippedLimit = 1000

    /// Counts what one batch held and what storing it did. `paths` names the batch's
    /// sources by number.
    mutating func absorb(_ batch: EventBatch, _ stored: StoredBatch, paths: [String]) {
        unparsableEvents += batch.unparsableEvents
        serialGaps += batch.serialGaps
        mergedEvents += stored.mergedEvents
        conflictingEvents += stored.conflictingEvents
        orphanRecords += stored.orphanRecords
        daemonRecords += batch.daemonRecords.count
        forwardedTraceMessages += batch.forwardedTrace.count
        newTracedSignals += stored.newTracedSignals
        unverifiedTraceMessages += batch.unverifiedTraceMessages.count
        skippedTotal += batch.skippedLines
        for line in batch.skipped.prefix(max(0, Self.skippedLimit - skipped.count)) {
            skipped.append(SkippedLineReport(path: paths[line.file], offset: line.offset, reason: line.problem.rawValue))
        }
    }
}

/// What the kernel logs contributed to an ingest.
public struct KernelLogSummary: Sendable {
    public struct Source: Sendable {
        public var path: String
        /// kmsg, journal, syslog, dmesg, or several joined by "+" for a mixed file.
        public var format: String
        public var entries = 0
        public var kills = 0
        public var newKills = 0
        public var systemdActions = 0
        public var signalEvents = 0
        public var badLines = 0
        /// Resumed after what an earlier run read (a kmsg sequence number, or a byte offset).
        public var resumedAfter: Int64?
        public var firstTime: Double?
        public var lastTime: Double?
        /// /dev/kmsg: records the ring buffer overwrote before they could be read.
        public var overrun = 0
        /// Audit records in a log that cannot prove the kernel wrote them (syslog, dmesg
        /// text): not signal events, since any user can write such a line.
        public var unverifiedAuditRecords = 0
        /// Signal events among its audit records that libauparse could not parse.
        public var unparsableEvents = 0
    }
    public var sources: [Source] = []
    public var kills: Int { sources.reduce(0) { $0 + $1.kills } }
    public var newKills: Int { sources.reduce(0) { $0 + $1.newKills } }
    public var signalEvents: Int { sources.reduce(0) { $0 + $1.signalEvents } }
    public var newSignalEvents = 0
    public var newSystemdActions = 0
    public var unverifiedAuditRecords: Int { sources.reduce(0) { $0 + $1.unverifiedAuditRecords } }
    /// SECCOMP and ANOM_ABEND records of the audit logs.
    public var auditKills = 0
    public var newAuditKills = 0
}

public struct IngestOptions: Sendable {
    /// How long to wait for another ingest to finish before giving up.
    public var lockWait: Double = 10
    /// Commit after this many bytes of input: bounds the work a crash can undo.
    public var commitBytes: Int64 = 64 << 20
    public var progress: (@Sendable (IngestProgress) -> Void)?
    /// Kernel logs to read as well: `/dev/kmsg`, `-` (standard input), or files of
    /// `journalctl [-k] -o json`, syslog (kern.log, messages) or dmesg output, in any mix.
    /// Empty: none (the CLI adds /dev/kmsg by default).
    public var kernelLogs: [String] = []
    /// `journalctl -o json` output, for systemd's kills (unit stops, systemd-oomd); read as
    /// kernel logs are.
    public var journals: [String] = []
    /// When the machine booted whose dmesg output (`[12345.678901] …`) is read; default this boot.
    public var bootTime: Double?
    /// The zone of syslog's and dmesg -T's local-time stamps.
    public var timeZone: TimeZone = .current
    public init() {}
}

