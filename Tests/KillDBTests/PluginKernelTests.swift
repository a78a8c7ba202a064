import AuditRules
import Foundation
import GRDB
import KillDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndKernelTests {
    /// The reason for `killdb plugin`: auditd rotates tiny logs away during a burst and no
    /// ingest runs at all, yet every signal is in the database, handed over by auditd itself.
    ///
    /// Nested in the real-kernel suite so it inherits `.serialized` and `.enabled(if:)`:
    /// only one auditd can own the kernel's audit socket.
    @Suite("auditd plugin on the real kernel")
    struct PluginKernelTests {
        @Test("a burst whose beginning auditd rotates out of the logs: all of it is in the database")
        func burstRotatedAway() throws {
            let cli = try KillDBCLI.require()
            try TestLogs.withScratch { scratch in
                let db = scratch.appendingPathComponent("killdb.sqlite").path
                let sandbox = try AuditSandbox()
                defer { sandbox.stop() }
                // 1 MB files, two kept: the burst (~3 MB of log) deletes its own beginning.
                sandbox.maxLogFileMB = 1
                sandbox.numLogs = 2
                // auditd wants the plugin root-owned, mode 0750, and a conf line under 160 bytes;
                // a copy also keeps a rebuild from making auditd restart it mid-test.
                let plugins = sandbox.directory + "/plugins"
                try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
                let binary = sandbox.directory + "/killdb"
                try FileManager.default.copyItem(atPath: cli.path, toPath: binary)
                chmod(binary, 0o750)
                // The file `killdb rules install --plugin` writes, so auditd itself checks it.
                _ = try PluginInstallation(directory: plugins).install(binary: binary, database: db)
                try sandbox.start()

                let auditctl = AuditSandbox.availability.auditctl
                let lostBefore = try AuditSandbox.auditStatus(auditctl)["lost"] ?? 0
                try #require(PluginTests.eventually(10) { FileManager.default.fileExists(atPath: db) },
                             "auditd did not start the plugin (no \(db)); auditd output: \(sandboxOutput(sandbox))")

                let victim = try sandbox.startVictim()
                let target = Int64(victim.processIdentifier)
                // SIGCONT is harmless to a sleeping victim; every call is audited either way.
                let loop = try sandbox.startLoop(.b64, "kill", signal: SIGCONT, pid: target, count: 5000, rate: 1000)
                let r = try loop.wait()
                let calls = r.sent + r.failed
                // Events reach the plugin in order: once this one is stored, all of the loop's are.
                let marker = try sandbox.send(.b64, "kill", signal: 0, pid: target)
                let queue = try DatabaseQueue(path: db)
                func stored(_ pid: pid_t) throws -> Int {
                    try queue.read { try Int.fetchOne($0, sql: "SELECT COUNT(DISTINCT event_id) FROM signals WHERE sender_pid = ?",
                                                     arguments: [pid]) ?? 0 }
                }
                let arrived = try PluginTests.eventually(20) { try stored(marker.pid) == 1 }
                let lost = (try AuditSandbox.auditStatus(auditctl)["lost"] ?? 0) - lostBefore
                #expect(arrived, "the marker event never reached the database")

                #expect(r.failed == 0, "\(r.failed) calls failed")
                let inDB = try stored(loop.pid)
                #expect(inDB == calls, "the loop made \(calls) calls; the database holds \(inDB) (kernel lost \(lost) records)")
                let inLogs = sandbox.logLines().filter { $0.contains("type=SYSCALL ") && $0.contains(" pid=\(loop.pid) ") }.count
                #expect(inLogs < calls, "the logs must have rotated the burst's beginning away; they hold \(inLogs) of \(calls)")

                // The logs that are left hold nothing the plugin missed.
                let summary = try Ingest.run(paths: [sandbox.logDirectory], databasePath: db)
                #expect(summary.totals.newEvents == 0, "ingest found \(summary.totals.newEvents) events the plugin had not stored")

                // auditd passes SIGTERM on to its plugins: the run ends complete.
                sandbox.stop()
                let complete = try PluginTests.eventually(15) {
                    try queue.read { try String.fetchAll($0, sql: """
                        SELECT r.status FROM ingest_runs r JOIN file_reads f ON f.run_id = r.id
                        WHERE CAST(f.path AS TEXT) = ?
                        """, arguments: [LiveIngest.streamPath]) } == ["complete"]
                }
                #expect(complete, "the plugin's run must be complete after auditd stops it")
                AuditSandbox.loud("auditd plugin: \(calls) calls, \(inDB) stored, \(inLogs) left in the logs, kernel lost \(lost)")
            }
        }

        func sandboxOutput(_ sandbox: AuditSandbox) -> String {
            (try? String(contentsOfFile: sandbox.directory + "/auditd.out", encoding: .utf8)) ?? ""
        }
    }
}
