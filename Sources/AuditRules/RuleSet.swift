import AuditDecoding

/// Which signals killdb's rules record.
public enum SignalSelection: Sendable, Equatable {
    /// Every signal but 0 (kill(pid, 0) is a liveness probe, sent constantly), and but SIGURG
    /// sent with tgkill/rt_tgsigqueueinfo: Go's runtime preempts its own threads that way,
    /// 85–440 events a second from one busy program, enough to shrink retention to minutes.
    case all
    /// `all,URG`: every signal but 0, SIGURG to threads included.
    case allWithThreadURG
    /// These signal numbers, sorted, without duplicates.
    case only([Int32])

    public static let kill = SignalSelection.only([9])

    /// SIGURG, which `all` leaves out on the thread-directed syscalls.
    public static let urg: Int32 = 23

    /// Parses `KILL`, `SIGKILL`, `9`, `KILL,TERM,ABRT`, `all`, `all,URG`.
    public static func parse(_ text: String) throws(AuditRulesError) -> SignalSelection {
        let parts = text.split(separator: ",", maxSplits: 1).map { String($0).trimmingWhitespace }
        if parts.count == 2, parts[0].lowercased() == "all" {
            // `all` already has every other signal: only URG can be added to it.
            guard case .only(let added)? = try? SignalList.parse(parts[1]), !added.isEmpty,
                  added.allSatisfy({ $0 == urg }) else { throw .unknownSignal(text) }
            return .allWithThreadURG
        }
        do {
            switch try SignalList.parse(text) {
            case .all: return .all
            case .only(let numbers): return .only(numbers.sorted())
            }
        } catch {
            throw .unknownSignal(error.part)
        }
    }

    /// `SIGKILL,SIGTERM` or `all`, for the file header.
    public var names: String {
        switch self {
        case .all: return "all (but signal 0, and but SIGURG sent with tgkill: add it with --signals all,URG)"
        case .allWithThreadURG: return "all (but signal 0; SIGURG sent with tgkill included)"
        case .only(let n): return n.map { AuditArch.x86_64.signalName($0) }.joined(separator: ",")
        }
    }

    /// What `--signals` would be given to get this selection again.
    public var argument: String {
        switch self {
        case .all: return "all"
        case .allWithThreadURG: return "all,URG"
        case .only(let n): return n.map { AuditArch.x86_64.signalName($0).replacingPrefix("SIG") }.joined(separator: ",")
        }
    }
}

/// killdb's audit rules: every signal-sending syscall, 64- and 32-bit, for the selected signals.
public struct RuleSet: Sendable, Equatable {
    public var signals: SignalSelection
    public var key: String

    public static let defaultKey = "killdb"
    public static let maxKeyLength = 64

    public init(signals: SignalSelection = .kill, key: String = RuleSet.defaultKey) throws(AuditRulesError) {
        guard Self.isValidKey(key) else { throw .invalidKey(key) }
        self.signals = signals
        self.key = key
    }

    /// Keys end up in a shell-like rules file and in `-k`: keep them one plain word.
    public static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= maxKeyLength
            && key.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.:".unicodeScalars.contains($0)) }
    }

    /// The file under rules.d: `killdb.rules` for the default key, `killdb-KEY.rules` otherwise,
    /// so installs with different keys never overwrite each other.
    public static func fileName(key: String) -> String {
        key == defaultKey ? "killdb.rules" : "killdb-\(key).rules"
    }

    /// Syscalls whose signal is a1, and those whose signal is a2 (after a thread group id).
    static let signalInA1: [SignalSyscall] = [.kill, .tkill, .rt_sigqueueinfo, .pidfd_send_signal]
    static let signalInA2: [SignalSyscall] = [.tgkill, .rt_tgsigqueueinfo]

    /// The rules, one `auditctl` argument line each.
    ///
    /// Fields of one rule are ANDed (`-F a1=9 -F a1=15` loads but never matches) and the
    /// rule language has no set or OR operator (`&` tests bits, not membership), so each
    /// signal needs its own rule per argument position. The one cheaper form is a range:
    /// consecutive signals (HUP,INT,QUIT) share one rule with `>=` and `<=`.
    ///
    /// Both groups always name kill/tkill (a1) and tgkill (a2): the kernel records the
    /// target (OBJ_PID) of any signal only while some loaded rule names one of those three.
    public var rules: [String] {
        var lines: [String] = []
        for bits in ["b64", "b32"] {
            for filter in argumentFilters {
                for (syscalls, arg) in [(Self.signalInA1, "a1"), (Self.signalInA2, "a2")] {
                    let names = syscalls.map(\.rawValue).joined(separator: ",")
                    // Go's preemption is tgkill(getpid(), tid, SIGURG): left out unless asked for.
                    let conditions = signals == .all && arg == "a2" ? filter + ["!=\(SignalSelection.urg)"] : filter
                    let fields = conditions.map { "-F \(arg)\($0)" }.joined(separator: " ")
                    lines.append("-a always,exit -F arch=\(bits) -S \(names) \(fields) -k \(key)")
                }
            }
        }
        return lines
    }

    /// One entry per rule: the operator-and-value parts of the signal argument's fields.
    private var argumentFilters: [[String]] {
        switch signals {
        case .all, .allWithThreadURG:
            return [["!=0"]]
        case .only(let numbers):
            return Self.runs(numbers).map { r in r.lowerBound == r.upperBound ? ["=\(r.lowerBound)"] : [">=\(r.lowerBound)", "<=\(r.upperBound)"] }
        }
    }

    /// Sorted numbers as maximal runs of consecutive values.
    static func runs(_ sorted: [Int32]) -> [ClosedRange<Int32>] {
        var result: [ClosedRange<Int32>] = []
        for n in sorted {
            if let last = result.last, last.upperBound + 1 == n {
                result[result.count - 1] = last.lowerBound...n
            } else if result.last?.contains(n) != true {
                result.append(n...n)
            }
        }
        return result
    }

    /// The rules file: a header saying what made it and how to remove it, then the rules.
    public func fileText(generator: String = "killdb") -> String {
        let keyArgument = key == Self.defaultKey ? "" : " --key \(key)"
        return """
            # killdb audit rules: record signal-sending syscalls (kill, tkill, tgkill,
            # rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal), 64- and 32-bit senders.
            # Signals: \(signals.names). Key: \(key).
            # Generated by \(generator): killdb rules install --signals \(signals.argument)\(keyArgument)
            # Remove with: killdb rules remove\(keyArgument)   (deletes this file and unloads only these rules)
            # Keep kill, tkill and tgkill here: the kernel records a signal's target only while
            # some loaded rule names one of them.

            """ + rules.joined(separator: "\n") + "\n"
    }
}

extension String {
    var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    fileprivate func replacingPrefix(_ prefix: String) -> String {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self
    }
}
