import AuditLog
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A private auditd for real-kernel tests: its own config, log directory and rule key, so
/// the tests can send real signals and read what the kernel logged.
///
/// It never stops, signals or reconfigures anything it did not start: if another auditd
/// owns the kernel's audit socket, the tests are skipped (or, in CI, fail).
final class AuditSandbox {
    enum LogFormat: String, Sendable { case raw = "RAW", enriched = "ENRICHED" }
    enum Bits: String, Sendable { case b64, b32 }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: Availability

    struct Availability: Sendable {
        var reason: String?  // nil when available
        var auditd = ""
        var auditctl = ""
    }

    static let availability: Availability = probe()

    /// CI on a root machine with auditd installed must run these tests: there a skip would
    /// hide a broken setup, so `start()` throws the reason instead.
    static let mustRun: Bool = {
        ProcessInfo.processInfo.environment["CI"] == "true" && geteuid() == 0
            && findTool("auditd") != nil
    }()

    /// For `.enabled(if: AuditSandbox.shouldRun)`. Prints the reason loudly when skipping.
    static let shouldRun: Bool = {
        guard let reason = availability.reason else { return true }
        if mustRun {
            loud("*** real-kernel audit tests are REQUIRED here (CI=true, root, auditd installed) "
                + "but unavailable: \(reason) — they will FAIL ***")
            return true
        }
        loud("*** SKIPPING real-kernel audit tests: \(reason) ***")
        return false
    }()

    static func loud(_ message: String) {
        FileHandle.standardError.write(Data("\n\(message)\n\n".utf8))
    }

    static func findTool(_ name: String) -> String? {
        ["/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"].map { $0 + name }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private static func probe() -> Availability {
        var a = Availability()
        guard geteuid() == 0 else { a.reason = "not running as root (euid \(geteuid()))"; return a }
        guard let auditd = findTool("auditd") else { a.reason = "auditd is not installed (apt package auditd)"; return a }
        guard let auditctl = findTool("auditctl") else { a.reason = "auditctl is not installed"; return a }
        guard findTool("cc") != nil else { a.reason = "no C compiler (cc) to build the signal sender"; return a }
        a.auditd = auditd
        a.auditctl = auditctl
        do {
            var status = try auditStatus(auditctl)
            if let pid = status["pid"], pid != 0, !isAlive(pid_t(pid)), let enabled = status["enabled"] {
                // A dead daemon's registration lingers until the kernel next fails to send it a
                // record; setting `enabled` to its current value logs one and changes nothing.
                _ = try? run(auditctl, ["-e", String(enabled)])
                usleep(200_000)
                status = try auditStatus(auditctl)
            }
            if let pid = status["pid"], pid != 0 {
                a.reason = "another audit daemon (pid \(pid)) owns the kernel audit socket; not touching it"
            } else if status["enabled"] == 2 {
                a.reason = "the kernel audit configuration is locked (enabled 2)"
            }
        } catch {
            a.reason = "`auditctl -s` failed (no kernel audit support?): \(error)"
        }
        return a
    }

    static func auditStatus(_ auditctl: String) throws -> [String: Int64] {
        let r = try run(auditctl, ["-s"])
        guard r.status == 0 else { throw Failure("auditctl -s exited \(r.status): \(r.stderr)") }
        var out: [String: Int64] = [:]
        for line in r.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2, let v = Int64(parts[1]) { out[String(parts[0])] = v }
        }
        return out
    }

    // MARK: State

    let format: LogFormat
    let key: String
    /// The sandbox root: auditd.conf, plugins/, the compiled senders, scratch databases.
    let directory: String
    /// Only audit logs live here, so it can be handed to the ingester as is.
    let logDirectory: String
    private(set) var auditdPID: pid_t = 0
    private(set) var loadedBits: Set<Bits> = []
    /// nil when that variant could not be built or run; see `senderUnavailableReason`.
    private(set) var senderPaths: [Bits: String] = [:]
    private(set) var senderUnavailableReason: [Bits: String] = [:]
    private var priorEnabled: Int64?
    private var children: [Process] = []
    /// Held from start() to stop(): see KernelSignalTests.
    private var holdsKernelLock = false
    private var groups: [ProcessGroup] = []
    private var stopped = true

    var logFile: String { logDirectory + "/audit.log" }

    /// auditd's max_log_file (MB; 1 is its minimum) and num_logs, read by `start()`. Small
    /// values make auditd rotate, and delete the oldest log, on its own during a test.
    var maxLogFileMB = 64
    var numLogs = 10
    /// When set, auditd prefixes every record with `node=NAME` (name_format = user), as a
    /// host that forwards to a collector should.
    var nodeName: String?
    /// Extra plugin configurations (file name: content) for our plugins directory, read by
    /// `start()`; each plugin's program must be root-owned and mode 0750 or wider.
    var pluginConfigs: [String: String] = [:]
    /// false: start auditd with no rules, for tests of the rules `killdb rules` installs.
    var loadsOwnRules = true

    init(format: LogFormat = .raw) throws {
        self.format = format
        self.key = "killdbtest-\(UInt32.random(in: 0...UInt32.max))"
        var template = Array((NSTemporaryDirectory() + "/killdb-audit-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw Failure("mkdtemp failed: errno \(errno)") }
        // Canonical, as the kernel logs exe paths (NSTemporaryDirectory() ends in "/").
        directory = realpath(made, nil).map { p in defer { free(p) }; return String(cString: p) } ?? String(cString: made)
        logDirectory = directory + "/log"
    }

    deinit { stop() }

    // MARK: Start / stop

    /// Starts our auditd and loads our rules. Every process meant to be audited must be
    /// started after this: the kernel never audits tasks created before audit was enabled.
    func start() throws {
        if !holdsKernelLock {
            KernelSignalTests.lock.acquire()
            holdsKernelLock = true
        }
        let a = Self.availability
        if let reason = a.reason { throw Failure("real-kernel audit tests unavailable: \(reason)") }
        let fm = FileManager.default
        try fm.createDirectory(atPath: logDirectory, withIntermediateDirectories: true,
                               attributes: [.posixPermissions: 0o700])
        try fm.createDirectory(atPath: directory + "/plugins", withIntermediateDirectories: true)
        let conf = """
            local_events = yes
            write_logs = yes
            log_file = \(logFile)
            log_group = root
            log_format = \(format.rawValue)
            flush = INCREMENTAL_ASYNC
            freq = 1
            max_log_file = \(maxLogFileMB)
            num_logs = \(numLogs)
            \(nodeName.map { "name_format = user\nname = \($0)" } ?? "name_format = NONE")
            max_log_file_action = ROTATE
            space_left = 2
            space_left_action = IGNORE
            admin_space_left = 1
            admin_space_left_action = IGNORE
            disk_full_action = IGNORE
            disk_error_action = IGNORE
            tcp_listen_queue = 5
            tcp_max_per_addr = 1
            tcp_client_max_idle = 0
            distribute_network = no
            q_depth = 2000
            overflow_action = IGNORE
            max_restarts = 10
            plugin_dir = \(directory)/plugins
            end_of_event_timeout = 2

            """
        // auditd refuses a config that others can write.
        try conf.write(toFile: directory + "/auditd.conf", atomically: true, encoding: .utf8)
        chmod(directory + "/auditd.conf", 0o600)
        for (name, content) in pluginConfigs {
            let path = directory + "/plugins/" + name
            try content.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o640)
        }

        let before = try Self.auditStatus(a.auditctl)
        if let pid = before["pid"], pid != 0 {
            throw Failure("another audit daemon (pid \(pid)) appeared; not touching it")
        }
        priorEnabled = before["enabled"]
        stopped = false

        // auditd daemonizes: its launcher exits once the daemon is up.
        let status = try Self.spawnDaemonLauncher(a.auditd, ["-c", directory], output: directory + "/auditd.out")
        guard status == 0 else {
            throw Failure("auditd -c \(directory) exited with wait status \(status): \(readText(directory + "/auditd.out"))")
        }
        let deadline = Date().addingTimeInterval(10)
        while auditdPID == 0 {
            if let pid = try Self.auditStatus(a.auditctl)["pid"], pid != 0 {
                let cmdline = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
                guard cmdline.contains(directory) else {
                    throw Failure("audit pid \(pid) is not our auditd (cmdline \(cmdline.debugDescription))")
                }
                auditdPID = pid_t(pid)
            } else if Date() > deadline {
                throw Failure("auditd did not register with the kernel within 10 s: "
                    + readText(directory + "/auditd.out"))
            } else {
                usleep(20_000)
            }
        }

        let calls = ["kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal"]
        for bits in [Bits.b64, .b32] where loadsOwnRules {
            var names = calls
            var r = try addRule(bits, names)
            if r.status != 0, bits == .b32 {
                // Older auditctl may not know pidfd_send_signal for b32.
                names.removeLast()
                r = try addRule(bits, names)
            }
            if r.status == 0 {
                loadedBits.insert(bits)
            } else if bits == .b64 {
                throw Failure("auditctl refused the b64 rule: \(r.stderr)")
            } else {
                senderUnavailableReason[.b32] = "auditctl refused the b32 rule: \(r.stderr)"
                Self.loud("*** 32-bit audit rules unavailable: \(r.stderr) ***")
            }
        }
        try buildSenders()
    }

    /// Prepended (-A): the kernel gives a record the key of the first rule that matches, so
    /// a host with killdb's own rules installed (the README's set-up) would otherwise log
    /// the test's signals under key killdb, and the test would wait for its key in vain.
    private func addRule(_ bits: Bits, _ calls: [String]) throws -> RunResult {
        try Self.run(Self.availability.auditctl,
                     ["-A", "always,exit", "-F", "arch=\(bits.rawValue)"] + calls.flatMap { ["-S", $0] } + ["-k", key])
    }

    /// Kills our children, removes our rules, stops our auditd, restores the enabled flag.
    /// Safe to call twice; called from deinit.
    func stop() {
        if stopped { return }
        stopped = true
        defer {
            if holdsKernelLock {
                holdsKernelLock = false
                KernelSignalTests.lock.release()
            }
        }
        for g in groups { g.kill() }
        for p in children where p.isRunning {
            Glibc.kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        groups.removeAll()
        children.removeAll()
        let auditctl = Self.availability.auditctl
        if !loadedBits.isEmpty { _ = try? Self.run(auditctl, ["-D", "-k", key]) }
        loadedBits.removeAll()
        if auditdPID > 0 {
            // Not our child (it daemonized), so poll /proc rather than waitpid.
            Glibc.kill(auditdPID, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while Self.isAlive(auditdPID), Date() < deadline { usleep(20_000) }
            if Self.isAlive(auditdPID) {
                Self.loud("*** our auditd (pid \(auditdPID)) did not exit after SIGTERM ***")
            }
            auditdPID = 0
        }
        if let prior = priorEnabled,
           let now = try? Self.auditStatus(auditctl)["enabled"], now != prior {
            _ = try? Self.run(auditctl, ["-e", String(prior)])
        }
        if ProcessInfo.processInfo.environment["KILLDB_KEEP_AUDIT_SANDBOX"] != nil {
            Self.loud("*** kept audit sandbox \(directory) ***")
        } else {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    // MARK: Logs

    /// The log files, oldest first (audit.log.9 ... audit.log.1, audit.log).
    func logFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: logDirectory)) ?? []
        return LogFileSet.rotationOrder(names).map { logDirectory + "/" + $0 }
    }

    /// All log lines, oldest first. Lines are bytes; decoded lossily for searching only.
    func logLines() -> [String] {
        logFiles().flatMap { path -> [String] in
            guard let d = FileManager.default.contents(atPath: path) else { return [] }
            return String(decoding: d, as: UTF8.self).split(separator: "\n").map(String.init)
        }
    }

    /// Polls the logs until a line contains every one of `substrings`; returns that line.
    @discardableResult
    func waitForLine(containing substrings: [String], timeout: TimeInterval = 10) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let line = logLines().first(where: { l in substrings.allSatisfy { l.contains($0) } }) {
                return line
            }
            if Date() > deadline { throw Failure("no audit record containing \(substrings) within \(timeout) s") }
            usleep(50_000)
        }
    }

    /// Waits until the whole event of this sender's syscall is on disk: its SYSCALL record
    /// and the PROCTITLE record the kernel emits last. Returns the `sec.msec:serial` stamp.
    @discardableResult
    func waitForEvent(senderPID: pid_t, timeout: TimeInterval = 10) throws -> String {
        let line = try waitForLine(containing: ["type=SYSCALL ", " pid=\(senderPID) ", "key=\"\(key)\""],
                                   timeout: timeout)
        guard let open = line.range(of: "msg=audit("), let close = line.range(of: ")", range: open.upperBound..<line.endIndex)
        else { throw Failure("unparsable record: \(line)") }
        let stamp = String(line[open.upperBound..<close.lowerBound])
        try waitForLine(containing: ["type=PROCTITLE msg=audit(\(stamp))"], timeout: timeout)
        return stamp
    }

    /// The raw records of one event, for diagnostics and record-level assertions.
    func records(stamp: String) -> [String] {
        logLines().filter { $0.contains("msg=audit(\(stamp))") }
    }

    /// Rotates like `service auditd rotate`: SIGUSR1 to our auditd, then waits until the old
    /// audit.log is audit.log.1 and a new audit.log exists.
    func rotate(timeout: TimeInterval = 10) throws {
        guard auditdPID > 0 else { throw Failure("auditd not running") }
        var st = stat()
        guard stat(logFile, &st) == 0 else { throw Failure("no \(logFile)") }
        let oldInode = st.st_ino
        Glibc.kill(auditdPID, SIGUSR1)
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            var rotated = stat(), current = stat()
            if stat(logFile + ".1", &rotated) == 0, rotated.st_ino == oldInode,
               stat(logFile, &current) == 0, current.st_ino != oldInode {
                return
            }
            if Date() > deadline { throw Failure("auditd did not rotate within \(timeout) s") }
            usleep(20_000)
        }
    }

    // MARK: Processes

    struct RunResult { var status: Int32; var stdout: String; var stderr: String }

    /// Runs a tool to completion. Not for daemons: Foundation's Process notices an exit only
    /// when every holder of an inherited socket has closed it, so a daemonizing child hangs
    /// waitUntilExit (see spawnDaemonLauncher).
    static func run(_ path: String, _ args: [String]) throws -> RunResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Drain stderr concurrently so a chatty tool cannot block on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        p.waitUntilExit()
        return RunResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Starts a program that daemonizes and waits for the launcher (not the daemon) to exit.
    /// posix_spawn directly, because Foundation's Process would (1) hand the daemon our
    /// blocked signal mask, so SIGTERM and SIGUSR1 never reach it, and (2) wait for the
    /// daemon's exit, not the launcher's. Fds above 2 are closed so the daemon holds none of ours.
    static func spawnDaemonLauncher(_ path: String, _ args: [String], output: String) throws -> Int32 {
        var attr = posix_spawnattr_t()
        var actions = posix_spawn_file_actions_t()
        posix_spawnattr_init(&attr)
        posix_spawn_file_actions_init(&actions)
        defer {
            posix_spawnattr_destroy(&attr)
            posix_spawn_file_actions_destroy(&actions)
        }
        var empty = sigset_t(), defaults = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        for sig: Int32 in 1..<32 where sig != SIGKILL && sig != SIGSTOP { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in fds.compactMap({ Int32($0) }) where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)  // glibc ignores EBADF here
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attr, argv, environ)
        guard rc == 0 else { throw Failure("posix_spawn \(path): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return status
    }

    /// Running and not a zombie (a daemon's parent is init, which may reap late).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    static let senderSource: String = {
        // Tests/KillDBTests/Support/AuditSandbox.swift -> Tests/Fixtures/senders/signal_sender.c
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/senders/signal_sender.c").path
    }()

    private func buildSenders() throws {
        let cc = Self.findTool("cc")!
        for bits in [Bits.b64, .b32] {
            let out = directory + "/sender\(bits == .b64 ? "64" : "32")"
            let flags = bits == .b64 ? ["-O0"] : ["-O0", "-m32"]
            let r = try Self.run(cc, flags + ["-o", out, Self.senderSource])
            if r.status == 0, (try? Self.run(out, [])).map({ $0.status == 2 }) == true {
                senderPaths[bits] = out
            } else if bits == .b64 {
                throw Failure("cannot build the 64-bit sender: \(r.stderr)")
            } else if senderUnavailableReason[.b32] == nil {
                let why = r.status == 0 ? "built but does not run (no IA32 emulation?)"
                    : "`cc -m32` failed (install gcc-multilib): \(r.stderr)"
                senderUnavailableReason[.b32] = why
                Self.loud("*** 32-bit senders unavailable: \(why) ***")
            }
        }
        if loadsOwnRules && !loadedBits.contains(.b32) { senderPaths[.b32] = nil }
    }

    var has32BitSender: Bool { senderPaths[.b32] != nil }

    /// Starts `/bin/sleep 1000` as a signal target; killed and reaped by `stop()`.
    func startVictim() throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sleep")
        p.arguments = ["1000"]
        p.standardInput = FileHandle.nullDevice
        try p.run()
        children.append(p)
        return p
    }

    struct SenderResult: CustomStringConvertible {
        var pid: pid_t
        var result: Int64
        var errno: Int32
        var output: String
        var description: String { "sender \(pid): \(output.trimmingCharacters(in: .whitespacesAndNewlines))" }
    }

    /// Runs the sender to completion: `[--name NAME] [--uid N] SYSCALL SIGNAL PID [TID]`.
    func send(_ bits: Bits = .b64, _ syscall: String, signal: Int32, pid: Int64, tid: Int64? = nil,
              name: String? = nil, uid: Int? = nil) throws -> SenderResult {
        guard let path = senderPaths[bits] else {
            throw Failure("\(bits) sender unavailable: \(senderUnavailableReason[bits] ?? "?")")
        }
        var args: [String] = []
        if let name { args += ["--name", name] }
        if let uid { args += ["--uid", String(uid)] }
        args += [syscall, String(signal), String(pid)]
        if let tid { args.append(String(tid)) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.standardInput = FileHandle.nullDevice
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let pid = p.processIdentifier
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let fields = Dictionary(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { f -> (String, Int64)? in
            let kv = f.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let v = Int64(kv[1]) else { return nil }
            return (String(kv[0]), v)
        }, uniquingKeysWith: { a, _ in a })
        guard p.terminationStatus == 0, let result = fields["result"], let err = fields["errno"] else {
            throw Failure("sender \(args) exited \(p.terminationStatus), output \(text.debugDescription)")
        }
        return SenderResult(pid: pid, result: result, errno: Int32(err), output: text)
    }

    /// A sender in `loop` mode, running in the background: COUNT signals at RATE per second.
    final class SenderLoop {
        let process: Process
        private let out: Pipe
        var pid: pid_t { process.processIdentifier }

        init(process: Process, out: Pipe) {
            self.process = process
            self.out = out
        }

        /// Waits for the loop to finish; returns how many calls succeeded and failed.
        func wait() throws -> (sent: Int, failed: Int) {
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            var fields: [String: Int] = [:]
            for f in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
                let kv = f.split(separator: "=", maxSplits: 1)
                if kv.count == 2, let v = Int(kv[1]) { fields[String(kv[0])] = v }
            }
            guard process.terminationStatus == 0, let sent = fields["sent"], let failed = fields["failed"] else {
                throw Failure("sender loop \(pid) exited \(process.terminationStatus), output \(text.debugDescription)")
            }
            return (sent, failed)
        }
    }

    /// Starts `signal_sender loop SYSCALL SIGNAL PID COUNT RATE`; killed by `stop()` if still running.
    func startLoop(_ bits: Bits = .b64, _ syscall: String, signal: Int32, pid: Int64,
                   count: Int, rate: Int) throws -> SenderLoop {
        guard let path = senderPaths[bits] else {
            throw Failure("\(bits) sender unavailable: \(senderUnavailableReason[bits] ?? "?")")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = ["loop", syscall, String(signal), String(pid), String(count), String(rate)]
        p.standardInput = FileHandle.nullDevice
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        children.append(p)
        return SenderLoop(process: p, out: out)
    }

    /// N sleeps in a new process group, started by the sender's `group` mode, which stays
    /// outside the group and reaps them.
    final class ProcessGroup {
        let pgid: pid_t
        let pids: [pid_t]
        let leader: Process

        init(pgid: pid_t, pids: [pid_t], leader: Process) {
            self.pgid = pgid
            self.pids = pids
            self.leader = leader
        }

        func kill() {
            if leader.isRunning {
                Glibc.kill(-pgid, SIGKILL)
                // Its reaper exits once the members are gone.
                let deadline = Date().addingTimeInterval(5)
                while leader.isRunning, Date() < deadline { usleep(20_000) }
                if leader.isRunning { Glibc.kill(leader.processIdentifier, SIGKILL) }
                leader.waitUntilExit()
            }
        }
    }

    func startGroup(size: Int) throws -> ProcessGroup {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: senderPaths[.b64]!)
        p.arguments = ["group", String(size)]
        p.standardInput = FileHandle.nullDevice
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        // The reaper keeps running, so read up to the first newline rather than to EOF.
        var data = Data()
        while !data.contains(0x0a) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            data.append(chunk)
        }
        let line = String(decoding: data, as: UTF8.self)
        var pgid: pid_t = 0
        var pids: [pid_t] = []
        for field in line.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            if field.hasPrefix("pgid=") { pgid = pid_t(field.dropFirst(5)) ?? 0 }
            if field.hasPrefix("pids=") { pids = field.dropFirst(5).split(separator: ",").compactMap { pid_t($0) } }
        }
        guard pgid > 0, pids.count == size else {
            if p.isRunning { Glibc.kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            throw Failure("group mode printed \(line.debugDescription)")
        }
        let g = ProcessGroup(pgid: pgid, pids: pids, leader: p)
        groups.append(g)
        return g
    }
}

private func readText(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

/// Audit rules are global: while one suite's auditd logs every signal syscall, another
/// suite's real signals (the tracer's tests) would show up in its answers. Suites that start
/// an auditd or send real signals under the tracer hold this lock (re-entrant on one
/// thread, so a test may run both); other suites go on in parallel.
final class KernelSignalTests: @unchecked Sendable {
    static let lock = KernelSignalTests()
    private let condition = NSCondition()
    private var owner: pthread_t?
    private var depth = 0

    func acquire() {
        condition.lock()
        defer { condition.unlock() }
        let me = pthread_self()
        while let o = owner, pthread_equal(o, me) == 0 { condition.wait() }
        owner = me
        depth += 1
    }

    /// From any thread: a sandbox may be stopped by its deinit.
    func release() {
        condition.lock()
        defer { condition.unlock() }
        depth -= 1
        if depth <= 0 {
            depth = 0
            owner = nil
            condition.broadcast()
        }
    }
}
