import Foundation
import GRDB
import KillDB
import Testing
import Tracer
#if canImport(Glibc)
import Glibc
#endif

/// `killdb trace` in the test process, around a body that makes signals happen; the
/// records it stored, read back through the `traced_signals` view.
enum TraceSandbox {
    static let availability = TracerAvailability.check()

    /// CI on a root machine must run these: a skip there would hide a broken tracer.
    static let shouldRun: Bool = {
        guard let problem = availability.problems.first else { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" && geteuid() == 0 {
            AuditSandbox.loud("*** real-kernel tracer tests are REQUIRED here (CI=true, root) but BPF is unavailable: \(problem.reason) — they will FAIL ***")
            return true
        }
        AuditSandbox.loud("*** SKIPPING real-kernel tracer tests: \(problem.reason) ***")
        return false
    }()

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// A private cgroup2 hierarchy mounted at `dir/cgroup2` (the caller unmounts it with
    /// `umount2(path, MNT_DETACH)` once its cgroups are removed).
    static func mountCgroup2(in dir: URL) throws -> String {
        let mount = dir.appendingPathComponent("cgroup2").path
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: false)
        guard Glibc.mount("none", mount, "cgroup2", 0, nil) == 0 else {
            throw Failure("cannot mount a private cgroup2 hierarchy: \(String(cString: strerror(errno)))")
        }
        return mount
    }

    /// Runs the tracer with `signals`, calls `body` once it is attached, stops it, and
    /// returns the database.
    static func trace(_ signals: String = "KILL", in dir: URL, ringBufferBytes: UInt32 = 8 << 20,
                      _ body: () throws -> Void) throws -> URL {
        KernelSignalTests.lock.acquire()
        defer { KernelSignalTests.lock.release() }
        let db = dir.appendingPathComponent("trace.sqlite")
        let filter = try SignalFilter.parse(signals)
        let control = LiveTraceControl()
        let ready = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<LiveTraceStatus, any Error> = .failure(Failure("did not run"))
        var options = LiveTraceOptions()
        options.ready = { ready.signal() }
        options.heartbeat = 0.5
        options.ringBufferBytes = ringBufferBytes
        let settings = options
        let thread = Thread {
            outcome = Result { try LiveTrace.run(databasePath: db.path, filter: filter, options: settings, control: control) }
            ready.signal()
            finished.signal()
        }
        thread.start()
        ready.wait()
        if case .failure(let e) = outcome, !(e is Failure) { finished.wait(); throw e }
        var bodyError: (any Error)?
        do { try body() } catch { bodyError = error }
        // The records of the last signals are in the ring buffer within microseconds; the
        // OOM pairing holds a record for one more poll (100 ms).
        usleep(400_000)
        control.stop()
        finished.wait()
        if let bodyError { throw bodyError }
        _ = try outcome.get()
        return db
    }

    static func rows(_ db: URL, where condition: String, _ arguments: StatementArguments = []) throws -> [Row] {
        try DatabaseQueue(path: db.path).read {
            try Row.fetchAll($0, sql: "SELECT * FROM traced_signals WHERE \(condition) ORDER BY event_time, record_rowid",
                             arguments: arguments)
        }
    }

    // MARK: processes

    @discardableResult
    static func run(_ path: String, _ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func start(_ path: String, _ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Kills (if still running) and reaps processes this test started.
    static func end(_ processes: [Process]) {
        for p in processes where p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
    }

    /// signal_sender, built once.
    static let sender: String? = {
        guard let cc = AuditSandbox.findTool("cc") else { return nil }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("killdb-trace-sender-\(getpid())").path
        guard (try? run(cc, ["-O0", "-o", out, AuditSandbox.senderSource]))?.status == 0 else { return nil }
        return out
    }()

    /// The children of `pid` (its main thread's).
    static func children(of pid: pid_t) -> [pid_t] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    static func waitFor(_ what: String, timeout: Double = 5, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() > deadline { throw Failure("timed out waiting for \(what)") }
            usleep(20_000)
        }
    }

    static func state(_ pid: pid_t) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(close, offsetBy: 2)...].first
    }

    static func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { throw Failure("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let n = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        guard n >= 0 else { throw Failure("write \(path): \(String(cString: strerror(errno)))") }
    }
}
