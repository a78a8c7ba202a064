import CAuparse
import Foundation

/// An audit `arch=` value (AUDIT_ARCH_* from linux/audit.h), e.g. 0xc000003e for x86_64.
/// It decides how the record's syscall number and signal number read.
public struct AuditArch: Hashable, Sendable {
    public let code: UInt32

    public init(code: UInt32) { self.code = code }

    public static let x86_64 = AuditArch(code: 0xc000_003e)
    public static let i386 = AuditArch(code: 0x4000_0003)
    public static let aarch64 = AuditArch(code: 0xc000_00b7)
    public static let arm = AuditArch(code: 0x4000_0028)
    public static let ppc64le = AuditArch(code: 0xc000_0015)
    public static let s390x = AuditArch(code: 0x8000_0016)
    public static let riscv64 = AuditArch(code: 0xc000_00f3)

    /// Parses the logged field: a hex code (`c000003e`, also with `0x`), or an arch name
    /// as pre-interpreted logs print it (`x86_64`). Unknown names, and the rule syntax
    /// `b64`/`b32` (not an arch), give nil; an unknown hex code is kept.
    ///
    /// ausearch prints `armeb` for both ARM endiannesses; it is taken as big-endian. The
    /// two number syscalls and signals alike, so at worst the name is off.
    public init?(field: some Collection<UInt8>) {
        guard let code = withBytes(field, Self.parseCode) else { return nil }
        self.code = code
    }

    public var name: String {
        if let t = traits { return t.name }
        let hex = String(code, radix: 16)
        return "unknown(0x\(String(repeating: "0", count: 8 - hex.count))\(hex))"
    }

    /// `__AUDIT_ARCH_64BIT`.
    public var is64Bit: Bool { code & 0x8000_0000 != 0 }

    public var isKnown: Bool { traits != nil }

    /// Which signal syscall `number` is on this arch; nil if none or the arch is unknown.
    /// On x86_64 this includes the x32 ABI, whose numbers carry bit 0x40000000.
    public func signalSyscall(number: Int) -> SignalSyscall? {
        guard let t = traits else { return nil }
        if code == Self.x86_64.code, number & Self.x32SyscallBit != 0 {
            return Traits.x32Numbers.firstIndex(of: number & ~Self.x32SyscallBit).map { SignalSyscall.tableOrder[$0] }
        }
        return t.numbers.firstIndex(of: number).map { SignalSyscall.tableOrder[$0] }
    }

    /// False when `number` is a signal syscall on no known arch (x32's included): most
    /// SYSCALL records of a busy log are told apart by this, before their arch is read.
    public static func maySignal(syscallNumber number: Int) -> Bool {
        let n = number & ~x32SyscallBit
        guard n >= 0, n < signalSyscallBits.count * 64 else { return false }
        return signalSyscallBits[n >> 6] & (1 << UInt64(n & 63)) != 0
    }

    private static let signalSyscallBits: [UInt64] = {
        let numbers = known.flatMap(\.traits.numbers) + Traits.x32Numbers
        var bits = [UInt64](repeating: 0, count: numbers.max()! / 64 + 1)
        for n in numbers { bits[n >> 6] |= 1 << UInt64(n & 63) }
        return bits
    }()

    /// The native syscall number on this arch (for x86_64 the 64-bit ABI's, not x32's).
    public func number(of syscall: SignalSyscall) -> Int? {
        traits?.numbers[syscall.tableIndex]
    }

    /// Syscall arguments are logged as raw register values; an int argument (pid,
    /// signal) is the low 32 bits, sign-extended: kill(-1) from a 64-bit process logs
    /// `a0=ffffffffffffffff`, from i386 `a0=ffffffff`.
    public static func intArgument(_ raw: UInt64) -> Int64 {
        Int64(Int32(truncatingIfNeeded: raw))
    }

    /// The signal's name on this arch: "SIGKILL", "SIGRTMIN+3". 32 and 33 are "SIG32" and
    /// "SIG33" (glibc keeps them, so its SIGRTMIN is 34); anything without a name,
    /// including 0 and every number on an unknown arch, is "SIG<n>".
    public func signalName(_ number: Int32) -> String {
        guard let numbering = traits?.signals else { return "SIG\(number)" }
        switch number {
        case 1..<Int32(numbering.names.count): return "SIG" + numbering.names[Int(number)]
        case Self.rtMin: return "SIGRTMIN"
        case (Self.rtMin + 1)...Self.rtMax: return "SIGRTMIN+\(number - Self.rtMin)"
        default: return "SIG\(number)"
        }
    }

    /// The inverse of `signalName`, accepting the spellings people type: "9", "KILL",
    /// "SIGKILL", "sigkill", "SIGRTMIN", "RTMIN+3", "SIGRTMAX-2", "SIG32", the aliases
    /// IOT, POLL and CLD. nil for an unknown name. It is on the arch because arches may
    /// number signals differently (mips, sparc, alpha).
    public func signalNumber(named name: String) -> Int32? {
        var s = Substring(name.uppercased())
        if s.hasPrefix("SIG"), s.count > 3 { s = s.dropFirst(3) }
        if let n = Int32(s) { return n }
        guard let numbering = traits?.signals else { return nil }
        if let i = numbering.names.firstIndex(where: { $0 == s }), i > 0 { return Int32(i) }
        if let n = numbering.aliases[String(s)] { return n }
        let span = Self.rtMax - Self.rtMin
        if s == "RTMIN" { return Self.rtMin }
        if s == "RTMAX" { return Self.rtMax }
        if s.hasPrefix("RTMIN+"), let n = Int32(s.dropFirst(6)), (0...span).contains(n) { return Self.rtMin + n }
        if s.hasPrefix("RTMAX-"), let n = Int32(s.dropFirst(6)), (0...span).contains(n) { return Self.rtMax - n }
        return nil
    }
}

// MARK: - Tables

extension AuditArch {
    /// What an arch needs to read a signal record. Arches sharing a syscall table share
    /// one value.
    private struct Traits: Sendable {
        var name: String
        /// Syscall numbers in `SignalSyscall.allCases` order.
        var numbers: [Int]
        var signals: SignalNumbering = .generic

        //                              kill tkill tgkill rt_sigqueueinfo rt_tgsigqueueinfo pidfd_send_signal
        static let x86_64Numbers = [62, 200, 234, 129, 297, 424]
        /// x86_64 x32 ABI, without the 0x40000000 bit; the rt_ calls have x32-only entries.
        static let x32Numbers = [62, 200, 234, 524, 536, 424]
        static let i386Numbers = [37, 238, 270, 178, 335, 424]
        static let genericNumbers = [129, 130, 131, 138, 240, 424]  // asm-generic: aarch64, riscv
        static let armNumbers = [37, 238, 268, 178, 363, 424]  // EABI
        static let ppcNumbers = [37, 208, 250, 177, 322, 424]
        static let s390Numbers = [37, 237, 241, 178, 330, 424]
    }

    private static let x32SyscallBit = 0x4000_0000
    /// The kernel's SIGRTMIN is 32, but glibc reserves 32 and 33, and people say
    /// SIGRTMIN for 34.
    private static let rtMin: Int32 = 34
    private static let rtMax: Int32 = 64

    private static let known: [(code: UInt32, traits: Traits)] = [
        (0xc000_003e, Traits(name: "x86_64", numbers: Traits.x86_64Numbers)),
        (0x4000_0003, Traits(name: "i386", numbers: Traits.i386Numbers)),
        (0xc000_00b7, Traits(name: "aarch64", numbers: Traits.genericNumbers)),
        (0x4000_0028, Traits(name: "arm", numbers: Traits.armNumbers)),
        (0x0000_0028, Traits(name: "armeb", numbers: Traits.armNumbers)),
        (0xc000_0015, Traits(name: "ppc64le", numbers: Traits.ppcNumbers)),
        (0x8000_0015, Traits(name: "ppc64", numbers: Traits.ppcNumbers)),
        (0x0000_0014, Traits(name: "ppc", numbers: Traits.ppcNumbers)),
        (0x8000_0016, Traits(name: "s390x", numbers: Traits.s390Numbers)),
        (0x0000_0016, Traits(name: "s390", numbers: Traits.s390Numbers)),
        (0xc000_00f3, Traits(name: "riscv64", numbers: Traits.genericNumbers)),
        (0x4000_00f3, Traits(name: "riscv32", numbers: Traits.genericNumbers)),
    ]

    /// Names as byte arrays, so parsing a field needs no String.
    private static let knownNames: [(name: [UInt8], code: UInt32)] = known.map { (Array($0.traits.name.utf8), $0.code) }

    private var traits: Traits? {
        // A linear scan of 12 entries beats hashing here.
        for entry in Self.known where entry.code == code { return entry.traits }
        return nil
    }

    private static func parseCode(_ b: UnsafeBufferPointer<UInt8>) -> UInt32? {
        // The rule syntax spells valid hex, and the kernel logs short codes unpadded
        // (ppc is `arch=14`), so these two need naming.
        if b.elementsEqual("b64".utf8) || b.elementsEqual("b32".utf8) { return nil }
        if let v = AuditField.hexUInt64(bytes: b) { return UInt32(exactly: v) }
        for entry in knownNames where b.elementsEqual(entry.name) { return entry.code }
        return nil
    }
}

/// How an arch numbers signals 1...31. All arches known so far use the asm-generic
/// numbering; mips, sparc, alpha and parisc would each need their own.
private enum SignalNumbering: Sendable {
    case generic

    /// Names without "SIG", indexed by number; index 0 is unused.
    var names: [String] {
        switch self {
        case .generic: Self.genericNames
        }
    }

    var aliases: [String: Int32] {
        switch self {
        case .generic: Self.genericAliases
        }
    }

    private static let genericAliases: [String: Int32] = ["IOT": 6, "POLL": 29, "CLD": 17]

    private static let genericNames = [
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1",
        "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP",
        "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ]
}

/// The syscalls that send a signal to another process or thread.
public enum SignalSyscall: String, CaseIterable, Sendable {
    case kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal

    /// Which of a0...a3 holds the signal number.
    public var signalArgumentIndex: Int {
        switch self {
        case .kill, .tkill, .rt_sigqueueinfo, .pidfd_send_signal: 1
        case .tgkill, .rt_tgsigqueueinfo: 2
        }
    }

    /// The syscall named in a pre-interpreted log (`syscall=kill`).
    public init?(name: some Collection<UInt8>) {
        let index = withBytes(name) { b in Self.tableOrder.firstIndex { b.elementsEqual($0.rawValue.utf8) } }
        guard let index else { return nil }
        self = Self.tableOrder[index]
    }

    /// The order of the per-arch number tables; stored, as `allCases` builds an array per call.
    fileprivate static let tableOrder = allCases

    fileprivate var tableIndex: Int {
        switch self {
        case .kill: 0
        case .tkill: 1
        case .tgkill: 2
        case .rt_sigqueueinfo: 3
        case .rt_tgsigqueueinfo: 4
        case .pidfd_send_signal: 5
        }
    }
}

extension AuditArch {
    /// The arch this binary runs on: the one the kernel's syscall numbers are for.
    public static var native: AuditArch {
        #if arch(x86_64)
        .x86_64
        #elseif arch(arm64)
        .aarch64
        #else
        AuditArch(code: 0)
        #endif
    }
}


// MARK: - execve, from libaudit's tables

extension AuditArch {
    /// True when `number` is execve or execveat on this arch, by libaudit's syscall tables
    /// (resolved once per arch, at first use): an arch libaudit does not know has none.
    public func isExecve(syscallNumber number: Int) -> Bool {
        for entry in Self.execveNumbers where entry.code == code { return entry.numbers.contains(number) }
        return false
    }

    /// False when `number` is execve or execveat on no arch libaudit knows: most SYSCALL
    /// records of a busy log are ruled out by this, before their arch is read.
    public static func mayExecve(syscallNumber number: Int) -> Bool {
        number >= 0 && number < execveBits.count * 64 && execveBits[number >> 6] & (1 << UInt64(number & 63)) != 0
    }

    /// Per arch code, execve's and execveat's numbers: every arch killdb names and every
    /// machine libaudit has tables for.
    static let execveNumbers: [(code: UInt32, numbers: [Int])] = {
        SignalEventDecoder.auparseLock.lock()
        defer { SignalEventDecoder.auparseLock.unlock() }
        var codes = known.map(\.code)
        // libaudit's machines are numbered from 0; a gap is an arch this build left out.
        for machine in Int32(0)..<64 where audit_machine_to_name(machine) != nil {
            let code = UInt32(truncatingIfNeeded: audit_machine_to_elf(machine))
            if code != 0, !codes.contains(code) { codes.append(code) }
        }
        return codes.compactMap { code in
            let machine = audit_elf_to_machine(code)
            guard machine >= 0 else { return nil }
            let numbers = [Int(audit_name_to_syscall("execve", machine)), Int(audit_name_to_syscall("execveat", machine))]
                .filter { $0 >= 0 }
            return numbers.isEmpty ? nil : (code, numbers)
        }
    }()

    private static let execveBits: [UInt64] = {
        let numbers = execveNumbers.flatMap(\.numbers)
        var bits = [UInt64](repeating: 0, count: (numbers.max() ?? 0) / 64 + 1)
        for n in numbers { bits[n >> 6] |= 1 << UInt64(n & 63) }
        return bits
    }()
}
