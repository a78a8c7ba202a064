import Foundation
import GRDB
import KillDB
import Output
import ProcessContext
import Queries
import Store
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The plugin reads a signal's sender chain from /proc as the event arrives, stores each
/// process once, and `who` names who was behind the kill.
@Suite("who was behind it: the plugin's reading of the sender's parents")
struct SenderChainTests {
    /// outer.sh runs inner.sh, which sleeps: the parents of a `kill` inner.sh would run.
    final class Scripts {
        let dir: URL
        let outer: Process
        var inner: Int64 = 0
        var sleeper: Int64 = 0

        init(_ dir: URL) throws {
            self.dir = dir
            try "#!/bin/bash\nbash \(dir.path)/inner.sh\n".write(to: dir.appendingPathComponent("outer.sh"), atomically: true, encoding: .utf8)
            try "#!/bin/bash\nsleep 60\n".write(to: dir.appendingPathComponent("inner.sh"), atomically: true, encoding: .utf8)
            outer = Process()
            outer.executableURL = URL(fileURLWithPath: "/bin/bash")
            outer.arguments = [dir.path + "/outer.sh"]
            try outer.run()
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                inner = Self.child(Int64(outer.processIdentifier)) ?? 0
                if inner > 0 { sleeper = Self.child(inner) ?? 0 }
                if sleeper > 0, Self.comm(sleeper) == "sleep" { return }
                usleep(20_000)
            }
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "the scripts did not start"])
        }

        static func child(_ pid: Int64) -> Int64? {
            let s = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
            return s.split(separator: " ").first.flatMap { Int64($0) }
        }

        static func comm(_ pid: Int64) -> String? {
            (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func stop() {
            // Only what this test started, by pid.
            for pid in [sleeper, inner, Int64(outer.processIdentifier)] where pid > 0 { kill(pid_t(pid), SIGKILL) }
            outer.waitUntilExit()
        }
    }

    /// A pid that was in use a moment ago and is free now: a `kill` that already exited.
    static func exitedPid() throws -> Int64 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return Int64(p.processIdentifier)
    }

    static func killEvent(sender: Int64, ppid: Int64, target: Int64, time: Double, serial: Int) -> String {
        let stamp = "\(Int(time)).\(String(format: "%03d", Int(time * 1000) % 1000)):\(serial)"
        return "type=SYSCALL msg=audit(\(stamp)): arch=c000003e syscall=62 success=yes exit=0 a0=\(String(target, radix: 16)) a1=9 a2=0 a3=0 items=0 ppid=\(ppid) pid=\(sender) auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=\"kill\" exe=\"/usr/bin/kill\" key=\"killdbtest\"\n"
            + AuditLine.objPID(stamp, pid: Int(target))
            + AuditLine.proctitle(stamp, argv: ["/bin/kill", "-9", "\(target)"])
            + "type=EOE msg=audit(\(stamp)): \n"
    }

    static let context = WhoReport.Context(question: "SIGKILL sent to the target", timeZone: TimeZone(identifier: "UTC")!, users: { _ in nil })

    @Test("a kill that exited at once: its parent scripts are read from /proc, stored once, and named behind it")
    func exitedKillNamesScripts() throws {
        try TestLogs.withScratch { dir in
            let scripts = try Scripts(dir)
            defer { scripts.stop() }
            let db = dir.appendingPathComponent("k.sqlite")
            let plugin = try PluginTests.Running(db: db, options: PluginTests.options())
            let now = Date().timeIntervalSince1970
            let sender = try Self.exitedPid()
            plugin.send(Self.killEvent(sender: sender, ppid: scripts.inner, target: scripts.sleeper, time: now, serial: 71))
            plugin.send(Self.killEvent(sender: sender, ppid: scripts.inner, target: scripts.sleeper, time: now + 0.001, serial: 72))
            _ = try plugin.finish()

            // Each process once, however many events name it.
            let counts = try TestLogs.query(db, "SELECT pid, COUNT(*) AS n FROM processes GROUP BY pid")
            #expect(counts.allSatisfy { ($0["n"] as Int64) == 1 })
            let context = try TestLogs.query(db, "SELECT * FROM signal_context ORDER BY event_rowid")
            #expect(context.count == 2)
            #expect(context.first?["sender_read"] as Int64? == 0)
            #expect(context.first?["target_pid"] as Int64? == scripts.sleeper)

            var q = SignalQuery()
            q.targetPid = scripts.sleeper
            let answer = try Who.ask(q, in: try SignalStore.openReadOnly(path: db.path))
            let text = WhoReport.text(answer, Self.context)
            let behind = try #require(text.split(separator: "\n").first { $0.contains("behind it") }, "no behind-it line in:\n\(text)")
            // Long script paths are cut at the front: the script's name stays.
            #expect(behind.hasPrefix("  chain     behind it: bash \(dir.path)/inner.sh (pid \(scripts.inner)) ← /bin/bash "), "\(behind)")
            #expect(behind.contains("/outer.sh (pid \(scripts.outer.processIdentifier))"), "\(behind)")
            #expect(behind.contains("read from /proc"))
            // Asked by where the sender lived: nothing from a cgroup it was not in.
            q.senderPlace.cgroup = "/no-such-cgroup/*"
            #expect(try Who.ask(q, in: try SignalStore.openReadOnly(path: db.path)).rows.isEmpty)
            q.senderPlace.cgroup = "/*"
            #expect(try Who.ask(q, in: try SignalStore.openReadOnly(path: db.path)).rows.count == 2)
            q.senderPlace.cgroup = nil
            // The JSON carries the chain: the kill from its record, then the scripts.
            let json = WhoReport.json(answer)
            #expect(json.contains("\"sender_chain\":[{\"pid\":\(sender)"))
            #expect(json.contains("\"behind_index\":1"))
        }
    }
}
