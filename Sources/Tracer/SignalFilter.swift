import AuditDecoding

/// Which signals the tracer records, decided in the kernel: nothing else reaches user space.
public struct SignalFilter: Sendable, Equatable {
    /// Signal numbers 1...64.
    public var signals: Set<Int32>
    /// Every signal but SIGURG a thread sends its own thread group: Go (1.14+) preempts
    /// goroutines that way, hundreds of times a second in a busy program.
    public var all: Bool

    public static let kill = SignalFilter(signals: [9], all: false)

    public init(signals: Set<Int32>, all: Bool) {
        self.signals = signals
        self.all = all
    }

    /// "KILL", "SIGKILL", "9", "KILL,TERM,USR1", "all".
    public static func parse(_ text: String) throws(TracerError) -> SignalFilter {
        if text.lowercased() == "all" { return SignalFilter(signals: Set(1...64), all: true) }
        var set = Set<Int32>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = part.trimmingCharacters(in: .whitespaces)
            guard let n = AuditArch.native.signalNumber(named: name), (1...64).contains(n) else {
                throw .badSignals("\"\(name)\" is not a signal: give names or numbers separated by commas (KILL,TERM,15) or `all`")
            }
            set.insert(n)
        }
        return SignalFilter(signals: set, all: false)
    }

    /// Bit (n - 1) for signal n, as the BPF program's config map holds it.
    public var mask: UInt64 {
        signals.reduce(0) { $0 | (1 << UInt64($1 - 1)) }
    }

    /// "all", or the names in order: "SIGKILL,SIGTERM".
    public var description: String {
        all ? "all" : signals.sorted().map { AuditArch.native.signalName($0) }.joined(separator: ",")
    }
}

import Foundation
