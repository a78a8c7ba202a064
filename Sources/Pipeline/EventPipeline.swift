import AuditDecoding
import AuditLog
import KernelLog
import KernelTrace

/// Everything the pipeline completed since the last batch: what the store writes in one
/// call (`StoreTransaction.store(_:)`), inside the caller's transaction with the caller's
/// checkpoint.
public struct EventBatch: Sendable {
    /// Signal events, decoded once.
    public var events: [SignalEvent] = []
    /// auditd's own records (start, rotate, end ...).
    public var daemonRecords: [DaemonRecord] = []
    /// Kills no process sent: the OOM killer's, seccomp's, fatal signals (ANOM_ABEND).
    public var kernelKills: [KernelKill] = []
    /// systemd's kills (unit stop timeouts, systemd-oomd).
    public var systemdActions: [SystemdAction] = []
    public var serialGaps: [SerialGap] = []
    /// Successful execve events, when the rules audit them: the processes a sender's
    /// parents were, from the logs alone.
    public var execs: [ProcessExec] = []
    /// The tracer's records (`killdb trace`), and the spans its ring buffer lost records in.
    public var tracedSignals: [TracedSignal] = []
    public var traceLosses: [TraceLoss] = []
    /// The tracer's messages read back from an audit log (`killdb trace --audit` elsewhere),
    /// verified as root's running killdb; and those that were not, never evidence.
    public var forwardedTrace: [ForwardedTraceMessage] = []
    public var unverifiedTraceMessages: [UnverifiedTraceMessage] = []
    /// The kernel's anchors of tracer writers seen in this batch, as the spans they extend.
    public var traceWriters: [TraceWriterSpan] = []
    /// Lines skipped: how many, and (the first of a run only) which, with why.
    public var skippedLines = 0
    public var skipped: [SkippedLine] = []
    /// The earliest offset, per source, of a line still held: a checkpoint must not pass it.
    public var held: [Int: Int64] = [:]
    /// Events libauparse could not parse; their lines are among `skipped`.
    public var unparsableEvents = 0
    /// Audit records in a kernel log that cannot prove the kernel wrote them (syslog, dmesg
    /// text): anyone can write such a line, so they are counted, never stored as evidence.
    public var unverifiedAuditRecords = 0

    public init() {}

    /// True when there is nothing to store.
    public var isEmpty: Bool {
        events.isEmpty && daemonRecords.isEmpty && kernelKills.isEmpty && systemdActions.isEmpty && serialGaps.isEmpty
            && execs.isEmpty
            && tracedSignals.isEmpty && traceLosses.isEmpty && forwardedTrace.isEmpty && unverifiedTraceMessages.isEmpty
            && traceWriters.isEmpty
    }

    /// Adds a later batch to this one (a stream whose commit must wait).
    public mutating func append(_ later: EventBatch) {
        events += later.events
        daemonRecords += later.daemonRecords
        kernelKills += later.kernelKills
        systemdActions += later.systemdActions
        serialGaps += later.serialGaps
        execs += later.execs
        tracedSignals += later.tracedSignals
        traceLosses += later.traceLosses
        forwardedTrace += later.forwardedTrace
        unverifiedTraceMessages += later.unverifiedTraceMessages
        traceWriters += later.traceWriters
        skippedLines += later.skippedLines
        skipped += later.skipped
        held = later.held
        unparsableEvents += later.unparsableEvents
        unverifiedAuditRecords += later.unverifiedAuditRecords
    }
}

/// The one way from log lines to what is stored. Every source (audit log files, the auditd
/// plugin's stream, kernel logs and journals) feeds it lines or kernel-log entries; it
/// selects and groups the records of signal events, decodes each event once, recognises
/// kernel and systemd kills, and hands back one `EventBatch` per commit. Sources differ
/// only in where lines come from and in what they do when the database is busy.
public struct EventPipeline {
    private var filter: SignalRecordFilter
    private let decoder = SignalEventDecoder()
    private var recognizer = KernelMessageRecognizer()
    private var kernelKills: [KernelKill] = []
    private var systemdActions: [SystemdAction] = []
    private var tracedSignals: [TracedSignal] = []
    private var traceLosses: [TraceLoss] = []
    private var unverified = 0
    /// Per source: what the kernel kills among its audit records are marked as read from.
    private var kernelKillSources: [KernelLogSource] = []
    public private(set) var unparsableEvents = 0
    public private(set) var unverifiedAuditRecords = 0

    /// `carried`: signal events stored near the end of what is stored, whose late records
    /// are still wanted; `serialCursors`: where each node's serial sequence stood.
    /// The tracer writers the kernel vouched for (`ForwardedTrace.anchor`), those stored and
    /// those seen since.
    private var traceWriters: TraceWriterAnchors

    /// `carried`: signal events stored near the end of what is stored, whose late records
    /// are still wanted; `serialCursors`: where each node's serial sequence stood;
    /// `traceWriters`: the tracer writers' anchors stored.
    public init(carried: Set<EventID> = [], serialCursors: [String: EventID] = [:], traceWriters: [TraceWriterSpan] = []) {
        filter = SignalRecordFilter(carried: carried, serialCursors: serialCursors)
        self.traceWriters = TraceWriterAnchors(traceWriters)
    }

    /// Tracer writers' anchors stored meanwhile (a live ingest opens its database late).
    public mutating func know(traceWriters spans: [TraceWriterSpan]) {
        for s in spans { traceWriters.insert(s) }
    }

    /// Starts a source (a file, the stream, a kernel log); its lines are numbered by it.
    public mutating func beginSource() -> Int {
        kernelKillSources.append(.audit)
        return filter.beginFile()
    }

    /// One audit record line (without newline) of `source`, starting at `offset`. Returns
    /// `waiting`: reading that property afterwards copies the pipeline's state, once a line.
    @discardableResult
    public mutating func take(_ line: UnsafeBufferPointer<UInt8>, source: Int, offset: Int64) -> Int {
        filter.take(line, file: source, offset: offset) + kernelKills.count + tracedSignals.count
    }

    /// A line that cannot be read as one (too long, a damaged archive).
    public mutating func skip(source: Int, offset: Int64, _ problem: LineProblem) {
        filter.skip(file: source, offset: offset, problem)
    }

    /// One entry of a kernel log or journal of `source`.
    public mutating func take(_ entry: KernelLogEntry, source: Int) {
        let m = entry.message
        switch entry.program {
        case .kernel:
            if m.starts(with: Self.auditPrefix) {
                guard entry.source.provesKernelOrigin else {
                    unverified += 1
                    unverifiedAuditRecords += 1
                    return
                }
                kernelKillSources[source] = entry.source
                takeAudit(m, source: source)
                return
            }
            let kill = recognizer.recognize(m, time: entry.time) { kind in
                KernelKill(node: entry.node, time: entry.time, source: entry.source, kind: kind, message: m,
                           identity: entry.identity)
            }
            if let kill { kernelKills.append(kill) }
        case .systemd, .oomd:
            let action = SystemdAction.recognize(m, oomd: entry.program == .oomd, unitField: entry.unit) { kind in
                var a = SystemdAction(node: entry.node, time: entry.time, kind: kind, message: m, identity: entry.identity)
                a.verified = entry.source.provesWriter
                return a
            }
            if let action { systemdActions.append(action) }
        case .other:
            break
        }
    }

    /// Records of the tracer (`killdb trace`): already decoded by it, batched here with
    /// everything else a transaction holds.
    public mutating func take(_ records: [TracedSignal]) {
        // Shared, not copied, when nothing waits (a traced record is large).
        if tracedSignals.isEmpty { tracedSignals = records } else { tracedSignals.append(contentsOf: records) }
    }

    /// Records the tracer's ring buffer had no room for.
    public mutating func take(_ loss: TraceLoss) {
        traceLosses.append(loss)
    }

    static let auditPrefix = Array("audit: ".utf8)
    static let numericTypes: [([UInt8], [UInt8])] = [
        ("1300", "SYSCALL"), ("1318", "OBJ_PID"), ("1327", "PROCTITLE"), ("1320", "EOE"), ("1326", "SECCOMP"),
        ("1701", "ANOM_ABEND"),
    ].map { (Array("type=\($0.0) ".utf8), Array("type=\($0.1) ".utf8)) }

    /// `audit: type=1300 audit(…): …`, as the kernel prints records no auditd took: handed
    /// to the audit pre-filter from `type=` on, with the numeric types named as libauparse
    /// is sure to know them.
    private mutating func takeAudit(_ m: [UInt8], source: Int) {
        guard let t = m.firstRange(of: "type=")?.lowerBound else { return }
        var line = Array(m[t...])
        for (number, name) in Self.numericTypes where line.starts(with: number) {
            line = name + line.dropFirst(number.count)
            break
        }
        line.withUnsafeBufferPointer { filter.take($0, file: source, offset: 0) }
    }

    /// End of input: every open event is as complete as it will get. `complete` says that
    /// nobody writes the logs any more (a serial hole at their end is then real).
    public mutating func finish(complete: Bool) {
        filter.finish(complete: complete)
    }

    /// Hands over what is complete: the events decoded, and everything else that goes into
    /// the same transaction.
    public mutating func batch() -> EventBatch {
        var batch = EventBatch()
        let decoder = self.decoder
        let out = filter.drain { group in
            guard case .success(let event) = decoder.decode(group.lines.map(\.bytes), id: group.id) else { return false }
            batch.events.append(event)
            return true
        }
        batch.unparsableEvents = out.unusableEvents
        unparsableEvents += batch.unparsableEvents
        batch.skippedLines = out.skippedLines
        batch.skipped = out.skipped
        batch.daemonRecords = out.daemonRecords
        batch.kernelKills = kernelKills
        for record in out.kernelRecords {
            if let a = ForwardedTrace.anchor(record) {
                batch.traceWriters.append(traceWriters.add(node: record.header.node, pid: a.pid,
                                                           time: record.header.eventID.time, exe: a.exe))
            } else if let kill = KernelKill.fromAudit(record, source: kernelKillSources[record.file]) {
                batch.kernelKills.append(kill)
            }
        }
        kernelKills.removeAll()
        for record in out.tracerMessages {
            switch ForwardedTrace.verify(record, anchors: traceWriters) {
            case .verified(let m): batch.forwardedTrace.append(m)
            case .unverified(let u): batch.unverifiedTraceMessages.append(u)
            }
        }
        batch.systemdActions = systemdActions
        systemdActions.removeAll()
        batch.tracedSignals = tracedSignals
        tracedSignals = []  // handed over, not reallocated
        batch.traceLosses = traceLosses
        traceLosses.removeAll()
        batch.serialGaps = out.serialGaps
        batch.execs = out.execs
        batch.held = out.held
        batch.unverifiedAuditRecords = unverified
        unverified = 0
        return batch
    }

    // MARK: what was seen

    /// Complete events and kills waiting for the next batch: a commit bound.
    public var waiting: Int { filter.waiting + kernelKills.count + tracedSignals.count }

    /// Per source: lines, records, events and the time span seen.
    public var coverage: [FileCoverage] { filter.coverage }
    /// Lines skipped in all, recorded or not.
    public var skippedTotal: Int { filter.skippedTotal }
    /// Where each node's serial sequence stands: saved with every checkpoint.
    public var serialCursors: [String: EventID] { filter.serialCursors }
    /// The first file of unnamed logs that looked like another host's, if any.
    public var unnamedHostsMixed: SerialGapTracker.OriginBreak? { filter.unnamedHostsMixed }
    /// The raw lines of events not complete yet, in the order they came.
    public func heldLines() -> [HeldLine] { filter.heldLines() }

    /// Counting starts again (a new run of a long-lived stream); what is held stays held.
    public mutating func restartCounts() { filter.restartCounts() }
}
