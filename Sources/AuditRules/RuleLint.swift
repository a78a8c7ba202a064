import AuditDecoding

/// A problem with the loaded audit rules, for recording who sends signals.
public struct RuleFinding: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// A signal filter on a1 for tgkill/rt_tgsigqueueinfo, or on a2 for the others.
        case signalFilterOnWrongArgument
        /// A 64-bit rule with no 32-bit twin.
        case missing32BitTwin
        /// rt_sigqueueinfo & co. audited but no rule names kill, tkill or tgkill: no OBJ_PID.
        case targetNotRecorded
        /// A rule that also records signal 0 (liveness probes).
        case probesRecorded
        /// No rule records any signal syscall.
        case noSignalRules
        /// Some signal syscall is audited on an arch, but not all of them are.
        case syscallNotAudited
        /// A rule that records SIGURG sent with tgkill or rt_tgsigqueueinfo (Go's preemption).
        case threadURGRecorded
    }

    public var kind: Kind
    /// The offending rule, as listed; nil for findings about the set as a whole.
    public var rule: String?
    /// What is wrong and what to change.
    public var message: String

    public var description: String {
        rule.map { "\(message)\n    rule: \($0)" } ?? message
    }
}

/// Checks audit rules (the lines of `auditctl -l`, or a rules file) for what would make
/// killdb miss or misread signals. Pure: it reads text only.
public enum RuleLint {
    public static func findings(in text: String) -> [RuleFinding] {
        findings(in: text.split(whereSeparator: \.isNewline).map(String.init))
    }

    public static func findings(in lines: [String]) -> [RuleFinding] {
        let rules = lines.compactMap(AuditRule.init)
        let recording = rules.filter { $0.records && !$0.signalSyscalls.isEmpty }
        guard !recording.isEmpty else {
            return [RuleFinding(kind: .noSignalRules, rule: nil, message: """
                no loaded rule records signal syscalls, so no signal is logged: run `killdb rules install` \
                (or `killdb rules print` and load the rules yourself)
                """)]
        }
        var found: [RuleFinding] = []
        for rule in recording {
            found += wrongArgument(rule)
            found += probes(rule)
            found += threadURG(rule)
            found += missingTwin(rule, among: recording)
        }
        found += targetLost(rules)
        found += unaudited(recording)
        return found
    }

    private static func names(_ syscalls: some Sequence<SignalSyscall>) -> String {
        SignalSyscall.allCases.filter(Set(syscalls).contains).map(\.rawValue).joined(separator: ",")
    }

    private static func argumentFields(_ rule: AuditRule, _ index: Int) -> [AuditRule.Field] {
        rule.fields.filter { $0.name == "a\(index)" }
    }

    /// (1) The signal is a1 for kill, tkill, rt_sigqueueinfo, pidfd_send_signal and a2 for
    /// tgkill, rt_tgsigqueueinfo (a1 is the thread id there). A filter on the other argument
    /// tests the wrong value: SIGKILLs slip through, other events get in.
    private static func wrongArgument(_ rule: AuditRule) -> [RuleFinding] {
        var found: [RuleFinding] = []
        for (arg, other) in [(1, 2), (2, 1)] {
            let misfiltered = rule.signalSyscalls.filter { $0.signalArgumentIndex == other }
            guard !misfiltered.isEmpty, !argumentFields(rule, arg).isEmpty else { continue }
            let otherFilter = argumentFields(rule, arg).map { "-F a\(other)\($0.op)\($0.value)" }.joined(separator: " ")
            found.append(RuleFinding(kind: .signalFilterOnWrongArgument, rule: rule.text, message: """
                filters a\(arg), but for \(names(misfiltered)) the signal is a\(other): the filter tests another \
                argument, so their SIGKILLs can slip through; split the rule, filtering \(names(misfiltered)) with \(otherFilter)
                """))
        }
        return found
    }

    /// (4) A rule whose signal-argument filters let 0 through records every kill(pid, 0)
    /// probe. A deliberate `=` filter (a1=0, a1=9) is not an all-signals rule.
    private static func probes(_ rule: AuditRule) -> [RuleFinding] {
        var found: [RuleFinding] = []
        for arg in [1, 2] {
            let syscalls = rule.signalSyscalls.filter { $0.signalArgumentIndex == arg }
            let filters = argumentFields(rule, arg)
            guard !syscalls.isEmpty, !filters.contains(where: { $0.op == "=" }),
                  filters.allSatisfy({ $0.admits(0) }) else { continue }
            found.append(RuleFinding(kind: .probesRecorded, rule: rule.text, message: """
                records signal 0 for \(names(syscalls)): kill(pid, 0) liveness probes flood the log; \
                add -F a\(arg)!=0 (its signal argument)\(rule.signalSyscalls.count > syscalls.count ? " in a rule of their own" : "")
                """))
        }
        return found
    }

    /// (7) Go's runtime preempts goroutines with tgkill(getpid(), tid, SIGURG): 85–440 events a
    /// second from one busy program, which floods the log and shortens its retention. A rule
    /// already flagged for recording signal 0 is left to that finding (its fix comes first).
    private static func threadURG(_ rule: AuditRule) -> [RuleFinding] {
        let syscalls = rule.signalSyscalls.filter { $0.signalArgumentIndex == 2 }
        let filters = argumentFields(rule, 2)
        let urg = UInt32(SignalSelection.urg)
        guard !syscalls.isEmpty, filters.allSatisfy({ $0.admits(urg) }),
              !(!filters.contains(where: { $0.op == "=" }) && filters.allSatisfy({ $0.admits(0) })),
              !filters.contains(where: { $0.op == "=" && $0.argumentValue == urg }) else { return [] }
        return [RuleFinding(kind: .threadURGRecorded, rule: rule.text, message: """
            records SIGURG sent with \(names(syscalls)): Go programs preempt their own threads that way, \
            hundreds of events a second, which floods the log and shortens how long auditd keeps it; \
            add -F a2!=\(urg) (`killdb rules install --signals all` does), unless SIGURG is what you are after
            """)]
    }

    /// (2) The kernel matches a rule against one ABI only: a b64 rule misses 32-bit
    /// processes, which need the same rule with arch=b32. A rule without arch is taken as
    /// 64-bit (its syscall numbers are the native ones).
    private static func missingTwin(_ rule: AuditRule, among rules: [AuditRule]) -> [RuleFinding] {
        guard rule.arch != .b32, rule.archName == nil else { return [] }
        let fields = Set(rule.fields.map(\.canonical))
        let twins = rules.filter { $0.arch == .b32 && Set($0.fields.map(\.canonical)) == fields }
        let missing = rule.signalSyscalls.filter { s in !twins.contains { $0.signalSyscalls.contains(s) } }
        guard !missing.isEmpty else { return [] }
        let extra = rule.fields.map { " -F \($0.name)\($0.op)\($0.value)" }.joined()
        let noArch = rule.arch == nil ? " and give this rule -F arch=b64" : ""
        return [RuleFinding(kind: .missing32BitTwin, rule: rule.text, message: """
            has no 32-bit twin, so 32-bit senders of \(names(missing)) go unrecorded: add \
            -a always,exit -F arch=b32 -S \(names(missing))\(extra)\(noArch)
            """)]
    }

    /// (3) The kernel records a signal's target (OBJ_PID) only while some loaded rule, of
    /// any arch or action, names kill, tkill or tgkill (its `audit_signals` count).
    private static func targetLost(_ rules: [AuditRule]) -> [RuleFinding] {
        let classic: Set<SignalSyscall> = [.kill, .tkill, .tgkill]
        guard !rules.contains(where: { !$0.signalSyscalls.isDisjoint(with: classic) }) else { return [] }
        return rules.filter { $0.records && !$0.signalSyscalls.isEmpty }.map { rule in
            RuleFinding(kind: .targetNotRecorded, rule: rule.text, message: """
                audits \(names(rule.signalSyscalls)) but no loaded rule names kill, tkill or tgkill, and \
                only then does the kernel record the target (OBJ_PID): the target is lost; also audit \
                kill,tkill (signal a1) and tgkill (signal a2)
                """)
        }
    }

    /// (6) Every signal syscall can kill: on an arch that audits some, a missing one is a
    /// way to kill unseen (pidfd_send_signal is the one usually forgotten).
    private static func unaudited(_ rules: [AuditRule]) -> [RuleFinding] {
        var found: [RuleFinding] = []
        for bits in [AuditRule.Bits.b64, .b32] {
            let ofArch = rules.filter { ($0.arch ?? .b64) == bits && $0.archName == nil }
            guard !ofArch.isEmpty else { continue }
            let missing = Set(SignalSyscall.allCases).subtracting(ofArch.flatMap(\.signalSyscalls))
            guard !missing.isEmpty else { continue }
            found.append(RuleFinding(kind: .syscallNotAudited, rule: nil, message: """
                \(names(missing)) \(missing.count == 1 ? "is" : "are") not audited for arch=\(bits.rawValue): \
                signals sent through \(missing.count == 1 ? "it" : "them") go unrecorded; add them \
                (`killdb rules print` shows complete rules)
                """))
        }
        return found
    }
}
