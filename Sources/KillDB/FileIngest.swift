import AuditDecoding
import AuditLog
import Foundation
import Pipeline
import Store

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
/// Audit log files are read oldest first into one pipeline; a commit stores its batch with
/// the checkpoints, file reads, serial cursors and run row that go with it.
struct Ingestion {
    struct OpenFile {
        var reader: LogFileReader
        var checkpointRow: Int64?
        var startOffset: Int64
        var consumed: Int64
        var fileReadRow: Int64?
        var index: Int
        /// A compressed file is checkpointed only once read to the end.
        var done = false
        var file: LogFile { reader.file }
    }

    let store: SignalStore
    let options: IngestOptions
    var pipeline: EventPipeline
    var summary = IngestSummary()
    var files: [OpenFile] = []
    var runID: Int64 = 0
    var bytesSinceCommit: Int64 = 0
    var bytesTotal: Int64 = 0

    init(store: SignalStore, options: IngestOptions) throws {
        self.store = store
        self.options = options
        pipeline = EventPipeline(carried: try store.recentEventIDs(), serialCursors: try store.serialCursors(),
                                 traceWriters: try store.traceWriters())
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
            try tx.markInterruptedRuns([.ingest, .merge])
            return try tx.beginRun(.ingest, version: Ingest.version, hostname: ProcessInfo.processInfo.hostName)
        }
        summary.runID = runID
        let stats = opened.map(\.0)
        do {
            for (file, fd) in opened { try read(LogFileReader(file: file, fd: fd)) }
            pipeline.finish(complete: stats.allSatisfy { $0.modifiedAgo >= 10 })
            if let mixed = pipeline.unnamedHostsMixed, let path = files.first(where: { $0.index == mixed.file })?.file.path {
                summary.mixedHostsWarning = IngestSummary.mixedHosts(mixed, path: path)
            }
            try commit(final: false)
            for source in options.kernelLogs + options.journals { try readKernelLog(source) }
            try commit(final: true)
        } catch {
            _ = try? store.transaction { tx in
                try tx.updateRun(runID, totals: summary.totals, status: .failed)
            }
            throw error
        }
        return summary
    }

    private mutating func read(_ reader: LogFileReader) throws {
        let stat = reader.file
        let checkpoint = try store.checkpoint(for: stat, fingerprint: reader.fingerprint, fd: reader.fd)
        let start = reader.start(after: checkpoint?.offset)
        let index = pipeline.beginSource()
        files.append(OpenFile(reader: reader, checkpointRow: checkpoint?.rowID, startOffset: start, consumed: start,
                              fileReadRow: nil, index: index))
        let slot = files.count - 1
        summary.totals.files += 1
        if reader.alreadyRead(from: start) {
            files[slot].done = true
            return
        }
        var progressBytes: Int64 = 0
        let outcome = try reader.read(from: start) { event in
            var waiting = 0
            switch event {
            case .line(let line, let offset):
                waiting = pipeline.take(line, source: index, offset: offset)
                let next = offset + Int64(line.count) + 1
                bytesSinceCommit += next - files[slot].consumed
                files[slot].consumed = next
            case .overlong(let offset):
                pipeline.skip(source: index, offset: offset, .tooLong)
                waiting = pipeline.waiting
            }
            if bytesSinceCommit >= options.commitBytes || waiting >= 4096 {
                try commit(final: false)
            }
            if let progress = options.progress, files[slot].consumed - progressBytes > 4 << 20 {
                progressBytes = files[slot].consumed
                progress(IngestProgress(bytesRead: summary.totals.bytes + files[slot].consumed - start,
                                        bytesTotal: bytesTotal, signalEvents: summary.totals.signalEvents,
                                        file: stat.path))
            }
        }
        files[slot].consumed = outcome.end
        if reader.compression != nil {
            if outcome.damaged {
                // What came out before the damage is kept; the file is read again next time.
                pipeline.skip(source: index, offset: outcome.end, .damagedArchive)
            } else {
                files[slot].done = true
            }
        }
        summary.totals.bytes += files[slot].consumed - start
        try commit(final: false)
    }

    /// Stores what the pipeline completed, with the checkpoints, coverage and serial cursors
    /// that go with it, in one transaction.
    private mutating func commit(final: Bool) throws {
        bytesSinceCommit = 0
        let batch = pipeline.batch()
        let held = batch.held
        var totals = summary.totals
        let coverage = pipeline.coverage
        totals.lines = coverage.reduce(0) { $0 + $1.lines }
        totals.badLines = pipeline.skippedTotal
        totals.signalEvents = coverage.reduce(0) { $0 + $1.signalEvents }
        // With every checkpoint: a run cut short must not leave the next one comparing its
        // first serial against an older cursor (and reporting the events between as lost).
        let cursors = pipeline.serialCursors
        let runID = runID
        let snapshot = files
        let result = try store.transaction { tx -> (stored: StoredBatch, fileRows: [Int64?], checkpointRows: [Int64?]) in
            let stored = try tx.store(batch)
            var fileRows: [Int64?] = []
            var checkpointRows: [Int64?] = []
            for f in snapshot {
                let read = FileRead(path: f.file.path, device: f.file.device, inode: f.file.inode,
                                    startOffset: f.startOffset, endOffset: f.consumed, coverage: coverage[f.index])
                fileRows.append(try tx.save(read, run: runID, rowID: f.fileReadRow))
                // Never past a line whose event is not stored yet: a crash now must not lose it.
                var safe = min(f.consumed, held[f.index] ?? .max)
                if f.reader.compression != nil { safe = f.reader.checkpointOffset(end: safe, complete: f.done && held[f.index] == nil) }
                if let fp = f.reader.fingerprint, safe > f.startOffset || f.checkpointRow != nil {
                    checkpointRows.append(try tx.save(Checkpoint(
                        rowID: f.checkpointRow, device: f.file.device, inode: f.file.inode,
                        fingerprint: fp, offset: safe, path: f.file.path)))
                } else {
                    checkpointRows.append(f.checkpointRow)
                }
            }
            var t = totals
            t.newEvents += stored.newEvents
            t.conflictingEvents += stored.conflictingEvents
            try tx.updateRun(runID, totals: t, status: final ? .complete : .running)
            try tx.saveSerialCursors(cursors)
            return (stored, fileRows, checkpointRows)
        }
        for i in files.indices {
            files[i].fileReadRow = result.fileRows[i]
            files[i].checkpointRow = result.checkpointRows[i]
        }
        summary.totals = totals
        summary.totals.newEvents += result.stored.newEvents
        summary.totals.conflictingEvents += result.stored.conflictingEvents
        summary.absorb(batch, result.stored, paths: files.map(\.file.path))
        summary.kernel.auditKills += batch.kernelKills.count
        summary.kernel.newAuditKills += result.stored.newKernelKills
        summary.files = files.map {
            FileSummary(path: $0.file.path, startOffset: $0.startOffset, endOffset: $0.consumed,
                        resumed: $0.startOffset > 0, coverage: coverage[$0.index])
        }
    }
}
