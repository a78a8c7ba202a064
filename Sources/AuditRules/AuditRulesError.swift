/// What can go wrong generating, installing or checking rules, worded for the operator:
/// each message says what to do. The CLI reports these as usage/configuration errors (exit 2).
public enum AuditRulesError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownSignal(String)
    case invalidKey(String)
    case notRoot(action: String)
    case auditctlMissing
    /// `-e 2`: the kernel refuses rule changes until reboot. The file change already happened.
    case rulesLocked(fileChange: String)
    case auditctlFailed(command: String, status: Int32, output: String)
    /// `auditctl -R` refused killdb's rules; nothing was changed.
    case rulesRejected(output: String)
    case rulesDirectoryMissing(String)
    case fileNotWritten(path: String, reason: String)
    case fileNotRemoved(path: String, reason: String)
    case fileUnreadable(path: String, reason: String)
    /// The auditd plugin configuration cannot be written as asked.
    case pluginRefused(String)

    public var description: String {
        switch self {
        case .unknownSignal(let s):
            return "unknown signal \"\(s)\": give names or numbers (KILL, SIGTERM, 15, KILL,TERM,ABRT), all (every signal but 0 and SIGURG sent with tgkill) or all,URG"
        case .invalidKey(let k):
            return "invalid rule key \"\(k)\": use 1 to \(RuleSet.maxKeyLength) letters, digits, '-', '_', '.' or ':'"
        case .notRoot(let action):
            return "\(action) needs root (the kernel's audit rules and /etc/audit belong to root): run it with sudo"
        case .auditctlMissing:
            return "auditctl not found in /usr/sbin, /sbin, /usr/bin or /bin: install the auditd package: apt-get install auditd"
        case .rulesLocked(let change):
            return "the loaded rules are locked (-e 2) until reboot: \(change)"
        case .auditctlFailed(let command, let status, let output):
            let why = output.isEmpty ? "" : ": \(output)"
            return "`\(command)` failed (exit \(status))\(why)"
        case .rulesRejected(let output):
            return """
                auditctl rejected killdb's rules (\(output)); nothing was installed. An older auditctl may \
                not know pidfd_send_signal: upgrade the auditd package
                """
        case .rulesDirectoryMissing(let dir):
            return "\(dir) does not exist: install auditd (apt-get install auditd) or pass --rules-dir"
        case .fileNotWritten(let path, let reason):
            return "could not write \(path): \(reason)"
        case .fileNotRemoved(let path, let reason):
            return "could not remove \(path): \(reason)"
        case .fileUnreadable(let path, let reason):
            return "could not read \(path): \(reason)"
        case .pluginRefused(let why):
            return "the auditd plugin was not installed: \(why)"
        }
    }
}
