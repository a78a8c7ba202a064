import AuditDecoding
import Foundation
import Testing

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

private func arch(_ field: String) -> AuditArch? { AuditArch(field: bytes(field)) }

/// Every arch with its expected numbers, in `SignalSyscall.allCases` order.
private let syscallTable: [(name: String, code: UInt32, numbers: [Int])] = [
    ("x86_64", 0xc000_003e, [62, 200, 234, 129, 297, 424]),
    ("i386", 0x4000_0003, [37, 238, 270, 178, 335, 424]),
    ("aarch64", 0xc000_00b7, [129, 130, 131, 138, 240, 424]),
    ("riscv64", 0xc000_00f3, [129, 130, 131, 138, 240, 424]),
    ("riscv32", 0x4000_00f3, [129, 130, 131, 138, 240, 424]),
    ("arm", 0x4000_0028, [37, 238, 268, 178, 363, 424]),
    ("armeb", 0x0000_0028, [37, 238, 268, 178, 363, 424]),
    ("ppc", 0x0000_0014, [37, 208, 250, 177, 322, 424]),
    ("ppc64", 0x8000_0015, [37, 208, 250, 177, 322, 424]),
    ("ppc64le", 0xc000_0015, [37, 208, 250, 177, 322, 424]),
    ("s390", 0x0000_0016, [37, 237, 241, 178, 330, 424]),
    ("s390x", 0x8000_0016, [37, 237, 241, 178, 330, 424]),
]

@Suite("Audit arch: a record's arch decides which syscall and signal its numbers mean")
struct AuditArchSpec {
    @Test("each arch maps each signal syscall to its number and back", arguments: syscallTable)
    func syscallNumbers(entry: (name: String, code: UInt32, numbers: [Int])) throws {
        let a = AuditArch(code: entry.code)
        #expect(a.isKnown)
        #expect(a.name == entry.name)
        #expect(arch(entry.name) == a, "the pre-interpreted name parses to the same arch")
        for (syscall, number) in zip(SignalSyscall.allCases, entry.numbers) {
            #expect(a.number(of: syscall) == number, "\(entry.name) \(syscall)")
            #expect(a.signalSyscall(number: number) == syscall, "\(entry.name) \(number)")
        }
        #expect(a.signalSyscall(number: 0) == nil)
        #expect(a.signalSyscall(number: 59) == nil)  // execve on x86_64
    }

    @Test("the same number is a different syscall on a different arch")
    func numbersAreArchSpecific() {
        #expect(AuditArch.x86_64.signalSyscall(number: 129) == .rt_sigqueueinfo)
        #expect(AuditArch.aarch64.signalSyscall(number: 129) == .kill)
        #expect(AuditArch.x86_64.signalSyscall(number: 62) == .kill)
        #expect(AuditArch.i386.signalSyscall(number: 62) == nil)  // ustat
        #expect(AuditArch.i386.signalSyscall(number: 37) == .kill)
        #expect(AuditArch.aarch64.signalSyscall(number: 37) == nil)
    }

    @Test("x86_64 x32-ABI calls carry bit 0x40000000 and have their own rt_ numbers")
    func x32() {
        let bit = 0x4000_0000
        #expect(AuditArch.x86_64.signalSyscall(number: bit + 62) == .kill)
        #expect(AuditArch.x86_64.signalSyscall(number: bit + 234) == .tgkill)
        #expect(AuditArch.x86_64.signalSyscall(number: bit + 524) == .rt_sigqueueinfo)
        #expect(AuditArch.x86_64.signalSyscall(number: bit + 536) == .rt_tgsigqueueinfo)
        #expect(AuditArch.x86_64.signalSyscall(number: bit + 129) == nil, "64-bit-only entry")
        #expect(AuditArch.x86_64.number(of: .rt_sigqueueinfo) == 129, "the native number")
        #expect(AuditArch.i386.signalSyscall(number: bit + 37) == nil)
    }

    @Test("an unknown arch reads no syscall and names signals by number")
    func unknownArch() {
        let mips = AuditArch(code: 0x4000_0008)
        #expect(!mips.isKnown)
        #expect(mips.name == "unknown(0x40000008)")
        #expect(AuditArch(code: 0xabcd).name == "unknown(0x0000abcd)")
        #expect(mips.signalSyscall(number: 4037) == nil)
        #expect(SignalSyscall.allCases.allSatisfy { mips.number(of: $0) == nil })
        #expect(mips.signalName(9) == "SIG9")
        #expect(mips.signalNumber(named: "SIGKILL") == nil)
        #expect(mips.signalNumber(named: "9") == 9)
    }

    @Test("the arch field parses as hex, with or without 0x, or as a name")
    func parsesField() {
        #expect(arch("c000003e") == .x86_64)
        #expect(arch("C000003E") == .x86_64)
        #expect(arch("0xc000003e") == .x86_64)
        #expect(arch("40000003") == .i386)
        #expect(arch("x86_64") == .x86_64)
        #expect(arch("i386") == .i386)
        #expect(arch("aarch64") == .aarch64)
        #expect(arch("arm") == .arm)
        #expect(arch("armeb") == AuditArch(code: 0x28))
        #expect(arch("ppc64le") == .ppc64le)
        #expect(arch("ppc64") == AuditArch(code: 0x8000_0015))
        #expect(arch("ppc") == AuditArch(code: 0x14))
        #expect(arch("s390x") == .s390x)
        #expect(arch("s390") == AuditArch(code: 0x16))
        #expect(arch("riscv64") == .riscv64)
        #expect(arch("riscv32") == AuditArch(code: 0x4000_00f3))
        #expect(arch("14") == AuditArch(code: 0x14), "the kernel logs %x, unpadded: ppc is arch=14")
        #expect(arch("0000abcd") == AuditArch(code: 0xabcd), "an unknown code is kept")
        for bad in ["b64", "b32", "", "0x", "mips", "X86_64", "1c000003e", "c000003e ", "-1"] {
            #expect(arch(bad) == nil, "\(bad)")
        }
        let field = bytes("arch=c000003e syscall=62")[5..<13]
        #expect(AuditArch(field: field) == .x86_64, "an ArraySlice")
        bytes("aarch64").withUnsafeBufferPointer { #expect(AuditArch(field: $0) == .aarch64) }
    }

    @Test("64-bit arches have bit 0x80000000")
    func bitness() {
        #expect(AuditArch.x86_64.is64Bit && AuditArch.aarch64.is64Bit && AuditArch.s390x.is64Bit)
        #expect(AuditArch.ppc64le.is64Bit && AuditArch.riscv64.is64Bit && arch("ppc64")!.is64Bit)
        #expect(!AuditArch.i386.is64Bit && !AuditArch.arm.is64Bit && !arch("s390")!.is64Bit)
        #expect(!arch("ppc")!.is64Bit && !arch("riscv32")!.is64Bit && !arch("armeb")!.is64Bit)
    }

    @Test("int arguments are the low 32 bits, sign-extended")
    func intArgument() {
        #expect(AuditArch.intArgument(0xffff_ffff_ffff_ffff) == -1, "kill(-1) from a 64-bit process")
        #expect(AuditArch.intArgument(0xffff_ffff) == -1, "kill(-1) from i386")
        #expect(AuditArch.intArgument(0xffff_ffff_ffff_fc18) == -1000, "a process group")
        #expect(AuditArch.intArgument(9) == 9)
        #expect(AuditArch.intArgument(0x7fff_ffff) == Int64(Int32.max))
        #expect(AuditArch.intArgument(0x8000_0000) == Int64(Int32.min))
        #expect(AuditArch.intArgument(0xdead_beef_0000_0009) == 9, "stale upper register bits")
    }
}

@Suite("Signal names: numbers read the way operators and kill(1) spell them")
struct SignalNameSpec {
    static let classic: [(Int32, String)] = [
        (1, "SIGHUP"), (2, "SIGINT"), (3, "SIGQUIT"), (4, "SIGILL"), (5, "SIGTRAP"), (6, "SIGABRT"),
        (7, "SIGBUS"), (8, "SIGFPE"), (9, "SIGKILL"), (10, "SIGUSR1"), (11, "SIGSEGV"), (12, "SIGUSR2"),
        (13, "SIGPIPE"), (14, "SIGALRM"), (15, "SIGTERM"), (16, "SIGSTKFLT"), (17, "SIGCHLD"),
        (18, "SIGCONT"), (19, "SIGSTOP"), (20, "SIGTSTP"), (21, "SIGTTIN"), (22, "SIGTTOU"),
        (23, "SIGURG"), (24, "SIGXCPU"), (25, "SIGXFSZ"), (26, "SIGVTALRM"), (27, "SIGPROF"),
        (28, "SIGWINCH"), (29, "SIGIO"), (30, "SIGPWR"), (31, "SIGSYS"),
    ]

    @Test("1...31 have their classic names on every known arch")
    func classicNames() {
        for code in syscallTable.map(\.code) {
            let a = AuditArch(code: code)
            for (n, name) in Self.classic { #expect(a.signalName(n) == name, "\(a.name) \(n)") }
        }
    }

    @Test("SIGPWR is spelled right (ausearch prints IGPWR)")
    func pwr() {
        #expect(AuditArch.x86_64.signalName(30) == "SIGPWR")
    }

    @Test("realtime and unnamed numbers")
    func realtime() {
        let a = AuditArch.x86_64
        #expect(a.signalName(32) == "SIG32")
        #expect(a.signalName(33) == "SIG33")
        #expect(a.signalName(34) == "SIGRTMIN")
        #expect(a.signalName(35) == "SIGRTMIN+1")
        #expect(a.signalName(37) == "SIGRTMIN+3")
        #expect(a.signalName(64) == "SIGRTMIN+30")
        #expect(a.signalName(65) == "SIG65")
        #expect(a.signalName(0) == "SIG0")
        #expect(a.signalName(-1) == "SIG-1")
        #expect(a.signalName(Int32.max) == "SIG2147483647")
    }

    @Test("names parse back in every spelling people type")
    func parsing() {
        let a = AuditArch.aarch64
        let cases: [(String, Int32?)] = [
            ("9", 9), ("KILL", 9), ("SIGKILL", 9), ("sigkill", 9), ("Kill", 9), ("SIG9", 9),
            ("SIGRTMIN", 34), ("RTMIN", 34), ("SIGRTMIN+3", 37), ("RTMIN+3", 37), ("SIGRTMIN+30", 64),
            ("SIGRTMAX", 64), ("RTMAX-2", 62), ("SIG32", 32), ("0", 0), ("SIG0", 0),
            ("IOT", 6), ("SIGPOLL", 29), ("CLD", 17), ("SIGPWR", 30), ("STKFLT", 16),
            ("SIGRTMIN+31", nil), ("RTMIN-1", nil), ("RTMIN+", nil), ("IGPWR", nil), ("SIG", nil),
            ("", nil), ("SIGFOO", nil), ("99999999999", nil),
        ]
        for (text, number) in cases { #expect(a.signalNumber(named: text) == number, "\(text)") }
    }

    @Test("signalNumber(named:) inverts signalName")
    func roundTrip() {
        for arch in [AuditArch.x86_64, .arm, AuditArch(code: 0x1234)] {
            for n in Int32(-3)...70 { #expect(arch.signalNumber(named: arch.signalName(n)) == n, "\(arch.name) \(n)") }
        }
    }
}

@Suite("Signal syscalls: names in pre-interpreted logs, and where the signal argument is")
struct SignalSyscallSpec {
    @Test func names() {
        for s in SignalSyscall.allCases { #expect(SignalSyscall(name: bytes(s.rawValue)) == s) }
        #expect(SignalSyscall(name: bytes("kill")) == .kill)
        #expect(SignalSyscall(name: bytes("KILL")) == nil)
        #expect(SignalSyscall(name: bytes("killall")) == nil)
        #expect(SignalSyscall(name: bytes("")) == nil)
        #expect(SignalSyscall(name: bytes("62")) == nil)
    }

    @Test func signalArgument() {
        #expect(SignalSyscall.kill.signalArgumentIndex == 1)
        #expect(SignalSyscall.tkill.signalArgumentIndex == 1)
        #expect(SignalSyscall.rt_sigqueueinfo.signalArgumentIndex == 1)
        #expect(SignalSyscall.pidfd_send_signal.signalArgumentIndex == 1)
        #expect(SignalSyscall.tgkill.signalArgumentIndex == 2)
        #expect(SignalSyscall.rt_tgsigqueueinfo.signalArgumentIndex == 2)
    }
}

@Suite("Field values: how the kernel encodes strings, numbers and ids")
struct AuditFieldSpec {
    private func string(_ s: String) -> [UInt8]? { AuditField.decodeString(bytes(s)) }

    @Test("quoted strings are the bytes between the quotes")
    func quoted() {
        #expect(string("\"sleep\"") == bytes("sleep"))
        #expect(string("\"\"") == [])
        #expect(string("\"/usr/bin/kill\"") == bytes("/usr/bin/kill"))
        #expect(string("\"(null)\"") == bytes("(null)"), "a quoted (null) is a real name")
        #expect(string("\"cut-sho") == bytes("cut-sho"), "a line cut short keeps what it has")
        #expect(string("\"") == [])
    }

    @Test("unquoted strings are hex of the raw bytes")
    func hex() {
        #expect(string("736C656570") == bytes("sleep"))
        #expect(string("6D792070726F67") == bytes("my prog"), "a space forces hex")
        #expect(string("6d792070726f67") == bytes("my prog"), "lowercase hex")
        #expect(string("1B5B33316D6576696C0A") == [0x1b] + bytes("[31mevil") + [0x0a], "ESC and newline")
        #expect(string("FF6162") == [0xff, 0x61, 0x62], "invalid UTF-8 is kept")
        #expect(string("2F62696E2F736800") == bytes("/bin/sh") + [0], "a NUL is kept")
        #expect(string("22") == [0x22], "a quote forces hex")
    }

    @Test("(null) and (none) mean absent")
    func absent() {
        #expect(string("(null)") == nil)
        #expect(string("(none)") == nil)
    }

    @Test("anything else comes back as logged")
    func garbage() {
        #expect(string("ABC") == bytes("ABC"), "odd length")
        #expect(string("zz") == bytes("zz"), "not hex")
        #expect(string("12G4") == bytes("12G4"))
        #expect(string("pts0") == bytes("pts0"))
        #expect(string("") == [])
        #expect(string("(nul") == bytes("(nul"))
    }

    @Test("all collection kinds decode alike")
    func collectionKinds() {
        let line = bytes("comm=736C656570 exe=x")
        #expect(AuditField.decodeString(line[5..<15]) == bytes("sleep"))
        #expect(AuditField.decodeString(bytes("736C656570").lazy.map { $0 }) == bytes("sleep"), "non-contiguous")
        bytes("0xff").withUnsafeBufferPointer { #expect(AuditField.hexUInt64($0) == 255) }
        let exit: [UInt8]? = bytes("-3")
        #expect(exit.flatMap(AuditField.decimal) == -3, "usable as a function value")
    }

    @Test("hex numbers")
    func hexNumbers() {
        let cases: [(String, UInt64?)] = [
            ("0", 0), ("9", 9), ("ffffffffffffffff", .max), ("FFFFFFFF", 0xffff_ffff), ("0x1f", 31),
            ("0X1F", 31), ("c000003e", 0xc000_003e), ("00000000000000000001", 1),
            ("10000000000000000", nil), ("", nil), ("0x", nil), ("x1", nil), ("-1", nil), ("1g", nil), (" 1", nil),
        ]
        for (text, value) in cases { #expect(AuditField.hexUInt64(bytes(text)) == value, "\(text)") }
    }

    @Test("decimal numbers")
    func decimals() {
        let cases: [(String, Int64?)] = [
            ("0", 0), ("1234", 1234), ("-3", -3), ("-0", 0),
            ("9223372036854775807", .max), ("-9223372036854775808", .min),
            ("9223372036854775808", nil), ("-9223372036854775809", nil),
            ("", nil), ("-", nil), ("+1", nil), ("1.5", nil), ("0x10", nil), ("12 ", nil), ("--1", nil),
        ]
        for (text, value) in cases { #expect(AuditField.decimal(bytes(text)) == value, "\(text)") }
    }

    @Test("ids: -1 and 4294967295 both mean unset")
    func ids() {
        let cases: [(String, Int64?)] = [
            ("0", 0), ("1000", 1000), ("-1", 4_294_967_295), ("4294967295", 4_294_967_295),
            ("4294967294", 4_294_967_294), ("4294967296", nil), ("-2", nil), ("unset", nil), ("root", nil), ("", nil),
        ]
        for (text, value) in cases { #expect(AuditField.auditID(bytes(text)) == value, "\(text)") }
        #expect(AuditField.unsetID == 4_294_967_295)
    }

    @Test("errno names for negative exit values")
    func errnoNames() {
        let cases: [(Int64, String?)] = [
            (-1, "EPERM"), (-2, "ENOENT"), (-3, "ESRCH"), (-4, "EINTR"), (-9, "EBADF"), (-11, "EAGAIN"),
            (-14, "EFAULT"), (-22, "EINVAL"), (-38, "ENOSYS"), (-40, "ELOOP"), (-42, "ENOMSG"),
            (-95, "EOPNOTSUPP"), (-110, "ETIMEDOUT"), (-133, "EHWPOISON"),
            (-41, nil), (-58, nil), (-134, nil), (-512, nil), (0, nil), (3, nil), (.min, nil), (.max, nil),
        ]
        for (exit, name) in cases { #expect(AuditField.errnoName(exit) == name, "\(exit)") }
        let named = (1...133).filter { AuditField.errnoName(-Int64($0)) != nil }
        #expect(named.count == 131, "all of 1...133 but the unused 41 and 58")
    }

    @Test("proctitle: arguments split on NUL; one line with spaces")
    func proctitle() {
        let title = bytes("sleep") + [0] + bytes("100")
        #expect(AuditField.splitProctitle(title) == [bytes("sleep"), bytes("100")])
        #expect(AuditField.splitProctitle(title + [0]) == [bytes("sleep"), bytes("100")])
        #expect(AuditField.splitProctitle(bytes("a") + [0, 0]) == [bytes("a"), []], "an empty argument stays")
        #expect(AuditField.splitProctitle(bytes("bash")) == [bytes("bash")])
        #expect(AuditField.splitProctitle([]) == [])
        #expect(AuditField.commandLine(title) == bytes("sleep 100"))
        #expect(AuditField.commandLine(title + [0, 0]) == bytes("sleep 100"))
        #expect(AuditField.commandLine(bytes("a") + [0, 0] + bytes("b")) == bytes("a  b"))
        #expect(AuditField.commandLine([0]) == [])
        #expect(AuditField.commandLine([]) == [])
        let decoded = AuditField.decodeString(bytes("736C65657000313030"))!
        #expect(AuditField.commandLine(decoded) == bytes("sleep 100"))
    }
}

private let ausyscallPath = "/usr/bin/ausyscall"

@Suite("Cross-check with ausyscall from the audit package")
struct AusyscallCrossCheck {
    private func run(_ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ausyscallPath)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test(
        "ausyscall ARCH NAME --exact agrees with the table, and ARCH --dump has no other signal syscall",
        .enabled(if: FileManager.default.isExecutableFile(atPath: ausyscallPath),
                 "\(ausyscallPath) not installed (apt-get install auditd)"),
        arguments: ["x86_64", "i386", "aarch64", "arm", "ppc", "s390x"]
    )
    func agrees(archName: String) throws {
        let a = try #require(arch(archName))
        for syscall in SignalSyscall.allCases {
            let output = try run([archName, syscall.rawValue, "--exact"])
            #expect(Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) == a.number(of: syscall),
                    "ausyscall \(archName) \(syscall.rawValue) --exact printed \(output)")
        }
        // Every numbered line of the dump: "62\tkill".
        var lines = 0
        for line in try run([archName, "--dump"]).split(separator: "\n") {
            let cols = line.split(separator: "\t")
            guard cols.count == 2, let number = Int(cols[0]) else { continue }
            lines += 1
            #expect(a.signalSyscall(number: number) == SignalSyscall(rawValue: String(cols[1])),
                    "\(archName) \(number) is \(cols[1])")
        }
        #expect(lines > 200, "the dump was read")
    }
}
