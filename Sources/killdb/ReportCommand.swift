import ArgumentParser
import Foundation
import KillDB
import Output
import Queries
import Store

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an incident report of the signals before a time.",
        discussion: """
            For the window of time ending at --before (default one hour long), the report \
            lists: (1) the kills of the target (or of every process), each with its sender's \
            pid, name, executable, command line, users, tty, session and syscall; (2) every \
            other signal those senders sent in the window; (3) repeated patterns: the same \
            program killing processes of the same name again and again; (4) failed attempts \
            (EPERM, ESRCH ...); (5) what the database does not cover: the part of the window \
            outside the ingested logs, and events lost in it.

            It exits 0 when the window holds at least one kill, 1 when it holds none (the \
            report is still printed, with its coverage: an empty report is not proof that \
            nobody sent the signal).

            Times: see `killdb who --help`. Durations: 30m, 1h, 2h30m, 1d.

            Examples:
              killdb report --before "2026-11-24 19:05"    # SIGKILLs in the hour before
              killdb report --before @1795580000 --window 15m java
              killdb report --before -10m --pid 4242 --format markdown > incident.md
            """
    )

    @OptionGroup var database: DatabaseOption

    @Argument(help: ArgumentHelp("The target: a pid, or a process name (glob patterns allowed).", valueName: "target"))
    var target: String?

    @Option(name: [.long, .customLong("until")], parsing: .unconditional,
            help: ArgumentHelp("The end of the window: when the process died (-10m, \"2026-11-24 19:05\").", valueName: "time"))
    var before: String
    @Option(help: ArgumentHelp("How far back the window reaches from --before.", valueName: "duration")) var window: String = "1h"
    @Option(help: ArgumentHelp("Target pid.", valueName: "pid")) var pid: Int64?
    @Option(help: ArgumentHelp("Target process name (comm), glob allowed: 'java*'.", valueName: "pattern")) var comm: String?
    @Option(help: ArgumentHelp("The signals that count as kills: KILL (default), KILL,TERM, or all.", valueName: "signals"))
    var signal: String = "KILL"
    @Option(help: ArgumentHelp("Only events from this node (host name in aggregated logs).", valueName: "name")) var node: String?
    @Option(help: ArgumentHelp("At most this many kills and failed attempts are listed.", valueName: "n")) var limit: Int = 100
    @Option(help: "Output: text, markdown or json.") var format: ReportFormat = .text
    @Flag(help: "Read and show times in UTC, not the local time zone.") var utc = false
    @Flag(help: "Do not page the output on a terminal ($KILLDB_PAGER, $PAGER, else less -FRX).") var noPager = false

    enum ReportFormat: String, ExpressibleByArgument, CaseIterable { case text, markdown, json }

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        _ = try time(before, option: "--before", utc: utc)
        let length = try duration(window, option: "--window")
        guard length > 0 else { throw ValidationError("--window must be longer than zero (30m, 1h, 2h30m, 1d)") }
        _ = try SignalSet.parse(signal)
        if target != nil && (pid != nil || comm != nil) {
            throw ValidationError("give the target once: as the argument, or with --pid / --comm")
        }
    }

    func run() throws {
        let now = invocationTime
        let end = try time(before, option: "--before", utc: utc)
        let length = try duration(window, option: "--window")

        var query = IncidentQuery(before: end, window: length)
        if let target {
            if let p = Int64(target) { query.targetPid = p } else { query.targetComm = target }
        }
        if let pid { query.targetPid = pid }
        if let comm { query.targetComm = comm }
        query.signals = try SignalSet.parse(signal)
        query.node = node
        query.limit = limit

        let store = try openForReading(database.path)
        try requireKnownNode(node, in: store)
        let incident = try IncidentReportQuery.run(query, in: store)
        Pager.start(disabled: noPager)
        let ctx = IncidentReport.Context(database: database.path, generatedAt: now.timeIntervalSince1970,
                                         timeZone: displayZone(utc: utc), users: LocalUsers.lookup)
        switch format {
        case .text: print(IncidentReport.text(incident, ctx), terminator: "")
        case .markdown: print(IncidentReport.markdown(incident, ctx), terminator: "")
        case .json: print(IncidentReport.json(incident, ctx), terminator: "")
        }
        if incident.killsTotal == 0 { throw ExitCode(Exit.nothingFound) }
    }
}
