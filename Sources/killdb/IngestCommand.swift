import ArgumentParser
import Foundation
import KillDB
import Output

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

            Examples:
              killdb ingest                              # /var/log/audit into the default database
              killdb ingest --db ./k.sqlite /tmp/audit.log.3 /tmp/audit.log
              KILLDB_DB=/srv/killdb.sqlite killdb ingest /var/log/audit
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

    @Option(help: "Summary format: text or json.")
    var format: SummaryFormat = .text

    enum SummaryFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    func validate() throws {
        guard wait >= 0 else { throw ValidationError("--wait must be zero or more seconds") }
    }

    func run() throws {
        var options = IngestOptions()
        options.lockWait = wait
        let progress = ProgressLine(enabled: !quiet && isatty(STDERR_FILENO) == 1)
        options.progress = { p in progress.update(p) }
        let summary: IngestSummary
        do {
            summary = try Ingest.run(paths: paths.isEmpty ? ["/var/log/audit"] : paths,
                                     databasePath: database.path, options: options)
        } catch let error as AuditLogError where paths.isEmpty {
            // The default place being empty is a set-up problem to point out, not a failed run.
            guard case .noLogsInDirectory = error else { throw error }
            FileHandle.standardError.write(Data("""
                killdb: /var/log/audit holds no audit.log yet: nothing to ingest. Is auditd running \
                (`auditctl -s` shows its pid)? Start it (`systemctl start auditd`, or `auditd` where \
                there is no systemd) and load signal rules (see `killdb --help`).

                """.utf8))
            return
        }
        progress.clear()
        if quiet { return }
        switch format {
        case .text: print(IngestReport.text(summary, database: database.path, verbose: verbose), terminator: "")
        case .json: print(IngestReport.json(summary, database: database.path))
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
        let text = "ingest: \(Bytes.format(p.bytesRead)) of \(Bytes.format(p.bytesTotal)) (\(pct)%), \(p.signalEvents) signal events"
        FileHandle.standardError.write(Data("\r\u{1b}[K\(text)".utf8))
        shown = true
    }

    func clear() {
        lock.lock(); defer { lock.unlock() }
        if shown { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) }
    }
}
