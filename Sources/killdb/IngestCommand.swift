import ArgumentParser
import Foundation
import KillDB
import Output
import Quantities
import Queries

struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Read audit logs into the database.",
        discussion: """
            Reads every signal-sending syscall event in the logs into the database. A \
            directory means its audit.log and the rotated audit.log.1 ... audit.log.N, read \
            oldest first as one stream, so an event whose records straddle a rotation is \
            whole. Each file is resumed where the last run stopped (recognised by its first \
            bytes, so a file renamed by rotation is not read twice), and storing an event \
            twice adds nothing: re-running is always safe.

            Run it more often than auditd rotates its logs away (max_log_file x num_logs in \
            /etc/audit/auditd.conf): from cron or a systemd timer, every few minutes.

            Lines that are not audit records are counted, skipped and reported; they never \
            stop the ingest. --verbose names them.

            The kernel log is read too, for the kills no process sent: the OOM killer's \
            (global or a memory cgroup's), seccomp's, and audit records the kernel printed \
            because no auditd was running. By default, when this host's own logs are ingested \
            (no PATH given), that is /dev/kmsg, when readable (the records now in the kernel's \
            ring buffer; each boot resumes after the last record read); logs named on the \
            command line may come from another host, so this host's kernel log is then read \
            only when asked for. --kernel-log names other sources instead, as often as needed: /dev/kmsg, a \
            file of `journalctl -k -o json` output, /var/log/kern.log or /var/log/messages, \
            saved dmesg output (plain, -T or --time-format iso), or - for standard input. \
            --journal reads `journalctl -o json` output for systemd's kills (a unit stop that \
            timed out, systemd-oomd). Reading any of them twice adds nothing.

            Examples:
              killdb ingest                # /var/log/audit into the default database
              killdb ingest --db ./k.sqlite /tmp/audit.log.3 /tmp/audit.log
              KILLDB_DB=/srv/killdb.sqlite killdb ingest /var/log/audit
              killdb ingest --kernel-log /var/log/kern.log --kernel-log /dev/kmsg
              journalctl -o json --since -1d | killdb ingest --journal -
            """
    )

    @OptionGroup var database: DatabaseOption

    @Argument(help: ArgumentHelp("Log files, or directories holding audit.log and audit.log.N (default: /var/log/audit).",
                                 valueName: "path"))
    var paths: [String] = []

    @Option(help: ArgumentHelp("Seconds to wait for another ingest to finish.", valueName: "seconds"))
    var wait: Double = 10

    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    @Flag(name: .shortAndLong, help: "Name each skipped line and show each file's coverage.")
    var verbose = false

    @Option(name: .customLong("kernel-log"), help: ArgumentHelp(
        "A kernel log to read instead of /dev/kmsg: /dev/kmsg, journalctl -k -o json output, kern.log, messages, dmesg output, or - (repeatable).",
        valueName: "source"))
    var kernelLogs: [String] = []

    @Flag(name: .customLong("no-kernel-log"), help: "Do not read the kernel log.")
    var noKernelLog = false

    @Option(name: .customLong("journal"), help: ArgumentHelp(
        "journalctl -o json output (a file, or -), for systemd's kills: unit stops that timed out, systemd-oomd (repeatable).",
        valueName: "file"))
    var journals: [String] = []

    @Option(name: .customLong("boot-time"), parsing: .unconditional, help: ArgumentHelp(
        "When the machine booted whose dmesg output is read ([12345.678901] stamps count from boot); default: this boot.",
        valueName: "time"))
    var bootTime: String?

    @Option(help: "Summary format: text or json.")
    var format: SummaryFormat = .text

    enum SummaryFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    func validate() throws {
        _ = try bootTime.map { try time($0, option: "--boot-time") }
        guard wait >= 0 else { throw ValidationError("--wait must be zero or more seconds") }
        if noKernelLog && !kernelLogs.isEmpty {
            throw ValidationError("--no-kernel-log and --kernel-log contradict each other")
        }
        if (kernelLogs + journals).filter({ $0 == "-" }).count > 1 {
            throw ValidationError("standard input (-) can be read only once")
        }
    }

    /// The kernel logs to read: those named; else, for this host's own audit logs (no
    /// PATH given), /dev/kmsg if this user may read it. Logs named on the command line may
    /// be another host's: this host's kernel log would be mixed into theirs.
    var kernelSources: [String] {
        if noKernelLog { return [] }
        if !kernelLogs.isEmpty { return kernelLogs }
        guard paths.isEmpty else { return [] }
        return kmsgProblem == nil ? [Ingest.kmsgPath] : []
    }

    /// Why the kernel log read by default cannot be read (nil when it can, or is not wanted).
    var kmsgProblem: String? {
        guard !noKernelLog, kernelLogs.isEmpty, paths.isEmpty else { return nil }
        return KernelLogAccess.problem()
    }

    func run() throws {
        var options = IngestOptions()
        options.lockWait = wait
        let progress = ProgressLine(enabled: !quiet && isatty(STDERR_FILENO) == 1)
        options.progress = { p in progress.update(p) }
        options.kernelLogs = kernelSources
        options.journals = journals
        if let bootTime { options.bootTime = try time(bootTime, option: "--boot-time") }
        let warnings = kmsgProblem.map { [KernelLogAccess.warning($0)] } ?? []
        func warnOnStderr() {
            for w in warnings { FileHandle.standardError.write(Data("killdb: warning: \(SafeText.line(w))\n".utf8)) }
        }
        let auditPaths = paths.isEmpty ? [Self.auditDirectory] : paths
        var summary: IngestSummary
        do {
            summary = try Ingest.run(paths: auditPaths, databasePath: database.path, options: options)
        } catch let error as AuditLogError where Self.noAuditLogYet(error) {
            // auditd's own directory holding no log is a set-up problem to point out; it is
            // exit 3 whether the directory was named or is the default, since no audit log was
            // read either way (a scheduler shows the run failed; doctor says why).
            FileHandle.standardError.write(Data("""
                killdb: \(Self.auditDirectory) holds no audit.log yet: no audit log to ingest. Is auditd running \
                (`auditctl -s` shows its pid)? Start it (`systemctl start auditd`, or `auditd` where \
                there is no systemd) and load signal rules (`killdb rules install`).

                """.utf8))
            // Without auditd the kernel log is all there is: it still holds the OOM killer's
            // kills, and the audit records the kernel printed for want of an auditd.
            if !(options.kernelLogs + options.journals).isEmpty {
                let kernelOnly = try Ingest.run(paths: [], databasePath: database.path, options: options)
                progress.clear()
                if quiet { warnOnStderr() } else { printSummary(kernelOnly, warnings: warnings) }
            } else {
                warnOnStderr()
            }
            throw ExitCode(Exit.logsUnreadable)
        }
        progress.clear()
        // Even when quiet: from a timer, stderr (the journal) is the only place it can show.
        if quiet { return warnOnStderr() }
        printSummary(summary, warnings: warnings)
    }

    static let auditDirectory = "/var/log/audit"

    /// auditd's log directory exists without a log, or does not exist at all.
    static func noAuditLogYet(_ error: AuditLogError) -> Bool {
        switch error {
        case .noLogsInDirectory(let p), .notFound(let p):
            return p == auditDirectory || p == auditDirectory + "/"
        default: return false
        }
    }

    func printSummary(_ summary: IngestSummary, warnings: [String]) {
        switch format {
        case .text: print(IngestReport.text(summary, database: database.path, verbose: verbose, warnings: warnings), terminator: "")
        case .json: print(IngestReport.json(summary, database: database.path, warnings: warnings))
        }
    }
}

/// A one-line progress display on stderr, shown only on a terminal and only once an ingest
/// has run for a second.
final class ProgressLine: @unchecked Sendable {
    private let enabled: Bool
    private let start = Date()
    private var shown = false
    private let lock = NSLock()

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ p: IngestProgress) {
        guard enabled, Date().timeIntervalSince(start) > 1 else { return }
        lock.lock(); defer { lock.unlock() }
        let pct = p.bytesTotal > 0 ? Int(Double(p.bytesRead) * 100 / Double(p.bytesTotal)) : 0
        let text = "ingest: \(Quantity.bytes(p.bytesRead)) of \(Quantity.bytes(p.bytesTotal)) (\(pct)%), \(p.signalEvents) signal events"
        FileHandle.standardError.write(Data("\r\u{1b}[K\(text)".utf8))
        shown = true
    }

    func clear() {
        lock.lock(); defer { lock.unlock() }
        if shown { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) }
    }
}
