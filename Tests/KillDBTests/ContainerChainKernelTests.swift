import Foundation
import GRDB
import KillDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 13's container-shaped case and its systemd-style sender case, with the tracer:
/// who was behind a kill, as the kernel named the sender's parents at the event, and where
/// sender and target lived. Part of the tracer's serialized suite (one tracer at a time).
extension TracerKernelTests {
    /// A random container id (64 hex digits) and pod UID, as containerd and the API server make them.
    static func containerID() -> String { (0..<4).map { _ in String(format: "%016llx", UInt64.random(in: 0...UInt64.max)) }.joined() }

    /// The process's name, as /proc/PID/comm holds it.
    static func comm(_ pid: pid_t) -> String? {
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines)
    }

    /// Only what this test started: `pid`'s descendants by pid, deepest first, then `pid`.
    static func killTree(_ pid: pid_t) {
        for c in T.children(of: pid) { killTree(c) }
        kill(pid, SIGKILL)
    }

    @Test("a pod's container init killed by runc, run by containerd-shim: who for a process inside names the pod, the init's kill and who was behind it")
    func containerChain() throws {
        try Self.requireTracer()
        let senderBinary = try #require(T.sender, "cannot build signal_sender")
        try TestLogs.withScratch { dir in
            // A cgroup laid out as kubelet's systemd driver lays it out, in a private mount
            // of the unified hierarchy (the machine's own mount is left alone).
            let mount = try TraceSandbox.mountCgroup2(in: dir)
            let uid = UUID().uuidString.lowercased()
            let id = Self.containerID()
            let levels = ["kubepods.slice", "kubepods-burstable.slice",
                          "kubepods-burstable-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice",
                          "cri-containerd-\(id).scope"]
            let scope = mount + "/" + levels.joined(separator: "/")
            // Kubelet's log directory names the pod: /var/log/pods/<namespace>_<name>_<uid>/<container>/.
            let pods = "/var/log/pods"
            let madePods = !FileManager.default.fileExists(atPath: pods)
            let podDir = pods + "/shop_cart-7d9_\(uid)"
            var shim: Process?
            defer {
                if let s = shim { Self.killTree(s.processIdentifier); s.waitUntilExit() }
                for i in stride(from: levels.count, to: 0, by: -1) {
                    KernelOOMTests.removeCgroup(mount + "/" + levels.prefix(i).joined(separator: "/"))
                }
                umount2(mount, Int32(MNT_DETACH))
                try? FileManager.default.removeItem(atPath: podDir)
                if madePods { rmdir(pods) }
            }
            try FileManager.default.createDirectory(atPath: scope, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: podDir + "/java", withIntermediateDirectories: true)
            // Programs named as the runtime's are: runc sends the init SIGKILL through
            // pidfd_send_signal, as runc does; containerd-shim runs it; java is the workload.
            let runc = dir.appendingPathComponent("runc").path
            let containerdShim = dir.appendingPathComponent("containerd-shim").path
            let java = dir.appendingPathComponent("java").path
            for (from, to) in [(senderBinary, runc), ("/bin/bash", containerdShim), ("/bin/sleep", java)] {
                try FileManager.default.copyItem(atPath: from, toPath: to)
                chmod(to, 0o755)
            }
            let go = dir.appendingPathComponent("go").path
            let script = """
                /usr/bin/unshare --pid --fork /bin/sh -c 'echo 0 > \(scope)/cgroup.procs; \(java) 1000 & \(java) 1000 & wait' &
                while [ ! -s \(go) ]; do sleep 0.05; done
                \(runc) pidfd_send_signal KILL "$(cat \(go))"
                sleep 60 & wait
                """
            var initPid: pid_t = 0
            var workers: [pid_t] = []
            let db = try T.trace(in: dir) {
                let s = try T.start(containerdShim, ["-c", script])
                shim = s
                try T.waitFor("unshare") { T.children(of: s.processIdentifier).contains { Self.comm($0) == "unshare" } }
                let unshare = T.children(of: s.processIdentifier).first { Self.comm($0) == "unshare" }!
                try T.waitFor("the container's init") { !T.children(of: unshare).isEmpty }
                initPid = T.children(of: unshare)[0]
                try T.waitFor("its two java processes") {
                    let c = T.children(of: initPid)
                    return c.count == 2 && c.allSatisfy { Self.comm($0) == "java" }
                }
                workers = T.children(of: initPid)
                try "\(initPid)\n".write(toFile: go, atomically: true, encoding: .utf8)
                try T.waitFor("the teardown") { T.state(initPid) == nil && workers.allSatisfy { T.state($0) == nil || T.state($0) == "Z" } }
                usleep(200_000)
            }
            let shimPid = try #require(shim?.processIdentifier)
            let context = try DatabaseQueue(path: db.path).read {
                try Row.fetchAll($0, sql: "SELECT * FROM traced_signal_context WHERE target_pid IN (\(workers.map(String.init).joined(separator: ",")))")
            }
            #expect(context.count == 2, "\(context)")
            for c in context {
                #expect(c["target_pod"] as String? == "shop/cart-7d9", "\(c)")
                #expect(c["target_container"] as String? == id && c["target_runtime"] as String? == "containerd", "\(c)")
                #expect(c["target_cgroup"] as String? == "/" + levels.joined(separator: "/"), "\(c)")
                #expect(c["sender_pid"] as Int64? == Int64(initPid))
            }
            // The init's killer and its parents, as the kernel named them at the event.
            let chain = try DatabaseQueue(path: db.path).read {
                try Row.fetchAll($0, sql: """
                    WITH RECURSIVE up(id, depth) AS (
                        SELECT p.process_id, 0 FROM traced_signals t JOIN traced_record_processes p ON p.record_id = t.record_rowid AND p.role = 'sender'
                        WHERE t.target_pid = ? AND t.cause = 'syscall'
                        UNION ALL SELECT pr.parent_id, depth + 1 FROM up JOIN processes pr ON pr.id = up.id WHERE pr.parent_id IS NOT NULL)
                    SELECT pc.pid, pc.comm, pc.exe, pc.source FROM up JOIN process_context pc ON pc.process_rowid = up.id ORDER BY depth
                    """, arguments: [initPid])
            }
            #expect(chain.count >= 3, "\(chain)")
            #expect(chain.first?["comm"] as String? == "runc", "\(chain)")
            #expect(chain.count > 1 && chain[1]["pid"] as Int64? == Int64(shimPid) && chain[1]["exe"] as String? == containerdShim, "\(chain)")
            // The kernel's 8 parents at the event; past them, /proc's.
            #expect(chain.prefix(9).allSatisfy { $0["source"] as String? == "tracer" }, "\(chain)")
            #expect(chain.dropFirst(9).allSatisfy { $0["source"] as String? == "proc" }, "\(chain)")

            let short = String(id.prefix(12))
            for pid in workers {
                let who = try CLI.run(["who", "--pid", String(pid), "--db", db.path])
                #expect(who.status == 0, "\(who)")
                let out = who.stdout
                #expect(out.contains("pid \(pid) (java) in pod shop/cart-7d9, container java (containerd \(short)) was killed by the kernel when its container's init, pid \(initPid) (sh), exited; pid \(initPid) was sent SIGKILL by pid "),
                        "\(out)")
                #expect(out.contains(" (runc) through pidfd_send_signal; behind it: \(containerdShim) -c "), "\(out)")
                #expect(out.contains("(pid \(shimPid))"), "\(out)")
                let json = try CLI.run(["who", "--pid", String(pid), "--db", db.path, "--format", "json"])
                #expect(json.stdout.contains("\"cause_chain\":[{\"step\":\"pidns-teardown\""), "\(json.stdout)")
                #expect(json.stdout.contains("\"target_pod\":\"shop/cart-7d9\""), "\(json.stdout)")
                #expect(json.stdout.contains("{\"step\":\"syscall\",\"signal\":\"SIGKILL\",\"target_pid\":\(initPid)"), "\(json.stdout)")
                #expect(json.stdout.contains("{\"step\":\"behind\",\"pid\":\(shimPid),\"index\":1,"), "\(json.stdout)")
                if pid == workers[0] { AuditSandbox.loud("who --pid (a container's process, the tracer):\n\(out)") }
            }
            // Asked by pod and container, as targets: the teardown's kills.
            let byPod = try CLI.run(["who", "--pod", "shop/cart-7d9", "--db", db.path, "--format", "json"])
            for pid in workers { #expect(byPod.stdout.contains("\"target_pid\":\(pid)"), "\(byPod)") }
            let byContainer = try CLI.run(["who", "--container", short, "--db", db.path])
            #expect(byContainer.stdout.contains("(java) in pod shop/cart-7d9"), "\(byContainer)")
            let none = try CLI.run(["who", "--pod", "shop/other", "--db", db.path])
            #expect(none.stdout.hasPrefix("No SIGKILL"), "\(none)")
            // The init's own kill, told by who sent it and who was behind that.
            let initWho = try CLI.run(["who", "--pid", String(initPid), "--db", db.path])
            #expect(initWho.stdout.contains("chain     behind it: \(containerdShim) -c "), "\(initWho)")
            AuditSandbox.loud("who --pid (the container's init, the tracer):\n\(initWho.stdout)")
        }
    }

    @Test("a kill run by a job in system.slice/killdb-test-cron.service of the name=systemd hierarchy: the tracer's record names that unit")
    func systemdUnitTraced() throws {
        try Self.requireTracer()
        let hierarchy = "/sys/fs/cgroup/systemd"
        guard FileManager.default.fileExists(atPath: hierarchy + "/cgroup.procs") else {
            AuditSandbox.loud("*** SKIPPED: no name=systemd hierarchy at \(hierarchy) ***")
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "CI needs the name=systemd hierarchy")
            return
        }
        // The unit's cgroup is one for the machine: the plugin's test and the tracer's make it in turn.
        KernelSignalTests.lock.acquire()
        defer { KernelSignalTests.lock.release() }
        let slice = hierarchy + "/system.slice"
        let madeSlice = !FileManager.default.fileExists(atPath: slice)
        let unit = slice + "/killdb-test-cron.service"
        let sliceMade = mkdir(slice, 0o755) == 0 || errno == EEXIST
        try #require(sliceMade, "mkdir \(slice) failed")
        let unitMade = mkdir(unit, 0o755) == 0
        try #require(unitMade, "mkdir \(unit) failed (left over from an earlier run?)")
        defer {
            KernelOOMTests.removeCgroup(unit)
            if madeSlice { rmdir(slice) }
        }
        try TestLogs.withScratch { dir in
            let jobPath = dir.appendingPathComponent("cron-job.sh").path
            try "#!/bin/bash\necho $$ > \(unit)/cgroup.procs || exit 3\n/bin/kill -9 \"$1\"\nsleep 60\n"
                .write(toFile: jobPath, atomically: true, encoding: .utf8)
            var victim: Process?
            var job: Process?
            defer {
                if let j = job { Self.killTree(j.processIdentifier); j.waitUntilExit() }
                if let v = victim { T.end([v]) }
            }
            let db = try T.trace(in: dir) {
                let v = try T.start("/bin/sleep", ["1000"])
                victim = v
                job = try T.start("/bin/bash", [jobPath, String(v.processIdentifier)])
                v.waitUntilExit()
            }
            let v = try #require(victim), j = try #require(job)
            let units = try DatabaseQueue(path: db.path).read {
                try Row.fetchAll($0, sql: "SELECT sender_unit, sender_place_own FROM traced_signal_context WHERE target_pid = ?",
                                 arguments: [v.processIdentifier])
            }
            #expect(units.map { $0["sender_unit"] as String? } == ["killdb-test-cron.service"], "\(units)")
            let who = try CLI.run(["who", "--pid", String(v.processIdentifier), "--db", db.path])
            #expect(who.stdout.contains("sender in killdb-test-cron.service"), "\(who.stdout)")
            #expect(who.stdout.contains("chain     behind it: /bin/bash \(jobPath) (pid \(j.processIdentifier)), killdb-test-cron.service"), "\(who.stdout)")
            let bySender = try CLI.run(["who", "--sender-unit", "killdb-test-cron.service", "--db", db.path, "--format", "json"])
            #expect(bySender.stdout.contains("\"target_pid\":\(v.processIdentifier)"), "\(bySender)")
            AuditSandbox.loud("who --pid (a unit's job, the tracer):\n\(who.stdout)")
        }
    }
}
