import AuditDecoding
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A record line kept because it may belong to a signal event, with where it came from so a
/// checkpoint never moves past a line whose event is not yet stored.
public struct HeldLine: Sendable {
    public var bytes: [UInt8]
    public var kind: RecordKind
    public var file: Int
    public var offset: Int64
}

/// All the records of one signal event seen so far, in log order.
public struct SignalRecordGroup: Sendable {
    public var id: EventID
    public var lines: [HeldLine]
    /// True when the group has the SYSCALL record; false for the later records of an event
    /// whose SYSCALL an earlier run already stored.
    public var hasSyscall: Bool
}

/// An auditd DAEMON_* record (start, end, rotate, abort ...).
public struct DaemonRecord: Sendable, Equatable {
    public var id: EventID
    public var type: String
    public var op: String?
    public var body: [UInt8]
}

/// A hole in a node's kernel serial sequence.
public struct SerialGap: Sendable, Equatable {
    public var after: EventID
    public var before: EventID
    public var missing: UInt32
}

/// What was seen of one file: the coverage the store records per read.
public struct FileCoverage: Sendable {
    public var lines = 0
    public var records = 0
    public var events = 0
    public var signalEvents = 0
    public var badLines = 0
    public var firstEventTime: Double?
    public var lastEventTime: Double?
    /// Per node: first and last event time, records.
    public var nodes: [String: (first: Double, last: Double, records: Int)] = [:]

    public init() {}

    mutating func saw(time t: Double) {
        if firstEventTime == nil || t < firstEventTime! { firstEventTime = t }
        if lastEventTime == nil || t > lastEventTime! { lastEventTime = t }
    }
}

/// A SECCOMP or ANOM_ABEND record: a fatal signal the kernel delivered itself. The kernel
/// log's recognizer turns it into a kernel kill.
public struct KernelActionRecord: Sendable {
    public var bytes: [UInt8]
    public var header: RecordHeader
    public var file: Int
}

/// A successful execve from the audit log (its SYSCALL and EXECVE records): a process, its
/// parent and what it ran. Kept when the rules audit execve, so that a kill's sender's
/// parents can be named from the logs alone.
public struct ProcessExec: Sendable, Equatable {
    public var id: EventID
    public var pid: Int64
    public var ppid: Int64?
    public var comm: [UInt8]?
    public var exe: [UInt8]?
    /// argv joined by NULs, as `process_execs` stores it; nil when the records name none.
    public var arguments: [UInt8]?

    public init(id: EventID, pid: Int64, ppid: Int64?, comm: [UInt8]?, exe: [UInt8]?, argv: [[UInt8]]) {
        self.id = id
        self.pid = pid
        self.ppid = ppid
        self.comm = comm
        self.exe = exe
        arguments = argv.isEmpty ? nil : Array(argv.joined(separator: [0]))
    }

    public var argv: [[UInt8]] {
        arguments.map { $0.split(separator: 0, omittingEmptySubsequences: false).map(Array.init) } ?? []
    }

    /// From the SYSCALL line: pid, ppid, comm and exe, read in one pass over its body; nil
    /// when it names no pid.
    static func begin(_ line: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, id: EventID) -> ProcessExec? {
        var pid: Int64?, ppid: Int64?, comm: [UInt8]?, exe: [UInt8]?
        RecordHeader.eachField(in: line, from: start, to: end) { name, valueRange in
            let i = name.lowerBound
            let value = UnsafeBufferPointer(rebasing: line[valueRange])
            switch name.count {
            case 3 where line[i] == 0x70 && line[i + 1] == 0x69 && line[i + 2] == 0x64:  // pid
                pid = AuditField.decimal(value)
            case 4 where line[i] == 0x70 && line[i + 1] == 0x70 && line[i + 2] == 0x69 && line[i + 3] == 0x64:  // ppid
                ppid = AuditField.decimal(value)
            case 4 where line[i] == 0x63 && line[i + 1] == 0x6f && line[i + 2] == 0x6d && line[i + 3] == 0x6d:  // comm
                comm = AuditField.decodeString(value)
            case 3 where line[i] == 0x65 && line[i + 1] == 0x78 && line[i + 2] == 0x65:  // exe
                exe = AuditField.decodeString(value)
            default: break
            }
            // exe is the last of them the kernel writes (before subj= and key=).
            return exe == nil || pid == nil || comm == nil || ppid == nil
        }
        guard let pid else { return nil }
        return ProcessExec(id: id, pid: pid, ppid: ppid, comm: comm, exe: exe, argv: [])
    }
}

/// An execve event's arguments as its EXECVE records give them, `argc=3 a0="ls" a1=2D6C
/// a2_len=9000 a2[0]=… a2[1]=…`, decoded as the records come into argv joined by NULs (the
/// kernel writes them in order: a long argument's pieces, then the next argument).
struct ExecArguments {
    private var joined: [UInt8] = []
    /// Arguments begun so far (0...n-1 are in `joined`).
    private var begun = 0
    private var argc: Int?
    /// Arguments that came out of order (only damaged or edited logs): by number, from then on.
    private var scattered: [Int: [UInt8]]?
    static let limit = 4096

    /// The body of one EXECVE record.
    mutating func take(_ line: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) {
        RecordHeader.eachField(in: line, from: start, to: end) { name, value in
            field(line, name: name, value: value)
            return true
        }
    }

    private mutating func field(_ line: UnsafeBufferPointer<UInt8>, name: Range<Int>, value: Range<Int>) {
        let n = name.lowerBound
        if name.count == 4, line[n] == 0x61, line[n + 1] == 0x72, line[n + 2] == 0x67, line[n + 3] == 0x63 {  // argc
            argc = AuditField.decimal(UnsafeBufferPointer(rebasing: line[value])).map { Int(clamping: $0) }
            return
        }
        // aN or aN[k]; aN_len says only how long aN is.
        guard line[n] == 0x61 else { return }
        var index = 0, digits = 0, j = n + 1
        while j < name.upperBound, line[j] >= 0x30, line[j] <= 0x39, digits < 6 {
            index = index * 10 + Int(line[j] - 0x30)
            digits += 1
            j += 1
        }
        guard digits > 0, index < Self.limit, j == name.upperBound || line[j] == 0x5b else { return }
        let raw = UnsafeBufferPointer(rebasing: line[value])
        if raw.count == 6, raw[0] == 0x28, raw.elementsEqual("(null)".utf8) || raw.elementsEqual("(none)".utf8) { return }
        if scattered == nil, index == begun - 1 {
            Self.decode(raw, into: &joined)
        } else if scattered == nil, index >= begun {
            // Missing arguments before it are empty, as a missing aN always was.
            while begun <= index {
                if begun > 0 { joined.append(0) }
                begun += 1
            }
            Self.decode(raw, into: &joined)
        } else {
            if scattered == nil {
                var pieces: [Int: [UInt8]] = [:]
                for (k, piece) in joined.split(separator: 0, omittingEmptySubsequences: false).enumerated() where k < begun {
                    pieces[k] = Array(piece)
                }
                scattered = pieces
            }
            var piece: [UInt8] = []
            Self.decode(raw, into: &piece)
            scattered![index, default: []] += piece
        }
    }

    /// A quoted value's bytes, a hex one's decoded (an odd or non-hex one as it stands).
    private static func decode(_ b: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        guard let first = b.first else { return }
        if first == 0x22 {
            let end = b.count >= 2 && b[b.count - 1] == 0x22 ? b.count - 1 : b.count
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[1..<end]))
            return
        }
        if b.count % 2 == 0, b.allSatisfy({ hexValue($0) != 0xff }) {
            var k = 0
            while k < b.count {
                out.append(hexValue(b[k]) << 4 | hexValue(b[k + 1]))
                k += 2
            }
        } else {
            out.append(contentsOf: b)
        }
    }

    @inline(__always)
    private static func hexValue(_ c: UInt8) -> UInt8 {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return 0xff
        }
    }

    /// argv joined by NULs: `argc` of them when the record says (missing ones empty), else
    /// as many as came; nil for none.
    func finish() -> [UInt8]? {
        if let scattered {
            let count = min(argc ?? (scattered.keys.max().map { $0 + 1 } ?? 0), Self.limit)
            guard count > 0 else { return nil }
            return Array((0..<count).map { scattered[$0] ?? [] }.joined(separator: [0]))
        }
        let count = min(argc ?? begun, Self.limit)
        guard count > 0 else { return nil }
        if count == begun { return joined }
        if count > begun { return joined + [UInt8](repeating: 0, count: count - begun - (begun == 0 ? 1 : 0)) }
        // argc says fewer than came: the first `count`.
        var seen = 0
        for (k, b) in joined.enumerated() where b == 0 {
            seen += 1
            if seen == count { return Array(joined[..<k]) }
        }
        return joined
    }
}

/// What the filter hands on at each `drain()`.
public struct FilterOutput: Sendable {
    public var daemonRecords: [DaemonRecord]
    public var kernelRecords: [KernelActionRecord]
    /// USER records that name killdb's tracer (`killdb trace --audit`), to be verified.
    public var tracerMessages: [KernelActionRecord] = []
    /// Successful execve events (when the rules audit them): best effort, never held
    /// across a checkpoint.
    public var execs: [ProcessExec] = []
    public var serialGaps: [SerialGap]
    /// Complete events the decoder could not use.
    public var unusableEvents: Int
    /// Lines skipped since the last drain: how many, and (the first of a run only) which.
    public var skippedLines: Int
    public var skipped: [SkippedLine]
    /// The earliest offset, per file, of a line still held: a checkpoint must not pass it.
    public var held: [Int: Int64] = [:]
}

/// A line that was skipped, for `--verbose`.
public struct SkippedLine: Sendable {
    public var file: Int
    public var offset: Int64
    public var problem: LineProblem
}

/// The pre-filter between raw log lines and libauparse. It looks at every line's header
/// (cheap byte scanning), keeps only the records of signal-sending syscall events
/// (SYSCALL, OBJ_PID, PROCTITLE), and groups them by event, tolerating records of one event
/// interleaved with others, out of order, or split across files of one stream.
///
/// Selection is by syscall number for the record's arch, never by rule key or by OBJ_PID
/// alone (auditctl's CONFIG_CHANGE events carry the key; ptrace emits OBJ_PID).
public struct SignalRecordFilter {
    /// auditd's end_of_event_timeout: an event with no record for this long is complete.
    public static let eventTimeout: Int64 = 2
    /// OBJ_PID/PROCTITLE lines seen before their SYSCALL (only reordered logs do this) are
    /// kept this many lines back.
    static let lookbehind = 2048

    private var open: [EventID: SignalRecordGroup] = [:]
    private var unclaimed: [EventID: [HeldLine]] = [:]
    private var unclaimedOrder: [EventID] = []
    private var unclaimedHead = 0
    private var unclaimedCount = 0
    /// Signal events already handed on (by an earlier run, or earlier in this one): a
    /// record of theirs that comes late is still wanted, and the store merges it.
    private var carried: Set<EventID>
    private var carriedOrder: [EventID] = []
    private var carriedHead = 0
    /// Newest log time per node: hosts' clocks differ in aggregated logs, so each node's
    /// events time out against its own clock. (`nodes` holds it too, for every record.)
    private var newest: [String: Int64] = [:]
    private var newestSecond: Int64 = .min
    private var lastSweepSecond: Int64 = .min
    /// How long (log seconds) a finished event still accepts late records.
    static let lateWindow: Int64 = 60
    private var recentIDs = RecentIDs()
    private var gaps: SerialGapTracker
    /// The file whose records are being taken, and whether it was read from its start: each
    /// node's first record there may begin another origin. `fileEpoch` counts the changes.
    private var fileInProgress = -1
    private var fileFromStart = false
    private var fileEpoch = 0

    /// What is kept per node (a host of the logs: few), by number: found by name only when
    /// a record's node differs from the one before.
    private struct Node {
        var name: String
        var newest: Int64 = .min
        /// Its serial sequence in `gaps`.
        var sequence: Int
        /// The `fileEpoch` of the file in progress once its first record there was seen.
        var seenInFile = -1
        /// Its open execve events in the order they began, from `execHead` on: the sweep
        /// completes the oldest without looking at the others.
        var execOrder: [RecentIDs.Key] = []
        var execHead = 0
    }
    private var nodes: [Node] = []
    private var nodeNumbers: [String: Int] = [:]
    /// The last record's node: its number and its bytes as the line has them.
    private var lastNode = -1
    private var nodeBytes: [UInt8] = []
    /// Per file and node number: first and last event time, records (0: none seen).
    private var spans: [[(first: Double, last: Double, records: Int)]] = []
    /// Logs without `node=` names that look like several hosts' (see SerialGapTracker).
    public var unnamedHostsMixed: SerialGapTracker.OriginBreak? { gaps.unnamedHostsMixed }

    /// Per file: what was seen, but for the records of the current run counted in
    /// `uncountedRecords` (`coverage` adds them).
    private var counts: [FileCoverage] = []
    public var coverage: [FileCoverage] {
        var c = counts
        for file in c.indices {
            for (n, span) in spans[file].enumerated() where span.records > 0 {
                var span = span
                if file == runFile && n == runNode { span.records += uncountedRecords }
                c[file].nodes[nodes[n].name] = span
            }
        }
        return c
    }
    /// The event of the run of records being read: the kernel writes an event's records one
    /// after another, so what is kept per event (coverage, recent ids, serials, clocks) is
    /// done at the first record of a run, and the others of the run are only counted.
    private var runID = EventID(seconds: 0, milliseconds: 0, serial: 0)
    /// The run's file, -1 when no run is open (none yet, or a daemon record was the last).
    private var runFile = -1
    private var runNode = -1
    private var uncountedRecords = 0
    /// The run's SYSCALL record was read and is no signal syscall (and none of the run was):
    /// its OBJ_PID and PROCTITLE records belong to no signal event.
    private var runNoise = false
    private var runSignal = false
    /// Lines skipped since the last `drain()`, the first `skippedLimit` of the run only.
    private var skipped: [SkippedLine] = []
    private var skippedRecorded = 0
    static let skippedLimit = 1000
    public private(set) var skippedTotal = 0
    private var skippedSinceTaken = 0
    private var daemonRecords: [DaemonRecord] = []
    /// SECCOMP and ANOM_ABEND records: fatal signals the kernel delivered itself.
    private var kernelRecords: [KernelActionRecord] = []
    /// execve events being read (what the SYSCALL record said, the arguments so far), and
    /// those complete. Keyed without Strings: a busy log opens one per execve.
    private struct OpenExec {
        var exec: ProcessExec
        var arguments = ExecArguments()
        var lines = 0

        /// One EXECVE record of it: read up to 64 of them (a long argv's pieces).
        mutating func take(_ line: UnsafeBufferPointer<UInt8>, _ header: RawRecordHeader) {
            lines += 1
            if lines <= 64 { arguments.take(line, from: header.bodyStart, to: header.bodyEnd(in: line)) }
        }
    }
    private var execOpen: [RecentIDs.Key: OpenExec] = [:]
    private var execs: [ProcessExec] = []
    static let execLimit = 1 << 14
    static let kernelRecordLimit = 1 << 16
    /// USER records mentioning killdb's tracer: its forwarded records, or forgeries of them.
    private var tracerMessages: [KernelActionRecord] = []
    /// Groups complete and ready to decode.
    private var ready: [SignalRecordGroup] = []

    public init(carried: Set<EventID> = [], serialCursors: [String: EventID] = [:]) {
        self.carried = carried
        self.gaps = SerialGapTracker(cursors: serialCursors)
    }

    public mutating func beginFile() -> Int {
        counts.append(FileCoverage())
        spans.append([])
        return counts.count - 1
    }

    public mutating func skip(file: Int, offset: Int64, _ problem: LineProblem) {
        counts[file].badLines += 1
        skippedTotal += 1
        skippedSinceTaken += 1
        if skippedRecorded < Self.skippedLimit {
            skippedRecorded += 1
            skipped.append(SkippedLine(file: file, offset: offset, problem: problem))
        }
    }

    /// Counting starts again (a new run of a long-lived stream); what is held stays held.
    public mutating func restartCounts() {
        for i in counts.indices { counts[i] = FileCoverage() }
        for i in spans.indices { spans[i].removeAll() }
        uncountedRecords = 0
        runFile = -1
        skippedTotal = 0
        skippedRecorded = 0
    }

    /// Hands over everything complete since the last call: the one way out of the filter.
    /// Each complete event is offered to `decode`; one it cannot use (libauparse could not
    /// parse it) has its lines skipped as unparsable.
    public mutating func drain(_ decode: (SignalRecordGroup) -> Bool) -> FilterOutput {
        let groups = ready
        ready.removeAll()
        var unusable = 0
        for group in groups where !decode(group) {
            unusable += 1
            for line in group.lines { skip(file: line.file, offset: line.offset, .unparsable) }
        }
        var out = FilterOutput(daemonRecords: daemonRecords, kernelRecords: kernelRecords,
                               serialGaps: gaps.takeFound(), unusableEvents: unusable,
                               skippedLines: skippedSinceTaken, skipped: skipped)
        out.tracerMessages = tracerMessages
        out.execs = execs
        execs.removeAll()
        daemonRecords.removeAll()
        kernelRecords.removeAll()
        tracerMessages.removeAll()
        skipped.removeAll()
        skippedSinceTaken = 0
        out.held = heldOffsets()
        return out
    }

    /// Complete events and kernel records waiting to be drained; execve events too, at half
    /// weight, so that a log of nothing else still commits before `execLimit` drops them.
    public var waiting: Int { ready.count + kernelRecords.count + tracerMessages.count + execs.count >> 1 }

    /// Where each node's serial sequence stands: saved with every checkpoint, so a run cut
    /// short does not leave the next one comparing against an old serial.
    public var serialCursors: [String: EventID] { gaps.cursors }

    /// The raw lines still held (events not complete yet), in the order they came.
    public func heldLines() -> [HeldLine] {
        var out: [HeldLine] = []
        for group in open.values { out += group.lines }
        for lines in unclaimed.values { out += lines }
        for group in ready { out += group.lines }
        return out.sorted { ($0.file, $0.offset) < ($1.file, $1.offset) }
    }

    /// Records stamped after this (epoch seconds) are skipped as damage: no log holds records
    /// from the future, and one such stamp would time out every open event at once. The
    /// margin is a year: a host whose clock is wrong by weeks still logs evidence.
    public var latestPlausibleSecond = Int64(time(nil)) + 366 * 86_400

    /// Offers one line (without newline) of file `file`. Returns `waiting` (which, read as a
    /// property from another module, copies the filter's state).
    @discardableResult
    public mutating func take(_ line: UnsafeBufferPointer<UInt8>, file: Int, offset: Int64) -> Int {
        takeLine(line, file: file, offset: offset)
        return ready.count + kernelRecords.count + execs.count >> 1
    }

    private mutating func takeLine(_ line: UnsafeBufferPointer<UInt8>, file: Int, offset: Int64) {
        counts[file].lines += 1
        // A CRLF log's CR is not part of the record (it would end up in the last field).
        var line = line
        if let last = line.last, last == 0x0d { line = UnsafeBufferPointer(rebasing: line.dropLast()) }
        // Blank lines and comments (test fixtures, hand-edited logs) are not damage.
        var first = 0
        while first < line.count, line[first] == 0x20 || line[first] == 0x09 || line[first] == 0x0d { first += 1 }
        if first == line.count || line[first] == 0x23 { return }
        let header: RawRecordHeader
        switch RawRecordHeader.parse(line) {
        case .success(let h): header = h
        case .failure(let problem):
            skip(file: file, offset: offset, problem)
            return
        }
        if header.seconds > latestPlausibleSecond {
            skip(file: file, offset: offset, .farFuture)
            return
        }
        counts[file].records += 1
        let id: EventID
        if runFile == file, header.serial == runID.serial, header.seconds == runID.seconds,
           header.milliseconds == runID.milliseconds, header.kind != .daemon, same(header.node(in: line), nodeBytes) {
            uncountedRecords += 1
            id = runID
        } else {
            id = beginRun(header, line, file: file, offset: offset)
        }

        switch header.kind {
        case .syscall:
            let call = syscallClass(line, header)
            guard call == .signal else {
                if !runSignal { runNoise = true }
                if call == .execve { openExec(line, header, id) }
                break
            }
            runSignal = true
            runNoise = false
            // A second SYSCALL for one id is another copy of the event (a log read twice, a
            // forged line): it and its records are a group of their own, for the store to
            // compare, never mixed into the first.
            if let first = open[id], first.hasSyscall {
                open.removeValue(forKey: id)
                handOn(first)
            }
            var group = open[id] ?? SignalRecordGroup(id: id, lines: [], hasSyscall: false)
            if !group.hasSyscall { counts[file].signalEvents += 1 }
            group.hasSyscall = true
            if let early = unclaimed.removeValue(forKey: id) {
                unclaimedCount -= early.count
                group.lines += early
            }
            group.lines.append(hold(line, header, file, offset))
            open[id] = group
        case .objPID, .proctitle:
            // The kernel writes an execve's PROCTITLE after all its EXECVE records: auditd
            // logs no EOE, and the event need not wait for the timeout.
            if header.kind == .proctitle, !execOpen.isEmpty,
               let e = execOpen.removeValue(forKey: RecentIDs.Key(header, node: runNode)) { completeExec(e) }
            // After its event's SYSCALL said no signal, nothing to keep: no lookup, no copy.
            if runNoise { break }
            if open[id] != nil {
                open[id]!.lines.append(hold(line, header, file, offset))
            } else if carried.contains(id) {
                open[id] = SignalRecordGroup(id: id, lines: [hold(line, header, file, offset)], hasSyscall: false)
            } else {
                remember(hold(line, header, file, offset), id)
            }
        case .execve:
            execOpen[RecentIDs.Key(header, node: runNode)]?.take(line, header)
        case .endOfEvent:
            if !execOpen.isEmpty, let e = execOpen.removeValue(forKey: RecentIDs.Key(header, node: runNode)) { completeExec(e) }
            if let group = open.removeValue(forKey: id) { handOn(group) }
            // The event is over and was no signal: its records need not be held (a stream's
            // spool is emptied only when nothing is).
            if let lines = unclaimed.removeValue(forKey: id) { unclaimedCount -= lines.count }
        case .daemon:
            let full = header.header(of: line, node: id.node)
            let body = Array(UnsafeBufferPointer(rebasing: line[full.bodyStart..<full.bodyEnd]))
            let op = RecordHeader.field("op", in: line, header: full).map { String(decoding: $0, as: UTF8.self) }
            daemonRecords.append(DaemonRecord(id: id, type: full.typeName, op: op, body: body))
            if full.typeName == "DAEMON_START" || full.typeName == "1200" { gaps.daemonStarted(node: id.node) }
        case .seccomp, .anomAbend:
            // Bounded for callers that never drain them (they are then lost, not hoarded).
            if kernelRecords.count >= Self.kernelRecordLimit { kernelRecords.removeFirst(kernelRecords.count / 2) }
            kernelRecords.append(KernelActionRecord(bytes: Array(line), header: header.header(of: line, node: id.node),
                                                    file: file))
        case .user:
            // Any mention counts, not only a well-formed one: a forgery is shown as one.
            let full = header.header(of: line, node: id.node)
            let body = UnsafeBufferPointer(rebasing: line[full.bodyStart..<full.bodyEnd])
            guard find(body, "killdb-trace-", from: 0, limit: body.count) != nil else { break }
            if tracerMessages.count >= Self.kernelRecordLimit { tracerMessages.removeFirst(tracerMessages.count / 2) }
            tracerMessages.append(KernelActionRecord(bytes: Array(line), header: full, file: file))
        case .other:
            break
        }
        if newestSecond > lastSweepSecond { sweep() }
    }

    /// The first record of a run (usually of an event): what is kept per event, once.
    private mutating func beginRun(_ header: RawRecordHeader, _ line: UnsafeBufferPointer<UInt8>,
                                   file: Int, offset: Int64) -> EventID {
        if uncountedRecords > 0 {
            spans[runFile][runNode].records += uncountedRecords
            uncountedRecords = 0
        }
        let nodeField = header.node(in: line)
        if lastNode < 0 || !same(nodeField, nodeBytes) {
            lastNode = number(of: nodeField)
            nodeBytes = Array(nodeField)
        }
        let n = lastNode
        let id = EventID(node: nodes[n].name, seconds: header.seconds, milliseconds: header.milliseconds,
                         serial: header.serial)
        if recentIDs.insert(RecentIDs.Key(header, node: n)) { counts[file].events += 1 }
        let t = id.time
        counts[file].saw(time: t)
        if spans[file].count <= n { spans[file] += Array(repeating: (0, 0, 0), count: n + 1 - spans[file].count) }
        if spans[file][n].records == 0 {
            spans[file][n] = (t, t, 1)
        } else {
            spans[file][n].first = min(spans[file][n].first, t)
            spans[file][n].last = max(spans[file][n].last, t)
            spans[file][n].records += 1
        }
        if header.seconds > nodes[n].newest {
            nodes[n].newest = header.seconds
            newest[id.node] = header.seconds
        }
        if header.seconds > newestSecond { newestSecond = header.seconds }
        runNoise = false
        runSignal = false
        if header.kind == .daemon {
            // auditd's own records are numbered by its counter: no run, no serial.
            runFile = -1
            return id
        }
        if file != fileInProgress {
            fileInProgress = file
            fileFromStart = offset == 0
            fileEpoch += 1
        }
        var fileStart: Int?
        if fileFromStart && nodes[n].seenInFile != fileEpoch {
            nodes[n].seenInFile = fileEpoch
            fileStart = file
        }
        gaps.observe(id, sequence: nodes[n].sequence, fileStart: fileStart)
        runID = id
        runFile = file
        runNode = n
        return id
    }

    /// The number of the node named by `bytes` (a new one if it is the first record of it).
    /// Numbered by name: two spellings that decode to one name are one node, as before.
    private mutating func number(of bytes: UnsafeBufferPointer<UInt8>) -> Int {
        let name = String(decoding: bytes, as: UTF8.self)
        if let n = nodeNumbers[name] { return n }
        nodes.append(Node(name: name, sequence: gaps.sequence(node: name)))
        nodeNumbers[name] = nodes.count - 1
        return nodes.count - 1
    }

    @inline(__always)
    private func same(_ bytes: UnsafeBufferPointer<UInt8>, _ kept: [UInt8]) -> Bool {
        guard bytes.count == kept.count else { return false }
        guard bytes.count > 0 else { return true }
        return kept.withUnsafeBufferPointer { memcmp(bytes.baseAddress!, $0.baseAddress!, bytes.count) == 0 }
    }

    /// End of the stream: every open event is as complete as it will get in this run.
    /// `complete` says whether the logs are finished (nobody is writing them).
    public mutating func finish(complete: Bool) {
        for n in nodes.indices {
            for key in nodes[n].execOrder[nodes[n].execHead...] {
                if let e = execOpen.removeValue(forKey: key) { completeExec(e) }
            }
            nodes[n].execOrder.removeAll()
            nodes[n].execHead = 0
        }
        execOpen.removeAll()
        for (_, group) in open { handOn(group) }
        open.removeAll()
        unclaimed.removeAll()
        unclaimedOrder.removeAll()
        unclaimedHead = 0
        unclaimedCount = 0
        gaps.finish(complete: complete)
    }

    /// The earliest offset, per file, of a line still held: a checkpoint must not pass it.
    func heldOffsets() -> [Int: Int64] {
        var out: [Int: Int64] = [:]
        func note(_ l: HeldLine) { out[l.file] = min(out[l.file] ?? .max, l.offset) }
        for group in open.values { group.lines.forEach(note) }
        for lines in unclaimed.values { lines.forEach(note) }
        for group in ready { group.lines.forEach(note) }
        return out
    }

    /// A successful execve's SYSCALL record: what it says is read now, not kept as bytes.
    private mutating func openExec(_ line: UnsafeBufferPointer<UInt8>, _ header: RawRecordHeader, _ id: EventID) {
        guard let exec = ProcessExec.begin(line, from: header.bodyStart, to: header.bodyEnd(in: line), id: id) else { return }
        let key = RecentIDs.Key(header, node: runNode)
        // Another copy of the event (a log read twice): the first is complete.
        if let first = execOpen.removeValue(forKey: key) { completeExec(first) }
        if execOpen.count >= Self.execLimit { completeOldestExec() }
        execOpen[key] = OpenExec(exec: exec)
        nodes[runNode].execOrder.append(key)
    }

    /// Bounded: the node with the oldest open execve completes it (a log of more execve
    /// events in a few seconds than the limit, or a node whose clock stands still).
    private mutating func completeOldestExec() {
        var oldest: (node: Int, key: RecentIDs.Key)?
        for n in nodes.indices {
            let node = nodes[n]
            guard node.execHead < node.execOrder.count else { continue }
            let key = node.execOrder[node.execHead]
            if oldest == nil || key.seconds < oldest!.key.seconds { oldest = (n, key) }
        }
        guard let oldest else { return }
        nodes[oldest.node].execHead += 1
        if let e = execOpen.removeValue(forKey: oldest.key) { completeExec(e) }
    }

    private mutating func completeExec(_ e: OpenExec) {
        var exec = e.exec
        exec.arguments = e.arguments.finish()
        if execs.count >= Self.execLimit { execs.removeFirst(execs.count / 2) }
        execs.append(exec)
    }

    /// What a SYSCALL record is to the filter: a signal syscall for its arch, a successful
    /// execve or execveat (the process now runs what its EXECVE record says), or neither.
    enum SyscallClass { case signal, execve, other }

    /// Reads the syscall field once, the arch only when the number leaves it open: most
    /// records of a busy log are ruled out by the number alone.
    func syscallClass(_ line: UnsafeBufferPointer<UInt8>, _ header: RawRecordHeader) -> SyscallClass {
        let end = header.bodyEnd(in: line)
        guard let sc = RecordHeader.field("syscall", in: line, from: header.bodyStart, to: end) else { return .other }
        var i = 0
        let number = readDecimal(sc, &i).flatMap { i == sc.count ? Int(exactly: $0) : nil }
        func succeeded() -> Bool {
            guard let v = RecordHeader.field("success", in: line, from: header.bodyStart, to: end) else { return false }
            return v.count == 3 && v[0] == 0x79 && v[1] == 0x65 && v[2] == 0x73  // yes
        }
        guard let number else {
            // Pre-interpreted logs name the syscall.
            if i == sc.count { return .other }
            if SignalSyscall(name: sc) != nil {
                guard let archField = RecordHeader.field("arch", in: line, from: header.bodyStart, to: end),
                      AuditArch(field: archField) != nil else { return .other }
                return .signal
            }
            return (sc.elementsEqual("execve".utf8) || sc.elementsEqual("execveat".utf8)) && succeeded() ? .execve : .other
        }
        let maySignal = AuditArch.maySignal(syscallNumber: number)
        guard maySignal || AuditArch.mayExecve(syscallNumber: number),
              let archField = RecordHeader.field("arch", in: line, from: header.bodyStart, to: end),
              let arch = AuditArch(field: archField) else { return .other }
        if maySignal, arch.signalSyscall(number: number) != nil { return .signal }
        return arch.isExecve(syscallNumber: number) && succeeded() ? .execve : .other
    }

    private func hold(_ line: UnsafeBufferPointer<UInt8>, _ header: RawRecordHeader, _ file: Int, _ offset: Int64) -> HeldLine {
        HeldLine(bytes: Array(line), kind: header.kind, file: file, offset: offset)
    }

    private mutating func remember(_ line: HeldLine, _ id: EventID) {
        unclaimed[id, default: []].append(line)
        unclaimedOrder.append(id)
        unclaimedCount += 1
        while unclaimedCount > Self.lookbehind, unclaimedHead < unclaimedOrder.count {
            let old = unclaimedOrder[unclaimedHead]
            unclaimedHead += 1
            if let lines = unclaimed.removeValue(forKey: old) { unclaimedCount -= lines.count }
        }
        if unclaimedHead > 4096 {
            unclaimedOrder.removeFirst(unclaimedHead)
            unclaimedHead = 0
        }
    }

    private mutating func handOn(_ group: SignalRecordGroup) {
        ready.append(group)
        if carried.insert(group.id).inserted { carriedOrder.append(group.id) }
    }

    /// Completes events that have seen no record for `eventTimeout` seconds of their node's
    /// log time, and forgets finished events too old to get late records.
    private mutating func sweep() {
        lastSweepSecond = newestSecond
        for n in nodes.indices where nodes[n].execHead < nodes[n].execOrder.count {
            let cutoff = nodes[n].newest - Self.eventTimeout
            while nodes[n].execHead < nodes[n].execOrder.count {
                let key = nodes[n].execOrder[nodes[n].execHead]
                // Those that began later wait behind it, at most a few seconds of the log.
                guard key.seconds < cutoff else { break }
                nodes[n].execHead += 1
                if let e = execOpen.removeValue(forKey: key) { completeExec(e) }
            }
            if nodes[n].execHead > 4096 {
                nodes[n].execOrder.removeFirst(nodes[n].execHead)
                nodes[n].execHead = 0
            }
        }
        // Ids first, then removal: removing while iterating copies the whole dictionary.
        var expired: [EventID] = []
        for id in open.keys where id.seconds < newest[id.node, default: .min] - Self.eventTimeout {
            expired.append(id)
        }
        for id in expired {
            if let group = open.removeValue(forKey: id) { handOn(group) }
        }
        while carriedHead < carriedOrder.count {
            let id = carriedOrder[carriedHead]
            guard id.seconds < newest[id.node, default: .min] - Self.lateWindow else { break }
            carried.remove(id)
            carriedHead += 1
        }
        if carriedHead > 4096 {
            carriedOrder.removeFirst(carriedHead)
            carriedHead = 0
        }
    }
}

/// Distinct-event counting without a set of every id: consecutive records of one event share
/// an id, and interleaving is shallow, so a small window of recent ids is enough.
struct RecentIDs {
    /// An event id with its node as the filter numbers it: compared without Strings.
    struct Key: Hashable {
        var seconds: Int64
        var milliseconds: Int32
        var serial: UInt32
        var node: Int

        init(_ header: RawRecordHeader, node: Int) {
            seconds = header.seconds
            milliseconds = header.milliseconds
            serial = header.serial
            self.node = node
        }
    }

    private var ring: [Key?] = Array(repeating: nil, count: 16)
    private var next = 0

    /// False if `id` was seen among the last few distinct ids.
    mutating func insert(_ id: Key) -> Bool {
        for case let seen? in ring where seen == id { return false }
        ring[next] = id
        next = (next + 1) & (ring.count - 1)
        return true
    }
}
