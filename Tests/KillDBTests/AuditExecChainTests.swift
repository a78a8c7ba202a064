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
    static func execEvent(pid: Int, ppid: Int, comm: String, exe: String, args: [String], time: Double, serial: Int,
                          arch: String = "c000003e", syscall: Int = 59, endOfEvent: Bool = true) -> String {
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
        return "type=SYSCALL msg=audit(\(stamp)): arch=\(arch) syscall=\(syscall) success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 ppid=\(ppid) pid=\(pid) auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=\"\(comm)\" exe=\"\(exe)\" key=\"exec\"\n"
            + "type=EXECVE msg=audit(\(stamp)): " + fields.joined(separator: " ") + "\n"
            + AuditLine.proctitle(stamp, argv: args)
            + (endOfEvent ? "type=EOE msg=audit(\(stamp)): \n" : "")
    }

    static func chainText(_ db: URL, target: Int64) throws -> String {
        var q = SignalQuery()
        q.targetPid = target
        return WhoReport.text(try Who.ask(q, in: try SignalStore.openReadOnly(path: db.path)), SenderChainTests.context)
    }

    @Test("merged into a collector's database, the execve events come along: the sender's parents are still named, once however often merged")
    func mergedExecs() throws {
        try TestLogs.withScratch { dir in
            let t = 1_780_000_000.0
            var log = Self.execEvent(pid: 700, ppid: 1, comm: "cron", exe: "/usr/sbin/cron", args: ["/usr/sbin/cron", "-f"],
                                     time: t, serial: 1)
            log += Self.execEvent(pid: 701, ppid: 700, comm: "job.sh", exe: "/usr/bin/bash", args: ["/bin/bash", "/opt/job.sh"],
                                  time: t + 1, serial: 2)
            log += SenderChainTests.killEvent(sender: 703, ppid: 701, target: 30954, time: t + 3, serial: 4)
            let file = dir.appendingPathComponent("audit.log")
            try log.write(to: file, atomically: true, encoding: .utf8)
            let source = dir.appendingPathComponent("host.sqlite")
            _ = try Ingest.run(paths: [file.path], databasePath: source.path)
            let target = dir.appendingPathComponent("fleet.sqlite")
            let store = try SignalStore.openForWriting(path: target.path)
            #expect(try store.merge(from: source.path).newExecs == 2)
            #expect(try store.merge(from: source.path).newExecs == 0)
            let text = try Self.chainText(target, target: 30954)
            #expect(text.contains("/bin/bash /opt/job.sh (pid 701) ← /usr/sbin/cron -f (pid 700) (from the audit log's execve records)"), "\(text)")
        }
    }

    @Test("execve on ppc64le and s390x: numbered by libaudit's tables for the record's own arch")
    func otherArches() throws {
        try TestLogs.withScratch { dir in
            let t = 1_780_000_000.0
            var log = ""
            // execve is 11 on both (59 on x86_64, where 11 is munmap: no execve there).
            log += Self.execEvent(pid: 700, ppid: 1, comm: "cron", exe: "/usr/sbin/cron", args: ["/usr/sbin/cron", "-f"],
                                  time: t, serial: 1, arch: "c0000015", syscall: 11)
            log += Self.execEvent(pid: 701, ppid: 700, comm: "job.sh", exe: "/usr/bin/bash", args: ["/bin/bash", "/opt/job.sh"],
                                  time: t + 1, serial: 2, arch: "80000016", syscall: 11)
            log += Self.execEvent(pid: 702, ppid: 1, comm: "munmap", exe: "/usr/bin/x", args: ["x"], time: t + 2, serial: 3,
                                  arch: "c000003e", syscall: 11)
            log += SenderChainTests.killEvent(sender: 703, ppid: 701, target: 30954, time: t + 3, serial: 4)
            let file = dir.appendingPathComponent("audit.log")
            try log.write(to: file, atomically: true, encoding: .utf8)
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try Ingest.run(paths: [file.path], databasePath: db.path)
            let execs = try TestLogs.query(db, "SELECT pid FROM process_execs ORDER BY sec").map { $0["pid"] as Int64 }
            #expect(execs == [700, 701], "\(execs)")
            let text = try Self.chainText(db, target: 30954)
            #expect(text.contains("/bin/bash /opt/job.sh (pid 701) ← /usr/sbin/cron -f (pid 700) (from the audit log's execve records)"), "\(text)")
        }
    }

    @Test("without EOE records (auditd writes none), interleaved, ENRICHED, a long argument over two EXECVE records: each execve whole")
    func noEndOfEvent() throws {
        try TestLogs.withScratch { dir in
            let t = 1_780_000_000.0
            let long = String(repeating: "x", count: 40)
            func stamp(_ time: Double, _ serial: Int) -> String { "\(Int(time)).\(String(format: "%03d", Int(time * 1000) % 1000)):\(serial)" }
            func syscall(_ s: String, pid: Int, ppid: Int, comm: String) -> String {
                "type=SYSCALL msg=audit(\(s)): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=2 ppid=\(ppid) pid=\(pid) auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=\"\(comm)\" exe=\"/usr/bin/\(comm)\" key=\"exec\"\u{1d}ARCH=x86_64 SYSCALL=execve AUID=\"unset\" UID=\"root\"\n"
            }
            let a = stamp(t, 1), b = stamp(t, 2)
            var log = ""
            // Two execve events whose records interleave; neither has an EOE.
            log += syscall(a, pid: 800, ppid: 1, comm: "outer")
            log += syscall(b, pid: 801, ppid: 800, comm: "inner")
            log += "type=EXECVE msg=audit(\(a)): argc=2 a0=\"outer\" a1_len=40 a1[0]=\"\(long.prefix(20))\"\n"
            log += "type=EXECVE msg=audit(\(b)): argc=3 a0=\"inner\" a1=2D2D6E6F77 a2=\"end\"\n"
            log += "type=EXECVE msg=audit(\(a)):  a1[1]=\"\(long.suffix(20))\"\n"
            log += "type=CWD msg=audit(\(a)): cwd=\"/\"\n"
            log += AuditLine.proctitle(b, argv: ["inner", "--now", "end"])
            log += AuditLine.proctitle(a, argv: ["outer", long])
            log += SenderChainTests.killEvent(sender: 802, ppid: 801, target: 30954, time: t + 0.5, serial: 3)
            let file = dir.appendingPathComponent("audit.log")
            try log.write(to: file, atomically: true, encoding: .utf8)
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try Ingest.run(paths: [file.path], databasePath: db.path)
            let text = try Self.chainText(db, target: 30954)
            #expect(text.contains("inner --now end (pid 801) ← outer \(long) (pid 800) (from the audit log's execve records)"), "\(text)")
        }
    }

    @Test("a log of nothing but execve events, more than the filter holds between commits: every one stored")
    func manyExecs() throws {
        try TestLogs.withScratch { dir in
            let t = 1_780_000_000.0
            var log = ""
            log.reserveCapacity(20_000 * 700)
            for i in 0..<20_000 {
                log += Self.execEvent(pid: 1000 + i % 30_000, ppid: 1, comm: "ls", exe: "/usr/bin/ls", args: ["ls", "-l", "\(i)"],
                                      time: t + Double(i) * 0.001, serial: i + 1, endOfEvent: false)
            }
            let file = dir.appendingPathComponent("audit.log")
            try log.write(to: file, atomically: true, encoding: .utf8)
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try Ingest.run(paths: [file.path], databasePath: db.path)
            let rows = try TestLogs.query(db, "SELECT COUNT(*) AS n, COUNT(DISTINCT argv_id) AS argv FROM process_execs")
            #expect(rows.first?["n"] == 20_000 && rows.first?["argv"] == 20_000, "\(rows)")
        }
    }

    @Test("a parent that runs another program later in the kill's second: the program it ran at the kill names it")
    func laterInTheSameSecond() throws {
        try TestLogs.withScratch { dir in
            let t = 1_780_000_000.0
            var log = ""
            log += Self.execEvent(pid: 900, ppid: 1, comm: "deploy.sh", exe: "/usr/bin/bash", args: ["/bin/bash", "/opt/deploy.sh"], time: t, serial: 1)
            log += SenderChainTests.killEvent(sender: 901, ppid: 900, target: 30954, time: t + 0.2, serial: 2)
            // `exec` in the script after the kill: the same pid, another program, the same second.
            log += Self.execEvent(pid: 900, ppid: 1, comm: "app", exe: "/usr/bin/app", args: ["/usr/bin/app"], time: t + 0.7, serial: 3)
            let file = dir.appendingPathComponent("audit.log")
            try log.write(to: file, atomically: true, encoding: .utf8)
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try Ingest.run(paths: [file.path], databasePath: db.path)
            let text = try Self.chainText(db, target: 30954)
            #expect(text.contains("/bin/bash /opt/deploy.sh (pid 900) (from the audit log's execve records)"), "\(text)")
        }
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
