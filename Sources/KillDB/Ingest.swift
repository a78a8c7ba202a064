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
}

public struct IngestOptions: Sendable {
    /// How long to wait for another ingest to finish before giving up.
    public var lockWait: Double = 10
    /// Commit after this many bytes of input: bounds the work a crash can undo.
    public var commitBytes: Int64 = 64 << 20
    public var progress: (@Sendable (IngestProgress) -> Void)?
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
                if bytesSinceCommit >= options.commitBytes || filter.ready.count >= 4096 {
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
