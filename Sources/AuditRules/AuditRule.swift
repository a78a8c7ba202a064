import AuditDecoding

/// One audit rule as `auditctl -l` prints it or a rules file spells it, parsed enough to
/// lint signal rules and to compare a file with what is loaded.
///
/// `auditctl -l` normalises what was loaded: `-k K` becomes `-F key=K`, argument values turn
/// hex (`a1=9` → `a1=0x9`, `a1!=0` → `a1!=0x0`), and syscalls are listed in syscall-number
/// order (`-S kill,rt_sigqueueinfo,tkill,pidfd_send_signal`).
public struct AuditRule: Sendable, Equatable {
    public struct Field: Sendable, Hashable {
        public var name: String
        public var op: String
        public var value: String

        /// An argument field's value as the kernel compares it: the low 32 bits.
        var argumentValue: UInt32? {
            guard name.count == 2, name.hasPrefix("a"), let i = Int(name.dropFirst()), (0...3).contains(i) else { return nil }
            let v = value.lowercased()
            if v.hasPrefix("0x") { return UInt64(v.dropFirst(2), radix: 16).map { UInt32(truncatingIfNeeded: $0) } }
            if v.hasPrefix("-") { return Int64(v).map { UInt32(truncatingIfNeeded: $0) } }
            return UInt64(v).map { UInt32(truncatingIfNeeded: $0) }
        }

        /// Whether `x` passes this field, with the kernel's comparators (`&` is "any bit
        /// set", `&=` "all bits set").
        func admits(_ x: UInt32) -> Bool {
            guard let v = argumentValue else { return true }
            switch op {
            case "=": return x == v
            case "!=": return x != v
            case "<": return x < v
            case ">": return x > v
            case "<=": return x <= v
            case ">=": return x >= v
            case "&": return x & v != 0
            case "&=": return x & v == v
            default: return true
            }
        }

        /// Equal meaning: argument values compare as numbers, anything else as text.
        var canonical: String {
            if let v = argumentValue { return "\(name)\(op)\(v)" }
            return "\(name)\(op)\(value)"
        }
    }

    public enum Bits: String, Sendable { case b64, b32 }

    /// The line as given.
    public var text: String
    /// `-a always,exit` → action `always`, list `exit`; nil for watches (`-w`) and other lines.
    public var action: String?
    public var list: String?
    public var arch: Bits?
    /// The arch as written when it is neither b64 nor b32 (`x86_64`, `i386`, a hex code).
    public var archName: String?
    /// `-S all`.
    public var allSyscalls = false
    /// Syscall names as listed (numbers as written when unknown).
    public var syscallNames: [String] = []
    /// `-F` fields other than arch and key.
    public var fields: [Field] = []
    public var keys: [String] = []

    /// The signal syscalls this rule names, including through `-S all`.
    public var signalSyscalls: Set<SignalSyscall> {
        if allSyscalls { return Set(SignalSyscall.allCases) }
        return Set(syscallNames.compactMap { Self.signalSyscall($0, arch: arch, archName: archName) })
    }

    public var isExitRule: Bool { list == "exit" }
    public var records: Bool { isExitRule && action == "always" }

    /// Parses one line; nil for blank lines, comments and auditctl's "No rules".
    public init?(_ line: String) {
        let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = tokens.first, first.hasPrefix("-") else { return nil }
        text = line.trimmingWhitespace
        var i = 0
        func next() -> String? {
            i += 1
            return i < tokens.count ? tokens[i] : nil
        }
        while i < tokens.count {
            let t = tokens[i]
            switch t {
            case "-a", "-A":
                if let v = next() {
                    let parts = v.split(separator: ",").map(String.init)
                    // The list and action may come in either order (`exit,always` is old style).
                    let lists: Set<String> = ["exit", "task", "user", "exclude", "filesystem", "io_uring", "entry"]
                    list = parts.first(where: lists.contains)
                    action = parts.first(where: { !lists.contains($0) })
                }
            case "-S":
                if let v = next() {
                    for name in v.split(separator: ",").map(String.init) {
                        if name == "all" { allSyscalls = true } else { syscallNames.append(name) }
                    }
                }
            case "-F":
                if let v = next(), let f = Self.field(v) {
                    switch f.name {
                    case "arch":
                        arch = Bits(rawValue: f.value)
                        if arch == nil { archName = f.value }
                    case "key": keys.append(f.value)
                    default: fields.append(f)
                    }
                }
            case "-k":
                if let v = next() { keys.append(v) }
            case "-w", "-p", "-C", "-W":
                _ = next()
            default:
                break
            }
            i += 1
        }
    }

    /// Splits `a1!=0x0` into name, operator and value.
    static func field(_ s: String) -> Field? {
        guard let start = s.firstIndex(where: { "=!<>&".contains($0) }) else { return nil }
        let rest = s[start...]
        let op = ["!=", "<=", ">=", "&=", "=", "<", ">", "&"].first { rest.hasPrefix($0) } ?? "="
        return Field(name: String(s[..<start]), op: op, value: String(rest.dropFirst(op.count)))
    }

    /// A syscall named or numbered in a rule, when it sends signals. Numbers are read with
    /// the rule's arch (b64 → x86_64, b32 → i386; no arch: the native x86_64 table).
    static func signalSyscall(_ token: String, arch: Bits?, archName: String?) -> SignalSyscall? {
        if let s = SignalSyscall(name: Array(token.utf8)) { return s }
        guard let n = Int(token) else { return nil }
        let table: AuditArch? = switch arch {
        case .b32: .i386
        case .b64, nil: archName.flatMap { AuditArch(field: Array($0.utf8)) } ?? .x86_64
        }
        return table?.signalSyscall(number: n)
    }

    /// Equal for rules with the same meaning, however each was spelt: a rules file line
    /// and the `auditctl -l` line it loads as have the same canonical form.
    public var canonical: String {
        var parts = ["\(action ?? "")/\(list ?? "")", "arch=\(arch?.rawValue ?? archName ?? "")"]
        let syscalls = allSyscalls ? ["all"] : syscallNames.map { Self.signalSyscall($0, arch: arch, archName: archName)?.rawValue ?? $0 }
        parts.append("S=" + syscalls.sorted().joined(separator: ","))
        parts.append(contentsOf: fields.map(\.canonical).sorted())
        parts.append("keys=" + keys.sorted().joined(separator: ","))
        if action == nil { parts.append(text) }  // watches and the like: only exact text matches
        return parts.joined(separator: " ")
    }
}
