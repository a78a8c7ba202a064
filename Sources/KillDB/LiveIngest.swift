import AuditDecoding
import AuditLog
import Foundation
import Pipeline
import ProcessContext
import Quantities
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
    /// Largest the spool grows to (plus at most one read, 64 KiB, and the rest of a line) while the
    /// writer has not caught up with it, as while the database stays locked: beyond it the
    /// reader stops reading input, so auditd's own queue (q_depth) fills and auditd's
    /// overflow_action decides, as with any plugin that falls behind. Nothing is dropped here.
    public var spoolLimit: Int64 = LiveIngestOptions.defaultSpoolLimit
    public static let defaultSpoolLimit: Int64 = 256 << 20
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
    /// Lines longer than any audit record (`LineReader.maxLineLength`), skipped and said so.
    public var overlongLines = 0
    /// New lines go to the spool file (the queue was full, or the database unavailable).
    public var spooling = false
    public var spoolBytes: Int64 = 0
    /// Input is not read: the spool is at its limit and the writer behind it.
    public var readingPaused = false
    /// How often reading stopped at the spool's limit.
    public var readPauses = 0
    public var databaseAvailable = false
    public var commits = 0
    public var signalEvents = 0
    public var newEvents = 0
    /// Signal events libauparse could not parse (their lines count as skipped).
    public var unparsableEvents = 0
    /// Copies of stored event ids that told another story (another sender, signal or
    /// target): the stored copy was kept, these are in event_conflicts.
    public var conflictingEvents = 0
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

/// Lines the reader read in one `read()`, queued for the writer. `start` is where they are in
/// the spool (durable there before they were queued), or nil when the spool could not take
/// them (they live in memory only).
struct SpoolChunk {
    var lines: [[UInt8]]
    var start: Int64?
    var bytes: Int
    /// Where the chunk's lines end in the spool.
    var end: Int64 { (start ?? 0) + Int64(bytes) }
}

/// Stops or reloads a running stream ingest from another thread (a signal handler's), and
/// holds the queue between its reader and its writer.
public final class LiveIngestControl: @unchecked Sendable {
    // Everything below is guarded by `condition`.
    let condition = NSCondition()
    var queue: [SpoolChunk] = []
    var queuedBytes = 0
    var queueLimit = 16 << 20
    var spoolFD: Int32 = -1
    var stopRequested = false
    var reloadRequested = false
    var readerDone = false
    var current = LiveIngestStatus()
    var log: (@Sendable (Bool, String) -> Void)?
    /// Held while the spool file changes (an append and its fdatasync, truncation, close),
    /// so the slow part of an append need not hold `condition`.
    let spoolWrite = NSLock()
    /// End of the bytes in the spool, the start of a line moved there but not ended yet
    /// included (`current.spoolBytes` ends at the last whole line).
    var spoolRawEnd: Int64 = 0
    var spoolLimit = LiveIngestOptions.defaultSpoolLimit
    var spoolPath = ""
    /// Where the writer has read the spool to (LiveWriter.spoolOffset).
    var writerSpoolOffset: Int64 = 0
    /// At start: the start of a line an earlier plugin spliced from the same pipe, already
    /// in the spool past its last whole line; the reader continues it.
    var lineStart: [UInt8] = []
    /// The reader stopped at the spool's limit and said so; since when the writer has read
    /// all of the spool while it is over the limit.
    var pauseLogged = false
    var caughtUpSince: Date?

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

    /// Reader side: the spool is a write-ahead log. `lines` are appended to it and made
    /// durable (one fdatasync per read) before they are queued, so a kill -9 at any moment
    /// loses nothing read; the writer empties the spool once all of it is committed. When the
    /// queue is full, or the writer is reading the spool itself (after a failed commit, or at
    /// start), lines are not queued: the writer reads them back from the spool, in order.
    func push(_ lines: [[UInt8]]) {
        let bytes = lines.reduce(0) { $0 + $1.count + 1 }
        spoolWrite.lock()
        defer { spoolWrite.unlock() }
        let (fd, at) = locked { (spoolFD, spoolRawEnd) }
        let durable = fd >= 0 && appendDurably(lines, bytes: bytes, fd: fd, at: at)
        if durable { locked { spoolRawEnd = at + Int64(bytes) } }
        enqueue(lines, bytes: bytes, durableAt: durable ? at : nil)
    }

    /// Reader side, for lines `splice` moved into the spool already (ending at `end`): made
    /// durable, then queued.
    func pushSpliced(_ lines: [[UInt8]], end: Int64) {
        spoolWrite.lock()
        defer { spoolWrite.unlock() }
        let (fd, at) = locked { (spoolFD, current.spoolBytes) }
        guard fd >= 0 else { return }
        if fdatasync(fd) != 0 { log?(true, "cannot sync the spool file: \(String(cString: strerror(errno)))") }
        enqueue(lines, bytes: Int(end - at), durableAt: at)
    }

    func enqueue(_ lines: [[UInt8]], bytes: Int, durableAt: Int64?) {
        locked {
            current.linesRead += lines.count
            if let at = durableAt {
                current.spoolBytes = at + Int64(bytes)
                current.spooledLines += lines.count
                if current.spooling || queuedBytes + bytes > queueLimit {
                    current.spooling = true
                    return
                }
                queue.append(SpoolChunk(lines: lines, start: at, bytes: bytes))
                queuedBytes += bytes
                return
            }
            // Over the limit only when the spool failed: memory is the last resort, to a point.
            if queuedBytes + bytes > queueLimit * 4 {
                current.droppedLines += lines.count
                log?(true, "dropped \(lines.count) record lines: queue full and the spool unwritable")
                return
            }
            queue.append(SpoolChunk(lines: lines, start: nil, bytes: bytes))
            queuedBytes += bytes
        }
    }

    /// Moves what the input pipe holds into the spool, in the kernel (so a kill -9 finds it
    /// in the pipe or in the spool, never in between), and copies it into `buffer`. nil:
    /// the spool is not open or the input cannot be spliced; read it instead.
    func splice(from input: Int32, into buffer: inout [UInt8], max: Int) -> (count: Int, at: Int64)? {
        spoolWrite.lock()
        defer { spoolWrite.unlock() }
        let (fd, at) = locked { (spoolFD, spoolRawEnd) }
        guard fd >= 0 else { return nil }
        guard let splice = Self.splice else { return nil }
        var offset = Int64(at)
        let n = splice(input, nil, fd, &offset, min(buffer.count, max), 0)
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { return (-2, at) }
            return nil
        }
        guard n > 0 else { return (0, at) }
        let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, n, off_t(at)) }
        guard got == n else {
            log?(true, "cannot read back the spool file: \(String(cString: strerror(errno)))")
            return nil
        }
        locked { spoolRawEnd = at + Int64(n) }
        return (n, at)
    }

    /// splice(2) is a GNU extension the Glibc module does not declare.
    typealias Splice = @convention(c) (Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32) -> Int
    static let splice: Splice? = dlsym(nil, "splice").map { unsafeBitCast($0, to: Splice.self) }

    /// End of input in the middle of a spliced line: the line is ended in the spool too.
    func endSplicedLine(_ line: [UInt8]) {
        let end = spoolWrite.withLock { () -> Int64? in
            let (fd, at) = locked { (spoolFD, spoolRawEnd) }
            guard fd >= 0, appendDurably([[]], bytes: 1, fd: fd, at: at) else { return nil }
            locked { spoolRawEnd = at + 1 }
            return at + 1
        }
        if let end { pushSpliced([line], end: end) } else { push([line]) }
    }

    /// Appends whole lines at `at` (the spool's end) and waits for them to be on disk, or
    /// leaves the spool as it was. Call with `spoolWrite` held.
    func appendDurably(_ lines: [[UInt8]], bytes: Int, fd: Int32, at: Int64) -> Bool {
        guard !lines.isEmpty else { return true }
        var data: [UInt8] = []
        data.reserveCapacity(bytes)
        for l in lines {
            data += l
            data.append(0x0a)
        }
        var written = 0
        var failure: String?
        while written < data.count {
            let n = data.withUnsafeBytes { pwrite(fd, $0.baseAddress! + written, data.count - written, off_t(at) + off_t(written)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                failure = String(cString: strerror(errno))
                break
            }
            written += n
        }
        if failure == nil, fdatasync(fd) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            // A torn last line would fuse with the next append.
            _ = ftruncate(fd, off_t(at))
            log?(true, "cannot write the spool file: \(failure)")
            return false
        }
        return true
    }

    func readerFinished() { locked { readerDone = true } }

    /// Reader side: a line longer than any audit record was skipped (not held in memory).
    func overlong() {
        locked {
            current.overlongLines += 1
            log?(true, "skipped a record line longer than \(LineReader.maxLineLength / 1024) KiB: no audit record is that long")
        }
    }

    /// Reader side: whether to stop reading input for now, the spool being at its limit
    /// (which it passes by at most the read that crossed it, 64 KiB, and the rest of a line
    /// that read left open, read a byte at a time).
    /// Bounded where the writer is behind it (the database unavailable, or slower than
    /// input); once the writer, with the database available, has read all of it and had a
    /// moment to store and empty it,
    /// what it still holds may be waiting for more input (an event's last records), so one
    /// more read goes through. A spliced line not ended yet is read to its end first (the
    /// spool is emptied only at a line's end). Said loudly once each time the limit is reached.
    func mustPause() -> Bool {
        locked {
            let over = spoolFD >= 0 && current.spoolBytes >= spoolLimit && spoolRawEnd == current.spoolBytes
                && !stopRequested
            if current.spoolBytes < spoolLimit / 2, pauseLogged {
                pauseLogged = false
                log?(false, "reading from auditd again: the spool holds \(Quantity.bytes(current.spoolBytes))")
            }
            var pause = over
            // While the database is unavailable nothing can be emptied, however much is read.
            if over && current.databaseAvailable && writerSpoolOffset >= current.spoolBytes {
                if let since = caughtUpSince, Date().timeIntervalSince(since) > 1 {
                    caughtUpSince = nil
                    pause = false
                } else if caughtUpSince == nil {
                    caughtUpSince = Date()
                }
            } else {
                caughtUpSince = nil
            }
            current.readingPaused = pause
            guard pause else { return false }
            if !pauseLogged {
                pauseLogged = true
                current.readPauses += 1
                let why = current.databaseAvailable ? "the database is behind" : "the database is unavailable"
                log?(true, "the spool \(spoolPath) reached its limit of \(Quantity.bytes(spoolLimit)) (--spool-limit) and \(why): no longer reading from auditd until the spool is stored. killdb drops nothing; auditd's queue (q_depth in auditd.conf) fills and auditd's overflow_action decides what becomes of new events")
            }
            _ = condition.wait(until: Date().addingTimeInterval(0.2))
            return true
        }
    }
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
            control.spoolLimit = max(options.spoolLimit, 1)
        }
        let path = options.spoolPath ?? databasePath + ".spool"
        control.locked { control.spoolPath = path }
        var spool = openSpoolFile(path, log: options.log)
        // The spool first, so no line is read before it can be kept there; but drain input
        // from the start, even while another plugin still holds the spool.
        let free = spool >= 0 && flock(spool, LOCK_EX | LOCK_NB) == 0
        if free {
            // A pipe that outlives a killed plugin still holds the rest of a line the killed
            // one spliced only the start of: kept, the reader's first line continues it.
            var st = stat()
            let pipe = fstat(input, &st) == 0 && st.st_mode & S_IFMT == S_IFIFO && LiveIngestControl.splice != nil
            adoptSpool(spool, control: control, keepLineStart: pipe)
        }
        let reader = Thread { readLines(input, control: control) }
        reader.name = "killdb plugin reader"
        reader.start()
        if spool >= 0 && !free { spool = lockSpool(spool, path: path, control: control, log: options.log) }
        defer {
            if spool >= 0 {
                // A reader still running must not write to a reused descriptor.
                control.spoolWrite.lock()
                control.locked { control.spoolFD = -1 }
                close(spool)
                control.spoolWrite.unlock()
            }
        }
        var writer = LiveWriter(databasePath: databasePath, spool: spool, options: options, control: control)
        return try writer.run()
    }

    static func openSpoolFile(_ path: String, log: (@Sendable (Bool, String) -> Void)?) -> Int32 {
        do {
            try DatabaseDirectory.prepare(forFile: path)
            return try PrivateFile.open(path, extraFlags: 0)
        } catch {
            log?(true, "cannot open the spool file \(path): \(error); lines wait in memory only")
            return -1
        }
    }

    /// Locks the spool: one process replays it at a time (a restarted plugin may briefly
    /// overlap the old one). Lines from an earlier run in it are replayed first.
    static func lockSpool(_ fd: Int32, path: String, control: LiveIngestControl,
                          log: (@Sendable (Bool, String) -> Void)?) -> Int32 {
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
        adoptSpool(fd, control: control)
        return fd
    }

    /// The locked spool becomes the reader's write-ahead log.
    static func adoptSpool(_ fd: Int32, control: LiveIngestControl, keepLineStart: Bool = false) {
        var st = stat()
        fstat(fd, &st)
        var size: Int64
        if keepLineStart {
            size = wholeLines(fd, size: Int64(st.st_size))
            let start = Int(Int64(st.st_size) - size)
            if start > 0 && start <= LineReader.maxLineLength {
                var head = [UInt8](repeating: 0, count: start)
                if head.withUnsafeMutableBytes({ pread(fd, $0.baseAddress!, start, off_t(size)) }) == start {
                    control.spoolWrite.lock()
                    control.locked {
                        control.spoolFD = fd
                        control.current.spoolBytes = size
                        control.spoolRawEnd = Int64(st.st_size)
                        control.lineStart = head
                        control.current.spooling = true
                    }
                    control.spoolWrite.unlock()
                    return
                }
            }
            size = completeLines(fd, size: Int64(st.st_size))
        } else {
            size = completeLines(fd, size: Int64(st.st_size))
        }
        control.spoolWrite.lock()
        defer { control.spoolWrite.unlock() }
        control.locked {
            control.spoolFD = fd
            control.current.spoolBytes = size
            // Lines read while the spool was not open yet follow what an earlier run left;
            // the writer reads them all back from the spool.
            let early = control.queue.flatMap(\.lines)
            let bytes = control.queue.reduce(0) { $0 + $1.bytes }
            control.spoolRawEnd = size
            if control.appendDurably(early, bytes: bytes, fd: fd, at: size) {
                control.current.spoolBytes += Int64(bytes)
                control.spoolRawEnd += Int64(bytes)
                control.current.spooledLines += early.count
                control.queue.removeAll()
                control.queuedBytes = 0
            }
            control.current.spooling = control.current.spoolBytes > 0
        }
    }

    /// A kill during an append can leave a torn last line, which the next append would fuse
    /// with: it is cut off (it was never durable, so never counted as kept). Returns the size.
    static func completeLines(_ fd: Int32, size: Int64) -> Int64 {
        let end = wholeLines(fd, size: size)
        if end != size { _ = ftruncate(fd, off_t(end)) }
        return end
    }

    /// Where the last whole line of the spool ends.
    static func wholeLines(_ fd: Int32, size: Int64) -> Int64 {
        var end = size
        var byte: UInt8 = 0
        while end > 0 {
            guard pread(fd, &byte, 1, off_t(end - 1)) == 1 else { break }
            if byte == 0x0a { break }
            end -= 1
        }
        return end
    }

    /// The reader thread: lines from `fd` into the queue until end of input, or until a stop
    /// request once nothing more is waiting in the pipe.
    static func readLines(_ fd: Int32, control: LiveIngestControl) {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        // The start of a line a killed plugin spliced, its rest still in the pipe.
        var partial: [UInt8] = control.locked { () -> [UInt8] in
            defer { control.lineStart = [] }
            return control.lineStart
        }
        var overlong = false
        var stopDeadline: Date?
        var st = stat()
        // From a pipe (as auditd gives it), input moves to the spool inside the kernel.
        let canSplice = fstat(fd, &st) == 0 && st.st_mode & S_IFMT == S_IFIFO
        var splicing = !partial.isEmpty
        while true {
            if stopDeadline == nil, control.locked({ control.stopRequested }) { stopDeadline = Date().addingTimeInterval(2) }
            if let d = stopDeadline, Date() > d { break }
            if control.mustPause() { continue }
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
            var n = -1
            var splicedAt: Int64?
            // Past the spool's limit, only to end a line a read left open: a byte at a time (a
            // few hundred reads, once per pause), since any longer read from a full pipe would
            // most often end inside the next line and keep the spool growing.
            let allowance = control.locked { control.current.spoolBytes >= control.spoolLimit } ? 1 : chunk.count
            if canSplice && (splicing || partial.isEmpty), let r = control.splice(from: fd, into: &chunk, max: allowance) {
                if r.count == -2 { continue }
                (n, splicedAt, splicing) = (r.count, r.at, true)
            } else {
                if splicing {
                    // The spool closed under a spliced line: what of it is in memory is lost.
                    partial.removeAll()
                    splicing = false
                }
                n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, allowance) }
            }
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
                        control.overlong()
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
            if let at = splicedAt {
                // `start`: just past the chunk's last newline.
                if start > 0 {
                    control.pushSpliced(lines, end: at + Int64(start))
                }
            } else if !lines.isEmpty {
                control.push(lines)
            }
        }
        if !partial.isEmpty && !overlong {
            if splicing { control.endSplicedLine(partial) } else { control.push([partial]) }
        }
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
    /// Disagreeing copies met in this run (its run row's conflicting_events).
    var conflictingEvents = 0
    /// What the pipeline completed and the next commit stores.
    var waiting = EventBatch()
    /// The processes of waiting events, read from /proc as they arrived.
    var capture: ProcessCapture?
    var waitingProcesses: [(EventID, EventProcesses)] = []
    /// Spool offsets are given to the pipeline as the line's place in the stream since this
    /// process started: `spoolBase` (what earlier emptyings of the spool removed) plus its
    /// offset in the spool now, so they never go backwards.
    var spoolBase: Int64 = 0
    /// Stream offset just after the last spooled line fed to the pipeline, and what it was
    /// when the waiting batch was last collected: with nothing held, every line before it is
    /// stored once that batch is.
    var fedOffset: Int64 = 0
    var collectedOffset: Int64 = 0
    /// Lines the spool could not take, fed but not committed: spooled at exit if still unsaved.
    var unspooled: [[UInt8]] = []
    var oldestWaiting: Date?
    var coverageDirty = false
    var lastCommit = Date()
    var failing = false
    var failureLogged = false
    var nextAttempt = Date()
    /// The writer read the spool to its end: commit soon, so it can be emptied.
    var replayedToEnd = false
    /// Replay is within a line longer than a whole read, skipping to its end.
    var replaySkipping = false
    /// Input ended while the database was unavailable: retrying until then.
    var finishRetryDeadline: Date?

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
        case chunks([SpoolChunk])
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
            case .chunks(let chunks):
                for c in chunks { take(c) }
            case .replay(let end):
                replay(upTo: end)
            case .idle:
                break
            case .reload:
                reload()
                continue
            case .finish:
                // Input over while the database is briefly unavailable (a restart with
                // nothing new to read, an ingest's commit): retry a little, then replay
                // the spool, rather than leave it all for the next start.
                let unread = control.locked { control.current.spoolBytes } > spoolOffset
                if failing && unread {
                    let limit = finishRetryDeadline ?? Date().addingTimeInterval(max(options.stopReplayBudget, 1))
                    finishRetryDeadline = limit
                    if Date() < limit {
                        usleep(UInt32(min(options.retryInterval, 0.2) * 1_000_000))
                        commit(final: false)
                        continue
                    }
                }
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
        waiting.events.count >= options.commitEvents || unspooled.count >= Self.unspooledLimit || Date() >= deadline()
    }

    /// Most of the spool one replay reads.
    static let replayRead = 4 << 20

    /// Lines held in memory only (the spool failing) are bounded by committing sooner.
    static let unspooledLimit = 20_000

    /// Where the writer has read the spool to.
    var spoolOffset: Int64 { fedOffset - spoolBase }

    /// Waits for lines, spool to read, a request, or `deadline`. The queue is always older
    /// than what is in the spool beyond it, so the spool is read only once the queue is empty.
    func nextWork(until deadline: Date, replayAllowed: Bool) -> Work {
        let offset = spoolOffset
        return control.locked {
            while true {
                if control.reloadRequested {
                    control.reloadRequested = false
                    return .reload
                }
                if !control.queue.isEmpty && !failing {
                    let chunks = control.queue
                    control.queue.removeAll(keepingCapacity: true)
                    control.queuedBytes = 0
                    return .chunks(chunks)
                }
                if control.current.spooling && !failing {
                    if control.current.spoolBytes > offset {
                        if replayAllowed { return .replay(upTo: control.current.spoolBytes) }
                    } else {
                        // Caught up with the reader: new lines come through the queue again.
                        control.current.spooling = false
                    }
                }
                // Input is over once the reader is; a spool not replayed by then waits for the next start.
                if control.readerDone && (control.queue.isEmpty || failing) { return .finish }
                if Date() >= deadline { return .idle }
                _ = control.condition.wait(until: min(deadline, Date().addingTimeInterval(0.5)))
            }
        }
    }

    /// Feeds one chunk from the queue: its lines are at `start` in the spool (which is
    /// where the writer has read it to), or in memory only.
    mutating func take(_ chunk: SpoolChunk) {
        guard let start = chunk.start else {
            for l in chunk.lines {
                feed(l, at: fedOffset)
                unspooled.append(l)
            }
            return
        }
        if start != spoolOffset { log(true, "internal: spool chunk at \(start), expected \(spoolOffset)") }
        var offset = spoolBase + start
        for l in chunk.lines {
            feed(l, at: offset)
            offset += Int64(l.count) + 1
            fedOffset = min(offset, spoolBase + chunk.end)
        }
        fedOffset = spoolBase + chunk.end
        publishOffset()
    }

    /// Tells the reader where the writer has read the spool to (its limit counts from there).
    func publishOffset() {
        let offset = spoolOffset
        control.locked { control.writerSpoolOffset = offset }
    }

    mutating func feed(_ line: [UInt8], at offset: Int64) {
        line.withUnsafeBufferPointer { pipeline.take($0, source: source, offset: offset) }
        bytes += Int64(line.count) + 1
        coverageDirty = true
        if pipeline.waiting >= options.commitEvents {
            collect()
            if !failing { commit(final: false) }
        }
    }

    /// Feeds spooled lines from where the writer has read the spool to (at most a few MB at
    /// a time, so commits keep coming) towards `end`.
    mutating func replay(upTo end: Int64) {
        let from = spoolOffset
        let want = Int(min(end - from, Int64(Self.replayRead)))
        var buffer = [UInt8](repeating: 0, count: want)
        let got = buffer.withUnsafeMutableBytes { pread(spool, $0.baseAddress!, want, off_t(from)) }
        guard got > 0 else {
            log(true, "cannot read the spool: \(got < 0 ? String(cString: strerror(errno)) : "shorter than expected")")
            // Skip it rather than spin on it.
            fedOffset = spoolBase + end
            return
        }
        var start = 0
        var count = 0
        while start < got, let nl = buffer[start..<got].firstIndex(of: 0x0a) {
            if replaySkipping {
                // The rest of a line longer than a replay's read, skipped below.
                replaySkipping = false
            } else if nl - start > LineReader.maxLineLength {
                // As the reader skips it live: no audit record is that long.
                pipeline.skip(source: source, offset: spoolBase + from + Int64(start), .tooLong)
            } else {
                feed(Array(buffer[start..<nl]), at: spoolBase + from + Int64(start))
            }
            count += 1
            start = nl + 1
            fedOffset = spoolBase + from + Int64(start)
        }
        if start == 0 {
            // No newline in a whole read: a line longer than any record, skipped to its end
            // (never fed from its middle). Short of a whole read: a torn tail (appends are
            // whole lines, so only after damage); dropped.
            if got == Self.replayRead, !replaySkipping {
                pipeline.skip(source: source, offset: spoolBase + from, .tooLong)
                replaySkipping = true
            }
            fedOffset = spoolBase + from + Int64(got)
        }
        if spoolOffset >= end { replayedToEnd = true }
        let offset = spoolOffset
        control.locked {
            control.current.replayedLines += count
            control.writerSpoolOffset = offset
        }
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
        collectedOffset = fedOffset
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
            pipeline.know(traceWriters: try s.traceWriters())
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
        totals.conflictingEvents = conflictingEvents
        let read = FileRead(path: LiveIngest.streamPath, device: 0, inode: 0, startOffset: 0, endOffset: bytes,
                            coverage: coverage)
        let (batch, runID, fileReadRow, abandoned, hostname) = (waiting, self.runID, self.fileReadRow, abandonedRuns, self.hostname)
        let processes = waitingProcesses
        do {
            let r = try store.transaction { tx -> (run: Int64, row: Int64, inserted: Int, conflicts: Int) in
                if runID == nil { try tx.markInterruptedRuns([.plugin]) }
                let run = try runID ?? tx.beginRun(.plugin, version: Ingest.version, hostname: hostname)
                let stored = try tx.store(batch)
                for (id, p) in processes { try tx.store(p, for: id) }
                let row = try tx.save(read, run: run, rowID: fileReadRow)
                var t = totals
                t.newEvents += stored.newEvents
                t.conflictingEvents += stored.conflictingEvents
                try tx.updateRun(run, totals: t, status: final ? .complete : .running)
                for old in abandoned { try tx.updateRun(old, totals: RunTotals(), status: .failed) }
                return (run, row, stored.newEvents, stored.conflictingEvents)
            }
            if self.runID == nil { control.locked { control.current.runIDs.append(r.run) } }
            self.runID = r.run
            self.fileReadRow = r.row
            abandonedRuns.removeAll()
            newEvents += r.inserted
            conflictingEvents += r.conflicts
            if r.conflicts > 0 {
                let n = r.conflicts
                log(true, "\(n) cop\(n == 1 ? "y" : "ies") of stored event ids told another story (another sender, signal or target); the first copy was kept, the other\(n == 1 ? " is" : "s are") in the event_conflicts table")
            }
            let committed = batch.held[source] ?? collectedOffset
            waiting = EventBatch()
            waitingProcesses.removeAll()
            unspooled.removeAll()
            oldestWaiting = nil
            coverageDirty = false
            lastCommit = Date()
            if failing { log(false, "the database \(databasePath) is writable again; replaying the spool") }
            failing = false
            failureLogged = false
            replayedToEnd = false
            emptySpool(ifCommittedTo: committed)
            control.locked {
                control.current.databaseAvailable = true
                control.current.commits += 1
                control.current.newEvents = newEvents
                control.current.conflictingEvents = conflictingEvents
                control.current.signalEvents = coverage.signalEvents
                control.current.unparsableEvents = pipeline.unparsableEvents
            }
            return true
        } catch {
            failed(error)
            return false
        }
    }

    /// The database could not be written. What the writer holds is in the spool already
    /// (a kill -9 while it waits loses nothing); new lines stay there, not in memory, until
    /// the database is writable and the writer reads them back.
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
        control.locked {
            control.current.databaseAvailable = false
            // Queued lines are in the spool beyond where the writer has read it, unless the
            // spool failed them: those stay queued.
            guard control.spoolFD >= 0, control.queue.allSatisfy({ $0.start != nil }) else { return }
            control.queue.removeAll()
            control.queuedBytes = 0
            control.current.spooling = true
        }
    }

    /// Everything in the spool is stored (`committed`, a stream offset, is at its end and no
    /// open event holds a line of it): empty it, unless the reader appended meanwhile.
    mutating func emptySpool(ifCommittedTo committed: Int64) {
        guard spool >= 0 else { return }
        let end = committed - spoolBase
        guard end > 0 else { return }
        control.spoolWrite.lock()
        defer { control.spoolWrite.unlock() }
        let emptied = control.locked { () -> Bool in
            guard control.current.spoolBytes == end, control.spoolRawEnd == end, end == spoolOffset else { return false }
            // Not synced: should it not last, the next start stores those lines again, adding nothing.
            guard ftruncate(spool, 0) == 0 else { return false }
            control.current.spoolBytes = 0
            control.spoolRawEnd = 0
            control.current.spooling = false
            control.writerSpoolOffset = 0
            return true
        }
        if emptied { spoolBase += end }
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
        conflictingEvents = 0
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
            // What the spool holds waits for the next start; lines it could not take get
            // one more try.
            let left = unspooled + control.locked { control.queue.filter { $0.start == nil }.flatMap(\.lines) }
            control.spoolWrite.lock()
            defer { control.spoolWrite.unlock() }
            let (spooled, spoolBytes) = control.locked { () -> (Bool, Int64) in
                guard control.spoolFD >= 0 else { return (left.isEmpty, control.current.spoolBytes) }
                let bytes = left.reduce(0) { $0 + $1.count + 1 }
                let at = control.spoolRawEnd
                let ok = control.appendDurably(left, bytes: bytes, fd: control.spoolFD, at: at)
                if ok {
                    control.spoolRawEnd += Int64(bytes)
                    control.current.spoolBytes = control.spoolRawEnd
                }
                return (ok, control.current.spoolBytes)
            }
            if !spooled {
                throw LiveIngestError.unsaved(lines: left.count, reason: "database \(databasePath) unavailable and no spool")
            }
            log(true, "exiting with \(spoolBytes) bytes spooled for the next start")
        }
        return control.status
    }
}
