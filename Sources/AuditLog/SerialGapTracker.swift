import AuditDecoding

/// Finds holes in each node's kernel serial sequence: events the kernel numbered that the
/// log does not hold (lost to the backlog or rate limit). The kernel numbers events in the
/// order they start but they reach the log in the order they end, so a hole is only
/// reported once no record has filled it for `settle` seconds of log time.
///
/// The counter restarts at every boot, wherever it had got to, so a new sequence begins
/// (and the old one's holes are settled) when the records say so: after auditd's
/// DAEMON_START, at a serial that falls back while the clock moves on (one boot's counter
/// never does that: a serial and its time are taken together), at a serial that falls far
/// back, or at one that moves on while the clock falls far back (a hole cannot end before
/// it starts). A jump forward by more than `discontinuity` is a new counter too, not
/// millions of lost events. The counter wraps at 2^32.
public struct SerialGapTracker {
    /// A file whose first record does not continue the sequence the files before it left:
    /// another boot or another host, whose serials are another count.
    public struct OriginBreak: Sendable, Equatable {
        /// Where the sequence stood, and the new file's first record.
        public var previous: EventID
        public var next: EventID
        public var file: Int
    }

    static let settle: Int64 = 5
    /// At a file's first record, a serial further on than this is another count, not lost
    /// events: a rotated file continues its predecessor within a few serials.
    static let boundaryJump: UInt32 = 10_000
    static let discontinuity: UInt32 = 1_000_000
    /// How far a serial's time may disagree with the serial order within one boot: the
    /// stamp's serial and time are taken one after the other, on any CPU.
    static let clockSlack: Int64 = 2

    struct Pending {
        var after: EventID
        var before: EventID
        var low: UInt32     // first missing serial
        var high: UInt32    // last missing serial
        var seen: Set<UInt32> = []
    }

    struct Sequence {
        var node: String
        /// nil until the node's first kernel record.
        var high: EventID?
        var pending: [Pending] = []
        /// auditd started since the last kernel record: the machine may have rebooted.
        var daemonStarted = false
    }

    /// One sequence per node, found by name once per node (`sequence(node:)`), not per record.
    private var index: [String: Int] = [:]
    private var sequences: [Sequence] = []
    private var newestSecond: Int64 = .min
    public private(set) var found: [SerialGap] = []
    /// The first file (without `node=` names) that looked like another host's: logs of
    /// several hosts mixed into one unnamed sequence. Kept once.
    public private(set) var unnamedHostsMixed: OriginBreak?

    public init(cursors: [String: EventID] = [:]) {
        for (node, id) in cursors { sequences[sequence(node: node)].high = id }
    }

    /// Where each node's sequence stands, to carry into the next run.
    public var cursors: [String: EventID] {
        var out: [String: EventID] = [:]
        for s in sequences { if let high = s.high { out[s.node] = high } }
        return out
    }

    /// The number of `node`'s sequence, for `observe(_:sequence:fileStart:)`.
    public mutating func sequence(node: String) -> Int {
        if let i = index[node] { return i }
        index[node] = sequences.count
        sequences.append(Sequence(node: node))
        return sequences.count - 1
    }

    /// `fileStart`: the first record of this node in a file read from its beginning (given
    /// as that file's index): a sequence never spans files of different origin, so a file
    /// whose first serial and time do not continue the previous one starts a new sequence.
    public mutating func observe(_ id: EventID, fileStart: Int? = nil) {
        observe(id, sequence: sequence(node: id.node), fileStart: fileStart)
    }

    /// `observe(_:fileStart:)` for the node whose sequence is number `i`.
    public mutating func observe(_ id: EventID, sequence i: Int, fileStart: Int? = nil) {
        if id.seconds > newestSecond {
            newestSecond = id.seconds
            settleAll(final: false)
        }
        guard let high = sequences[i].high else {
            sequences[i].high = id
            sequences[i].daemonStarted = false
            return
        }
        // Taken out and put back, so its pending holes are changed in place, not copied.
        var seq = Sequence(node: "")
        swap(&seq, &sequences[i])
        defer { swap(&seq, &sequences[i]) }
        observe(id, high: high, in: &seq, fileStart: fileStart)
    }

    private mutating func observe(_ id: EventID, high: EventID, in seq: inout Sequence, fileStart: Int?) {
        if let file = fileStart {
            let forward = id.serial &- high.serial
            // Files are read oldest first: one that starts before the last ends (beyond the
            // clock's slack) is not its continuation, and neither is one that starts far on.
            let timeBack = id.seconds + Self.clockSlack < high.seconds
            let farOn = forward < 1 << 31 && forward > Self.boundaryJump
            if timeBack || farOn {
                // An older file of the same host read late starts earlier in both serial and
                // time; a serial further on at an earlier time, or far on, is another count.
                let otherHost = (timeBack && forward < 1 << 31) || (farOn && !timeBack)
                if id.node.isEmpty && otherHost && unnamedHostsMixed == nil && !seq.daemonStarted {
                    unnamedHostsMixed = OriginBreak(previous: high, next: id, file: file)
                }
                seq.daemonStarted = false
                restart(&seq, at: id)
                return
            }
        }
        let daemonStarted = seq.daemonStarted
        seq.daemonStarted = false
        let forward = id.serial &- high.serial
        if forward == 0 { return }
        if forward < 1 << 31 {
            if id.seconds + Self.clockSlack < high.seconds {
                restart(&seq, at: id)
                return
            }
            // Moving on; a jump of more than one leaves a hole, unless it is a new counter.
            if forward > 1 && forward <= Self.discontinuity {
                seq.pending.append(Pending(after: high, before: id,
                                           low: high.serial &+ 1, high: id.serial &- 1))
            }
            if forward > Self.discontinuity { seq.pending.removeAll() }
            seq.high = id
            return
        }
        // Backwards: a late record that fills a hole, an old event, or a reboot.
        for i in seq.pending.indices where Self.inRange(id.serial, seq.pending[i]) {
            seq.pending[i].seen.insert(id.serial)
            return
        }
        let back = high.serial &- id.serial
        if daemonStarted || id.seconds > high.seconds + Self.clockSlack
            || (back > Self.discontinuity && id.seconds >= high.seconds) {
            restart(&seq, at: id)
        }
    }

    /// auditd's DAEMON_START for `node`: its next kernel record may begin a new boot's count.
    public mutating func daemonStarted(node: String) {
        if let i = index[node], sequences[i].high != nil { sequences[i].daemonStarted = true }
    }

    private mutating func restart(_ seq: inout Sequence, at id: EventID) {
        Self.settlePending(&seq, final: true, newestSecond: newestSecond, into: &found)
        seq.high = id
    }

    /// End of a run. A hole near the end of a log that is still being written may yet be
    /// filled by a record the next run reads, so it is only reported when `complete` says no
    /// more records can come (or it is `settle` seconds old); otherwise it is forgotten:
    /// better to miss a lost event than to claim one that was not lost.
    public mutating func finish(complete: Bool) {
        settleAll(final: false)
        if complete { settleAll(final: true) }
        for i in sequences.indices { sequences[i].pending.removeAll() }
    }

    private static func inRange(_ s: UInt32, _ p: Pending) -> Bool {
        (s &- p.low) <= (p.high &- p.low)
    }

    private mutating func settleAll(final: Bool) {
        for i in sequences.indices where !sequences[i].pending.isEmpty {
            Self.settlePending(&sequences[i], final: final, newestSecond: newestSecond, into: &found)
        }
    }

    private static func settlePending(_ seq: inout Sequence, final: Bool, newestSecond: Int64, into found: inout [SerialGap]) {
        var keep: [Pending] = []
        for p in seq.pending {
            if !final && p.before.seconds + Self.settle > newestSecond {
                keep.append(p)
                continue
            }
            let size = (p.high &- p.low) &+ 1
            let missing = size &- UInt32(p.seen.count)
            // A hole that ends before it starts is two sequences taken for one: no gap.
            if missing > 0 && p.before.seconds + Self.clockSlack >= p.after.seconds {
                found.append(SerialGap(after: p.after, before: p.before, missing: missing))
            }
        }
        seq.pending = keep
    }

    /// Hands over the gaps found so far.
    public mutating func takeFound() -> [SerialGap] {
        defer { found.removeAll() }
        return found
    }
}
