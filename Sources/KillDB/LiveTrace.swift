import Foundation
import KernelTrace
import Pipeline
import ProcessContext
import Store
import Tracer

/// What a tracer session did.
public struct LiveTraceStatus: Sendable, Equatable {
    public var runID: Int64?
    public var records = 0
    public var lost: UInt64 = 0
    /// Records dropped in user space because the database stayed unavailable and memory filled.
    public var dropped = 0
    /// `--audit`: messages written to the audit system, and those it refused or that were dropped.
    public var auditWritten = 0
    public var auditFailed = 0
    public init() {}
}

public struct LiveTraceOptions: Sendable {
    /// Seconds a transaction waits for another writer before the records stay queued.
    public var busyTimeout: Double = 1
    /// Records kept in memory while the database is unavailable, before the oldest go.
    public var queueLimit = 200_000
    /// How often the session's heartbeat (last_active_at, totals) is written.
    public var heartbeat: Double = 10
    public var log: (@Sendable (_ error: Bool, _ message: String) -> Void)?
    /// The kernel's ring buffer (tests make it small to see losses counted).
    public var ringBufferBytes: UInt32 = 8 << 20
    /// Called once the programs are attached: from then on every signal is recorded.
    public var ready: (@Sendable () -> Void)?
    /// Also write every record as a user-space audit message (`killdb trace --audit`).
    public var audit = false
    public init() {}
}

/// Stops a running `LiveTrace.run` (SIGTERM, SIGINT, a test).
public final class LiveTraceControl: @unchecked Sendable {
    private let lock = NSLock()
    private var stopping = false
    public init() {}
    public func stop() { lock.lock(); stopping = true; lock.unlock() }
    var stopRequested: Bool { lock.lock(); defer { lock.unlock() }; return stopping }
}

/// `killdb trace`: the tracer is a source like the others. The thread that polls the ring
/// buffer only decodes and queues; a writer thread feeds the queue to the event pipeline and
/// stores each batch in one small transaction, as the plugin's live writer does, so a busy
/// database never backs up into the kernel's buffer (records wait in memory meanwhile).
public enum LiveTrace {
    /// Appends to a writer's queue bounded at `limit`, dropping its oldest beyond that (the
    /// tracer never blocks on its writers); returns how many were dropped.
    static func append<T>(_ items: [T], to queue: inout [T], limit: Int) -> Int {
        if queue.isEmpty { queue = items } else { queue.append(contentsOf: items) }
        guard queue.count > limit else { return 0 }
        let excess = queue.count - limit
        queue.removeFirst(excess)
        return excess
    }

    public static func run(databasePath: String, filter: SignalFilter, options: LiveTraceOptions = LiveTraceOptions(),
                           control: LiveTraceControl) throws -> LiveTraceStatus {
        // BPF first: where it cannot run, say so before touching the database.
        let tracer = try SignalTracer(filter: filter, ringBufferBytes: options.ringBufferBytes)
        defer { tracer.close() }
        let auditWriter = try options.audit ? TraceAuditWriter(hostname: ProcessInfo.processInfo.hostName) : nil
        if auditWriter?.auditEnabled() == false {
            options.log?(true, "--audit: the kernel's audit is disabled (auditctl -e 1 enables it): nothing is logged until it is enabled")
        }
        let store = try SignalStore.openForWriting(path: databasePath, busyTimeout: options.busyTimeout)
        let session = try store.transaction { tx in
            try tx.beginTraceSession(version: Ingest.version, hostname: ProcessInfo.processInfo.hostName,
                                     signals: filter.description, bootID: BootIdentity.bootID(),
                                     bootTime: BootIdentity.bootTime())
        }
        let writer = TraceWriter(store: store, session: session, options: options)
        writer.start()
        let forwarder = auditWriter.map {
            AuditForwarder(writer: $0, origin: TraceOrigin(bootID: session.bootID, bootTime: session.bootTime,
                                                           startedAt: session.startedAt, signals: filter.description),
                           options: options)
        }
        forwarder?.start()
        options.log?(false, "tracing \(filter.description), database \(databasePath), run \(session.runID)")
        options.ready?()

        var completion = TraceCompletion()
        var lostSeen: UInt64 = 0, lostContextsSeen: UInt64 = 0
        var lostCheckedAt = Date().timeIntervalSince1970
        var failure: (any Error)?
        var lastPoll = 0.0
        while !control.stopRequested {
            do {
                // Epoll reports the ring ready whenever it holds a record, so under a steady
                // stream each poll returned a dozen records (7,000 polls, hand-offs and writer
                // wakeups a second at 100,000 signals/s): polls are spaced 10 ms apart
                // instead, while the 8 MiB ring holds 40 ms even at a million a second.
                let sincePoll = Date().timeIntervalSince1970 - lastPoll
                if sincePoll < 0.01 { usleep(useconds_t((0.01 - sincePoll) * 1e6)) }
                lastPoll = Date().timeIntervalSince1970
                let records = try tracer.poll(timeout: 100)
                completion.newPoll()
                if !records.isEmpty {
                    let completed = completion.complete(records, now: Date().timeIntervalSince1970)
                    writer.enqueue(completed)
                    forwarder?.enqueue(completed.map { .signal($0) })
                }
            } catch {
                failure = error
                break
            }
            let now = Date().timeIntervalSince1970
            if now - lostCheckedAt >= 1 {
                let lost = tracer.lostRecords()
                if lost > lostSeen {
                    writer.enqueue(loss: TraceLoss(from: lostCheckedAt, to: now, count: lost - lostSeen))
                    forwarder?.enqueue([.loss(TraceLoss(from: lostCheckedAt, to: now, count: lost - lostSeen))])
                    options.log?(true, "the kernel's ring buffer was full: \(lost - lostSeen) records lost")
                    lostSeen = lost
                }
                let lostContexts = tracer.lostContexts()
                if lostContexts > lostContextsSeen {
                    options.log?(true, "the kernel's ring buffer was full: \(lostContexts - lostContextsSeen) context records lost (their signals are stored with sender_context_missing = 1)")
                    lostContextsSeen = lostContexts
                }
                lostCheckedAt = now
            }
        }
        // Detach first: nothing new arrives, and what the buffer still holds is read.
        let tail = (try? tracer.poll(timeout: 0)) ?? []
        completion.newPoll()
        let completed = completion.complete(tail + tracer.drain(), now: Date().timeIntervalSince1970)
        writer.enqueue(completed)
        forwarder?.enqueue(completed.map { .signal($0) })
        let lost = tracer.lostRecords()
        if lost > lostSeen {
            let loss = TraceLoss(from: lostCheckedAt, to: Date().timeIntervalSince1970, count: lost - lostSeen)
            writer.enqueue(loss: loss)
            forwarder?.enqueue([.loss(loss)])
        }
        tracer.close()
        var status = writer.finish(failed: failure != nil)
        status.runID = session.runID
        if let forwarder {
            let sent = forwarder.finish(records: status.records, lost: status.lost, failed: failure != nil)
            status.auditWritten = sent.written
            status.auditFailed = sent.failed
        }
        if let failure { throw failure }
        return status
    }
}

/// The queue between the poll thread and the database.
final class TraceWriter: @unchecked Sendable {
    private let store: SignalStore
    private let session: TraceSession
    private let options: LiveTraceOptions
    private let condition = NSCondition()
    private var queue: [TracedSignal] = []
    /// Where `queue`'s records begin: the oldest before it were dropped when memory filled.
    /// Dropping moves it (shifting 200,000 records per poll, under the lock the writer
    /// waits on, is what made an overrun writer fall further behind).
    private var queueHead = 0
    private var losses: [TraceLoss] = []
    /// The records dropped here, not yet taken by the writer: one loss a second at most.
    private var dropLoss: TraceLoss?
    private var finishing = false
    private var failed = false
    private var done = false
    private var status = LiveTraceStatus()
    private var thread: Thread?
    private let maxBatch = 5000
    /// Kubelet's log directories, which name the pods of the cgroups the records give.
    private let podLogs = PodLogs()

    init(store: SignalStore, session: TraceSession, options: LiveTraceOptions) {
        self.store = store
        self.session = session
        self.options = options
    }

    func start() {
        let t = Thread { [self] in loop() }
        t.name = "killdb trace writer"
        thread = t
        t.start()
    }

    func enqueue(_ records: [TracedSignal]) {
        guard !records.isEmpty else { return }
        condition.lock()
        if queue.isEmpty { queue = records } else { queue.append(contentsOf: records) }
        let excess = queue.count - queueHead - options.queueLimit
        if excess > 0 {
            // Counted as the kernel's losses are, between the first and last dropped record's
            // times: coverage says so ("the tracer lost N events between T1 and T2").
            let loss = TraceLoss(from: queue[queueHead].time, to: queue[queueHead + excess - 1].time, count: UInt64(excess))
            if var d = dropLoss, loss.from - d.from < 1 {
                d.to = max(d.to, loss.to)
                d.count += loss.count
                dropLoss = d
            } else {
                if let d = dropLoss { losses.append(d) }
                dropLoss = loss
            }
            status.dropped += excess
            queueHead += excess
            // Compacted once as many were dropped as remain: amortised, a record is moved once.
            if queueHead >= queue.count - queueHead {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
        }
        condition.signal()
        condition.unlock()
    }

    func enqueue(loss: TraceLoss) {
        condition.lock()
        losses.append(loss)
        status.lost += loss.count
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        var pipeline = EventPipeline()
        var lastHeartbeat = Date.distantPast.timeIntervalSince1970
        var reportedBusy = false
        // Records taken from the queue and not stored yet, read from `head` on: the queue is
        // swapped out whole and never shifted, so a long backlog costs nothing per batch.
        var pending: [TracedSignal] = []
        var head = 0
        while true {
            condition.lock()
            while queue.isEmpty && losses.isEmpty && dropLoss == nil && head == pending.count && !finishing {
                if !condition.wait(until: Date(timeIntervalSinceNow: 1)) { break }
            }
            if pending.count - head < maxBatch && queue.count > queueHead {
                if head > 0 { pending.removeFirst(head); head = 0 }
                if pending.isEmpty && queueHead == 0 {
                    swap(&pending, &queue)
                } else {
                    pending += queue[queueHead...]
                    queue.removeAll(keepingCapacity: true)
                }
                queueHead = 0
            }
            let lossBatch = losses
            let takenDrop = dropLoss
            dropLoss = nil
            let finishingNow = finishing
            let failedNow = failed
            let totals = status
            let queueEmpty = queue.isEmpty
            condition.unlock()

            // The whole of `pending` is handed over as it is when it fits (no copy of it).
            let taken = head == 0 && pending.count <= maxBatch ? pending : Array(pending[head..<min(pending.count, head + maxBatch)])
            let more = !queueEmpty || head + taken.count < pending.count
            let now = Date().timeIntervalSince1970
            let heartbeatDue = now - lastHeartbeat >= options.heartbeat
            guard !taken.isEmpty || !lossBatch.isEmpty || takenDrop != nil || heartbeatDue || finishingNow else { continue }
            pipeline.take(taken)
            for loss in lossBatch { pipeline.take(loss) }
            if let takenDrop { pipeline.take(takenDrop) }
            let batch = pipeline.batch()
            let finalWrite = finishingNow && !more
            do {
                // Every id a batch writes is one it found or inserted (TraceStoreIntegrityTests).
                try store.transaction(checkingForeignKeys: false) { tx in
                    _ = try tx.store(batch, trace: session, podLogs: podLogs)
                    // The session's lost: the kernel's and those dropped here, as its losses list them.
                    try tx.updateTraceSession(session, records: totals.records + taken.count, lost: totals.lost + UInt64(totals.dropped),
                                              finished: finalWrite, status: finalWrite ? (failedNow ? "failed" : "complete") : "running")
                }
                lastHeartbeat = now
                reportedBusy = false
                head += taken.count
                if head == pending.count { pending = []; head = 0 }
                condition.lock()
                losses.removeFirst(min(lossBatch.count, losses.count))
                status.records += taken.count
                let empty = queue.isEmpty && losses.isEmpty && dropLoss == nil && head == pending.count
                condition.unlock()
                if finalWrite && empty { break }
            } catch {
                // The records stay queued: they are stored once the database is writable.
                // So do the drops taken for this transaction.
                if let takenDrop {
                    condition.lock()
                    losses.append(takenDrop)
                    condition.unlock()
                }
                if !reportedBusy { options.log?(true, "cannot write the database, records stay queued: \(error)") }
                reportedBusy = true
                if finishingNow && giveUp() {
                    condition.lock()
                    status.dropped += pending.count - head
                    condition.unlock()
                    break
                }
                usleep(200_000)
            }
        }
        condition.lock()
        done = true
        condition.broadcast()
        condition.unlock()
    }

    private var failedFinalWrites = 0
    private func giveUp() -> Bool {
        failedFinalWrites += 1
        return failedFinalWrites > 25  // about 5 s of retries after the stop
    }

    private func queueCount() -> Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count
    }

    /// Stores what is queued, closes the session, and returns its totals.
    func finish(failed: Bool) -> LiveTraceStatus {
        condition.lock()
        finishing = true
        self.failed = failed
        condition.broadcast()
        while !done { condition.wait() }
        status.dropped += queue.count - queueHead
        let s = status
        condition.unlock()
        return s
    }
}

/// `--audit`: the queue between the poll thread and the audit socket, on a thread of its
/// own so a slow auditd never holds up the ring buffer or the database. The session's
/// start, a heartbeat as often as the database's, and its end are messages too, so a
/// collector knows when the tracer ran.
final class AuditForwarder: @unchecked Sendable {
    enum Item { case signal(TracedSignal), loss(TraceLoss) }
    private let writer: TraceAuditWriter
    private let origin: TraceOrigin
    private let options: LiveTraceOptions
    private let condition = NSCondition()
    private var queue: [Item] = []
    private var finishing = false
    private var done = false
    private var written = 0, failed = 0, records = 0, lost: UInt64 = 0
    private var reported = false
    private var anchorReported = false
    private let hostname = ProcessInfo.processInfo.hostName

    init(writer: TraceAuditWriter, origin: TraceOrigin, options: LiveTraceOptions) {
        self.writer = writer
        self.origin = origin
        self.options = options
    }

    func start() {
        send(.session(origin, state: .start, version: Ingest.version, hostname: hostname, records: 0, lost: 0,
                      time: Date().timeIntervalSince1970))
        let t = Thread { [self] in loop() }
        t.name = "killdb trace audit"
        t.start()
    }

    func enqueue(_ items: [Item]) {
        guard !items.isEmpty else { return }
        condition.lock()
        failed += LiveTrace.append(items, to: &queue, limit: options.queueLimit)
        condition.signal()
        condition.unlock()
    }

    private func send(_ m: TraceAuditMessage) {
        if let e = writer.write(m) {
            failed += 1
            if !reported {
                reported = true
                options.log?(true, "--audit: the audit system refused a message: \(String(cString: strerror(e)))\(e == EPERM ? " (CAP_AUDIT_WRITE is needed)" : "")")
            }
        } else {
            written += 1
        }
        if let e = writer.anchorError, !anchorReported {
            anchorReported = true
            options.log?(true, "--audit: the kernel's record of this writer (a seccomp SECCOMP_RET_LOG anchor) could not be made: \(String(cString: strerror(e))); a collector will keep these messages as unverified")
        }
    }

    private func loop() {
        var lastBeat = Date().timeIntervalSince1970
        while true {
            condition.lock()
            while queue.isEmpty && !finishing {
                if !condition.wait(until: Date(timeIntervalSinceNow: 1)) { break }
            }
            let items = queue
            queue.removeAll(keepingCapacity: true)
            let end = finishing && items.isEmpty
            condition.unlock()
            for item in items {
                switch item {
                case .signal(let s):
                    records += 1
                    send(.signal(s, origin))
                case .loss(let l):
                    lost += l.count
                    send(.loss(l, origin))
                }
            }
            let now = Date().timeIntervalSince1970
            if now - lastBeat >= options.heartbeat {
                lastBeat = now
                send(.session(origin, state: .alive, version: Ingest.version, hostname: hostname, records: records,
                              lost: lost, time: now))
            }
            if end { break }
        }
        condition.lock()
        done = true
        condition.broadcast()
        condition.unlock()
    }

    /// Sends what is queued and the session's end; returns what was written and what failed.
    func finish(records total: Int, lost totalLost: UInt64, failed sessionFailed: Bool) -> (written: Int, failed: Int) {
        condition.lock()
        finishing = true
        condition.broadcast()
        while !done { condition.wait() }
        condition.unlock()
        send(.session(origin, state: sessionFailed ? .failed : .stop, version: Ingest.version, hostname: hostname,
                      records: records, lost: max(lost, totalLost), time: Date().timeIntervalSince1970))
        writer.close()
        return (written, failed)
    }
}
