import AuditRules
import Foundation
import GRDB
import KillDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndKernelTests {
    /// Who was behind a kill, on the real kernel: auditd hands each event to `killdb plugin`,
    /// which reads the sender's parents and cgroup from /proc as it arrives; `killdb who`
    /// then names the scripts and the unit. Nested in the real-kernel suite (one auditd).
    @Suite("who was behind it, on the real kernel")
    struct SenderChainKernelTests {
        /// auditd with `killdb plugin` writing `db`, as `killdb rules install --plugin` sets it up.
        func withPlugin(_ body: (AuditSandbox, String) throws -> Void) throws {
            let cli = try KillDBCLI.require()
            try TestLogs.withScratch { scratch in
                let db = scratch.appendingPathComponent("killdb.sqlite").path
                let sandbox = try AuditSandbox()
                defer { sandbox.stop() }
                let plugins = sandbox.directory + "/plugins"
                try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
                let binary = sandbox.directory + "/killdb"
                try FileManager.default.copyItem(atPath: cli.path, toPath: binary)
                chmod(binary, 0o750)
                _ = try PluginInstallation(directory: plugins).install(binary: binary, database: db)
                try sandbox.start()
                try #require(PluginTests.eventually(10) { FileManager.default.fileExists(atPath: db) }, "auditd did not start the plugin")
                try body(sandbox, db)
            }
        }

        /// Waits until the plugin has stored a kill of `target`.
        func stored(_ db: String, target: Int32) throws -> Bool {
            try PluginTests.eventually(15) {
                let q = try DatabaseQueue(path: db)
                return try q.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM signal_context WHERE target_pid = ?", arguments: [target]) ?? 0 } > 0
                    && (try q.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM signals WHERE target_pid = ?", arguments: [target]) ?? 0 }) > 0
            }
        }

        /// What the database holds, for a failure message.
        func summary(_ db: String, target: Int32) -> String {
            let q = try? DatabaseQueue(path: db)
            let rows = (try? q?.read { try Row.fetchAll($0, sql: """
                SELECT (SELECT COUNT(*) FROM signals WHERE target_pid = ?1) AS signals,
                       (SELECT COUNT(*) FROM processes) AS processes, (SELECT COUNT(*) FROM event_processes) AS links,
                       (SELECT group_concat(sender_pid || '/' || sender_ppid || '/' || sender_comm, ' ') FROM signals WHERE target_pid = ?1) AS senders
                """, arguments: [target]) }) ?? nil
            return rows?.description ?? "unreadable"
        }

        /// Runs `script` with bash and its arguments, started after audit was enabled.
        func run(_ path: String, _ args: [String]) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = [path] + args
            p.standardInput = FileHandle.nullDevice
            try p.run()
            return p
        }

        @Test("outer.sh runs inner.sh runs /bin/kill -9 (and the bash builtin): who --pid names both scripts")
        func scripts() throws {
            let cli = try KillDBCLI.require()
            try withPlugin { sandbox, db in
                let dir = sandbox.directory
                // The scripts outlive the kill a while, as a real cleanup script goes on.
                try "#!/bin/bash\nbash \(dir)/inner.sh \"$@\"\nsleep 20\n".write(toFile: dir + "/outer.sh", atomically: true, encoding: .utf8)
                try "#!/bin/bash\nif [ \"$2\" = builtin ]; then kill -9 \"$1\"; else /bin/kill -9 \"$1\"; fi\nsleep 20\n"
                    .write(toFile: dir + "/inner.sh", atomically: true, encoding: .utf8)
                for mode in ["external", "builtin"] {
                    let victim = try sandbox.startVictim()
                    let outer = try run(dir + "/outer.sh", ["\(victim.processIdentifier)", mode])
                    defer {
                        // Only what this test started: outer.sh's children by pid, then outer.sh.
                        let kids = (try? String(contentsOfFile: "/proc/\(outer.processIdentifier)/task/\(outer.processIdentifier)/children", encoding: .utf8)) ?? ""
                        for k in kids.split(separator: " ").compactMap({ Int32($0) }) {
                            let grand = (try? String(contentsOfFile: "/proc/\(k)/task/\(k)/children", encoding: .utf8)) ?? ""
                            for g in grand.split(separator: " ").compactMap({ Int32($0) }) { kill(g, SIGKILL) }
                            kill(k, SIGKILL)
                        }
                        kill(outer.processIdentifier, SIGKILL)
                        outer.waitUntilExit()
                    }
                    victim.waitUntilExit()
                    #expect(victim.terminationReason == .uncaughtSignal && victim.terminationStatus == SIGKILL)
                    try #require(try stored(db, target: victim.processIdentifier), "\(mode): the plugin stored no context for the kill: \(summary(db, target: victim.processIdentifier))")
                    let r = cli.run(["who", "--db", db, "--pid", "\(victim.processIdentifier)"])
                    #expect(r.status == 0, "\(r)")
                    #expect(r.stdout.contains("inner.sh"), "\(mode): \(r.stdout)")
                    #expect(r.stdout.contains("/outer.sh (pid \(outer.processIdentifier))"), "\(mode): \(r.stdout)")
                    if mode == "external" {
                        #expect(r.stdout.contains("chain     behind it: bash \(dir)/inner.sh (pid "), "\(r.stdout)")
                    } else {
                        // The builtin: the script itself sent it; its parent ran it.
                        #expect(r.stdout.contains("chain     run by: /bin/bash \(dir)/outer.sh (pid \(outer.processIdentifier))"), "\(r.stdout)")
                    }
                    let json = cli.run(["who", "--db", db, "--pid", "\(victim.processIdentifier)", "--format", "json"])
                    #expect(json.stdout.contains("\"sender_chain\":["), "\(json.stdout.prefix(400))")
                    AuditSandbox.loud("who --pid (\(mode) kill):\n\(r.stdout)")
                }
            }
        }

        @Test("a sender in system.slice/killdb-test-cron.service of the name=systemd hierarchy is named as that unit")
        func systemdUnit() throws {
            let hierarchy = "/sys/fs/cgroup/systemd"
            guard FileManager.default.fileExists(atPath: hierarchy + "/cgroup.procs") else {
                AuditSandbox.loud("*** SKIPPED: no name=systemd hierarchy at \(hierarchy) ***")
                #expect(ProcessInfo.processInfo.environment["CI"] != "true", "CI needs the name=systemd hierarchy")
                return
            }
            let cli = try KillDBCLI.require()
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
                // Empty it (our processes only are in it, and they are gone by now), then remove.
                let deadline = Date().addingTimeInterval(5)
                while rmdir(unit) != 0 && errno == EBUSY && Date() < deadline { usleep(50_000) }
                if madeSlice { rmdir(slice) }
            }
            try withPlugin { sandbox, db in
                let dir = sandbox.directory
                try "#!/bin/bash\necho $$ > \(unit)/cgroup.procs || exit 3\n/bin/kill -9 \"$1\"\nsleep 20\n"
                    .write(toFile: dir + "/cron-job.sh", atomically: true, encoding: .utf8)
                let victim = try sandbox.startVictim()
                let job = try run(dir + "/cron-job.sh", ["\(victim.processIdentifier)"])
                defer {
                    let kids = (try? String(contentsOfFile: "/proc/\(job.processIdentifier)/task/\(job.processIdentifier)/children", encoding: .utf8)) ?? ""
                    for k in kids.split(separator: " ").compactMap({ Int32($0) }) { kill(k, SIGKILL) }
                    kill(job.processIdentifier, SIGKILL)
                    job.waitUntilExit()
                }
                victim.waitUntilExit()
                try #require(try stored(db, target: victim.processIdentifier), "the plugin stored no context for the kill: \(summary(db, target: victim.processIdentifier))")
                let units = try DatabaseQueue(path: db).read {
                    try String?.fetchAll($0, sql: "SELECT sender_unit FROM signal_context WHERE target_pid = ?", arguments: [victim.processIdentifier])
                }
                let processes = try DatabaseQueue(path: db).read {
                    try Row.fetchAll($0, sql: "SELECT pid, cmdline, cgroup, unit, read_at FROM process_context")
                }
                #expect(units == ["killdb-test-cron.service"], "\(processes)")
                let r = cli.run(["who", "--db", db, "--pid", "\(victim.processIdentifier)"])
                #expect(r.stdout.contains("sender in killdb-test-cron.service"), "\(r.stdout)")
                // The unit's own chain, then the unit: its parents outside it are not its story.
                #expect(r.stdout.contains("chain     behind it: /bin/bash \(dir)/cron-job.sh (pid \(job.processIdentifier)), killdb-test-cron.service"), "\(r.stdout)")
                AuditSandbox.loud("who --pid (a unit's job):\n\(r.stdout)")
                // Asked by the sender's unit: this kill, and none for another unit.
                let byUnit = cli.run(["who", "--db", db, "--sender-unit", "killdb-test-*.service", "--format", "json"])
                #expect(byUnit.stdout.contains("\"target_pid\":\(victim.processIdentifier)"), "\(byUnit)")
                let other = cli.run(["who", "--db", db, "--sender-unit", "cron.service"])
                #expect(other.stdout.hasPrefix("No SIGKILL sent from unit cron.service is on record."), "\(other)")
            }
        }
    }
}
