import AuditLog
import Foundation
import GRDB
import KillDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEndKernelTests {
    /// A fleet on one machine, through the audit system's own forwarding: a collector auditd
    /// (`local_events = no`) listening in a network namespace of its own, this host's private
    /// auditd forwarding real signals through an audisp-remote plugin as `host-a`, and two
    /// more hosts' records (real fixture records, restamped) sent by audisp-remote run by
    /// hand as `host-b` and `host-c`. killdb ingests the collector's log; a split of that log
    /// into two databases, merged, must be the same database.
    ///
    /// Nested in the real-kernel suite: host-a's auditd needs the kernel's audit socket, which
    /// one auditd at a time may own (the collector does not take it).
    @Suite("fleet: hosts forward with audisp-remote to a collector; killdb ingest and merge",
           .enabled(if: Fleet.shouldRun))
    struct FleetTests {
        @Test("every host's signals arrive, kept apart by node; split and merged equals one database")
        func forwardIngestMerge() throws {
            if let reason = Fleet.unavailable {
                Issue.record("fleet test required here (CI=true, root) but unavailable: \(reason)")
                return
            }
            let fleet = try Fleet()
            defer { fleet.stop() }
            try fleet.start()
            let sandbox = try AuditSandbox()
            defer { sandbox.stop() }
            sandbox.nodeName = "host-a"
            sandbox.pluginConfigs["au-remote.conf"] = """
                active = yes
                direction = out
                path = \(fleet.remoteLauncher)
                type = always
                format = string

                """
            try sandbox.start()

            // host-a: real signals from this kernel, forwarded by our auditd's plugin.
            var sentA: [(stamp: String, sender: pid_t, victim: pid_t)] = []
            for syscall in ["kill", "tgkill", "pidfd_send_signal"] {
                let victim = try sandbox.startVictim()
                let pid = Int64(victim.processIdentifier)
                let s = try sandbox.send(.b64, syscall, signal: SIGKILL, pid: pid, tid: pid)
                #expect(s.result == 0, "\(syscall): \(s)")
                victim.waitUntilExit()
                sentA.append((try sandbox.waitForEvent(senderPID: s.pid), s.pid, victim.processIdentifier))
            }
            // host-b and host-c: other machines' records, sent as their audisp-remote would.
            let replayB = Fleet.replay(node: "host-b", fixtures: ["three-kills.log", "kill-process-group.log", "tgkill.log"],
                                       firstSerial: 70_001)
            let replayC = Fleet.replay(node: "host-c", fixtures: ["three-kills.log", "eperm.log", "pidfd-send-signal.log"],
                                       firstSerial: 310_001)
            try fleet.send(replayB)
            try fleet.send(replayC)
            for a in sentA {
                try fleet.waitForCollectorLine(containing: ["node=host-a type=PROCTITLE msg=audit(\(a.stamp))"])
            }
            // Nothing more will come: stop both auditds so the logs are final, then age them so
            // ingest takes their last events as complete (audisp-remote drops EOE records).
            // host-a's own log, the truth to compare with: copied before stop() removes it.
            let hostALog = fleet.directory + "/host-a-log"
            try FileManager.default.copyItem(atPath: sandbox.logDirectory, toPath: hostALog)
            sandbox.stop()
            try fleet.stopCollector()
            for path in fleet.collectorLogFiles() + [hostALog + "/audit.log"] { try TestLogs.age(URL(fileURLWithPath: path)) }

            let db = fleet.directory + "/fleet.sqlite"
            let ingest = try CLI.run(["ingest", "--db", db, fleet.logDirectory])
            #expect(ingest.status == 0, "\(ingest.stderr)")

            // Each host's events, as that host's own log (or the replayed records) has them.
            let truthA = try Fleet.database(fleet.directory + "/truth-a.sqlite", logDirectory: hostALog)
            let truthB = try Fleet.database(fleet.directory + "/truth-b.sqlite", log: replayB, scratch: fleet.directory)
            let truthC = try Fleet.database(fleet.directory + "/truth-c.sqlite", log: replayC, scratch: fleet.directory)
            let collected = URL(fileURLWithPath: db)
            #expect(try Fleet.snapshot(collected, "node = 'host-a' AND key = ?", [sandbox.key])
                    == Fleet.snapshot(truthA, "key = ?", [sandbox.key]), "host-a: forwarded = logged locally")
            #expect(try Fleet.snapshot(collected, "node = 'host-b'") == Fleet.snapshot(truthB, "1"))
            #expect(try Fleet.snapshot(collected, "node = 'host-c'") == Fleet.snapshot(truthC, "1"))
            #expect(try TestLogs.query(collected, "SELECT COUNT(*) FROM signals WHERE node IS NULL").first?[0] as Int? == 0,
                    "every signal event carries its host's node")
            for a in sentA {
                let rows = try TestLogs.signals(collected, where: "event_id = ? AND node = 'host-a'", arguments: [a.stamp])
                #expect(rows.count == 1 && rows.first?["sender_pid"] as Int64? == Int64(a.sender)
                        && rows.first?["target_pid"] as Int64? == Int64(a.victim)
                        && rows.first?["signal_name"] as String? == "SIGKILL", "host-a event \(a.stamp): \(rows)")
            }

            let byNode = try CLI.run(["sql", "--db", db, "--format", "csv",
                                      "SELECT node, COUNT(DISTINCT event_id) AS events FROM signals GROUP BY node ORDER BY node"])
            #expect(byNode.status == 0, "\(byNode.stderr)")
            let counts = try [truthA, truthB, truthC].map { try TestLogs.eventCount($0) }
            let allA = try TestLogs.query(collected, "SELECT COUNT(DISTINCT event_id) FROM signals WHERE node = 'host-a'").first?[0] as Int?
            #expect(counts[0] == allA, "host-a: every locally logged signal event reached the collector")
            #expect(byNode.stdout == "node,events\r\nhost-a,\(counts[0])\r\nhost-b,\(counts[1])\r\nhost-c,\(counts[2])\r\n",
                    "\(byNode.stdout)")

            // Both replays kill pid 9001; --node tells the hosts apart.
            let whoB = try CLI.run(["who", "--db", db, "--node", "host-b", "9001"])
            #expect(whoB.status == 0, "\(whoB.stderr)")
            #expect(whoB.stdout.contains("on node host-b") && !whoB.stdout.contains("host-c"), "\(whoB.stdout)")
            let whoAll = try CLI.run(["who", "--db", db, "--format", "json", "9001"])
            let nodes = Set(TestLogs.whoAnswers(whoAll.stdout)
                .compactMap { $0["node"] as? String })
            #expect(nodes.isSuperset(of: ["host-b", "host-c"]), "\(whoAll.stdout)")

            // The collector's log split in two databases (as two collectors would hold it), merged.
            let parts = try fleet.splitCollectorLog()
            let merged = fleet.directory + "/merged.sqlite"
            let merge = try CLI.run(["merge", "--db", merged, "--format", "json"] + parts)
            #expect(merge.status == 0, "\(merge.stderr)")
            let summary = (try? JSONSerialization.jsonObject(with: Data(merge.stdout.utf8))) as? [String: Any]
            let added = (summary?["sources"] as? [[String: Any]] ?? []).compactMap { $0["new_events"] as? Int }
            #expect(added.count == 2 && added.allSatisfy { $0 > 0 }, "\(merge.stdout)")
            #expect(added.reduce(0, +) == (try TestLogs.query(collected, "SELECT COUNT(*) FROM events").first?[0] as Int? ?? -1))
            #expect(try TestLogs.snapshot(URL(fileURLWithPath: merged)) == TestLogs.snapshot(collected),
                    "merged parts = the whole log ingested once")
            let again = try CLI.run(["merge", "--db", merged, "--format", "json"] + parts)
            let addedAgain = ((try? JSONSerialization.jsonObject(with: Data(again.stdout.utf8))) as? [String: Any])?["sources"]
                as? [[String: Any]] ?? []
            #expect(addedAgain.map { $0["new_events"] as? Int } == [0, 0], "\(again.stdout) \(again.stderr)")
            let check = try CLI.run(["sql", "--db", merged, "--format", "csv",
                                     "SELECT node, COUNT(DISTINCT event_id) AS events FROM signals GROUP BY node ORDER BY node"])
            #expect(check.stdout == byNode.stdout)
        }
    }
}

/// The collector side of the fleet test: a network namespace joined to this host by a veth
/// pair, an auditd in it that only aggregates, and the audisp-remote launcher the hosts use.
/// Everything it creates it removes in `stop()`, and it stops only the auditd it started.
final class Fleet {
    // MARK: Availability

    static let tools: [String: String?] = [
        "ip": AuditSandbox.findTool("ip"),
        "audisp-remote": AuditSandbox.findTool("audisp-remote"),
        "unshare": AuditSandbox.findTool("unshare"),
        "mount": AuditSandbox.findTool("mount"),
    ]

    /// Why the fleet test cannot run here, or nil.
    static let unavailable: String? = {
        guard geteuid() == 0 else { return "not running as root (euid \(geteuid()))" }
        let missing = tools.filter { $0.value == nil }.keys.sorted()
        if !missing.isEmpty {
            return "missing \(missing.joined(separator: ", ")) (apt packages iproute2, audispd-plugins, util-linux)"
        }
        // The bind-mount target: audisp-remote reads no other configuration file.
        guard FileManager.default.fileExists(atPath: "/etc/audit/audisp-remote.conf") else {
            return "no /etc/audit/audisp-remote.conf to bind our configuration over"
        }
        return nil
    }()

    /// CI on a root machine with the tools installed must run the test: a skip there would
    /// hide a broken setup. Without root or the tools it is skipped, loudly, even in CI.
    static let shouldRun: Bool = {
        guard let reason = unavailable else { return true }
        let toolsPresent = geteuid() == 0 && tools.values.allSatisfy { $0 != nil }
        if ProcessInfo.processInfo.environment["CI"] == "true" && toolsPresent {
            AuditSandbox.loud("*** the fleet test is REQUIRED here (CI=true, root) but unavailable: \(reason) — it will FAIL ***")
            return true
        }
        AuditSandbox.loud("*** SKIPPING the fleet test (audisp-remote to a collector): \(reason) ***")
        return false
    }()

    // MARK: State

    let tag = String(format: "%06x", UInt32.random(in: 0...0xff_ffff))
    var namespace: String { "killdb-collector-\(tag)" }
    var hostInterface: String { "kdbh\(tag)" }
    var collectorInterface: String { "kdbc\(tag)" }
    private(set) var subnet = 0
    var hostAddress: String { "10.213.\(subnet).1" }
    var collectorAddress: String { "10.213.\(subnet).2" }
    let port = Int.random(in: 60000...60999)
    let directory: String
    var logDirectory: String { directory + "/collector-log" }
    /// Runs audisp-remote with our configuration (see `start()`).
    var remoteLauncher: String { directory + "/audisp-remote-private" }
    private(set) var collectorPID: pid_t = 0
    private var madeNamespace = false
    private var madeLink = false
    private var stopped = false

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/killdb-fleet-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw AuditSandbox.Failure("mkdtemp failed: errno \(errno)") }
        directory = realpath(made, nil).map { p in defer { free(p) }; return String(cString: p) } ?? String(cString: made)
    }

    deinit { stop() }

    private func ip(_ args: [String]) throws {
        let r = try AuditSandbox.run(Self.tools["ip"]!!, args)
        guard r.status == 0 else { throw AuditSandbox.Failure("ip \(args.joined(separator: " ")): \(r.stderr)") }
    }

    // MARK: Start / stop

    func start() throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: logDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try fm.createDirectory(atPath: directory + "/collector-plugins", withIntermediateDirectories: true)

        // A /30 no interface of this machine uses: traffic stays between our two veth ends.
        let inUse = (try? AuditSandbox.run(Self.tools["ip"]!!, ["-o", "-4", "addr", "show"]).stdout) ?? ""
        subnet = (0..<256).shuffled().first { !inUse.contains("10.213.\($0).") } ?? 0
        try ip(["netns", "add", namespace])
        madeNamespace = true
        try ip(["link", "add", hostInterface, "type", "veth", "peer", "name", collectorInterface])
        madeLink = true
        try ip(["link", "set", collectorInterface, "netns", namespace])
        try ip(["addr", "add", "\(hostAddress)/30", "dev", hostInterface])
        try ip(["link", "set", hostInterface, "up"])
        try ip(["-n", namespace, "addr", "add", "\(collectorAddress)/30", "dev", collectorInterface])
        try ip(["-n", namespace, "link", "set", collectorInterface, "up"])
        try ip(["-n", namespace, "link", "set", "lo", "up"])

        // The collector writes what clients send, each record already carrying its host's
        // node=; it logs no events of its own kernel and so never takes the audit socket.
        let conf = """
            local_events = no
            write_logs = yes
            log_file = \(logDirectory)/audit.log
            log_group = root
            log_format = RAW
            flush = INCREMENTAL_ASYNC
            freq = 1
            max_log_file = 8
            num_logs = 5
            name_format = NONE
            max_log_file_action = ROTATE
            space_left = 2
            space_left_action = IGNORE
            admin_space_left = 1
            admin_space_left_action = IGNORE
            disk_full_action = IGNORE
            disk_error_action = IGNORE
            tcp_listen_port = \(port)
            tcp_listen_queue = 5
            tcp_max_per_addr = 8
            tcp_client_ports = 1024-65535
            tcp_client_max_idle = 0
            use_libwrap = no
            transport = TCP
            distribute_network = no
            q_depth = 2000
            overflow_action = IGNORE
            max_restarts = 10
            plugin_dir = \(directory)/collector-plugins
            end_of_event_timeout = 2

            """
        try conf.write(toFile: directory + "/auditd.conf", atomically: true, encoding: .utf8)
        chmod(directory + "/auditd.conf", 0o600)

        // audisp-remote 3.0.9 reads only /etc/audit/audisp-remote.conf (no option names
        // another). In a private mount namespace that path shows ours: the machine's file
        // is never written, so nothing needs restoring even if the test is killed.
        let remote = """
            remote_server = \(collectorAddress)
            port = \(port)
            transport = tcp
            mode = immediate
            queue_depth = 10240
            format = managed
            network_retry_time = 1
            max_tries_per_record = 3
            max_time_per_record = 5
            heartbeat_timeout = 0
            network_failure_action = syslog
            disk_low_action = ignore
            disk_full_action = ignore
            disk_error_action = syslog
            remote_ending_action = reconnect
            generic_error_action = syslog
            generic_warning_action = syslog
            queue_error_action = syslog
            overflow_action = syslog
            startup_failure_action = warn_once_continue

            """
        try remote.write(toFile: directory + "/audisp-remote.conf", atomically: true, encoding: .utf8)
        chmod(directory + "/audisp-remote.conf", 0o640)
        let launcher = """
            #!/bin/sh
            exec \(Self.tools["unshare"]!!) --mount --propagation private /bin/sh -c \
            'mount --bind "$1" /etc/audit/audisp-remote.conf && exec "$2"' sh \
            '\(directory)/audisp-remote.conf' '\(Self.tools["audisp-remote"]!!)'

            """
        try launcher.write(toFile: remoteLauncher, atomically: true, encoding: .utf8)
        chmod(remoteLauncher, 0o750)  // auditd runs only root-owned plugins, mode 0750 or wider

        let auditd = AuditSandbox.findTool("auditd")!
        let status = try AuditSandbox.spawnDaemonLauncher(Self.tools["ip"]!!, ["netns", "exec", namespace, auditd, "-c", directory],
                                                          output: directory + "/auditd.out")
        // Find the daemon before judging the launch, so a half-started one is still stopped.
        collectorPID = findCollector(auditd) ?? 0
        guard status == 0, collectorPID > 0 else {
            throw AuditSandbox.Failure("collector auditd did not start (wait status \(status)): "
                + ((try? String(contentsOfFile: directory + "/auditd.out", encoding: .utf8)) ?? ""))
        }
        try waitForListener()
    }

    /// Our collector: the auditd whose command line names our directory.
    private func findCollector(_ auditd: String) -> pid_t? {
        let deadline = Date().addingTimeInterval(5)
        repeat {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = pid_t(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
                else { continue }
                let argv = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                if argv == [auditd, "-c", directory] && AuditSandbox.isAlive(pid) { return pid }
            }
            usleep(20_000)
        } while Date() < deadline
        return nil
    }

    /// Until the collector listens: /proc/net/tcp6 as seen from inside its namespace.
    private func waitForListener() throws {
        let hexPort = String(format: ":%04X ", port)
        let deadline = Date().addingTimeInterval(10)
        while true {
            let r = try AuditSandbox.run(Self.tools["ip"]!!, ["netns", "exec", namespace, "cat", "/proc/net/tcp6", "/proc/net/tcp"])
            if r.stdout.split(separator: "\n").contains(where: { $0.contains(hexPort) && $0.contains(" 0A ") }) { return }
            if Date() > deadline { throw AuditSandbox.Failure("the collector is not listening on port \(port) after 10 s") }
            usleep(50_000)
        }
    }

    /// Stops our collector auditd (only it, by pid) and waits for it to exit.
    func stopCollector() throws {
        guard collectorPID > 0 else { return }
        let pid = collectorPID
        collectorPID = 0
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while AuditSandbox.isAlive(pid), Date() < deadline { usleep(20_000) }
        if AuditSandbox.isAlive(pid) {
            kill(pid, SIGKILL)
            throw AuditSandbox.Failure("the collector auditd (pid \(pid)) ignored SIGTERM for 10 s; killed")
        }
    }

    /// Removes everything `start()` made. Safe to call twice.
    func stop() {
        if stopped { return }
        stopped = true
        do { try stopCollector() } catch { AuditSandbox.loud("*** \(error) ***") }
        let ipPath = Self.tools["ip"] ?? nil
        if madeLink, let ipPath { _ = try? AuditSandbox.run(ipPath, ["link", "del", hostInterface]) }  // takes its peer along
        if madeNamespace, let ipPath { _ = try? AuditSandbox.run(ipPath, ["netns", "del", namespace]) }
        if ProcessInfo.processInfo.environment["KILLDB_KEEP_AUDIT_SANDBOX"] != nil {
            AuditSandbox.loud("*** kept fleet directory \(directory) ***")
        } else {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    // MARK: Senders

    /// Sends `records` (log lines) as a host's audisp-remote does: one run by hand, reading
    /// them on stdin; at end of input it sends what is queued and exits 0 once all is acked.
    func send(_ records: String, timeout: TimeInterval = 30) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: remoteLauncher)
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        try p.run()
        input.fileHandleForWriting.write(Data(records.utf8))
        try input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning, Date() < deadline { usleep(20_000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            throw AuditSandbox.Failure("audisp-remote did not finish sending within \(timeout) s")
        }
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw AuditSandbox.Failure("audisp-remote exited \(p.terminationStatus) (events left unsent): \(stderr)")
        }
    }

    /// Another host's records: these fixtures' lines with `node=NODE`, the current time and
    /// fresh serials, one per event, so they read like that host's kernel's.
    static func replay(node: String, fixtures: [String], firstSerial: Int) -> String {
        var stamps: [String: String] = [:]
        var out = ""
        let now = Int(Date().timeIntervalSince1970) - 60
        for fixture in fixtures {
            let text = (try? String(contentsOfFile: TestLogs.fixture(fixture), encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                var body = String(line)
                if body.hasPrefix("node="), let space = body.firstIndex(of: " ") { body = String(body[body.index(after: space)...]) }
                guard let open = body.range(of: "msg=audit("), let close = body.range(of: ")", range: open.upperBound..<body.endIndex)
                else { continue }
                let old = String(body[open.upperBound..<close.lowerBound])
                let new = stamps[fixture + old] ?? {
                    let n = stamps.count
                    let s = "\(now + n).\(String(format: "%03d", (n * 37) % 1000)):\(firstSerial + n)"
                    stamps[fixture + old] = s
                    return s
                }()
                body.replaceSubrange(open.upperBound..<close.lowerBound, with: new)
                out += "node=\(node) \(body)\n"
            }
        }
        return out
    }

    // MARK: Logs and databases

    func collectorLogFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: logDirectory)) ?? []
        return LogFileSet.rotationOrder(names).map { logDirectory + "/" + $0 }
    }

    func collectorLines() -> [String] {
        collectorLogFiles().flatMap { path -> [String] in
            guard let d = FileManager.default.contents(atPath: path) else { return [] }
            return String(decoding: d, as: UTF8.self).split(separator: "\n").map(String.init)
        }
    }

    func waitForCollectorLine(containing substrings: [String], timeout: TimeInterval = 15) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !collectorLines().contains(where: { l in substrings.allSatisfy { l.contains($0) } }) {
            if Date() > deadline {
                throw AuditSandbox.Failure("the collector logged no line containing \(substrings) within \(timeout) s; it has:\n"
                    + collectorLines().suffix(20).joined(separator: "\n"))
            }
            usleep(50_000)
        }
    }

    /// The collector's log cut in two where no event has records on both sides, nearest the
    /// middle, each half ingested into its own database; returns their paths.
    func splitCollectorLog() throws -> [String] {
        let lines = collectorLines()
        func key(_ line: String) -> String? {
            guard let open = line.range(of: "msg=audit("), let close = line.range(of: ")", range: open.upperBound..<line.endIndex)
            else { return nil }
            let node = line.hasPrefix("node=") ? String(line.prefix { $0 != " " }) : ""
            return node + " " + line[open.upperBound..<close.lowerBound]
        }
        let keys = lines.map(key)
        var lastIndex: [String: Int] = [:]
        for (i, k) in keys.enumerated() { if let k { lastIndex[k] = i } }
        var reach = -1
        var cuts: [Int] = []
        for (i, k) in keys.enumerated() {
            if let k { reach = max(reach, lastIndex[k]!) }
            if reach <= i && i + 1 < lines.count { cuts.append(i + 1) }
        }
        guard let cut = cuts.min(by: { abs($0 - lines.count / 2) < abs($1 - lines.count / 2) }) else {
            throw AuditSandbox.Failure("no place to split the collector's \(lines.count) lines")
        }
        var paths: [String] = []
        for (n, part) in [lines[..<cut], lines[cut...]].enumerated() {
            paths.append(try Self.database(directory + "/part\(n + 1).sqlite", log: part.joined(separator: "\n") + "\n",
                                           scratch: directory).path)
        }
        return paths
    }

    /// Ingests `log` (written as an audit.log nobody writes any more) into a new database.
    static func database(_ path: String, log: String, scratch: String) throws -> URL {
        let dir = scratch + "/" + ((path as NSString).lastPathComponent as NSString).deletingPathExtension + "-log"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let file = URL(fileURLWithPath: dir + "/audit.log")
        try TestLogs.write(log, to: file)
        try TestLogs.age(file)
        return try database(path, logDirectory: dir)
    }

    static func database(_ path: String, logDirectory: String) throws -> URL {
        _ = try Ingest.run(paths: [logDirectory], databasePath: path)
        return URL(fileURLWithPath: path)
    }

    /// Like TestLogs.snapshot, for the rows matching `condition`.
    static func snapshot(_ db: URL, _ condition: String, _ arguments: StatementArguments = []) throws -> [String] {
        try TestLogs.query(db, "SELECT * FROM signals WHERE \(condition)", arguments: arguments).map { row in
            row.columnNames.filter { $0 != "event_rowid" }.map { "\($0)=\(row[$0] as DatabaseValue)" }.joined(separator: " ")
        }.sorted()
    }
}
