import Foundation
import GRDB
import KillDB
import Output
import Queries
import Store
import Testing

/// From the audit logs alone (no plugin, no tracer): when the rules audit execve, each
/// ancestor's own execve record (SYSCALL: pid, ppid, exe; EXECVE: argv) names it.
@Suite("who was behind it, from the audit log's execve records")
struct AuditExecChainTests {
    static func execEvent(pid: Int, ppid: Int, comm: String, exe: String, args: [String], time: Double, serial: Int) -> String {
        let stamp = "\(Int(time)).\(String(format: "%03d", Int(time * 1000) % 1000)):\(serial)"
        // Hex for an argument with a space, as the kernel logs it; a long one in pieces.
        var fields = ["argc=\(args.count)"]
        for (i, a) in args.enumerated() {
            if a.contains(" ") {
                fields.append("a\(i)=" + AuditLine.hex(Array(a.utf8)))
            } else if a.count > 8 {
                let bytes = Array(a.utf8)
                fields.append("a\(i)_len=\(bytes.count)")
                fields.append("a\(i)[0]=\"\(String(decoding: bytes.prefix(8), as: UTF8.self))\"")
                fields.append("a\(i)[1]=\"\(String(decoding: bytes.dropFirst(8), as: UTF8.self))\"")
            } else {
                fields.append("a\(i)=\"\(a)\"")
            }
        }
        return "type=SYSCALL msg=audit(\(stamp)): arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 ppid=\(ppid) pid=\(pid) auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=\"\(comm)\" exe=\"\(exe)\" key=\"exec\"\n"
            + "type=EXECVE msg=audit(\(stamp)): " + fields.joined(separator: " ") + "\n"
            + AuditLine.proctitle(stamp, argv: args)
            + "type=EOE msg=audit(\(stamp)): \n"
    }

    @Test("outer script, inner script, /bin/kill: each named by its execve record; a failed execve and an older process of the same pid are not")
    func scripts() throws {
        try TestLogs.withScratch { dir in
            let t = 1_780_000_000.0
            var log = ""
            log += Self.execEvent(pid: 900, ppid: 1, comm: "cron", exe: "/usr/sbin/cron", args: ["/usr/sbin/cron", "-f"], time: t, serial: 1)
            // An earlier process with the pid nightly.sh later has: its newer execve wins.
            log += Self.execEvent(pid: 31170, ppid: 1, comm: "old", exe: "/usr/bin/old", args: ["old"], time: t + 10, serial: 2)
            log += Self.execEvent(pid: 31170, ppid: 900, comm: "nightly.sh", exe: "/usr/bin/bash", args: ["/bin/bash", "/opt/ops/nightly.sh"], time: t + 100, serial: 3)
            log += Self.execEvent(pid: 31183, ppid: 31170, comm: "cleanup.sh", exe: "/usr/bin/bash",
                                  args: ["/bin/bash", "/opt/ops/cleanup.sh", "--older than"], time: t + 101, serial: 4)
            // A failed execve of the same pid is no program it ran.
            log += Self.execEvent(pid: 31183, ppid: 31170, comm: "cleanup.sh", exe: "/usr/bin/bash", args: ["/nope"], time: t + 101.5, serial: 5)
                .replacingOccurrences(of: "success=yes exit=0", with: "success=no exit=-2")
            log += SenderChainTests.killEvent(sender: 31187, ppid: 31183, target: 30954, time: t + 102, serial: 6)
            // An execve after the kill says nothing about it.
            log += Self.execEvent(pid: 31183, ppid: 31170, comm: "later", exe: "/usr/bin/later", args: ["later"], time: t + 200, serial: 7)
            let file = dir.appendingPathComponent("audit.log")
            try log.write(to: file, atomically: true, encoding: .utf8)
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try Ingest.run(paths: [file.path], databasePath: db.path)
            let execs = try TestLogs.query(db, "SELECT pid, ppid FROM process_execs ORDER BY sec")
            #expect(execs.count == 5, "the successful execve events, each once: \(execs)")

            var q = SignalQuery()
            q.targetPid = 30954
            let answer = try Who.ask(q, in: try SignalStore.openReadOnly(path: db.path))
            let text = WhoReport.text(answer, SenderChainTests.context)
            #expect(text.contains("chain     behind it: /bin/bash /opt/ops/cleanup.sh (pid 31183) ← /bin/bash /opt/ops/nightly.sh (pid 31170) ← /usr/sbin/cron -f (pid 900) (from the audit log's execve records)"),
                    "\(text)")
            let json = WhoReport.json(answer)
            #expect(json.contains("\"argv\":[\"/bin/bash\",\"/opt/ops/cleanup.sh\",\"--older than\"]"), "\(json)")
            #expect(json.contains("\"source\":\"audit-execve\""), "\(json)")
            #expect(json.contains("\"behind_index\":1"), "\(json)")
        }
    }
}
