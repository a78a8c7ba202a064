import AuditDecoding
import Foundation

/// Signal events per signal in the newest stretch of log: one signal sent hundreds of times
/// a second (Go's SIGURG preemption under `--signals all,URG`, a supervisor's probe loop)
/// fills the logs and shortens how long auditd keeps the kills that matter.
public struct SignalRates: Sendable, Equatable {
    /// A signal, and whether it was sent to a thread (tgkill, rt_tgsigqueueinfo).
    public struct Key: Sendable, Hashable {
        public var signal: Int32
        public var threadDirected: Bool

        public init(signal: Int32, threadDirected: Bool) {
            self.signal = signal
            self.threadDirected = threadDirected
        }
    }

    public var counts: [Key: Int]
    /// Seconds between the first and the last signal event sampled.
    public var span: Double

    public init(counts: [Key: Int], span: Double) {
        self.counts = counts
        self.span = span
    }

    public var total: Int { counts.values.reduce(0, +) }

    /// The most frequent signal, ties broken by number so the answer is stable.
    public var top: (key: Key, count: Int)? {
        counts.max { a, b in a.value != b.value ? a.value < b.value : a.key.signal > b.key.signal }.map { ($0.key, $0.value) }
    }

    /// Counts the SYSCALL records of signal syscalls in raw log text (plain or ENRICHED,
    /// with or without `node=`). Lines that do not parse are skipped: this is an estimate.
    public static func measure(_ data: Data) -> SignalRates {
        var counts: [Key: Int] = [:]
        var first: Double?
        var last: Double?
        for line in data.split(separator: 0x0a) {
            guard let text = String(bytes: line, encoding: .utf8), text.contains("type=SYSCALL ") else { continue }
            var fields: [Substring: Substring] = [:]
            for token in text.split(separator: " ") {
                guard let eq = token.firstIndex(of: "=") else { continue }
                fields[token[..<eq]] = token[token.index(after: eq)...]
            }
            guard let archText = fields["arch"], let arch = AuditArch(field: Array(archText.utf8)),
                  let number = fields["syscall"].flatMap({ Int($0) }), let syscall = arch.signalSyscall(number: number),
                  let raw = fields["a\(syscall.signalArgumentIndex)"], let value = UInt64(raw, radix: 16) else { continue }
            let key = Key(signal: Int32(truncatingIfNeeded: value), threadDirected: syscall.signalArgumentIndex == 2)
            counts[key, default: 0] += 1
            if let stamp = Stamps.all(in: Data(line)).first {
                first = first.map { min($0, stamp) } ?? stamp
                last = last.map { max($0, stamp) } ?? stamp
            }
        }
        return SignalRates(counts: counts, span: max(0, (last ?? 0) - (first ?? 0)))
    }
}
