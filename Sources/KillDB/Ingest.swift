import AuditDecoding
import AuditLog
import Foundation
import Store

/// Errors of the ingest as a whole, worded for the operator.
public enum IngestError: Error, CustomStringConvertible {
    case locked(database: String, holder: String?)
    case lockFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .locked(let database, let holder):
            let who = holder.map { " (pid \($0))" } ?? ""
            return "another killdb ingest\(who) is writing to \(database); it waited and gave up. Runs from cron or a timer must not overlap: let that one finish, or raise --wait."
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
    }
    public var sources: [Source] = []
    public var kills: Int { sources.reduce(0) { $0 + $1.kills } }
    public var newKills: Int { sources.reduce(0) { $0 + $1.newKills } }
    public var signalEvents: Int { sources.reduce(0) { $0 + $1.signalEvents } }
    public var newSignalEvents = 0
    public var newSystemdActions = 0
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

public enum Ingest {
    public static let version = "0.1.0"

    /// Reads the audit logs at `paths` (files, or directories of audit.log and its rotated
    /// audit.log.N) into the database at `databasePath`, oldest file first, resuming each
    /// file where the last run stopped.
    public static func run(paths: [String], databasePath: String,
                           options: IngestOptions = IngestOptions()) throws -> IngestSummary {
        let files = try LogFileSet.expandMarkingListed(paths)
        let lock = try IngestLock.acquire(database: databasePath, wait: options.lockWait)
        defer { lock.release() }
        let store = try SignalStore.openForWriting(path: databasePath)
        var ingest = try Ingestion(store: store, options: options)
        return try ingest.run(files)
    }
}

/// One run of the ingest: the state that lives from the first file to the last commit.
struct Ingestion {
    struct OpenFile {
        var file: LogFile
        var fd: Int32
        var fingerprint: Fingerprint?
        var checkpointRow: Int64?
        var startOffset: Int64
        var consumed: Int64
        var fileReadRow: Int64?
        var index: Int
        /// Read through a decompressor: offsets count decompressed bytes, and the file is
        /// checkpointed only once read to the end (a compressed file never grows).
        var compressed = false
        var done = false
    }

    let store: SignalStore
    let options: IngestOptions
    var filter: SignalRecordFilter
    let decoder = SignalEventDecoder()
    var summary = IngestSummary()
    var files: [OpenFile] = []
    var runID: Int64 = 0
    var bytesSinceCommit: Int64 = 0
    var bytesTotal: Int64 = 0

    init(store: SignalStore, options: IngestOptions) throws {
        self.store = store
        self.options = options
        filter = SignalRecordFilter(carried: try store.recentEventIDs(), serialCursors: try store.serialCursors())
    }

    mutating func run(_ paths: [(path: String, listed: Bool)]) throws -> IngestSummary {
        // Open every file before reading any: a rotation during the run then renames files
        // under open descriptors instead of shifting names between reads.
        var opened: [(LogFile, Int32)] = []
        defer { for (_, fd) in opened { close(fd) } }
        for (path, listed) in paths {
            do {
                let (file, fd) = try LogFile.open(path)
                opened.append((file, fd))
                bytesTotal += file.size
            } catch {
                guard listed, case .notFound = error else { throw error }
                summary.vanished.append(path)
            }
        }
        runID = try store.transaction { tx in
            // We hold the lock: a run still marked running was killed.
            try tx.markInterruptedRuns(stream: LiveIngest.streamPath, ofStream: false)
            return try tx.beginRun(version: Ingest.version, hostname: ProcessInfo.processInfo.hostName)
        }
        summary.runID = runID
        let stats = opened.map(\.0)
        do {
            for (file, fd) in opened { try read(file, fd: fd) }
            filter.finish(complete: stats.allSatisfy { $0.modifiedAgo >= 10 })
            try commit(final: false)
            for source in options.kernelLogs + options.journals { try readKernelLog(source) }
            try commit(final: true)
        } catch {
            _ = try? store.transaction { tx in
                try tx.updateRun(runID, totals: summary.totals, status: "failed", finished: true)
            }
            throw error
        }
        return summary
    }

    private mutating func read(_ stat: LogFile, fd: Int32) throws {
        let checkpoint = try store.checkpoint(for: stat, fd: fd)
        let compression = Decompressor.kind(of: stat.path)
        // A compressed file is either wholly read (its checkpoint is its size) or read again.
        var start = checkpoint?.offset ?? 0
        if compression != nil && start < stat.size { start = 0 }
        let index = filter.beginFile()
        files.append(OpenFile(file: stat, fd: fd,
                              fingerprint: Fingerprint.of(fd: fd, length: Int(min(Int64(Fingerprint.maxLength), stat.size))),
                              checkpointRow: checkpoint?.rowID, startOffset: start, consumed: start,
                              fileReadRow: nil, index: index, compressed: compression != nil))
        let slot = files.count - 1
        summary.totals.files += 1
        if compression != nil && start >= stat.size && stat.size > 0 {
            files[slot].done = true
            return
        }
        var progressBytes: Int64 = 0
        var decompressor: Decompressor?
        if let compression { decompressor = try Decompressor.start(compression, input: fd, path: stat.path) }
        let outcome: LineReader.Outcome
        do {
            outcome = try LineReader.read(fd: decompressor?.fd ?? fd, from: start, stream: decompressor != nil) { event in
                switch event {
                case .line(let line, let offset):
                    filter.take(line, file: index, offset: offset)
                    let next = offset + Int64(line.count) + 1
                    bytesSinceCommit += next - files[slot].consumed
                    files[slot].consumed = next
                case .overlong(let offset):
                    filter.skip(file: index, offset: offset, .tooLong)
                }
                if bytesSinceCommit >= options.commitBytes || filter.ready.count >= 4096 || filter.kernelKills.count >= 4096 {
                    try commit(final: false)
                }
                if let progress = options.progress, files[slot].consumed - progressBytes > 4 << 20 {
                    progressBytes = files[slot].consumed
                    progress(IngestProgress(bytesRead: summary.totals.bytes + files[slot].consumed - start,
                                            bytesTotal: bytesTotal, signalEvents: summary.totals.signalEvents,
                                            file: stat.path))
                }
            }
        } catch {
            decompressor?.abandon()
            throw error
        }
        // A last line without a newline is complete only if nobody is still writing it.
        if !outcome.trailing.isEmpty && (stat.modifiedAgo >= 2 || decompressor != nil) {
            outcome.trailing.withUnsafeBufferPointer { filter.take($0, file: index, offset: outcome.endOfLastLine) }
            files[slot].consumed = outcome.endOfLastLine + Int64(outcome.trailing.count)
        } else {
            files[slot].consumed = outcome.endOfLastLine
        }
        if let decompressor {
            do {
                try decompressor.finish(path: stat.path)
                files[slot].done = true
            } catch {
                // What came out before the damage is kept; the file is read again next time.
                filter.skip(file: index, offset: files[slot].consumed, .damagedArchive)
            }
        }
        summary.totals.bytes += files[slot].consumed - start
        try commit(final: false)
    }

    /// Stores the events that are complete, with the checkpoints and coverage that go with
    /// them, in one transaction.
    private mutating func commit(final: Bool) throws {
        bytesSinceCommit = 0
        let groups = filter.ready
        filter.ready.removeAll()
        var events: [SignalEvent] = []
        for group in groups {
            switch decoder.decode(group.lines.map(\.bytes), id: group.id) {
            case .success(let event):
                events.append(event)
            case .failure:
                summary.unparsableEvents += 1
                for line in group.lines { filter.skip(file: line.file, offset: line.offset, .unparsable) }
            }
        }
        let daemon = filter.daemonRecords
        filter.daemonRecords.removeAll()
        let kernelKills = filter.kernelKills
        filter.kernelKills.removeAll()
        let gaps = filter.takeGaps()
        summary.serialGaps += gaps
        let held = filter.heldOffsets()
        var totals = summary.totals
        totals.lines = filter.coverage.reduce(0) { $0 + $1.lines }
        totals.badLines = filter.skippedTotal
        totals.signalEvents = filter.coverage.reduce(0) { $0 + $1.signalEvents }
        let cursors = final ? filter.gaps.cursors : [:]
        let runID = runID
        let snapshot = files
        let coverage = filter.coverage
        var newKernelKills = 0
        let result = try store.transaction { tx -> (inserted: Int, merged: Int, orphans: Int, fileRows: [Int64?], checkpointRows: [Int64?]) in
            var inserted = 0, merged = 0, orphans = 0
            for event in events {
                switch try tx.store(event) {
                case .inserted: inserted += 1
                case .merged: merged += 1
                case .orphan: orphans += 1
                }
            }
            for record in daemon { try tx.store(record) }
            for kill in kernelKills where try tx.store(kill) == .inserted { newKernelKills += 1 }
            for gap in gaps { try tx.store(gap) }
            var fileRows: [Int64?] = []
            var checkpointRows: [Int64?] = []
            for f in snapshot {
                let read = FileRead(path: f.file.path, device: f.file.device, inode: f.file.inode,
                                    startOffset: f.startOffset, endOffset: f.consumed, coverage: coverage[f.index])
                fileRows.append(try tx.save(read, run: runID, rowID: f.fileReadRow))
                // Never past a line whose event is not stored yet: a crash now must not lose it.
                var safe = min(f.consumed, held[f.index] ?? .max)
                if f.compressed { safe = f.done && held[f.index] == nil ? f.file.size : 0 }
                if let fp = f.fingerprint, safe > f.startOffset || f.checkpointRow != nil {
                    checkpointRows.append(try tx.save(Checkpoint(
                        rowID: f.checkpointRow, device: f.file.device, inode: f.file.inode,
                        fingerprint: fp, offset: safe, path: f.file.path)))
                } else {
                    checkpointRows.append(f.checkpointRow)
                }
            }
            var t = totals
            t.newEvents += inserted
            try tx.updateRun(runID, totals: t, status: final ? "complete" : "running", finished: final)
            if final { try tx.saveSerialCursors(cursors) }
            return (inserted, merged, orphans, fileRows, checkpointRows)
        }
        for i in files.indices {
            files[i].fileReadRow = result.fileRows[i]
            files[i].checkpointRow = result.checkpointRows[i]
        }
        summary.totals = totals
        summary.totals.newEvents = summary.totals.newEvents + result.inserted
        summary.mergedEvents += result.merged
        summary.orphanRecords += result.orphans
        summary.daemonRecords += daemon.count
        summary.kernel.auditKills += kernelKills.count
        summary.kernel.newAuditKills += newKernelKills
        summary.skippedTotal = filter.skippedTotal
        summary.skipped = filter.skipped.map {
            SkippedLineReport(path: files[$0.file].file.path, offset: $0.offset, reason: $0.problem.rawValue)
        }
        summary.files = files.map {
            FileSummary(path: $0.file.path, startOffset: $0.startOffset, endOffset: $0.consumed,
                        resumed: $0.startOffset > 0, coverage: filter.coverage[$0.index])
        }
    }
}

/// The advisory lock that keeps two ingests off one database. A lock file beside the
/// database, held with flock: the kernel drops it when the holder dies, even by kill -9.
/// `killdb merge` takes it too: it writes the same tables.
public struct IngestLock {
    let fd: Int32

    public static func acquire(database: String, wait: Double) throws -> IngestLock {
        let path = database + ".lock"
        let dir = (database as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IngestError.lockFile(path: path, reason: String(cString: strerror(errno))) }
        let deadline = Date().addingTimeInterval(wait)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if Date() >= deadline {
                var buf = [UInt8](repeating: 0, count: 32)
                let n = pread(fd, &buf, 32, 0)
                let holder = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : nil
                close(fd)
                throw IngestError.locked(database: database, holder: holder)
            }
            usleep(100_000)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        return IngestLock(fd: fd)
    }

    public func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}

// MARK: - Kernel logs

extension Ingest {
    public static let kmsgPath = Kmsg.path

    /// Whether this process may read the kernel log (dmesg_restrict can forbid it).
    public static func kmsgReadable(_ path: String = Kmsg.path) -> Bool {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }
}

/// What one kernel log yields before it is stored: kills, systemd's actions, and the audit
/// records the kernel printed because no auditd was there to take them.
struct KernelLogBatch {
    var read: KernelLogRead
    var summary: KernelLogSummary.Source
    var recognizer = KernelMessageRecognizer()
    var kills: [KernelKill] = []
    var actions: [SystemdAction] = []
    var audit = SignalRecordFilter()
    var formats: [KernelLogSource] = []

    init(path: String, format: KernelLogSource, start: Int64) {
        read = KernelLogRead(source: format.rawValue, path: path, start: start, end: start)
        summary = KernelLogSummary.Source(path: path, format: format.rawValue)
        audit.kernelKillSource = format
        _ = audit.beginFile()
    }

    mutating func take(_ entry: KernelLogEntry) {
        read.entries += 1
        read.saw(entry.time)
        if !formats.contains(entry.source) { formats.append(entry.source) }
        let m = entry.message
        switch entry.program {
        case .kernel:
            if m.starts(with: Array("audit: ".utf8)) {
                takeAudit(m, source: entry.source)
                return
            }
            let kill = recognizer.recognize(m, time: entry.time) { kind in
                KernelKill(node: entry.node, time: entry.time, source: entry.source, kind: kind, message: m,
                           identity: entry.identity)
            }
            if let kill { kills.append(kill) }
        case .systemd, .oomd:
            let action = SystemdAction.recognize(m, oomd: entry.program == .oomd, unitField: entry.unit) { kind in
                SystemdAction(node: entry.node, time: entry.time, kind: kind, message: m, identity: entry.identity)
            }
            if let action { actions.append(action) }
        case .other:
            break
        }
    }

    /// `audit: type=1300 audit(…): …`: handed to the audit pre-filter from `type=` on, with
    /// the numeric types libauparse is sure to know by name.
    mutating func takeAudit(_ m: [UInt8], source: KernelLogSource) {
        guard let t = m.firstRange(of: Array("type=".utf8))?.lowerBound else { return }
        var line = Array(m[t...])
        let names: [(String, String)] = [("1300", "SYSCALL"), ("1318", "OBJ_PID"), ("1327", "PROCTITLE"),
                                         ("1320", "EOE"), ("1326", "SECCOMP"), ("1701", "ANOM_ABEND")]
        for (number, name) in names where line.starts(with: Array("type=\(number) ".utf8)) {
            line = Array("type=\(name) ".utf8) + line.dropFirst(10)
            break
        }
        audit.kernelKillSource = source
        line.withUnsafeBufferPointer { audit.take($0, file: 0, offset: 0) }
    }
}

extension Ingestion {
    /// Reads one kernel log (or journal) and stores what it holds in one transaction, with
    /// its checkpoint: a kernel log is small beside the audit log, and its entries join up
    /// (the oom-kill: line with the Killed process line) only within one read.
    mutating func readKernelLog(_ source: String) throws {
        if source == Kmsg.path || isCharacterDevice(source) {
            try readKmsg(source)
        } else if source == "-" {
            var batch = KernelLogBatch(path: "-", format: .syslog, start: 0)
            let clock = KernelLogClock(reference: Date().timeIntervalSince1970, bootTime: options.bootTime ?? Kmsg.bootTime(),
                                       timeZone: options.timeZone)
            let outcome = try LineReader.read(fd: STDIN_FILENO, from: 0, stream: true) { event in
                if case .line(let line, _) = event { take(Array(line), clock, &batch) } else { batch.read.badLines += 1 }
            }
            if !outcome.trailing.isEmpty { take(outcome.trailing, clock, &batch) }
            batch.read.end = outcome.bytesRead
            try saveKernelLog(&batch, checkpoint: nil)
        } else {
            try readKernelLogFile(source)
        }
    }

    private func isCharacterDevice(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR
    }

    private func take(_ line: [UInt8], _ clock: KernelLogClock, _ batch: inout KernelLogBatch) {
        switch KernelLogLine.parse(line, clock, seen: { batch.read.saw($0) }) {
        case .success(let entry?): batch.take(entry)
        case .success(nil): break
        case .failure: if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) { batch.read.badLines += 1 }
        }
    }

    private mutating func readKmsg(_ path: String) throws {
        let boot = Kmsg.bootID() ?? "unknown"
        let after = try store.kmsgCursor(bootID: boot)
        let bootTime = Kmsg.bootTime()
        let host = Kmsg.hostName()
        var batch = KernelLogBatch(path: path, format: .kmsg, start: after.map { Int64(bitPattern: $0) } ?? -1)
        batch.read.bootID = boot
        batch.summary.resumedAfter = after.map { Int64(bitPattern: $0) }
        var last = after
        let outcome = try Kmsg.read(path: path) { record in
            if let after, record.sequence <= after { return }
            last = record.sequence
            var program: KernelLogEntry.Program = record.isKernel ? .kernel : .other
            var message = record.message
            if !record.isKernel {
                // Only root may write to /dev/kmsg; systemd does, early in boot.
                if message.starts(with: Array("systemd[1]: ".utf8)) {
                    program = .systemd
                    message.removeFirst(12)
                } else if message.starts(with: Array("systemd-oomd[".utf8)), let c = message.firstIndex(of: 0x3a) {
                    program = .oomd
                    message.removeFirst(min(message.count, c + 2))
                }
            }
            batch.take(KernelLogEntry(node: host, time: bootTime + Double(record.microseconds) / 1e6, source: .kmsg,
                                      program: program, message: message, identity: "kmsg:\(boot):\(record.sequence)"))
        }
        batch.summary.overrun = outcome.overrun
        batch.read.end = last.map { Int64(bitPattern: $0) } ?? batch.read.start
        try saveKernelLog(&batch, checkpoint: nil)
        if let last, last != after {
            try store.transaction { tx in try tx.saveKmsgCursor(bootID: boot, sequence: last) }
        }
    }

    private mutating func readKernelLogFile(_ path: String) throws {
        let (file, fd) = try LogFile.open(path)
        defer { close(fd) }
        let checkpoint = try store.checkpoint(for: file, fd: fd)
        let compression = Decompressor.kind(of: path)
        var start = checkpoint?.offset ?? 0
        if compression != nil && start < file.size { start = 0 }
        var batch = KernelLogBatch(path: path, format: .syslog, start: start)
        if start > 0 { batch.summary.resumedAfter = start }
        let fingerprint = Fingerprint.of(fd: fd, length: Int(min(Int64(Fingerprint.maxLength), file.size)))
        func save(_ offset: Int64) -> Checkpoint? {
            fingerprint.map { Checkpoint(rowID: checkpoint?.rowID, device: file.device, inode: file.inode,
                                         fingerprint: $0, offset: offset, path: path) }
        }
        if compression != nil && start >= file.size && file.size > 0 {
            try saveKernelLog(&batch, checkpoint: nil)
            return
        }
        let clock = KernelLogClock(reference: Date().timeIntervalSince1970 - file.modifiedAgo,
                                   bootTime: options.bootTime ?? Kmsg.bootTime(), timeZone: options.timeZone)
        var decompressor: Decompressor?
        if let compression { decompressor = try Decompressor.start(compression, input: fd, path: path) }
        let outcome: LineReader.Outcome
        do {
            outcome = try LineReader.read(fd: decompressor?.fd ?? fd, from: start, stream: decompressor != nil) { event in
                switch event {
                case .line(let line, _): take(Array(line), clock, &batch)
                case .overlong: batch.read.badLines += 1
                }
            }
        } catch {
            decompressor?.abandon()
            throw error
        }
        var end = outcome.endOfLastLine
        // A last line without a newline is complete only if nobody is still writing it.
        if !outcome.trailing.isEmpty && (file.modifiedAgo >= 2 || decompressor != nil) {
            take(outcome.trailing, clock, &batch)
            end += Int64(outcome.trailing.count)
        }
        var done = true
        if let decompressor {
            do { try decompressor.finish(path: path) } catch { done = false; batch.read.badLines += 1 }
        }
        batch.read.end = end
        try saveKernelLog(&batch, checkpoint: decompressor == nil ? save(end) : (done ? save(file.size) : nil))
    }

    /// Stores one kernel log's findings, its coverage and its checkpoint together.
    private mutating func saveKernelLog(_ batch: inout KernelLogBatch, checkpoint: Checkpoint?) throws {
        batch.audit.finish(complete: true)
        var events: [SignalEvent] = []
        for group in batch.audit.ready {
            if case .success(let event) = decoder.decode(group.lines.map(\.bytes), id: group.id) { events.append(event) }
        }
        let kills = batch.kills + batch.audit.kernelKills
        let actions = batch.actions
        if !batch.formats.isEmpty { batch.read.source = batch.formats.map(\.rawValue).joined(separator: "+") }
        batch.read.kills = kills.count
        batch.read.signalEvents = events.count
        let read = batch.read
        let runID = runID
        let counts = try store.transaction { tx -> (kills: Int, events: Int, actions: Int) in
            var newKills = 0, newEvents = 0, newActions = 0
            for event in events where try tx.store(event) == .inserted { newEvents += 1 }
            for kill in kills where try tx.store(kill) == .inserted { newKills += 1 }
            for action in actions where try tx.store(action) { newActions += 1 }
            try tx.save(read, run: runID)
            if let checkpoint { _ = try tx.save(checkpoint) }
            return (newKills, newEvents, newActions)
        }
        var s = batch.summary
        s.format = read.source
        s.entries = read.entries
        s.kills = kills.count
        s.newKills = counts.kills
        s.systemdActions = actions.count
        s.signalEvents = events.count
        s.badLines = read.badLines
        s.firstTime = read.firstTime
        s.lastTime = read.lastTime
        summary.kernel.sources.append(s)
        summary.kernel.newSignalEvents += counts.events
        summary.kernel.newSystemdActions += counts.actions
    }
}
