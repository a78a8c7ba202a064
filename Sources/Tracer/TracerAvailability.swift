import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whether this machine lets the tracer run, and if not exactly why: checked before
/// loading anything, so `killdb trace` and `killdb doctor` can say what to fix.
public struct TracerAvailability: Sendable, Equatable {
    public struct Problem: Sendable, Equatable {
        public var reason: String
        public var fix: String
    }

    public var problems: [Problem] = []
    public var isAvailable: Bool { problems.isEmpty }
    /// The lockdown mode, when securityfs shows it: none, integrity, confidentiality.
    public var lockdown: String?

    public var error: TracerError? {
        problems.first.map { .unavailable(reason: $0.reason, fix: $0.fix) }
    }

    public static let btfPath = "/sys/kernel/btf/vmlinux"

    /// `root` is the directory the kernel's files are read under ("/" in use; tests give another).
    public static func check(root: String = "/", effectiveCapabilities: UInt64? = nil) -> TracerAvailability {
        var a = TracerAvailability()
        func path(_ p: String) -> String { root == "/" ? p : (root as NSString).appendingPathComponent(p) }

        let release = kernelRelease()
        if let (major, minor) = Self.version(release), (major, minor) < (5, 8) {
            a.problems.append(Problem(
                reason: "kernel \(release) is older than 5.8, which the tracer needs (BPF ring buffer, boot-time clock)",
                fix: "Upgrade the kernel; audit (`killdb rules install`, `killdb ingest`) still works."))
        }
        if !FileManager.default.fileExists(atPath: path(btfPath)) {
            a.problems.append(Problem(
                reason: "the kernel has no BTF (\(btfPath) is missing), so the tracer's types cannot be resolved",
                fix: "Use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, Fedora and RHEL 8.2+ kernels are)."))
        }
        let caps = effectiveCapabilities ?? Self.effectiveCapabilities()
        let capSysAdmin: UInt64 = 1 << 21, capPerfmon: UInt64 = 1 << 38, capBPF: UInt64 = 1 << 39
        if caps & capSysAdmin == 0 && !(caps & capBPF != 0 && caps & capPerfmon != 0) {
            a.problems.append(Problem(
                reason: "loading BPF programs needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN); this process has neither (euid \(geteuid()))",
                fix: "Run `sudo killdb trace`, or the systemd unit `scripts/install` puts in place."))
        }
        if let mode = Self.lockdownMode(path(("/sys/kernel/security/lockdown"))) {
            a.lockdown = mode
            if mode == "confidentiality" {
                a.problems.append(Problem(
                    reason: "the kernel is locked down in confidentiality mode, which forbids BPF programs from reading kernel memory",
                    fix: "Boot with lockdown=integrity or none (or without Secure Boot's lockdown) to use the tracer."))
            }
        }
        return a
    }

    static func kernelRelease() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    static func version(_ release: String) -> (Int, Int)? {
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    static func effectiveCapabilities() -> UInt64 {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
            return UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) ?? 0
        }
        return 0
    }

    /// "none [integrity] confidentiality" → "integrity". nil when securityfs is not mounted.
    static func lockdownMode(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]"), open < close else { return nil }
        return String(text[text.index(after: open)..<close])
    }
}
