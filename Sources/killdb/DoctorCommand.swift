import ArgumentParser
import Doctor
import Foundation
import KillDB
import Output

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the audit set-up and the database.",
        discussion: """
            Checks the whole chain from kernel to database and prints one line per check: \
            ok, warn, FAIL or skip, what was found, and for warn and FAIL a command that \
            fixes it.

              auditd running          the kernel's registered audit daemon exists
              kernel audit enabled    auditctl -s: enabled 1 (2: locked until reboot)
              killdb's rules loaded   the lint of `killdb rules status` over auditctl -l
              audit at boot           audit=1 on the kernel command line
              lost events, backlog    auditctl -s lost and backlog counters
              log directory           readable, logs not world-readable
              retention horizon       how long auditd keeps a record (auditd.conf and the
                                      logs' write rate) against how often ingest runs
              database                opens read-only, quick_check, coverage, lost events

            The retention line always gives the horizon and a recommended ingest interval \
            (a quarter of the horizon). Checks that need auditctl are skipped when not root.

            Exits 0 when every check is ok or skipped, and 1 (non-zero) when something \
            needs action.

            Examples:
              sudo killdb doctor
              sudo killdb doctor --format json
              killdb doctor --db ./k.sqlite --audit-dir /srv/audit \\
                --config /srv/audit/auditd.conf
            """
    )

    @OptionGroup var database: DatabaseOption

    @Option(help: ArgumentHelp("The audit log directory.", valueName: "dir"))
    var auditDir: String = "/var/log/audit"

    @Option(help: ArgumentHelp("auditd's configuration.", valueName: "file"))
    var config: String = "/etc/audit/auditd.conf"

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    func run() throws {
        let options = DoctorOptions(databasePath: database.path, auditDirectory: auditDir, configPath: config)
        var inputs = Gather.inputs(options)
        inputs.kernelLog = KernelLogAccess.problem().map { .failed($0) } ?? .value(Ingest.kmsgPath)
        let checks = Doctor.checks(inputs, isRoot: Gather.isRoot)
        switch format {
        case .text: print(DoctorReport.text(checks, clean: SafeText.line, colour: Terminal.colour), terminator: "")
        case .json: print(DoctorReport.json(checks))
        }
        let code = Doctor.exitCode(checks)
        if code != 0 { throw ExitCode(code) }
    }
}
