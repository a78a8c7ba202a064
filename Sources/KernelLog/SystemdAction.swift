import AuditDecoding

/// What systemd did that explains a kill: PID 1 killing a unit's process (usually a stop
/// that timed out, or `systemctl kill`), the timeout itself, or systemd-oomd killing a
/// whole cgroup through cgroup.kill (which no audit signal rule sees).
public struct SystemdAction: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// `x.service: Killing process N (c) with signal SIGKILL.`
        case kill
        /// `x.service: State 'stop-sigterm' timed out. Killing.`
        case stopTimeout = "stop-timeout"
        /// `Killed /system.slice/x.service due to memory pressure …` (systemd-oomd).
        case oomd
    }

    public var node: String
    public var time: Double
    public var kind: Kind
    public var unit: String?
    public var pid: Int64?
    public var comm: [UInt8]?
    public var signal: Int32?
    public var cgroup: String?
    public var reason: String?
    public var message: [UInt8]
    public var identity: String
    /// Whether the log it was read from proves PID 1 or systemd-oomd wrote it (the journal,
    /// /dev/kmsg); a `systemd[1]:` tag in a syslog file is anyone's to write.
    public var verified = true

    public init(node: String, time: Double, kind: Kind, message: [UInt8], identity: String) {
        self.node = node
        self.time = time
        self.kind = kind
        self.message = message
        self.identity = identity
    }

    /// The action `message` (from PID 1, or from systemd-oomd when `oomd`) describes, if any.
    public static func recognize(_ message: [UInt8], oomd: Bool, unitField: String?,
                                 make: (Kind) -> SystemdAction) -> SystemdAction? {
        if oomd {
            // "Killed /system.slice/x.service due to memory pressure for … being 80.00% > 50.00% …"
            guard message.starts(with: Array("Killed /".utf8)) else { return nil }
            let end = message.firstRange(of: " due to ")
            var a = make(.oomd)
            let path = String(decoding: message[7..<(end?.lowerBound ?? message.count)], as: UTF8.self)
            a.cgroup = path
            a.unit = path.split(separator: "/").last.map(String.init)
            a.signal = 9
            // "memory pressure for /system.slice being 82.15% > 50.00% for > 20s …"
            a.reason = end.map { String(decoding: message[$0.upperBound..<message.count], as: UTF8.self) }
            return a
        }
        // "x.service: Killing process 1234 (comm) with signal SIGKILL."
        let colon = message.firstRange(of: ": ")
        let unit = colon.map { String(decoding: message[..<$0.lowerBound], as: UTF8.self) }.flatMap { isUnitName($0) ? $0 : nil } ?? unitField
        let rest = colon.flatMap { unit != nil && isUnitName(String(decoding: message[..<$0.lowerBound], as: UTF8.self)) ? $0.upperBound : nil } ?? 0
        if let k = message.firstRange(of: "Killing process ", from: rest) {
            var i = k.upperBound
            guard let pid = decimal(message, &i), i + 1 < message.count, message[i + 1] == 0x28,
                  let w = message.lastRange(of: ") with signal ") , w.lowerBound > i else { return nil }
            var a = make(.kill)
            a.unit = unit
            a.pid = pid
            a.comm = Array(message[(i + 2)..<w.lowerBound])
            var name = String(decoding: message[w.upperBound...], as: UTF8.self)
            if name.hasSuffix(".") { name.removeLast() }
            a.signal = AuditArch.x86_64.signalNumber(named: name)
            return a
        }
        // "State 'stop-sigterm' timed out. Killing." ; older: "x.service stop-sigterm timed out. Killing."
        if message.firstRange(of: " timed out. Killing", from: rest) != nil
            || message.firstRange(of: " timed out. Terminating", from: rest) != nil {
            var a = make(.stopTimeout)
            var u = unit
            if u == nil, let sp = message.firstIndex(of: 0x20) {
                let head = String(decoding: message[..<sp], as: UTF8.self)
                if isUnitName(head) { u = head }
            }
            a.unit = u
            var text = String(decoding: message[rest...], as: UTF8.self)
            if text.hasSuffix(".") { text.removeLast() }
            a.reason = text
            return a
        }
        return nil
    }

    static func isUnitName(_ s: String) -> Bool {
        guard !s.contains(" "), let dot = s.lastIndex(of: ".") else { return false }
        return ["service", "scope", "slice", "socket", "mount", "timer", "swap", "target", "path", "device", "automount"]
            .contains(String(s[s.index(after: dot)...]))
    }
}
