import Foundation
import Testing
import Tracer

/// `killdb trace` without BPF says exactly why, from the kernel's own files: checked on a
/// directory laid out as /sys would be (this machine has BTF, root and no lockdown).
@Suite("the tracer's availability: no BTF, no privilege, lockdown")
struct TracerAvailabilityTests {
    static func root(btf: Bool, lockdown: String?) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("killdb-avail-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sys/kernel/btf"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sys/kernel/security"), withIntermediateDirectories: true)
        if btf { try Data().write(to: dir.appendingPathComponent("sys/kernel/btf/vmlinux")) }
        if let lockdown { try Data(lockdown.utf8).write(to: dir.appendingPathComponent("sys/kernel/security/lockdown")) }
        return dir
    }

    @Test("each missing piece is named with its fix; the first is what `killdb trace` prints")
    func problems() throws {
        let bare = try Self.root(btf: false, lockdown: "none integrity [confidentiality]\n")
        defer { try? FileManager.default.removeItem(at: bare) }
        let a = TracerAvailability.check(root: bare.path, effectiveCapabilities: 0)
        #expect(a.problems.count == 3, "\(a.problems)")
        #expect(a.problems.contains { $0.reason.contains("no BTF") && $0.fix.contains("CONFIG_DEBUG_INFO_BTF") })
        #expect(a.problems.contains { $0.reason.contains("CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN") && $0.fix.contains("sudo killdb trace") })
        #expect(a.problems.contains { $0.reason.contains("confidentiality") && $0.fix.contains("lockdown=integrity") })
        #expect(a.lockdown == "confidentiality")
        #expect(a.error?.description.hasPrefix("the tracer cannot run here: the kernel has no BTF") == true, "\(String(describing: a.error))")

        // CAP_BPF with CAP_PERFMON is enough; integrity lockdown allows tracing.
        let fine = try Self.root(btf: true, lockdown: "none [integrity] confidentiality\n")
        defer { try? FileManager.default.removeItem(at: fine) }
        let b = TracerAvailability.check(root: fine.path, effectiveCapabilities: (1 << 39) | (1 << 38))
        #expect(b.isAvailable, "\(b.problems)")
        #expect(b.lockdown == "integrity")
    }
}
