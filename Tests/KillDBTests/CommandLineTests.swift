import Foundation
import KillDB
import Output
import Queries
import Store
import Testing

/// The kernel caches PROCTITLE from a process's first audited record and keeps it across
/// execve: a command line that cannot belong to the sender's executable is not its command.
@Suite("who: a command line recorded before an execve is not presented as the sender's command")
struct StaleCommandLineTests {
    static func event(_ stamp: String, target: Int, comm: String, exe: String, argv: [String]) -> String {
        AuditLine.killSyscall(stamp, target: Int64(target), signal: 9)
            .replacingOccurrences(of: "comm=\"bash\" exe=\"/usr/bin/bash\"", with: "comm=\"\(comm)\" exe=\"\(exe)\"")
            + AuditLine.objPID(stamp, pid: target) + AuditLine.proctitle(stamp, argv: argv)
    }

    @Test("first argument against comm and the executable's name, allowing for interpreters and symlinks")
    func fits() {
        func fits(_ cmd: String, _ comm: String, _ exe: String) -> Bool {
            CommandLineFit.fits(Array(cmd.utf8), comm: Array(comm.utf8), exe: Array(exe.utf8))
        }
        #expect(!fits("/bin/bash /tmp/s6_inner.sh", "kill", "/usr/bin/kill"))
        #expect(!fits("python3 /srv/run.py --retries 3", "timeout", "/usr/bin/timeout"))
        #expect(fits("sh -c kill -9 42", "sh", "/usr/bin/dash"))
        #expect(fits("python3 /srv/run.py", "python3", "/usr/bin/python3.11"))
        #expect(fits("/bin/bash ./s6_inner.sh", "s6_inner.sh", "/usr/bin/bash"))   // a script: its interpreter runs
        #expect(fits("-bash", "bash", "/usr/bin/bash"))
        #expect(fits("kill -9 42", "kill", "/usr/bin/kill"))
        #expect(fits("sshd: alice [priv]", "sshd", "/usr/sbin/sshd"))
        #expect(fits("/sbin/init splash", "systemd", "/usr/lib/systemd/systemd"))   // init is a symlink to systemd
        #expect(fits("/usr/bin/elasticsearch-worker --x", "elasticsearch-w", "/opt/es/bin/java"))
    }

    @Test("who says the stale command line was recorded earlier in the process's life")
    func staleInWho() throws {
        try TestLogs.withScratch { dir in
            let log = dir.appendingPathComponent("audit.log")
            try TestLogs.write(Self.event("1795600000.100:10", target: 31800, comm: "kill", exe: "/usr/bin/kill",
                                          argv: ["/bin/bash", "/tmp/s6_inner.sh"])
                               + Self.event("1795600001.100:11", target: 31801, comm: "sh", exe: "/usr/bin/dash",
                                            argv: ["sh", "-c", "kill -9 31801"]), to: log)
            try TestLogs.age(log)
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try TestLogs.ingest([log], db: db)
            let store = try SignalStore.openReadOnly(path: db.path)
            var q = SignalQuery()
            q.targetPid = 31800
            let stale = WhoReport.text(try Who.ask(q, in: store), WhoFixture.context)
            #expect(stale.contains("not on record: the command line logged (/bin/bash /tmp/s6_inner.sh) was recorded earlier in the process's life, before it ran /usr/bin/kill"), "\(stale)")
            #expect(!stale.contains("command /bin/bash"), "\(stale)")
            q.targetPid = 31801
            let fitting = WhoReport.text(try Who.ask(q, in: store), WhoFixture.context)
            #expect(fitting.contains("sh -c kill -9 31801") && !fitting.contains("recorded earlier"), "\(fitting)")
        }
    }
}
