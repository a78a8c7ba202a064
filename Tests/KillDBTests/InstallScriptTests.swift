import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// scripts/install into a scratch root (KILLDB_INSTALL_ROOT), with fake systemctl and a fake
/// killdb that record their arguments: nothing on the real system is touched.
@Suite("scripts/install: binary, rules and schedule in, and out again")
struct InstallScriptTests {
    static let script = TestLogs.repoRoot.appendingPathComponent("scripts/install").path

    /// A scratch root plus a bin directory with recording `systemctl` and `killdb` stand-ins.
    struct Scratch {
        let root: String
        let fakeBin: String
        let calls: String

        /// Every recorded call, in order: `systemctl enable --now killdb-ingest.timer`, `killdb rules install ...`.
        var recorded: [String] {
            ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        /// A shell stand-in that appends "NAME ARGS" to the calls file.
        func fake(_ name: String) throws -> String {
            let path = fakeBin + "/" + name
            try "#!/bin/sh\necho \"\(name) $*\" >> '\(calls)'\n".write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
            return path
        }

        func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: root + path) }
        func read(_ path: String) throws -> String { try String(contentsOfFile: root + path, encoding: .utf8) }
        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: root + path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
    }

    func withScratch(_ body: (Scratch) throws -> Void) throws {
        try TestLogs.withScratch { dir in
            let s = Scratch(root: dir.path + "/root", fakeBin: dir.path + "/bin", calls: dir.path + "/calls")
            try FileManager.default.createDirectory(atPath: s.root, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: s.fakeBin, withIntermediateDirectories: true)
            _ = try s.fake("systemctl")
            try body(s)
        }
    }

    struct Result: CustomStringConvertible {
        var status: Int32
        var output: String
        var description: String { "exit \(status): \(output)" }
    }

    func install(_ s: Scratch, _ args: [String], binary: String? = nil, skipRules: Bool = true) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [Self.script] + args
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = s.fakeBin + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        env["KILLDB_INSTALL_ROOT"] = s.root
        env["KILLDB_BINARY"] = binary ?? CLI.binary
        env["KILLDB_SKIP_RULES"] = skipRules ? "1" : nil
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    @Test("systemd: the binary and both units land, the timer is enabled; --uninstall takes them away and keeps the database")
    func systemd() throws {
        try withScratch { s in
            let r = try install(s, ["--schedule", "systemd"])
            try #require(r.status == 0, "\(r)")
            #expect(FileManager.default.isExecutableFile(atPath: s.root + "/usr/local/bin/killdb"))
            let service = try s.read("/etc/systemd/system/killdb-ingest.service")
            #expect(service.contains("ExecStart=/usr/local/bin/killdb ingest --quiet\n"))
            #expect(service.contains("Type=oneshot") && service.contains("ProtectSystem=strict"))
            // The kernel log is readable from the unit: OOM kills are only there.
            let settings = service.split(separator: "\n").filter { !$0.hasPrefix("#") }
            #expect(!settings.contains("PrivateDevices=yes") && !settings.contains("ProtectKernelLogs=yes"), "\(service)")
            #expect(settings.contains("DeviceAllow=/dev/kmsg r"))
            #expect(settings.contains { $0.hasPrefix("CapabilityBoundingSet=") && $0.contains("CAP_SYSLOG") })
            #expect(try s.read("/etc/systemd/system/killdb-ingest.timer").contains("OnUnitActiveSec=5min"))
            #expect(try s.mode("/etc/systemd/system/killdb-ingest.service") == 0o644)
            #expect(s.exists("/var/lib/killdb"))
            #expect(!s.exists("/etc/cron.d/killdb"))
            // Manual pages and completions, where man, bash-completion, zsh and fish look.
            for page in ["killdb.1", "killdb-who.1", "killdb-report.1", "killdb-rules-install.1"] {
                #expect(try s.mode("/usr/local/share/man/man1/" + page) == 0o644, "\(page)")
            }
            #expect(try s.read("/usr/local/share/man/man1/killdb-who.1").contains(".Dt KILLDB-WHO 1"))
            #expect(try s.read("/usr/local/share/bash-completion/completions/killdb").contains("complete -o filenames -F _killdb killdb"))
            #expect(try s.read("/usr/local/share/zsh/site-functions/_killdb").hasPrefix("#compdef killdb"))
            #expect(try s.read("/usr/local/share/fish/vendor_completions.d/killdb.fish").contains("complete -c 'killdb'"))
            #expect(s.recorded == ["systemctl daemon-reload", "systemctl enable --now killdb-ingest.timer"])
            #expect(r.output.contains("skipped the audit rules"))

            // The installed binary is the real one and runs.
            let version = try CLI.run(["--version"])
            let installed = Process()
            installed.executableURL = URL(fileURLWithPath: s.root + "/usr/local/bin/killdb")
            installed.arguments = ["--version"]
            let pipe = Pipe()
            installed.standardOutput = pipe
            try installed.run()
            let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            installed.waitUntilExit()
            #expect(printed == version.stdout)

            try TestLogs.write("database", to: URL(fileURLWithPath: s.root + "/var/lib/killdb/killdb.sqlite"))
            let u = try install(s, ["--uninstall"])
            try #require(u.status == 0, "\(u)")
            #expect(!s.exists("/usr/local/bin/killdb"))
            #expect(!s.exists("/etc/systemd/system/killdb-ingest.service") && !s.exists("/etc/systemd/system/killdb-ingest.timer"))
            let manLeft = (try? FileManager.default.contentsOfDirectory(atPath: s.root + "/usr/local/share/man/man1")) ?? []
            #expect(manLeft.isEmpty, "\(manLeft)")
            for f in ["bash-completion/completions/killdb", "zsh/site-functions/_killdb", "fish/vendor_completions.d/killdb.fish"] {
                #expect(!s.exists("/usr/local/share/" + f), "\(f)")
            }
            #expect(Array(s.recorded.dropFirst(2)) == ["systemctl disable --now killdb-ingest.timer", "systemctl daemon-reload"])
            #expect(s.exists("/var/lib/killdb/killdb.sqlite"), "the database is kept")
            #expect(u.output.contains("kept the database in \(s.root)/var/lib/killdb"))
        }
    }

    @Test("cron: the cron.d file lands 0644 with flock and the prefix's binary; installing systemd after it replaces it")
    func cron() throws {
        try withScratch { s in
            let r = try install(s, ["--schedule", "cron", "--prefix", "/opt/killdb"])
            try #require(r.status == 0, "\(r)")
            #expect(FileManager.default.isExecutableFile(atPath: s.root + "/opt/killdb/bin/killdb"))
            let cron = try s.read("/etc/cron.d/killdb")
            #expect(cron.contains("*/5 * * * * root flock -n /run/killdb-ingest.lock /opt/killdb/bin/killdb ingest --quiet\n"))
            #expect(try s.mode("/etc/cron.d/killdb") == 0o644, "cron ignores group- or world-writable files")
            #expect(s.recorded.isEmpty, "cron needs no systemctl")

            // One schedule at a time: switching removes the cron file.
            let again = try install(s, ["--schedule", "systemd", "--prefix", "/opt/killdb"])
            try #require(again.status == 0, "\(again)")
            #expect(!s.exists("/etc/cron.d/killdb"))
            #expect(try s.read("/etc/systemd/system/killdb-ingest.service").contains("ExecStart=/opt/killdb/bin/killdb ingest --quiet"))

            let u = try install(s, ["--uninstall", "--prefix", "/opt/killdb"])
            try #require(u.status == 0, "\(u)")
            #expect(!s.exists("/opt/killdb/bin/killdb") && !s.exists("/etc/systemd/system/killdb-ingest.timer"))
        }
    }

    @Test("the default schedule follows /run/systemd/system; rules install and remove go through the installed killdb")
    func defaultsAndRules() throws {
        try withScratch { s in
            let fakeKilldb = try s.fake("killdb")
            let r = try install(s, [], binary: fakeKilldb, skipRules: false)
            try #require(r.status == 0, "\(r)")
            #expect(s.exists("/etc/cron.d/killdb"), "no systemd: cron")
            #expect(s.recorded == ["bash", "zsh", "fish"].map { "killdb --generate-completion-script \($0)" }
                + ["killdb rules install --rules-dir \(s.root)/etc/audit/rules.d"])

            try FileManager.default.createDirectory(atPath: s.root + "/run/systemd/system", withIntermediateDirectories: true)
            let r2 = try install(s, ["--no-rules"], binary: fakeKilldb, skipRules: false)
            try #require(r2.status == 0, "\(r2)")
            #expect(s.exists("/etc/systemd/system/killdb-ingest.timer") && !s.exists("/etc/cron.d/killdb"))
            #expect(s.recorded.filter { $0.hasPrefix("killdb rules") }.count == 1, "--no-rules runs no rules command")

            let u = try install(s, ["--uninstall"], binary: fakeKilldb, skipRules: false)
            try #require(u.status == 0, "\(u)")
            #expect(s.recorded.contains("killdb rules remove --rules-dir \(s.root)/etc/audit/rules.d"))
            #expect(!s.exists("/usr/local/bin/killdb"))
        }
    }

    @Test("systemd hosts get killdb-trace.service, started; --no-tracer leaves it out; --uninstall stops and removes it")
    func tracerUnit() throws {
        try withScratch { s in
            try FileManager.default.createDirectory(atPath: s.root + "/run/systemd/system", withIntermediateDirectories: true)
            let r = try install(s, ["--prefix", "/opt/killdb"])
            try #require(r.status == 0, "\(r)")
            let unit = try s.read("/etc/systemd/system/killdb-trace.service")
            #expect(unit.contains("ExecStart=/opt/killdb/bin/killdb trace --db /var/lib/killdb/killdb.sqlite\n"), "\(unit)")
            #expect(unit.contains("RestartPreventExitStatus=5") && unit.contains("WantedBy=multi-user.target"))
            #expect(try s.mode("/etc/systemd/system/killdb-trace.service") == 0o644)
            #expect(s.recorded.suffix(2) == ["systemctl daemon-reload", "systemctl enable --now killdb-trace.service"], "\(s.recorded)")
            #expect(r.output.contains("installed and started killdb-trace.service"))

            let u = try install(s, ["--uninstall", "--prefix", "/opt/killdb"])
            try #require(u.status == 0, "\(u)")
            #expect(!s.exists("/etc/systemd/system/killdb-trace.service"))
            #expect(s.recorded.contains("systemctl disable --now killdb-trace.service"))

            let without = try install(s, ["--no-tracer"])
            try #require(without.status == 0, "\(without)")
            #expect(!s.exists("/etc/systemd/system/killdb-trace.service"))
            #expect(without.output.contains("skipped the tracer"))
        }
    }

    @Test("bad arguments are refused before anything is written")
    func badArguments() throws {
        try withScratch { s in
            for args in [["--schedule", "launchd"], ["--prefix", "relative"], ["--prefix", "/opt/a b"], ["--bogus"]] {
                let r = try install(s, args)
                #expect(r.status != 0, "\(args): \(r)")
                #expect(!s.exists("/usr/local/bin/killdb") && !s.exists("/opt"), "\(args)")
            }
        }
    }
}
