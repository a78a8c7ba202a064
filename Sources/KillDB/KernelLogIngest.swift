import AuditLog
import Foundation
import KernelLog
import Pipeline
import Store
#if canImport(Glibc)
import Glibc
#endif

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

/// One kernel log being read: its entries go through a pipeline of their own (its kills
/// join up, the oom-kill: line with the Killed process line, only within one read), and
/// what it covered is its `kernel_log_reads` row.
struct KernelLogReading {
    var read: KernelLogRead
    var summary: KernelLogSummary.Source
    var pipeline = EventPipeline()
    let source: Int
    var formats: [KernelLogSource] = []

    init(path: String, format: KernelLogSource, start: Int64) {
        read = KernelLogRead(source: format.rawValue, path: path, start: start, end: start)
        summary = KernelLogSummary.Source(path: path, format: format.rawValue)
        source = pipeline.beginSource()
    }

    mutating func take(_ entry: KernelLogEntry) {
        read.entries += 1
        read.saw(entry.time)
        if !formats.contains(entry.source) { formats.append(entry.source) }
        pipeline.take(entry, source: source)
    }

    /// One line of a text kernel log (syslog, dmesg, journal JSON).
    mutating func take(_ line: [UInt8], _ clock: KernelLogClock) {
        switch KernelLogLine.parse(line, clock, seen: { read.saw($0) }) {
        case .success(let entry?): take(entry)
        case .success(nil): break
        case .failure: if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) { read.badLines += 1 }
        }
    }
}

extension Ingestion {
    /// Reads one kernel log (or journal) and stores what it holds in one transaction, with
    /// its checkpoint: a kernel log is small beside the audit log.
    mutating func readKernelLog(_ source: String) throws {
        if source == Kmsg.path || isCharacterDevice(source) {
            try readKmsg(source)
        } else if source == "-" {
            var reading = KernelLogReading(path: "-", format: .syslog, start: 0)
            let clock = KernelLogClock(reference: Date().timeIntervalSince1970, bootTime: options.bootTime ?? Kmsg.bootTime(),
                                       timeZone: options.timeZone)
            let outcome = try LineReader.read(fd: STDIN_FILENO, from: 0, stream: true) { event in
                if case .line(let line, _) = event { reading.take(Array(line), clock) } else { reading.read.badLines += 1 }
            }
            if !outcome.trailing.isEmpty { reading.take(outcome.trailing, clock) }
            reading.read.end = outcome.bytesRead
            try saveKernelLog(&reading, checkpoint: nil)
        } else {
            try readKernelLogFile(source)
        }
    }

    private func isCharacterDevice(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR
    }

    private mutating func readKmsg(_ path: String) throws {
        let boot = Kmsg.bootID() ?? "unknown"
        let after = try store.kmsgCursor(bootID: boot)
        let bootTime = Kmsg.bootTime()
        let host = Kmsg.hostName()
        var reading = KernelLogReading(path: path, format: .kmsg, start: after.map { Int64(bitPattern: $0) } ?? -1)
        reading.read.bootID = boot
        reading.summary.resumedAfter = after.map { Int64(bitPattern: $0) }
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
            reading.take(KernelLogEntry(node: host, time: bootTime + Double(record.microseconds) / 1e6, source: .kmsg,
                                        program: program, message: message, identity: "kmsg:\(boot):\(record.sequence)"))
        }
        reading.summary.overrun = outcome.overrun
        reading.read.end = last.map { Int64(bitPattern: $0) } ?? reading.read.start
        try saveKernelLog(&reading, checkpoint: nil)
        if let last, last != after {
            try store.transaction { tx in try tx.saveKmsgCursor(bootID: boot, sequence: last) }
        }
    }

    private mutating func readKernelLogFile(_ path: String) throws {
        let (file, fd) = try LogFile.open(path)
        defer { close(fd) }
        let reader = LogFileReader(file: file, fd: fd)
        let checkpoint = try store.checkpoint(for: file, fingerprint: reader.fingerprint, fd: fd)
        let start = reader.start(after: checkpoint?.offset)
        var reading = KernelLogReading(path: path, format: .syslog, start: start)
        if start > 0 { reading.summary.resumedAfter = start }
        func save(_ offset: Int64) -> Checkpoint? {
            reader.fingerprint.map { Checkpoint(rowID: checkpoint?.rowID, device: file.device, inode: file.inode,
                                                fingerprint: $0, offset: offset, path: path) }
        }
        if reader.alreadyRead(from: start) {
            try saveKernelLog(&reading, checkpoint: nil)
            return
        }
        let clock = KernelLogClock(reference: Date().timeIntervalSince1970 - file.modifiedAgo,
                                   bootTime: options.bootTime ?? Kmsg.bootTime(), timeZone: options.timeZone)
        let outcome = try reader.read(from: start) { event in
            switch event {
            case .line(let line, _): reading.take(Array(line), clock)
            case .overlong: reading.read.badLines += 1
            }
        }
        if outcome.damaged { reading.read.badLines += 1 }
        reading.read.end = outcome.end
        let checkpointed = reader.compression == nil || !outcome.damaged
        try saveKernelLog(&reading, checkpoint: checkpointed ? save(reader.checkpointOffset(end: outcome.end, complete: true)) : nil)
    }

    /// Stores one kernel log's findings, its coverage and its checkpoint together.
    private mutating func saveKernelLog(_ reading: inout KernelLogReading, checkpoint: Checkpoint?) throws {
        reading.pipeline.finish(complete: true)
        var batch = reading.pipeline.batch()
        // A kernel log holds only the audit records no auditd took: its serial holes are
        // auditd's share, not losses.
        batch.serialGaps = []
        if !reading.formats.isEmpty { reading.read.source = reading.formats.map(\.rawValue).joined(separator: "+") }
        reading.read.kills = batch.kernelKills.count
        reading.read.signalEvents = batch.events.count
        let read = reading.read
        let runID = runID
        let stored = try store.transaction { tx -> StoredBatch in
            let stored = try tx.store(batch)
            try tx.save(read, run: runID)
            if let checkpoint { _ = try tx.save(checkpoint) }
            return stored
        }
        var s = reading.summary
        s.format = read.source
        s.entries = read.entries
        s.kills = batch.kernelKills.count
        s.newKills = stored.newKernelKills
        s.systemdActions = batch.systemdActions.count
        s.signalEvents = batch.events.count
        s.badLines = read.badLines
        s.firstTime = read.firstTime
        s.lastTime = read.lastTime
        s.unverifiedAuditRecords = batch.unverifiedAuditRecords
        s.unparsableEvents = batch.unparsableEvents
        summary.kernel.sources.append(s)
        summary.kernel.newSignalEvents += stored.newEvents
        summary.kernel.newSystemdActions += stored.newSystemdActions
        // Unparsable events and skipped lines are reported as the audit logs' are.
        summary.absorb(batch, StoredBatch(), paths: [read.path])
    }
}
