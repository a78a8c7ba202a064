import Foundation
import ProcessContext
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Where a process lives, read from cgroup paths as systemd, docker, containerd, CRI-O,
/// podman and kubelet lay them out (Tests/Fixtures/cgroups/cases.txt), and its parents.
@Suite("process context")
struct ProcessContextTests {
    struct Case: CustomStringConvertible {
        var name: String
        var expect: [String: [UInt8]] = [:]
        var content: [UInt8] = []
        var description: String { name }
    }

    static let fixtures = TestLogs.testsDirectory.appendingPathComponent("Fixtures/cgroups")

    static func cases() throws -> [Case] {
        let data = try [UInt8](Data(contentsOf: fixtures.appendingPathComponent("cases.txt")))
        var out: [Case] = []
        var current: Case?
        for raw in data.split(separator: 0x0a, omittingEmptySubsequences: false) {
            let line = Array(raw)
            if line.first == UInt8(ascii: "#") { continue }
            if line.isEmpty {
                if let c = current { out.append(c) }
                current = nil
                continue
            }
            if line.starts(with: Array("case ".utf8)) {
                current = Case(name: String(decoding: line.dropFirst(5), as: UTF8.self))
            } else if line.starts(with: Array("expect ".utf8)) {
                let kv = line.dropFirst(7)
                let eq = kv.firstIndex(of: UInt8(ascii: "=")) ?? kv.endIndex
                current?.expect[String(decoding: kv[..<eq], as: UTF8.self)] = eq < kv.endIndex ? Array(kv[(eq + 1)...]) : []
            } else {
                if current != nil { current!.content += (current!.content.isEmpty ? [] : [0x0a]) + line }
            }
        }
        if let c = current { out.append(c) }
        return out
    }

    @Test("the fixture table has a case for every runtime and layout")
    func coverage() throws {
        let names = try Self.cases().map(\.name)
        for prefix in ["systemd-v2", "systemd-v1", "docker-v2", "docker-v1", "containerd-k8s-v2", "containerd-k8s-v1",
                       "crio-k8s-v2", "crio-v1", "podman-rootful-v2", "podman-v1", "hostile"] {
            #expect(names.contains { $0.hasPrefix(prefix) }, "no fixture for \(prefix)")
        }
    }

    @Test("each cgroup fixture is read as the operator names it", arguments: try! cases())
    func place(_ c: Case) throws {
        let place = ProcessPlace(procCgroup: c.content)
        if c.expect["none"] != nil {
            #expect(place == nil)
            return
        }
        let p = try #require(place, "\(c.name): not read")
        func text(_ key: String) -> [UInt8]? { c.expect[key] }
        #expect(p.unit == text("unit"), "\(c.name): unit \(p.unit.map { String(decoding: $0, as: UTF8.self) } ?? "nil")")
        #expect(p.slice == text("slice"), "\(c.name): slice \(p.slice.map { String(decoding: $0, as: UTF8.self) } ?? "nil")")
        #expect(p.container.map { Array($0.runtime.rawValue.utf8) } == text("runtime"), "\(c.name): runtime")
        #expect(p.container.map { Array($0.id.utf8) } == text("container"), "\(c.name): container")
        #expect(p.pod.map { Array($0.uid.utf8) } == text("pod"), "\(c.name): pod")
        #expect(p.pod.map { Array($0.qos.rawValue.utf8) } == text("qos"), "\(c.name): qos")
    }

    @Test("cgroup lines of any bytes never crash the parser and keep the names' bytes")
    func hostileBytes() {
        var rng = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = ["0::/", "1:name=systemd:", "/", "kubepods.slice", "kubepods-burstable-pod", "_", ".slice",
                                 "docker-", ".scope", "pod", "\n", ":", "\u{1b}", "\u{ff}", "cri-containerd-", "a",
                                 String(repeating: "f", count: 64)].map { Array($0.utf8) } + [[0xff, 0xfe, 0x00]]
        for _ in 0..<2000 {
            var line: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &rng) { line += pieces.randomElement(using: &rng)! }
            if let p = ProcessPlace(procCgroup: line), let unit = p.unit {
                #expect(line.firstRange(of: unit) != nil)
            }
        }
    }

    @Test("a pod's namespace, name and container come from kubelet's log directories")
    func podLogs() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("killdb-podlogs-\(getpid())")
        defer { try? FileManager.default.removeItem(at: root) }
        let uid = "5e0b5f3c-7d21-4a0e-9c1f-2b7e8d6a4c10"
        let id = String(repeating: "9a", count: 32)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("pods/shop_cart-7d9_\(uid)/java"),
                                                withIntermediateDirectories: true)
        let place = try #require(ProcessPlace(procCgroup: Array("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice/cri-containerd-\(id).scope".utf8)))
        let pod = PodLogs(root: root.path).complete(try #require(place.pod), container: place.container)
        #expect(pod.namespace == Array("shop".utf8))
        #expect(pod.name == Array("cart-7d9".utf8))
        #expect(pod.containerName == Array("java".utf8))

        // Two containers: the per-container link says which one has this id.
        try FileManager.default.createDirectory(at: root.appendingPathComponent("pods/shop_cart-7d9_\(uid)/sidecar"),
                                                withIntermediateDirectories: true)
        #expect(PodLogs(root: root.path).complete(place.pod!, container: place.container).containerName == nil)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("containers"), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root.appendingPathComponent("containers/cart-7d9_shop_sidecar-\(id).log").path, contents: nil)
        #expect(PodLogs(root: root.path).complete(place.pod!, container: place.container).containerName == Array("sidecar".utf8))
        // No directory for the UID: the pod keeps its UID only.
        #expect(PodLogs(root: root.path + "/none").complete(place.pod!, container: nil).name == nil)
    }

    @Test("this process's ancestry from /proc runs up to PID 1, with start times and cgroups")
    func ownAncestry() throws {
        let now = Date().timeIntervalSince1970
        let chain = ProcReader().ancestry(of: Int64(getpid()), notAfter: now, now: now)
        let me = try #require(chain.first)
        #expect(me.pid == Int64(getpid()))
        #expect(me.startTicks != nil && me.startTime! <= now)
        #expect(chain.last?.pid == 1)
        #expect(me.cgroup != nil && me.source == .proc)
        // A start after the event means the pid was reused: that process is not the sender.
        #expect(ProcReader().ancestry(of: Int64(getpid()), notAfter: me.startTime! - 60, now: now).isEmpty)
    }

    @Test("a zombie (a kill exited, not yet reaped) is not read: its cgroup already reads as the root")
    func zombieNotRead() throws {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { argv.forEach { free($0) } }
        try #require(posix_spawn(&pid, "/bin/true", nil, nil, argv, nil) == 0)
        defer { var status: Int32 = 0; waitpid(pid, &status, 0) }
        // Not reaped yet: a zombie once it has exited.
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, !((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "").contains(") Z ") { usleep(5_000) }
        let now = Date().timeIntervalSince1970
        #expect(ProcReader().process(Int64(pid), now: now) == nil)
        let captured = ProcReader().capture(sender: Int64(pid), ppid: Int64(getpid()), targets: [], time: now, now: now)
        #expect(!captured.senderRead)
        #expect(captured.chain.first?.pid == Int64(getpid()))
    }

    @Test("stat lines whose comm holds spaces and parentheses are read to the last parenthesis")
    func statComm() throws {
        let stat = Array("31183 (a) b (c)) S 31170 31183 31170 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1 2 3".utf8)
        let f = try #require(ProcReader.statFields(stat))
        #expect(f.comm == Array("a) b (c)".utf8))
        #expect(f.ppid == 31170)
        #expect(f.startTicks == 987654)
        #expect(ProcReader.statFields(Array("garbage".utf8)) == nil)
    }

    static func process(_ pid: Int64, _ argv: [String], exe: String) -> ProcessRecord {
        ProcessRecord(pid: pid, comm: Array((exe as NSString).lastPathComponent.utf8), exe: Array(exe.utf8),
                      argv: argv.map { Array($0.utf8) }, source: .proc, readAt: 0)
    }

    @Test("behind a kill is the first parent that is not a tool: a script, not the shell's -c or sudo")
    func behind() {
        let chain = SenderChain([
            Self.process(31187, ["/bin/kill", "-9", "--", "-30954"], exe: "/usr/bin/kill"),
            Self.process(31186, ["sh", "-c", "kill -9 -- -30954"], exe: "/usr/bin/dash"),
            Self.process(31185, ["sudo", "sh", "-c", "…"], exe: "/usr/bin/sudo"),
            Self.process(31183, ["/bin/bash", "/opt/ops/cleanup.sh"], exe: "/usr/bin/bash"),
            Self.process(31170, ["/bin/bash", "/opt/ops/nightly.sh"], exe: "/usr/bin/bash"),
            Self.process(900, ["/usr/sbin/cron", "-f"], exe: "/usr/sbin/cron"),
            Self.process(1, ["/sbin/init"], exe: "/usr/lib/systemd/systemd"),
        ])
        #expect(chain.senderIsTool)
        #expect(chain.behind == 3)
        #expect(SenderChain.script(chain.processes[3]) == Array("/opt/ops/cleanup.sh".utf8))
        // runc is a tool, containerd-shim is not.
        let runc = SenderChain([Self.process(5100, ["runc", "kill"], exe: "/usr/bin/runc"),
                                Self.process(3900, ["/usr/bin/containerd-shim-runc-v2"], exe: "/usr/bin/containerd-shim-runc-v2")])
        #expect(runc.behind == 1)
        // Only PID 1 above the tool: nobody to name.
        #expect(SenderChain([Self.process(7, ["kill"], exe: "/bin/kill"), Self.process(1, ["init"], exe: "/sbin/init")]).behind == nil)
    }
}
