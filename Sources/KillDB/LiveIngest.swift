import AuditDecoding
import AuditLog
import Foundation
import Pipeline
import ProcessContext
import Store
#if canImport(Glibc)
import Glibc
#endif

/// Settings of a stream ingest (`killdb plugin`).
public struct LiveIngestOptions: Sendable {
    /// Longest a complete signal event waits for its transaction.
    public var commitInterval: Double = 0.2
    /// Commit at once when this many signal events wait.
    public var commitEvents = 256
    /// Coverage of records that are not signals is committed this often: it need not be prompt.
    public var coverageInterval: Double = 5
    /// Bytes of lines held in memory before new lines go to the spool file.
    public var queueBytes = 16 << 20
    /// How long a transaction waits for another writer (an ingest's commit) before the
    /// database counts as unavailable and lines go to the spool.
    public var busyTimeout: Double = 3
    /// Wait between attempts while the database is unavailable.
    public var retryInterval: Double = 1
    /// On SIGTERM, how long spooled lines are still replayed before exiting; the rest is
    /// replayed at next start.
    public var stopReplayBudget: Double = 3
    /// nil: the database path with ".spool" appended.
    public var spoolPath: String?
    /// Read each sender's parents and each process's cgroup from /proc as its event arrives.
    public var captureProcesses = true
    /// Where kubelet's pod log directories are (`pods/`, `containers/`), to name pods.
    public var podLogRoot = "/var/log"
    /// Where messages go: (is an error, text).
    public var log: (@Sendable (Bool, String) -> Void)?
    public init() {}
}

/// What a stream ingest has done so far.
public struct LiveIngestStatus: Sendable {
    public var linesRead = 0
    public var spooledLines = 0
    public var replayedLines = 0
    /// Lines lost because neither memory nor the spool could take them.
    public var droppedLines = 0
    /// New lines go to the spool file (the queue was full, or the database unavailable).
    public var spooling = false
    public var spoolBytes: Int64 = 0
    public var databaseAvailable = false
    public var commits = 0
    public var signalEvents = 0
    public var newEvents = 0
    /// Signal events libauparse could not parse (their lines count as skipped).
    public var unparsableEvents = 0
    /// The ingest_runs rows written, one per database session (start, SIGHUP, recovery).
    public var runIDs: [Int64] = []
    public init() {}
}

public enum LiveIngestError: Error, CustomStringConvertible {
    case unsaved(lines: Int, reason: String)

    public var description: String {
        switch self {
        case .unsaved(let lines, let reason):
            return "\(lines) record lines could be neither stored nor spooled: \(reason)"
        }
    }
}

/// Stops or reloads a running stream ingest from another thread (a signal handler's), and
/// holds the queue between its reader and its writer.
public final class LiveIngestControl: @unchecked Sendable {
    // Everything below is guarded by `condition`.
    let condition = NSCondition()
    var queue: [[UInt8]] = []
    var queuedBytes = 0
    var queueLimit = 16 << 20
    var spoolFD: Int32 = -1
    var stopRequested = false
    var reloadRequested = false
    var readerDone = false
    var current = LiveIngestStatus()
    var log: (@Sendable (Bool, String) -> Void)?

    public init() {}

    /// Flush, commit and return (SIGTERM).
    public func stop() { locked { stopRequested = true } }

    /// Commit, then open the database again as a new run (SIGHUP).
    public func reload() { locked { reloadRequested = true } }

    public var status: LiveIngestStatus { locked { current } }

    @discardableResult
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }

    /// Reader side: queues `lines`, or appends them to the spool when the queue is full or
    /// the spool is already in use (lines stay in order: queue first, then spool).
    func push(_ lines: [[UInt8]]) {
        let bytes = lines.reduce(0) { $0 + $1.count + 1 }
        locked {
            current.linesRead += lines.count
            if spoolFD >= 0 && (current.spooling || queuedBytes + bytes > queueLimit) {
                if appendToSpool(lines) {
                    current.spooling = true
                    return
                }
            }
            // Over the limit only when the spool failed: memory is the last resort, to a point.
            if queuedBytes + bytes > queueLimit * 4 {
                current.droppedLines += lines.count
                log?(true, "dropped \(lines.count) record lines: queue full and the spool unwritable")
                return
            }
            queue += lines
            queuedBytes += bytes
        }
    }

    /// Appends whole lines to the spool, or nothing. Call with the lock held.
    func appendToSpool(_ lines: [[UInt8]]) -> Bool {
        guard spoolFD >= 0, !lines.isEmpty else { return lines.isEmpty }
        var data: [UInt8] = []
        data.reserveCapacity(lines.reduce(0) { $0 + $1.count + 1 })
        for l in lines {
            data += l
            data.append(0x0a)
        }
        var written = 0
        while written < data.count {
            let n = data.withUnsafeBytes { write(spoolFD, $0.baseAddress! + written, data.count - written) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let reason = String(cString: strerror(errno))
                // A torn last line would fuse with the next append.
                _ = ftruncate(spoolFD, off_t(current.spoolBytes))
                log?(true, "cannot write the spool file: \(reason)")
                return false
            }
            written += n
        }
        current.spoolBytes += Int64(data.count)
        current.spooledLines += lines.count
        return true
    }

    func readerFinished() { locked { readerDone = true } }
}

public enum LiveIngest {
    /// The file_reads path of the stream, which has no file (its runs are of kind `plugin`).
    public static let streamPath = "(auditd plugin)"

    /// Reads audit record lines (auditd's `format = string` plugin protocol: one record a
    /// line, events ended by EOE) from `input` until end of input or `control.stop()`, and
    /// stores signal events in small transactions. A reader thread drains `input` into a
    /// bounded queue so auditd never waits on the database; lines that do not fit, or come
    /// while the database is unavailable, go to a spool file and are replayed through the
    /// same idempotent store, here or at the next start.
    public static func run(input: Int32, databasePath: String, options: LiveIngestOptions = LiveIngestOptions(),
                           control: LiveIngestControl = LiveIngestControl()) throws -> LiveIngestStatus {
        control.locked {
            control.queueLimit = options.queueBytes
            control.log = options.log
        }
        // Drain input from the start, even while another plugin still holds the spool.
        let reader = Thread { readLines(input, control: control) }
        reader.name = "killdb plugin reader"
        reader.start()
        let spool = openSpool(options.spoolPath ?? databasePath + ".spool", control: control, log: options.log)
        defer {
            if spool >= 0 {
                // A reader still running must not write to a reused descriptor.
                control.locked { control.spoolFD = -1 }
                close(spool)
            }
        }
        var writer = LiveWriter(databasePath: databasePath, spool: spool, options: options, control: control)
        return try writer.run()
    }

    /// Opens and locks the spool: one process replays it at a time (a restarted plugin
    /// may briefly overlap the old one). Lines from an earlier run in it are replayed first.
    static func openSpool(_ path: String, control: LiveIngestControl,
                          log: (@Sendable (Bool, String) -> Void)?) -> Int32 {
        let fd: Int32
        do {
            try DatabaseDirectory.prepare(forFile: path)
            fd = try PrivateFile.open(path, extraFlags: O_APPEND)
        } catch {
            log?(true, "cannot open the spool file \(path): \(error); lines wait in memory only")
            return -1
        }
        var waited = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if control.locked({ control.stopRequested }) {
                close(fd)
                return -1
            }
            if waited % 100 == 0 { log?(false, "waiting for another killdb plugin to release \(path)") }
            waited += 1
            usleep(100_000)
        }
        var st = stat()
        fstat(fd, &st)
        control.locked {
            control.spoolFD = fd
            control.current.spoolBytes = Int64(st.st_size)
            control.current.spooling = st.st_size > 0
        }
        return fd
    }

    /// The reader thread: lines from `fd` into the queue until end of input, or until a stop
    /// request once nothing more is waiting in the pipe.
    static func readLines(_ fd: Int32, control: LiveIngestControl) {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var partial: [UInt8] = []
        var overlong = false
        var stopDeadline: Date?
        while true {
            if stopDeadline == nil, control.locked({ control.stopRequested }) { stopDeadline = Date().addingTimeInterval(2) }
            if let d = stopDeadline, Date() > d { break }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, stopDeadline == nil ? 200 : 0)
            if ready < 0 {
                if errno == EINTR { continue }
                control.log?(true, "poll on input failed: \(String(cString: strerror(errno)))")
                break
            }
            if ready == 0 {
                if stopDeadline != nil { break }
                continue
            }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                control.log?(true, "reading input failed: \(String(cString: strerror(errno)))")
                break
            }
            if n == 0 { break }
            var lines: [[UInt8]] = []
            var start = 0
            chunk.withUnsafeBufferPointer { buf in
                while start < n, let nl = memchr(buf.baseAddress! + start, 0x0a, n - start) {
                    let end = buf.baseAddress!.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                    if overlong {
                        overlong = false
                    } else if partial.isEmpty {
                        lines.append(Array(buf[start..<end]))
                    } else {
                        partial += buf[start..<end]
                        if partial.count <= LineReader.maxLineLength { lines.append(partial) }
                        partial.removeAll(keepingCapacity: true)
                    }
                    start = end + 1
                }
                if start < n && !overlong {
                    partial += buf[start..<n]
                    // No record is this long: drop it without holding it.
                    if partial.count > LineReader.maxLineLength {
                        partial.removeAll()
                        overlong = true
                    }
                }
            }
            if !lines.isEmpty { control.push(lines) }
        }
        if !partial.isEmpty && !overlong { control.push([partial]) }
        control.readerFinished()
    }
}

/// The writer: the caller's thread, the only one touching the pipeline and the database.
struct LiveWriter {
    let databasePath: String
    let spool: Int32
    let options: LiveIngestOptions
    let control: LiveIngestControl
    let hostname = ProcessInfo.processInfo.hostName
    var pipeline = EventPipeline()
    let source: Int
    var store: SignalStore?
    var runID: Int64?
    var fileReadRow: Int64?
    /// A run left 'running' by a database session that failed: marked when the next commits.
    var abandonedRuns: [Int64] = []
    /// Stream bytes of this run: the file_reads row's end offset.
    var bytes: Int64 = 0
    var newEvents = 0
    /// What the pipeline completed and the next commit stores.
    var waiting = EventBatch()
    /// The processes of waiting events, read from /proc as they arrived.
    var capture: ProcessCapture?
    var waitingProcesses: [(EventID, EventProcesses)] = []
    /// Every line taken from the queue or the spool that no commit has stored yet (with the
    /// lines of events still open): what must reach the spool, on disk, when a commit fails.
    var uncommitted: [[UInt8]] = []
    var uncommittedBytes = 0
    /// How many of `uncommitted` a failed commit spooled, and where: once the commit
    /// succeeds after all, replay skips those copies.
    var spooledCount = 0
    var spooledCopies: [Range<Int64>] = []
    var replaySkips: [Range<Int64>] = []
    var oldestWaiting: Date?
    var coverageDirty = false
    var lastCommit = Date()
    var failing = false
    var failureLogged = false
    var nextAttempt = Date()
    /// Where replay of the spool has got to, and whether it reached the end (so the spool
    /// can be emptied once the last of it is committed).
    var replayOffset: Int64 = 0
    var replayedToEnd = false

    init(databasePath: String, spool: Int32, options: LiveIngestOptions, control: LiveIngestControl) {
        self.databasePath = databasePath
        self.spool = spool
        self.options = options
        self.control = control
        source = pipeline.beginSource()
        if options.captureProcesses { capture = ProcessCapture(reader: ProcReader(podLogs: PodLogs(root: options.podLogRoot))) }
    }

    func log(_ error: Bool, _ message: String) { options.log?(error, message) }

    enum Work {
        case lines([[UInt8]])
        case replay(upTo: Int64)
        case idle
        case reload
        case finish
    }

    mutating func run() throws -> LiveIngestStatus {
        openStore(carry: true)
        var stopReplayDeadline: Date?
        while true {
            let wait = failing ? nextAttempt : deadline()
            let work = nextWork(until: wait, replayAllowed: !failing && (stopReplayDeadline.map { Date() < $0 } ?? true))
            switch work {
            case .lines(let lines):
                for l in lines { feed(l) }
            case .replay(let end):
                replay(upTo: end)
            case .idle:
                break
            case .reload:
                reload()
                continue
            case .finish:
                return try finish()
            }
            if stopReplayDeadline == nil, control.locked({ control.stopRequested }) {
                stopReplayDeadline = Date().addingTimeInterval(options.stopReplayBudget)
            }
            collect()
            if failing {
                if Date() >= nextAttempt { commit(final: false) }
            } else if shouldCommit() {
                commit(final: false)
            }
        }
    }

    /// When the waiting work must be committed.
    func deadline() -> Date {
        var d = Date.distantFuture
        if let oldest = oldestWaiting { d = min(d, oldest.addingTimeInterval(options.commitInterval)) }
        if coverageDirty || !waiting.daemonRecords.isEmpty { d = min(d, lastCommit.addingTimeInterval(options.coverageInterval)) }
        if replayedToEnd { d = .distantPast }
        return d
    }

    func shouldCommit() -> Bool {
        waiting.events.count >= options.commitEvents || uncommittedBytes >= Self.uncommittedLimit || Date() >= deadline()
    }

    /// Lines held for the spool in case a commit fails are bounded by committing sooner.
    static let uncommittedLimit = 4 << 20

    /// Waits for lines, spool to replay, a request, or `deadline`. The queue is always
    /// older than the spool, so the spool is replayed only once the queue is empty.
    func nextWork(until deadline: Date, replayAllowed: Bool) -> Work {
        control.locked {
            while true {
                if control.reloadRequested {
                    control.reloadRequested = false
                    return .reload
                }
                if !control.queue.isEmpty && !failing {
                    let lines = control.queue
                    control.queue.removeAll(keepingCapacity: true)
                    control.queuedBytes = 0
                    return .lines(lines)
                }
                let spoolLeft = control.current.spooling && control.current.spoolBytes > replayOffset && !replayedToEnd
                let replaying = spoolLeft && replayAllowed && !failing
                if replaying { return .replay(upTo: control.current.spoolBytes) }
                // Input is over once the reader is; a spool not replayed by then waits for the next start.
                if control.readerDone && (control.queue.isEmpty || failing) { return .finish }
                if Date() >= deadline { return .idle }
                _ = control.condition.wait(until: min(deadline, Date().addingTimeInterval(0.5)))
            }
        }
    }

    mutating func feed(_ line: [UInt8]) {
        line.withUnsafeBufferPointer { pipeline.take($0, source: source, offset: bytes) }
        uncommitted.append(line)
        uncommittedBytes += line.count + 1
        bytes += Int64(line.count) + 1
        coverageDirty = true
        if pipeline.waiting >= options.commitEvents {
            collect()
            if !failing { commit(final: false) }
        }
    }

    /// Feeds spooled lines from `replayOffset` (at most a few MB at a time, so commits keep
    /// coming) towards `end`, skipping copies of lines a commit stored after all.
    mutating func replay(upTo end: Int64) {
        if let skip = replaySkips.first, replayOffset >= skip.lowerBound {
            replayOffset = max(replayOffset, skip.upperBound)
            replaySkips.removeFirst()
            if replayOffset >= end { replayedToEnd = true }
            return
        }
        let limit = replaySkips.first.map { min(end, $0.lowerBound) } ?? end
        let want = Int(min(limit - replayOffset, 4 << 20))
        var buffer = [UInt8](repeating: 0, count: want)
        let got = buffer.withUnsafeMutableBytes { pread(spool, $0.baseAddress!, want, off_t(replayOffset)) }
        guard got > 0 else {
            log(true, "cannot read the spool: \(got < 0 ? String(cString: strerror(errno)) : "shorter than expected")")
            replayedToEnd = true  // empty it rather than spin on it
            return
        }
        var start = 0
        var count = 0
        while start < got, let nl = buffer[start..<got].firstIndex(of: 0x0a) {
            feed(Array(buffer[start..<nl]))
            count += 1
            start = nl + 1
        }
        // No newline at all: a torn tail (appends are whole lines, so only after damage); drop it.
        if start == 0 { start = got }
        replayOffset += Int64(start)
        if replayOffset >= end { replayedToEnd = true }
        control.locked { control.current.replayedLines += count }
    }

    /// Takes what the pipeline completed into the waiting batch.
    mutating func collect() {
        var batch = pipeline.batch()
        // A stream's serial holes cannot be told from the plugin having been down (or
        // restarted by auditd); ingest finds real ones in the logs.
        batch.serialGaps = []
        if batch.unparsableEvents > 0 {
            let n = batch.unparsableEvents
            log(true, "\(n) signal event\(n == 1 ? "" : "s") could not be parsed by libauparse and \(n == 1 ? "was" : "were") skipped")
        }
        if capture != nil {
            for event in batch.events { if let p = capture!.capture(event) { waitingProcesses.append((event.id, p)) } }
            // A database down for long: the oldest captures go, never the lines.
            if waitingProcesses.count > 100_000 { waitingProcesses.removeFirst(50_000) }
        }
        waiting.append(batch)
        if oldestWaiting == nil && (!waiting.events.isEmpty || !waiting.kernelKills.isEmpty) { oldestWaiting = Date() }
    }

    mutating func openStore(carry: Bool) {
        guard store == nil else { return }
        do {
            let s = try SignalStore.openForWriting(path: databasePath, busyTimeout: options.busyTimeout)
            if carry {
                pipeline = EventPipeline(carried: try s.recentEventIDs())
                _ = pipeline.beginSource()
            }
            store = s
        } catch {
            failed(error)
        }
    }

    @discardableResult
    mutating func commit(final: Bool) -> Bool {
        openStore(carry: false)
        guard let store else { return false }
        let coverage = pipeline.coverage[source]
        var totals = RunTotals()
        totals.files = 1
        totals.bytes = bytes
        totals.lines = coverage.lines
        totals.badLines = pipeline.skippedTotal
        totals.signalEvents = coverage.signalEvents
        totals.newEvents = newEvents
        let read = FileRead(path: LiveIngest.streamPath, device: 0, inode: 0, startOffset: 0, endOffset: bytes,
                            coverage: coverage)
        let (batch, runID, fileReadRow, abandoned, hostname) = (waiting, self.runID, self.fileReadRow, abandonedRuns, self.hostname)
        let processes = waitingProcesses
        do {
            let r = try store.transaction { tx -> (run: Int64, row: Int64, inserted: Int) in
                if runID == nil { try tx.markInterruptedRuns([.plugin]) }
                let run = try runID ?? tx.beginRun(.plugin, version: Ingest.version, hostname: hostname)
                let stored = try tx.store(batch)
                for (id, p) in processes { try tx.store(p, for: id) }
                let row = try tx.save(read, run: run, rowID: fileReadRow)
                var t = totals
                t.newEvents += stored.newEvents
                try tx.updateRun(run, totals: t, status: final ? .complete : .running)
                for old in abandoned { try tx.updateRun(old, totals: RunTotals(), status: .failed) }
                return (run, row, stored.newEvents)
            }
            if self.runID == nil { control.locked { control.current.runIDs.append(r.run) } }
            self.runID = r.run
            self.fileReadRow = r.row
            abandonedRuns.removeAll()
            newEvents += r.inserted
            waiting = EventBatch()
            waitingProcesses.removeAll()
            // What is stored need not be spooled; the lines of events still open still must.
            uncommitted = pipeline.heldLines().map(\.bytes)
            uncommittedBytes = uncommitted.reduce(0) { $0 + $1.count + 1 }
            replaySkips += spooledCopies
            spooledCopies.removeAll()
            spooledCount = 0
            oldestWaiting = nil
            coverageDirty = false
            lastCommit = Date()
            if failing { log(false, "the database \(databasePath) is writable again; replaying the spool") }
            failing = false
            failureLogged = false
            if replayedToEnd { emptySpoolIfReplayed() }
            control.locked {
                control.current.databaseAvailable = true
                control.current.commits += 1
                control.current.newEvents = newEvents
                control.current.signalEvents = coverage.signalEvents
                control.current.unparsableEvents = pipeline.unparsableEvents
            }
            return true
        } catch {
            failed(error)
            return false
        }
    }

    /// The database could not be written: what the writer holds goes to the spool, on disk,
    /// before it waits to retry (a kill -9 while it waits must lose nothing), and new lines
    /// follow it there until the database is writable.
    mutating func failed(_ error: any Error) {
        if !failureLogged {
            log(true, "cannot write to \(databasePath): \(error); spooling until it is writable")
            failureLogged = true
        }
        failing = true
        nextAttempt = Date().addingTimeInterval(options.retryInterval)
        if case StoreError.busy = error {} else if store != nil {
            // Anything but a lock may be a damaged or replaced file: open it again, as a new run.
            store = nil
            if let runID { abandonedRuns.append(runID) }
            runID = nil
            fileReadRow = nil
        }
        let held = Array(uncommitted[spooledCount...])
        let copy = control.locked { () -> Range<Int64>? in
            control.current.databaseAvailable = false
            guard control.spoolFD >= 0 else { return nil }
            var copy: Range<Int64>?
            let before = control.current.spoolBytes
            if !held.isEmpty {
                guard control.appendToSpool(held) else { return nil }
                copy = before..<control.current.spoolBytes
                control.current.spooling = true
            }
            if !control.queue.isEmpty || !control.current.spooling {
                // The queue is older than anything spooled later: it goes first.
                if control.appendToSpool(control.queue) {
                    control.queue.removeAll()
                    control.queuedBytes = 0
                    control.current.spooling = true
                }
            }
            if control.current.spoolBytes != before { _ = fsync(control.spoolFD) }
            return copy
        }
        if let copy {
            spooledCopies.append(copy)
            spooledCount = uncommitted.count
        }
    }

    /// The replayed spool is committed: empty it, unless the reader appended meanwhile.
    mutating func emptySpoolIfReplayed() {
        replayedToEnd = false
        let offset = replayOffset
        let emptied = control.locked { () -> Bool in
            guard control.current.spoolBytes == offset else { return false }
            _ = ftruncate(spool, 0)
            control.current.spoolBytes = 0
            control.current.spooling = false
            return true
        }
        if emptied {
            replayOffset = 0
            replaySkips.removeAll()
        }
    }

    /// SIGHUP: commit, close this run, open the database afresh as a new run.
    mutating func reload() {
        collect()
        if !failing { commit(final: true) }
        if let runID, failing { abandonedRuns.append(runID) }
        log(false, "reloading: opening \(databasePath) again")
        store = nil
        runID = nil
        fileReadRow = nil
        bytes = 0
        newEvents = 0
        pipeline.restartCounts()
        failing = false
        failureLogged = false
        openStore(carry: false)
    }

    /// End of input or stop: every open event is as complete as it will get; commit it all.
    mutating func finish() throws -> LiveIngestStatus {
        pipeline.finish(complete: false)
        collect()
        if !commit(final: true) {
            // Retry briefly: a long ingest commit may just be ending.
            let deadline = Date().addingTimeInterval(max(options.retryInterval, 1))
            while Date() < deadline {
                usleep(UInt32(min(options.retryInterval, 0.2) * 1_000_000))
                if commit(final: true) { break }
            }
        }
        if failing {
            // Keep what could not be stored for the next start (what a failed commit spooled
            // is there already).
            let left = Array(uncommitted[spooledCount...]) + control.locked { control.queue }
            let (spooled, spoolBytes) = control.locked { () -> (Bool, Int64) in
                let ok = control.appendToSpool(left)
                if control.spoolFD >= 0 { _ = fsync(control.spoolFD) }
                return (ok, control.current.spoolBytes)
            }
            if !spooled && !left.isEmpty {
                throw LiveIngestError.unsaved(lines: uncommitted.count + left.count - spooledCount,
                                              reason: "database \(databasePath) unavailable and no spool")
            }
            log(true, "exiting with \(spoolBytes) bytes spooled for the next start")
        }
        return control.status
    }
}
