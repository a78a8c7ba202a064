import Foundation
import GRDB
import KernelTrace
import Output
import ProcessContext
import Queries
import Store
import Testing

/// The tracer's records with the processes behind them (the sender's parents as the kernel
/// named them, where sender and target lived), stored once per process, and the chain of
/// causes `who` tells from them. Records are made here as the tracer's decoder makes them.
@Suite("the chain of causes from the tracer's records")
struct TracedChainTests {
    static let bootTime = 1_780_000_000.0
    static let uid = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
    static let containerID = String(repeating: "4f3c2b1a", count: 8)

    static func task(_ pid: Int32, _ comm: String, start: UInt64, cgroup: String?) -> TracedTask {
        var t = TracedTask(process: ProcessIdentity(pid: pid, startNanoseconds: start), tid: pid, comm: Array(comm.utf8),
                           cgroupID: 1, pidNamespace: 4026531836, namespacePid: pid)
        t.cgroupPath = cgroup.map { Array($0.utf8) }
        return t
    }

    static func ancestor(_ pid: Int32, _ comm: String, start: UInt64, exe: String? = nil, argv: [String] = [],
                         cgroup: String? = nil) -> TracedAncestor {
        var a = TracedAncestor(process: ProcessIdentity(pid: pid, startNanoseconds: start), comm: Array(comm.utf8))
        a.exe = exe.map { Array($0.utf8) }
        a.argv = argv.map { Array($0.utf8) }
        a.procCgroup = cgroup.map { Array($0.utf8) }
        a.readAt = exe == nil ? nil : bootTime + 5000.01
        return a
    }

    static func record(_ cause: TraceCause, sender: TracedTask, target: TracedTask, argv: [String], exe: String,
                       ancestors: [TracedAncestor], at seconds: Double, code: Int32 = 0) -> TracedSignal {
        var s = TracedSignal(bootNanoseconds: UInt64(seconds * 1e9), time: bootTime + seconds, signal: 9, code: code,
                             processDirected: true, result: .delivered, syscallNumber: nil, cause: cause, sender: sender,
                             target: target, uid: 0, euid: 0, loginUID: 4294967295, sessionID: 4294967295,
                             parent: ancestors.first?.process ?? ProcessIdentity(pid: 1, startNanoseconds: 0),
                             parentComm: ancestors.first?.comm ?? [], argv: Array(argv.joined(separator: "\0").utf8) + [0],
                             argvTruncated: false, exe: Array(exe.utf8), senderIsKernelThread: false)
        s.ancestors = ancestors
        return s
    }

    /// cron (in cron.service, v1 name=systemd) runs cleanup.sh, which writes app.service's
    /// cgroup.kill through `sh -c`; the kernel OOM-kills a pod's java.
    static func database(_ dir: URL) throws -> String {
        let path = dir.appendingPathComponent("t.sqlite").path
        let pods = dir.appendingPathComponent("log/pods/shop_cart-7d9_\(uid)/java")
        try FileManager.default.createDirectory(at: pods, withIntermediateDirectories: true)
        let store = try SignalStore.openForWriting(path: path)
        let cron = "1:name=systemd:/system.slice/cron.service\n0::/\n"
        let chain = [
            ancestor(3100, "cleanup.sh", start: 4_000_000_000_000, exe: "/usr/bin/bash", argv: ["/bin/bash", "/opt/ops/cleanup.sh"], cgroup: cron),
            ancestor(900, "cron", start: 20_000_000_000, exe: "/usr/sbin/cron", argv: ["/usr/sbin/cron", "-f"], cgroup: cron),
            ancestor(1, "systemd", start: 0),
        ]
        let writer = task(3200, "sh", start: 4_999_000_000_000, cgroup: "/")
        var records: [TracedSignal] = []
        for (i, victim) in [Int32(3000), 3001].enumerated() {
            records.append(record(.cgroupKill(cgroup: "/system.slice/app.service"), sender: writer,
                                  target: task(victim, "worker", start: 1_000_000_000_000, cgroup: "/system.slice/app.service"),
                                  argv: ["sh", "-c", "echo 1 > /sys/fs/cgroup/system.slice/app.service/cgroup.kill"],
                                  exe: "/usr/bin/dash", ancestors: chain, at: 5000 + Double(i) * 0.001))
        }
        let pod = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice"
        let java = task(4242, "java", start: 3_000_000_000_000, cgroup: pod + "/cri-containerd-\(containerID).scope")
        records.append(record(.oom(memoryCgroup: pod), sender: java, target: java, argv: ["java", "-jar", "cart.jar"],
                              exe: "/usr/bin/java", ancestors: [ancestor(4200, "containerd-shim", start: 2_000_000_000_000)],
                              at: 5100, code: 0x80))
        try store.transaction { tx in
            let session = try tx.beginTraceSession(version: "test", hostname: nil, signals: "SIGKILL", bootID: "boot-a", bootTime: bootTime)
            // Twice: stored once.
            try tx.store(records, session: session, podLogs: PodLogs(root: dir.appendingPathComponent("log").path))
            try tx.store(records, session: session, podLogs: PodLogs(root: dir.appendingPathComponent("log").path))
        }
        return path
    }

    static let context = WhoReport.Context(question: "SIGKILL sent to the target", timeZone: TimeZone(identifier: "UTC")!, users: { _ in nil })

    func who(_ db: String, _ edit: (inout SignalQuery) -> Void) throws -> WhoAnswer {
        var q = SignalQuery()
        edit(&q)
        return try Who.ask(q, in: try SignalStore.openReadOnly(path: db))
    }

    @Test("each process once; the views name units, pods and containers of sender and target")
    func stored() throws {
        try TestLogs.withScratch { dir in
            let db = try Self.database(dir)
            let counts = try TestLogs.query(URL(fileURLWithPath: db), "SELECT pid, COUNT(*) AS n FROM processes GROUP BY pid, start_ticks")
            #expect(counts.allSatisfy { ($0["n"] as Int64) == 1 }, "\(counts)")
            let rows = try TestLogs.query(URL(fileURLWithPath: db), "SELECT * FROM traced_signal_context ORDER BY record_rowid")
            #expect(rows.count == 3)
            #expect(rows[0]["sender_unit"] as String? == "cron.service" && rows[0]["sender_place_own"] as Int64? == 0, "\(rows[0])")
            #expect(rows[0]["sender_cgroup"] as String? == "/")
            #expect(rows[0]["target_unit"] as String? == "app.service" && rows[0]["target_cgroup"] as String? == "/system.slice/app.service")
            #expect(rows[2]["target_pod"] as String? == "shop/cart-7d9", "\(rows[2])")
            #expect(rows[2]["target_container"] as String? == Self.containerID && rows[2]["target_runtime"] as String? == "containerd")
            // The parents are linked as the kernel named them: sh ← cleanup.sh ← cron ← systemd.
            let chain = try TestLogs.query(URL(fileURLWithPath: db), """
                SELECT c.pid, p.pid AS parent FROM processes c LEFT JOIN processes p ON p.id = c.parent_id WHERE c.pid IN (3200, 3100, 900) ORDER BY c.pid DESC
                """)
            #expect(chain.map { $0["parent"] as Int64? } == [3100, 900, 1], "\(chain)")
        }
    }

    @Test("cgroup.kill: the cgroup's unit, the writer's unit, and who was behind the writer")
    func cgroupKill() throws {
        try TestLogs.withScratch { dir in
            let db = try Self.database(dir)
            let answer = try who(db) { $0.targetPid = 3000 }
            let text = WhoReport.text(answer, Self.context)
            #expect(text.contains("cause     pid 3000 (worker) in app.service was killed through cgroup.kill of /system.slice/app.service (app.service) by pid 3200 (sh) in cron.service (its parent's)"),
                    "\(text)")
            #expect(text.contains("chain     behind it: /bin/bash /opt/ops/cleanup.sh (pid 3100) ← /usr/sbin/cron -f (pid 900), cron.service"), "\(text)")
            let json = WhoReport.json(answer)
            #expect(json.contains("\"cause_chain\":[{\"step\":\"cgroup-kill\""), "\(json)")
            #expect(json.contains("\"cgroup_unit\":\"app.service\""), "\(json)")
            #expect(json.contains("\"sender_unit\":\"cron.service\""), "\(json)")
            #expect(json.contains("{\"step\":\"behind\",\"pid\":3100,\"index\":1,\"exe\":\"/usr/bin/bash\",\"argv\":[\"/bin/bash\",\"/opt/ops/cleanup.sh\"],\"unit\":\"cron.service\""), "\(json)")
        }
    }

    @Test("an OOM kill: the memory cgroup's pod, named from kubelet's log directories")
    func oom() throws {
        try TestLogs.withScratch { dir in
            let db = try Self.database(dir)
            let text = WhoReport.text(try who(db) { $0.targetPid = 4242 }, Self.context)
            #expect(text.contains("pid 4242 (java) in pod shop/cart-7d9, container java (containerd 4f3c2b1a4f3c) was killed by the kernel's OOM killer (memory cgroup /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(Self.uid.replacingOccurrences(of: "-", with: "_")).slice, pod shop/cart-7d9) while it allocated memory"),
                    "\(text)")
        }
    }

    @Test("who --unit, --container, --pod, --cgroup ask where the target lived; --sender-unit where the sender did")
    func targetFilters() throws {
        try TestLogs.withScratch { dir in
            let db = try Self.database(dir)
            func targets(_ edit: (inout SignalQuery) -> Void) throws -> [Int64] {
                try who(db) { q in q.limit = nil; edit(&q) }.entries.compactMap { $0.traced?.targetPid }.sorted()
            }
            #expect(try targets { $0.targetPlace.unit = "app.service" } == [3000, 3001])
            #expect(try targets { $0.targetPlace.unit = "app.*" } == [3000, 3001])
            #expect(try targets { $0.targetPlace.pod = "shop/*" } == [4242])
            #expect(try targets { $0.targetPlace.pod = Self.uid } == [4242])
            #expect(try targets { $0.targetPlace.container = "4f3c2b1a4f3c" } == [4242])
            #expect(try targets { $0.targetPlace.cgroup = "/kubepods.slice/*" } == [4242])
            #expect(try targets { $0.targetPlace.unit = "cron.service" } == [])
            #expect(try targets { $0.senderPlace.unit = "cron.service" } == [3000, 3001])
            #expect(try targets { $0.senderPlace.unit = "cron.service"; $0.targetPlace.pod = "shop/*" } == [])
        }
    }

    @Test("report groups the kills by where their target and their sender lived")
    func reportGroups() throws {
        try TestLogs.withScratch { dir in
            let db = try Self.database(dir)
            let q = IncidentQuery(before: Self.bootTime + 5200, window: 3600)
            let incident = try IncidentReportQuery.run(q, in: try SignalStore.openReadOnly(path: db))
            let ctx = IncidentReport.Context(database: db, generatedAt: Self.bootTime + 6000, timeZone: TimeZone(identifier: "UTC")!,
                                             users: { _ in nil })
            let text = IncidentReport.text(incident, ctx)
            #expect(text.contains("Kills by where their target lived: 2 in app.service, 1 in pod shop/cart-7d9."), "\(text)")
            #expect(text.contains("Kills by where their sender lived: 2 in cron.service, 1 in pod shop/cart-7d9."), "\(text)")
            let json = IncidentReport.json(incident, ctx)
            #expect(json.contains("{\"side\":\"target\",\"kind\":\"unit\",\"name\":\"app.service\",\"kills\":2}"), "\(json)")
            #expect(IncidentReport.markdown(incident, ctx).contains("Kills by where their target lived: 2 in"))
        }
    }
}
