import CAuparse
import Foundation

/// A SECCOMP record in the words `ausearch -i` uses: `arch=i386 syscall=getpgid code=kill`.
/// The tables are the audit project's own, never copied here: libaudit's syscall tables by
/// machine (the record's arch, not this host's: syscall 132 is getpgid on i386, utime on
/// x86_64) and libauparse's interpretation of `code` (kill, kill_process, trap, errno ...).
/// libauparse 3.0's own interpretation of a SECCOMP record's `syscall` ignores its arch
/// (it prints `unknown-syscall(-1)`), so the syscall is named through libaudit directly.
public struct SeccompWords: Sendable, Equatable {
    /// `getpgid`; nil when libaudit has no name for the number on that arch.
    public var syscall: String?
    /// `i386`, as ausearch names the arch; nil for an arch libaudit does not know.
    public var arch: String?
    /// The filter's action: `kill`, `kill_process`, `trap`, `errno`, `log` ...
    public var action: String?

    public init(syscall: String?, arch: String?, action: String?) {
        self.syscall = syscall
        self.arch = arch
        self.action = action
    }

    /// The syscall `number` on the arch whose AUDIT_ARCH_* code is `arch`, as libaudit names it.
    public static func syscallName(_ number: Int64, arch: UInt32) -> String? {
        guard let n = Int32(exactly: number) else { return nil }
        SignalEventDecoder.auparseLock.lock()
        defer { SignalEventDecoder.auparseLock.unlock() }
        let machine = audit_elf_to_machine(arch)
        guard machine >= 0, let name = audit_syscall_to_name(n, machine) else { return nil }
        return String(cString: name)
    }

    /// The arch's name as libaudit gives it (`x86_64`, `i386`, `aarch64`).
    public static func archName(_ arch: UInt32) -> String? {
        SignalEventDecoder.auparseLock.lock()
        defer { SignalEventDecoder.auparseLock.unlock() }
        let machine = audit_elf_to_machine(arch)
        guard machine >= 0, let name = audit_machine_to_name(machine) else { return nil }
        return String(cString: name)
    }

    /// The record's `code` (`0x80000000`) as libauparse interprets it; nil if it has none.
    public static func action(ofRecord line: some Collection<UInt8>) -> String? {
        // A NUL would end the C string early, a newline start another record.
        var text = Array(line.lazy.map { $0 == 0 || $0 == 0x0a ? 0x20 : $0 })
        text.append(0x0a)
        text.append(0)
        SignalEventDecoder.auparseLock.lock()
        defer { SignalEventDecoder.auparseLock.unlock() }
        return text.withUnsafeBufferPointer { b -> String? in
            guard let au = b.baseAddress.flatMap({ auparse_init(AUSOURCE_BUFFER, UnsafeRawPointer($0)) }) else { return nil }
            defer { auparse_destroy(au) }
            auparse_set_escape_mode(au, AUPARSE_ESC_RAW)
            guard auparse_next_event(au) > 0, auparse_find_field(au, "code") != nil,
                  let v = auparse_interpret_field(au) else { return nil }
            let word = String(cString: v)
            return word.isEmpty ? nil : word
        }
    }

    /// The record's words, given its syscall and arch fields and the whole record line.
    public static func of(record line: some Collection<UInt8>, syscall: Int64?, arch: UInt32?) -> SeccompWords {
        SeccompWords(syscall: syscall.flatMap { s in arch.flatMap { syscallName(s, arch: $0) } },
                     arch: arch.flatMap(archName), action: action(ofRecord: line))
    }

    /// `arch=i386 syscall=getpgid code=kill`, as `ausearch -i` prints these fields; a number
    /// where there is no name.
    public func fields(syscallNumber: Int64?, archCode: UInt32?) -> String {
        var out: [String] = []
        if let a = arch ?? archCode.map({ String($0, radix: 16) }) { out.append("arch=" + a) }
        if let s = syscall ?? syscallNumber.map(String.init) { out.append("syscall=" + s) }
        if let a = action { out.append("code=" + a) }
        return out.joined(separator: " ")
    }
}
